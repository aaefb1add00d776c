// TokenService: issues access tokens (DESIGN §4, RFC 9068 profile) and validates presented ones.
//
// Validation is the hot path of every Bearer request and touches no database: a cache of tokens
// that already passed jose verification (keyed by the whole token, kept until `exp` at most), else
// the pure jose::VerifyAccessToken with the current key ring; then, on cache hits and misses alike,
// the in-memory revocation list (kRevoked) and, for user tokens, the user-state cache
// (kStaleCredentials, kSubjectDisabled, kUnknownSubject). Only the jose result is cached, so a
// revocation or a credential-version bump takes effect on the very next request.
//
// The verified-token cache is bounded by count and by bytes (CacheLimits, default
// kDefaultCacheLimits: 100,000 tokens, 16 MiB of EstimatedBytes, keys included; a typical
// 0.5 KiB token's entry estimates at about 1 KiB). A token whose entry alone exceeds the byte cap
// is verified but never cached. When an insert would pass either cap, entries are evicted one at
// a time by CLOCK (second chance): a hit marks its entry, the eviction hand spares a marked entry
// once (clearing the mark) and evicts the first unmarked or expired one. Tokens in use stay
// cached; tokens presented once leave first. A hit takes the cache lock shared and at most sets
// the mark (a relaxed atomic store, skipped when already set); only misses, evictions and an
// expired hit take it exclusively. A new key ring empties the cache at the next miss; until
// then lookups made with the new ring never use entries verified with the old one.
//
// Thread-safety: all methods may be called from any thread.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/cache_limits.h"
#include "base/clock.h"
#include "base/status.h"
#include "crypto/random.h"
#include "jose/claims.h"
#include "jose/jws.h"
#include "jose/verify_error.h"
#include "token/key_manager.h"
#include "token/revocation_set.h"
#include "token/user_state_cache.h"

