// BasicCache: remembers successful HTTP Basic verifications for `basic.cache_ttl_s`, so a client
// sending Basic on every request does not pay Argon2id every time (DESIGN §3 [basic]).
//
// Entries are keyed by HMAC-SHA256(random per-process key, username NUL password): the password
// itself is never kept, and the key dies with the process. Each entry remembers the user's
// credential version; the caller re-checks it against the UserStateCache on every hit, so a
// password change, disable or role removal (all bump the version) drops it at once.
// Trade-off (docs/lockout.md): for up to the TTL a stolen-then-changed password keeps working
// only if the version was not bumped — it always is on change, so the window is the TTL for
// nothing but server memory disclosure.
//
// Thread-safety: all methods may be called from any thread.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/clock.h"
#include "base/secret.h"
#include "crypto/random.h"

namespace portcullis::authn {

struct CachedBasicUser {
  std::string id;
  std::string username;
  std::vector<std::string> roles;
  std::vector<std::string> permissions;
  std::int64_t credential_version = 0;
};

class BasicCache {
 public:
  BasicCache(const Clock& clock, std::int64_t ttl_s, crypto::Random& random);

  // The cached user for these exact credentials, if verified within the TTL.
  std::optional<CachedBasicUser> Find(std::string_view username, std::string_view password);
  void Put(std::string_view username, std::string_view password, CachedBasicUser user);
  void Erase(std::string_view username, std::string_view password);
  std::size_t SizeForTesting() const;

 private:
  static constexpr std::size_t kMaxEntries = 10'000;
  std::string Key(std::string_view username, std::string_view password) const;

  struct Entry {
    CachedBasicUser user;
    UnixSeconds expires_at = 0;
  };
  const Clock& clock_;
  std::int64_t ttl_s_;
  SecretBytes hmac_key_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Entry> entries_;  // guarded by mu_
};

}  // namespace portcullis::authn
