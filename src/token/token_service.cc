#include "token/token_service.h"

#include <algorithm>

#include "crypto/random.h"

namespace portcullis::token {
namespace {

constexpr std::size_t kJtiBytes = 16;

}  // namespace

TokenService::TokenService(const KeyManager& keys, RevocationSet& revocations,
                           UserStateCache& users, TokenPolicy policy, const Clock& clock,
                           crypto::Random& random)
    : keys_(keys),
      revocations_(revocations),
      users_(users),
      policy_(std::move(policy)),
      clock_(clock),
      random_(random) {
  verify_policy_.issuer = policy_.issuer;
  verify_policy_.audiences = policy_.audience;
  verify_policy_.leeway_s = policy_.leeway_s;
}

Result<IssuedAccessToken> TokenService::Issue(const Subject& subject,
                                              const std::vector<std::string>& scopes,
                                              std::string_view client_id) {
  jose::AccessTokenClaims claims;
  UnixSeconds now = clock_.Now();
  claims.iss = policy_.issuer;
  claims.sub = subject.id;
  claims.aud = policy_.audience;
  claims.iat = now;
  claims.nbf = now;
  claims.exp = now + policy_.access_ttl_s;
  claims.jti = crypto::RandomBase64Url(random_, kJtiBytes);
  claims.client_id = std::string(client_id);
  for (const std::string& s : scopes) {
    if (!claims.scope.empty()) claims.scope += ' ';
    claims.scope += s;
  }
  claims.roles = subject.roles;
  claims.username = subject.username;
  claims.uv = subject.credential_version;

  Result<std::string> jwt = keys_.Sign(claims);
  if (!jwt.ok()) return jwt.status();
  return IssuedAccessToken{std::move(*jwt), policy_.access_ttl_s, claims.scope, claims.jti};
}

jose::VerifyError TokenService::CheckLiveState(const jose::AccessTokenClaims& claims) const {
  if (revocations_.IsRevoked(claims.jti)) return jose::VerifyError::kRevoked;
  if (any_deleted_client_.load(std::memory_order_acquire)) {
    std::shared_lock lock(deleted_clients_mu_);
    auto it = deleted_clients_.find(claims.client_id);
    // Deletion times come from the database's clock: allow the same skew as for iat.
    if (it != deleted_clients_.end() && claims.iat <= it->second + policy_.leeway_s) {
      return jose::VerifyError::kRevoked;
    }
  }
  // Client tokens (client_credentials) carry no username; their sub is a client_id.
  if (claims.username.has_value()) return users_.Check(claims.sub, claims.uv);
  return jose::VerifyError::kOk;
}

void TokenService::Revoke(const jose::AccessTokenClaims& claims) {
  revocations_.Add(claims.jti, claims.exp);
}

void TokenService::ClientDeleted(std::string_view client_id, UnixSeconds at) {
  std::unique_lock lock(deleted_clients_mu_);
  UnixSeconds& deleted_at = deleted_clients_[std::string(client_id)];
  deleted_at = std::max(deleted_at, at);
  any_deleted_client_.store(true, std::memory_order_release);
}

jose::VerifyResult TokenService::Validate(std::string_view token) {
  std::shared_ptr<const jose::KeyRing> ring = keys_.key_ring();
  UnixSeconds now = clock_.Now();
  std::optional<jose::AccessTokenClaims> cached;
  {
    std::lock_guard lock(cache_mu_);
    if (cache_ring_ != ring) {
      cache_.clear();  // the key ring changed; re-verify everything
      cache_ring_ = ring;
    }
    auto it = cache_.find(std::string(token));
    if (it != cache_.end()) {
      // Signature, header and iss/aud/nbf/iat were checked when cached; only time moves.
      // RFC 7519 §4.1.4: reject at or after exp, allowing leeway_s of clock skew.
      if (now - policy_.leeway_s >= it->second.exp) {
        cache_.erase(it);
        return {jose::VerifyError::kExpired, {}};
      }
      cached = it->second;
    }
  }
  if (cached) {
    jose::VerifyError live = CheckLiveState(*cached);
    if (live != jose::VerifyError::kOk) return {live, {}};
    return {jose::VerifyError::kOk, std::move(*cached)};
  }

  jose::VerifyResult result = jose::VerifyAccessToken(token, *ring, verify_policy_, now);
  if (result.error != jose::VerifyError::kOk) return result;
  {
    // Cache the jose verdict even if the live checks below fail: it does not depend on them.
    std::lock_guard lock(cache_mu_);
    if (cache_ring_ == ring) {
      if (cache_.size() >= kMaxCachedTokens) cache_.clear();  // bounded; refills from hot tokens
      cache_.emplace(std::string(token), result.claims);
    }
  }
  jose::VerifyError live = CheckLiveState(result.claims);
  if (live != jose::VerifyError::kOk) return {live, {}};
  return result;
}

std::size_t TokenService::CacheSizeForTesting() const {
  std::lock_guard lock(cache_mu_);
  return cache_.size();
}

}  // namespace portcullis::token
