// ChangeFollower: keeps what this instance holds in memory in step with the shared database
// when other writers (other instances, the CLI) change it (DESIGN.md §6): credential versions
// and disabled flags (UserStateCache), revoked API keys (ApiKeyCache, dropped per owner),
// revoked access tokens (RevocationSet), signing keys (KeyManager) and deleted clients (their
// access tokens, TokenService::ClientDeleted).
//
// One thread follows the store's two feeds (user_changes and change_events). It waits on the
// store's ChangeListener — PostgreSQL LISTEN/NOTIFY wakes it as soon as a writer commits — and
// polls at least every `poll_interval` anyway, so a lost notification (or SQLite, which has
// none) costs at most that long. A failed poll is logged and retried from the same position.
//
// Thread-safety: Start and Stop from one thread; the caches it updates are thread-safe.
//
//   ChangeFollower follower(store, {.users = &user_states, ...}, clock);
//   if (Status s = follower.Start(); !s.ok()) return s;   // reads the feed positions
//   ...
//   follower.Stop();
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <thread>

#include "authn/api_key_cache.h"
#include "authn/client_authenticator.h"
#include "base/clock.h"
#include "base/status.h"
#include "store/store.h"
#include "token/key_manager.h"
#include "token/revocation_set.h"
#include "token/token_service.h"
#include "token/user_state_cache.h"

namespace portcullis::app {

class ChangeFollower {
 public:
  struct Targets {
    token::UserStateCache* users = nullptr;
    authn::ApiKeyCache* api_keys = nullptr;  // optional
    token::RevocationSet* revocations = nullptr;
    token::KeyManager* keys = nullptr;
    token::TokenService* tokens = nullptr;          // deleted clients
    authn::ClientAuthenticator* clients = nullptr;  // deleted clients; optional
  };

  ChangeFollower(store::Store& store, Targets targets, const Clock& clock,
                 std::chrono::milliseconds poll_interval = std::chrono::seconds(1));
  ~ChangeFollower();
  ChangeFollower(const ChangeFollower&) = delete;
  ChangeFollower& operator=(const ChangeFollower&) = delete;

  // Reads where both feeds end now (call BEFORE loading the caches: a change in between is
  // applied twice, never lost) without starting the thread, and applies the client deletions
  // still in the feed (their tokens may still be unexpired).
  Status Init();

  // Starts following from the positions Init read.
  void Start();

  // Applies everything new in both feeds once (the thread's loop body; tests call it directly).
  // Returns the first store error; positions advance only past what was applied.
  Status PollOnce();

  // Stops the thread (returns within about one wait).
  void Stop();

 private:
  void Run();
  void ClientDeleted(const store::ChangeEvent& event);

  store::Store& store_;
  const Targets targets_;
  const Clock& clock_;
  const std::chrono::milliseconds poll_interval_;
  std::unique_ptr<store::ChangeListener> listener_;
  std::int64_t user_seq_ = 0;  // only the follower thread (or a test) touches these
  std::int64_t change_seq_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace portcullis::app