namespace portcullis::token {

struct TokenPolicy {
  std::string issuer;
  std::vector<std::string> audience = {"portcullis"};
  std::int64_t access_ttl_s = 900;
  std::int64_t leeway_s = 30;
};

// What a token is issued for: a user (password grant) or a client (client_credentials).
struct Subject {
  std::string id;                       // user id or client_id
  std::optional<std::string> username;  // users only
  std::vector<std::string> roles;
  std::int64_t credential_version = 0;
};

struct IssuedAccessToken {
  std::string access_token;
  std::int64_t expires_in = 0;
  std::string scope;  // space-separated granted permissions
  std::string jti;
};

class TokenService {
 public:
  // 100,000 entries of ~1 KiB would be ~100 MiB; the byte cap keeps the cache near 16,000 of
  // them (issue #11: a 10,000-token load added 9.7 MB of RSS).
  static constexpr CacheLimits kDefaultCacheLimits{.max_entries = 100'000, .max_bytes = 16 << 20};

  // Every reference must outlive the service. `cache_limits` bounds the verified-token cache.
  TokenService(const KeyManager& keys, RevocationSet& revocations, UserStateCache& users,
               TokenPolicy policy, const Clock& clock, crypto::Random& random,
               CacheLimits cache_limits = kDefaultCacheLimits);

  // Signs an access token for `subject` granting `scopes`, issued through `client_id`. `jti`:
  // the token id chosen by the caller (the authorization-code grant records it before issuing,
  // so that a replayed code can revoke it); empty = a fresh random one. `dpop_jkt`: the
  // thumbprint of the DPoP key the token is bound to ("cnf":{"jkt"}, RFC 9449 §6.1); empty =
  // a Bearer token.
  Result<IssuedAccessToken> Issue(const Subject& subject, const std::vector<std::string>& scopes,
                                  std::string_view client_id, std::string_view jti = {},
                                  std::string_view dpop_jkt = {});

  // A fresh random token id, as Issue makes.
  std::string NewJti();

  // Full validation of a presented token; VerifyError::kOk with the claims on success, else the
  // first failing check with empty claims. A token without "username" is a client token and is
  // not checked against the user-state cache.
  jose::VerifyResult Validate(std::string_view token);

  // Puts the token's jti on the in-memory revocation list until its exp. Does not persist it:
  // call store::TokenStore::AddRevokedJti(claims.jti, claims.exp) first.
  void Revoke(const jose::AccessTokenClaims& claims);

  // The client was deleted at `at` (here, by another instance or by the CLI; the database's
  // clock): every access token issued through it ("client_id") with iat <= at + leeway_s is
  // refused (kRevoked) from now on; tokens of a client re-created later with the same id are
  // not. Idempotent; the later time wins.
  void ClientDeleted(std::string_view client_id, UnixSeconds at);

  const TokenPolicy& policy() const { return policy_; }
  // Entries in the verified-token cache (at most cache_limits.max_entries; /metrics
  // portcullis_token_cache_entries).
  std::size_t CacheSize() const;
  // The EstimatedBytes of every cached entry, keys included (what CacheLimits::max_bytes bounds;
  // /metrics portcullis_token_cache_bytes).
  std::size_t CacheBytes() const;
  // Whether `token` has an entry (verified with any ring, expired or not).
  bool IsCachedForTesting(std::string_view token) const;

 private:
  struct CachedToken {
    jose::AccessTokenClaims claims;  // as verified by jose::VerifyAccessToken
    std::size_t bytes = 0;           // EntryBytes, counted in cache_bytes_
    std::size_t slot = 0;            // index in eviction_order_
    // Set by a hit (under the shared lock), cleared by the eviction hand (under the exclusive).
    mutable std::atomic<bool> referenced{false};
  };
  // Hashes a token's last kHashedTailBytes characters, without building a std::string. A cached
  // token is a verified JWS, so it ends in its signature (Ed25519 and ES256: 86 base64url
  // characters; RS256: 342) whose bytes no one without the signing key can choose: 32 of them
  // (192 bits) spread entries as well as the whole token, and hashing ~450 bytes per lookup was
  // a third of a hit's time. Equality still compares the whole token.
  struct TokenHash {
    using is_transparent = void;
    static constexpr std::size_t kHashedTailBytes = 32;
    std::size_t operator()(std::string_view s) const {
      return std::hash<std::string_view>{}(
          s.substr(s.size() - std::min(s.size(), kHashedTailBytes)));
    }
  };
  using Cache = std::unordered_map<std::string, CachedToken, TokenHash, std::equal_to<>>;

  // The checks that are never cached: revocation list, then user state for user tokens.
  jose::VerifyError CheckLiveState(const jose::AccessTokenClaims& claims) const;

  static std::size_t EntryBytes(std::string_view token, const jose::AccessTokenClaims& claims);
  bool IsExpired(const jose::AccessTokenClaims& claims, UnixSeconds now) const;
  // Caches the verdict for `token`, verified with `ring`, evicting until both caps hold.
  void CacheVerified(std::string_view token, const jose::AccessTokenClaims& claims,
                     const std::shared_ptr<const jose::KeyRing>& ring, UnixSeconds now);
  // Drops `token`'s entry if it is still cached for `ring` and expired at `now`.
  void EraseExpired(std::string_view token, const std::shared_ptr<const jose::KeyRing>& ring,
                    UnixSeconds now);
  // Callers hold cache_mu_ exclusively.
  void EvictOneLocked(UnixSeconds now);
  void EraseLocked(std::size_t slot);
  void ClearLocked();

  const KeyManager& keys_;
  RevocationSet& revocations_;
  // client_id -> when it was deleted (kept as long as the process: a handful of entries).
  mutable std::shared_mutex deleted_clients_mu_;
  std::unordered_map<std::string, UnixSeconds> deleted_clients_;  // deleted_clients_mu_
  std::atomic<bool> any_deleted_client_{false};
  UserStateCache& users_;
  TokenPolicy policy_;
  jose::VerifyPolicy verify_policy_;
  const Clock& clock_;
  crypto::Random& random_;
  const CacheLimits cache_limits_;
  mutable std::shared_mutex cache_mu_;
  Cache cache_;  // guarded by cache_mu_
  // Every entry of cache_ once, in the order the eviction hand visits them. Map nodes do not
  // move, so the pointers stay valid until their entry is erased.
  std::vector<Cache::value_type*> eviction_order_;  // guarded by cache_mu_
  std::size_t hand_ = 0;         // guarded by cache_mu_; next slot of eviction_order_ to visit
  std::size_t cache_bytes_ = 0;  // guarded by cache_mu_; EntryBytes of every entry
  // The ring every cached token was verified with; a new ring empties the cache.
  std::shared_ptr<const jose::KeyRing> cache_ring_;  // guarded by cache_mu_
};

}  // namespace portcullis::token
