#include "token/token_service.h"

#include <algorithm>

#include "crypto/random.h"

namespace portcullis::token {
namespace {

constexpr std::size_t kJtiBytes = 16;

}  // namespace

TokenService::TokenService(const KeyManager& keys, RevocationSet& revocations,
                           UserStateCache& users, TokenPolicy policy, const Clock& clock,
                           crypto::Random& random, CacheLimits cache_limits)
    : keys_(keys),
      revocations_(revocations),
      users_(users),
      policy_(std::move(policy)),
      clock_(clock),
      random_(random),
      cache_limits_(cache_limits) {
  verify_policy_.issuer = policy_.issuer;
  verify_policy_.audiences = policy_.audience;
  verify_policy_.leeway_s = policy_.leeway_s;
}

Result<IssuedAccessToken> TokenService::Issue(const Subject& subject,
                                              const std::vector<std::string>& scopes,
                                              std::string_view client_id, std::string_view jti,
                                              std::string_view dpop_jkt) {
  jose::AccessTokenClaims claims;
  UnixSeconds now = clock_.Now();
  claims.iss = policy_.issuer;
  claims.sub = subject.id;
  claims.aud = policy_.audience;
  claims.iat = now;
  claims.nbf = now;
  claims.exp = now + policy_.access_ttl_s;
  claims.jti = jti.empty() ? NewJti() : std::string(jti);
  claims.client_id = std::string(client_id);
  for (const std::string& s : scopes) {
    if (!claims.scope.empty()) claims.scope += ' ';
    claims.scope += s;
  }
  claims.roles = subject.roles;
  claims.username = subject.username;
  claims.uv = subject.credential_version;
  if (!dpop_jkt.empty()) claims.cnf_jkt = std::string(dpop_jkt);

  Result<std::string> jwt = keys_.Sign(claims);
  if (!jwt.ok()) return jwt.status();
  return IssuedAccessToken{std::move(*jwt), policy_.access_ttl_s, claims.scope, claims.jti};
}

std::string TokenService::NewJti() { return crypto::RandomBase64Url(random_, kJtiBytes); }

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

bool TokenService::IsExpired(const jose::AccessTokenClaims& claims, UnixSeconds now) const {
  // RFC 7519 §4.1.4: reject at or after exp, allowing leeway_s of clock skew.
  return now - policy_.leeway_s >= claims.exp;
}

std::size_t TokenService::EntryBytes(std::string_view token,
                                     const jose::AccessTokenClaims& claims) {
  // The node and its value (the key's and the claims' string and vector objects), the
  // eviction-order slot, then what those strings and vectors hold (short strings counted although
  // inline).
  std::size_t bytes = kCacheNodeBytes + sizeof(Cache::value_type) + sizeof(Cache::value_type*) +
                      token.size() + claims.iss.size() + claims.sub.size() + claims.jti.size() +
                      claims.client_id.size() + claims.scope.size() +
                      (EstimatedBytes(claims.aud) - sizeof(claims.aud)) +
                      (EstimatedBytes(claims.roles) - sizeof(claims.roles));
  if (claims.username) bytes += claims.username->size();
  return bytes;
}

jose::VerifyResult TokenService::Validate(std::string_view token) {
  std::shared_ptr<const jose::KeyRing> ring = keys_.key_ring();
  UnixSeconds now = clock_.Now();
  std::optional<jose::AccessTokenClaims> cached;
  bool expired = false;
  {
    // Shared: hits run in parallel and write nothing but the entry's mark.
    std::shared_lock lock(cache_mu_);
    // Entries verified with another ring are not used; the next miss empties the cache.
    if (cache_ring_ == ring) {
      if (auto it = cache_.find(token); it != cache_.end()) {
        // Signature, header and iss/aud/nbf/iat were checked when cached; only time moves.
        const CachedToken& entry = it->second;
        if (IsExpired(entry.claims, now)) {
          expired = true;
        } else {
          // Load first: a hot entry's cache line is then only read, not written, by each hit.
          if (!entry.referenced.load(std::memory_order_relaxed)) {
            entry.referenced.store(true, std::memory_order_relaxed);
          }
          cached = entry.claims;
        }
      }
    }
  }
  if (expired) {
    EraseExpired(token, ring, now);
    return {jose::VerifyError::kExpired, {}};
  }
  if (cached) {
    jose::VerifyError live = CheckLiveState(*cached);
    if (live != jose::VerifyError::kOk) return {live, {}};
    return {jose::VerifyError::kOk, std::move(*cached)};
  }

  jose::VerifyResult result = jose::VerifyAccessToken(token, *ring, verify_policy_, now);
  if (result.error != jose::VerifyError::kOk) return result;
  // Cache the jose verdict even if the live checks below fail: it does not depend on them.
  CacheVerified(token, result.claims, ring, now);
  jose::VerifyError live = CheckLiveState(result.claims);
  if (live != jose::VerifyError::kOk) return {live, {}};
  return result;
}

void TokenService::CacheVerified(std::string_view token, const jose::AccessTokenClaims& claims,
                                 const std::shared_ptr<const jose::KeyRing>& ring,
                                 UnixSeconds now) {
  const std::size_t bytes = EntryBytes(token, claims);
  if (bytes > cache_limits_.max_bytes || cache_limits_.max_entries == 0) return;
  std::unique_lock lock(cache_mu_);
  if (cache_ring_ != ring) {
    // Switch only to the current ring: a verification that started before a rotation must not
    // bring the old ring (and its tokens) back.
    if (ring != keys_.key_ring()) return;
    ClearLocked();
    cache_ring_ = ring;
  }
  if (cache_.find(token) != cache_.end()) return;  // another thread cached it meanwhile
  while (!eviction_order_.empty() && (eviction_order_.size() >= cache_limits_.max_entries ||
                                      cache_bytes_ + bytes > cache_limits_.max_bytes)) {
    EvictOneLocked(now);
  }
  auto [it, inserted] = cache_.try_emplace(std::string(token));
  it->second.claims = claims;
  it->second.bytes = bytes;
  it->second.slot = eviction_order_.size();
  eviction_order_.push_back(&*it);
  cache_bytes_ += bytes;
}

void TokenService::EraseExpired(std::string_view token,
                                const std::shared_ptr<const jose::KeyRing>& ring, UnixSeconds now) {
  std::unique_lock lock(cache_mu_);
  if (cache_ring_ != ring) return;
  auto it = cache_.find(token);
  if (it != cache_.end() && IsExpired(it->second.claims, now)) EraseLocked(it->second.slot);
}

void TokenService::EvictOneLocked(UnixSeconds now) {
  // CLOCK: a marked entry is spared once and unmarked, so this ends within one turn of the hand.
  while (true) {
    if (hand_ >= eviction_order_.size()) hand_ = 0;
    CachedToken& entry = eviction_order_[hand_]->second;
    if (IsExpired(entry.claims, now) || !entry.referenced.load(std::memory_order_relaxed)) {
      EraseLocked(hand_);
      // The newest entry moved into this slot: step past it, so it gets a whole turn.
      ++hand_;
      return;
    }
    entry.referenced.store(false, std::memory_order_relaxed);
    ++hand_;
  }
}

void TokenService::EraseLocked(std::size_t slot) {
  Cache::value_type* erased = eviction_order_[slot];
  cache_bytes_ -= erased->second.bytes;
  // Fill the slot with the last entry so eviction_order_ stays dense.
  eviction_order_[slot] = eviction_order_.back();
  eviction_order_[slot]->second.slot = slot;
  eviction_order_.pop_back();
  cache_.erase(cache_.find(erased->first));
}

void TokenService::ClearLocked() {
  cache_.clear();
  eviction_order_.clear();
  hand_ = 0;
  cache_bytes_ = 0;
}

std::size_t TokenService::CacheSize() const {
  std::shared_lock lock(cache_mu_);
  return cache_.size();
}

std::size_t TokenService::CacheBytes() const {
  std::shared_lock lock(cache_mu_);
  return cache_bytes_;
}

bool TokenService::IsCachedForTesting(std::string_view token) const {
  std::shared_lock lock(cache_mu_);
  return cache_.find(token) != cache_.end();
}

}  // namespace portcullis::token
