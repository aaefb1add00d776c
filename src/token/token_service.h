// TokenService: issues access tokens (DESIGN §4, RFC 9068 profile) and validates presented ones.
//
// Validation is the hot path of every Bearer request and touches no database: a cache of tokens
// that already passed full verification (keyed by the whole token, kept until `exp`), then the
// pure jose::VerifyAccessToken with the current key ring. Revocation and credential-version
// checks plug in here (issue #3) without changing callers.
//
// Thread-safety: all methods may be called from any thread.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
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
  TokenService(const KeyManager& keys, TokenPolicy policy, const Clock& clock,
               crypto::Random& random);

  // Signs an access token for `subject` granting `scopes`, issued through `client_id`.
  Result<IssuedAccessToken> Issue(const Subject& subject, const std::vector<std::string>& scopes,
                                  std::string_view client_id);

  // Full validation of a presented token; VerifyError::kOk with the claims on success.
  jose::VerifyResult Validate(std::string_view token);

  const TokenPolicy& policy() const { return policy_; }
  std::size_t CacheSizeForTesting() const;

 private:
  using CachedToken = jose::AccessTokenClaims;
  static constexpr std::size_t kMaxCachedTokens = 100'000;

  const KeyManager& keys_;
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
