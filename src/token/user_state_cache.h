// UserStateCache: each user's credential version and disabled flag, in memory, so Bearer
// validation can reject tokens of users who logged out everywhere, changed their password, were
// disabled or deleted without reading the database (DESIGN §4 "Invalidation precision").
//
// The store is the source of truth. Usage:
//   - at start-up: cache.LoadFrom(user_store)  (ListUserStates);
//   - on user creation: cache.Set(id, 1, false) BEFORE issuing the user's first token;
//   - after every BumpCredentialVersion / SetUserDisabled: cache.Set(...) with the store's result;
//   - on user deletion: cache.Remove(id);
//   - every second: seq = cache.ApplyChanges(store, seq) picks up changes written by the CLI or
//     another instance (the store's user change feed).
// Only user tokens are checked against it. Client tokens (client_credentials: "sub" is the
// client_id and there is no "username") are not; TokenService skips them.
//
// Bounded by design, so there is no count or byte cap (issue #11): it mirrors the users table.
// Every Set is for a user just read from or written to the store, and deleted users are Removed
// (here, or through the change feed), so it holds one entry per user, about 100-130 bytes each
// (a 36-character id, the version and flag, the map node). It must not evict: a missing user
// means kUnknownSubject, so evicting would reject valid tokens.
//
// Thread-safety: all methods may be called concurrently from any thread. Check() is on the hot
// path and takes a shared lock only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/status.h"
#include "jose/verify_error.h"
#include "store/store.h"

namespace portcullis::token {

class UserStateCache {
 public:
  UserStateCache() = default;
  UserStateCache(const UserStateCache&) = delete;
  UserStateCache& operator=(const UserStateCache&) = delete;

  // Replaces the whole cache with `states`.
  void Load(const std::vector<store::UserState>& states);

  // Loads every user's state from the store (ListUserStates). On failure returns the store's
  // error and leaves the cache unchanged.
  Status LoadFrom(store::UserStore& store);

  // Applies the store's user change feed after `after_seq` (changes made by the CLI or another
  // instance): re-reads each changed user and Sets it, or Removes it when it no longer exists.
  // Returns the seq to pass next time (unchanged when there was nothing new). On a store error
  // returns it and the caller retries from the same seq later. Reads at most 1000 entries.
  // `on_change`, when given, is called with each changed user's id after it was applied (e.g. to
  // drop the user's cached API-key verifications: a key revoked elsewhere appears here).
  Result<std::int64_t> ApplyChanges(
      store::UserStore& store, std::int64_t after_seq,
      const std::function<void(std::string_view user_id)>& on_change = nullptr);

  // Records the user's current state. The cached credential version never goes down: a Set with
  // a lower version than cached (two concurrent bumps finishing out of order) keeps the higher
  // one, while `disabled` always takes the new value.
  void Set(std::string_view user_id, std::int64_t credential_version, bool disabled);

  // Forgets the user (deleted); their tokens then fail with kUnknownSubject.
  void Remove(std::string_view user_id);

  // The verdict for a user token with "sub" = `user_id` and "uv" = `uv`, in this order:
  // kUnknownSubject if the user is not cached, kSubjectDisabled if disabled, kStaleCredentials if
  // uv < the current credential version, else kOk. A uv above the cached version is accepted
  // (DESIGN §4 rejects only a uv "below the user's current version").
  jose::VerifyError Check(std::string_view user_id, std::int64_t uv) const;

  // How many users are cached.
  std::size_t size() const;

 private:
  struct Entry {
    std::int64_t credential_version = 1;
    bool disabled = false;
  };
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };

  mutable std::shared_mutex mu_;
  std::unordered_map<std::string, Entry, Hash, std::equal_to<>> users_;  // guarded by mu_
};

}  // namespace portcullis::token
