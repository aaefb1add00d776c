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
// Bounded by count and by bytes (CacheLimits, default kDefaultLimits): a Put that would pass
// either bound first empties the cache, which refills from active clients; an entry larger than
// the byte bound alone is not cached.
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

#include "base/cache_limits.h"
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
  // An entry with two roles and ten permissions estimates at about 0.9 KiB: 10,000 such users
  // (9 MiB) fit; larger entries reach the byte cap first.
  static constexpr CacheLimits kDefaultLimits{.max_entries = 10'000, .max_bytes = 16 << 20};

  BasicCache(const Clock& clock, std::int64_t ttl_s, crypto::Random& random,
             CacheLimits limits = kDefaultLimits);

  // The cached user for these exact credentials, if verified within the TTL.
  std::optional<CachedBasicUser> Find(std::string_view username, std::string_view password);
  void Put(std::string_view username, std::string_view password, CachedBasicUser user);
  void Erase(std::string_view username, std::string_view password);
  std::size_t SizeForTesting() const;
  // The EstimatedBytes of every entry, keys included (what CacheLimits::max_bytes bounds).
  std::size_t BytesForTesting() const;

 private:
  std::string Key(std::string_view username, std::string_view password) const;

  struct Entry {
    CachedBasicUser user;
    UnixSeconds expires_at = 0;
  };
  using Map = std::unordered_map<std::string, Entry>;

  static std::size_t EntryBytes(const std::string& key, const CachedBasicUser& user);
  void EraseLocked(Map::iterator it);  // caller holds mu_

  const Clock& clock_;
  std::int64_t ttl_s_;
  const CacheLimits limits_;
  SecretBytes hmac_key_;
  mutable std::mutex mu_;
  Map entries_;            // guarded by mu_
  std::size_t bytes_ = 0;  // guarded by mu_; EntryBytes of every entry
};

}  // namespace portcullis::authn
