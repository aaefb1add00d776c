// TokenService: issues access tokens (DESIGN §4, RFC 9068 profile) and validates presented ones.
//
// Validation is the hot path of every Bearer request and touches no database: a cache of tokens
// that already passed jose verification (keyed by the whole token, kept until `exp`), else the
// pure jose::VerifyAccessToken with the current key ring; then, on cache hits and misses alike,
// the in-memory revocation list (kRevoked) and, for user tokens, the user-state cache
// (kStaleCredentials, kSubjectDisabled, kUnknownSubject). Only the jose result is cached, so a
// revocation or a credential-version bump takes effect on the very next request.
//
// Thread-safety: all methods may be called from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

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
  // Every reference must outlive the service.
  TokenService(const KeyManager& keys, RevocationSet& revocations, UserStateCache& users,
               TokenPolicy policy, const Clock& clock, crypto::Random& random);

  // Signs an access token for `subject` granting `scopes`, issued through `client_id`.
  Result<IssuedAccessToken> Issue(const Subject& subject, const std::vector<std::string>& scopes,
                                  std::string_view client_id);

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
  std::size_t CacheSizeForTesting() const;

 private:
  using CachedToken = jose::AccessTokenClaims;
  static constexpr std::size_t kMaxCachedTokens = 100'000;

  // The checks that are never cached: revocation list, then user state for user tokens.
  jose::VerifyError CheckLiveState(const jose::AccessTokenClaims& claims) const;

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
  mutable std::mutex cache_mu_;
  std::unordered_map<std::string, CachedToken> cache_;  // guarded by cache_mu_
  // The ring every cached token was verified with; a new ring empties the cache.
  std::shared_ptr<const jose::KeyRing> cache_ring_;  // guarded by cache_mu_
};

}  // namespace portcullis::token
