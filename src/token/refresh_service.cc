#include "token/refresh_service.h"

#include <algorithm>
#include <utility>

#include "base/log.h"
#include "crypto/sha256.h"

namespace portcullis::token {
namespace {

// 256 bits of randomness (DESIGN §4: ">= 256 bits"), 43 base64url characters.
constexpr std::size_t kRefreshTokenBytes = 32;
// Anything longer was not issued here; not worth hashing.
constexpr std::size_t kMaxPresentedTokenBytes = 512;

std::vector<std::string_view> SplitScope(std::string_view scope) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  while (start <= scope.size()) {
    std::size_t end = scope.find(' ', start);
    if (end == std::string_view::npos) end = scope.size();
    if (end > start) out.push_back(scope.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

// The scope of the new token: the old one, or `requested` if every entry is in it (RFC 6749 §6:
// "MUST NOT include any scope not originally granted"). nullopt when a scope is exceeded.
std::optional<std::string> NarrowScope(std::string_view granted,
                                       const std::optional<std::vector<std::string>>& requested) {
  if (!requested) return std::string(granted);
  std::vector<std::string_view> allowed = SplitScope(granted);
  std::vector<std::string_view> kept;
  for (const std::string& s : *requested) {
    if (std::find(allowed.begin(), allowed.end(), s) == allowed.end()) return std::nullopt;
    if (std::find(kept.begin(), kept.end(), s) == kept.end()) kept.push_back(s);
  }
  std::string out;
  for (std::string_view s : kept) {
    if (!out.empty()) out += ' ';
    out += s;
  }
  return out;
}

RotateResult Failure(RefreshError error, std::string family_id = {}) {
  RotateResult r;
  r.error = error;
  r.family_id = std::move(family_id);
  return r;
}

}  // namespace

std::string_view ToString(RefreshError error) {
  // No default: -Wswitch flags a new enumerator that has no name here.
  switch (error) {
    case RefreshError::kOk:
      return "ok";
    case RefreshError::kUnknown:
      return "unknown";
    case RefreshError::kExpired:
      return "expired";
    case RefreshError::kRevoked:
      return "revoked";
    case RefreshError::kReuseDetected:
      return "reuse_detected";
    case RefreshError::kClientMismatch:
      return "client_mismatch";
    case RefreshError::kScopeExceeded:
      return "scope_exceeded";
    case RefreshError::kStoreUnavailable:
      return "store_unavailable";
    case RefreshError::kDpopKeyMismatch:
      return "dpop_key_mismatch";
  }
  return "unknown_error";
}

RefreshService::RefreshService(store::TokenStore& store, RefreshPolicy policy, const Clock& clock,
                               crypto::Random& random)
    : store_(store), policy_(policy), clock_(clock), random_(random) {}

std::string RefreshService::NewFamilyId() { return crypto::RandomUuid(random_); }

Result<IssuedRefresh> RefreshService::IssueFamily(std::string_view user_id,
                                                  std::string_view client_id,
                                                  std::string_view scope,
                                                  std::string_view family_id,
                                                  std::optional<std::string> dpop_jkt) {
  const UnixSeconds now = clock_.Now();
  IssuedRefresh issued;
  issued.refresh_token = crypto::RandomBase64Url(random_, kRefreshTokenBytes);
  store::RefreshToken& r = issued.record;
  r.token_hash = crypto::Sha256Hex(issued.refresh_token);
  r.family_id = family_id.empty() ? NewFamilyId() : std::string(family_id);
  r.user_id = std::string(user_id);
  r.client_id = std::string(client_id);
  r.scope = std::string(scope);
  r.issued_at = now;
  r.family_expires_at = now + policy_.absolute_ttl_s;
  r.expires_at = std::min(now + policy_.idle_ttl_s, r.family_expires_at);
  r.dpop_jkt = std::move(dpop_jkt);
  if (Status s = store_.InsertRefreshToken(r); !s.ok()) return s;
  return issued;
}

std::pair<std::string, store::RefreshToken> RefreshService::MakeSuccessor(
    const store::RefreshToken& parent, std::string scope, UnixSeconds now) {
  std::string opaque = crypto::RandomBase64Url(random_, kRefreshTokenBytes);
  store::RefreshToken next;
  next.token_hash = crypto::Sha256Hex(opaque);
  next.family_id = parent.family_id;
  next.user_id = parent.user_id;
  next.client_id = parent.client_id;
  next.scope = std::move(scope);
  next.issued_at = now;
  next.family_expires_at = parent.family_expires_at;
  next.expires_at = std::min(now + policy_.idle_ttl_s, parent.family_expires_at);
  next.parent_hash = parent.token_hash;
  next.dpop_jkt = parent.dpop_jkt;  // the family stays bound to its key
  return {std::move(opaque), std::move(next)};
}

RotateResult RefreshService::RevokeFamilyForReuse(const store::RefreshToken& token,
                                                  UnixSeconds now) {
  RotateResult r = Failure(RefreshError::kReuseDetected, token.family_id);
  r.reuse_detected = true;
  Result<int> revoked = store_.RevokeRefreshFamily(token.family_id, now);
  if (!revoked.ok()) {
    r.error = RefreshError::kStoreUnavailable;
    log::Error("refresh.reuse_revocation_failed",
               {{"family_id", token.family_id}, {"error", revoked.status().ToString()}});
    return r;
  }
  log::Warn("refresh.reuse_detected", {{"family_id", token.family_id},
                                       {"user_id", token.user_id},
                                       {"client_id", token.client_id},
                                       {"revoked", static_cast<std::int64_t>(*revoked)}});
  return r;
}

RotateResult RefreshService::HandleUsed(const store::RefreshToken& token,
                                        const std::optional<std::vector<std::string>>& requested,
                                        const RotateHooks& hooks, UnixSeconds now) {
  // Grace (issue #3 point 1): only the immediate parent of a still-unused successor, only within
  // reuse_grace_s of its use. An older ancestor's successor is itself used, so it never qualifies.
  if (policy_.reuse_grace_s > 0 && token.used_at && now - *token.used_at <= policy_.reuse_grace_s) {
    Result<std::optional<store::RefreshToken>> successor = store_.FindSuccessor(token.token_hash);
    if (!successor.ok()) return Failure(RefreshError::kStoreUnavailable, token.family_id);
    const std::optional<store::RefreshToken>& s = *successor;
    if (s && !s->used_at && !s->revoked_at) {
      if (now >= token.expires_at) return Failure(RefreshError::kExpired, token.family_id);
      std::optional<std::string> scope = NarrowScope(token.scope, requested);
      if (!scope) return Failure(RefreshError::kScopeExceeded, token.family_id);
      if (hooks.vet) {
        if (RefreshError vetted = hooks.vet(token); vetted != RefreshError::kOk) {
          return Failure(vetted, token.family_id);
        }
      }
      auto [opaque, next] = MakeSuccessor(token, std::move(*scope), now);
      Status replaced = store_.ReplaceUnusedSuccessor(s->token_hash, next, now);
      if (replaced.ok()) {
        log::Info("refresh.grace_replaced", {{"family_id", token.family_id}});
        RotateResult r;
        r.refresh_token = std::move(opaque);
        r.record = std::move(next);
        r.family_id = token.family_id;
        return r;
      }
      // kAborted: the successor was used or revoked meanwhile, so this is plain reuse.
      if (replaced.code() != StatusCode::kAborted) {
        return Failure(RefreshError::kStoreUnavailable, token.family_id);
      }
    }
  }
  return RevokeFamilyForReuse(token, now);
}

RotateResult RefreshService::Rotate(std::string_view presented, std::string_view client_id,
                                    std::optional<std::vector<std::string>> requested_scope,
                                    const RotateHooks& hooks) {
  if (presented.empty() || presented.size() > kMaxPresentedTokenBytes) {
    return Failure(RefreshError::kUnknown);
  }
  const UnixSeconds now = clock_.Now();
  const std::string hash = crypto::Sha256Hex(presented);
  Result<store::RefreshToken> found = store_.FindRefreshToken(hash);
  if (!found.ok()) {
    return Failure(found.status().code() == StatusCode::kNotFound
                       ? RefreshError::kUnknown
                       : RefreshError::kStoreUnavailable);
  }
  const store::RefreshToken& token = *found;
  // RFC 6749 §6 / §10.4: a token bound to another client changes nothing, not even its family.
  if (token.client_id != client_id) return Failure(RefreshError::kClientMismatch, token.family_id);
  if (now >= token.family_expires_at) return Failure(RefreshError::kExpired, token.family_id);
  if (token.revoked_at) {
    // A revoked token of a family that still has live tokens (e.g. a successor replaced in the
    // grace window) was in someone's hands: end the family.
    Result<int> revoked = store_.RevokeRefreshFamily(token.family_id, now);
    if (!revoked.ok()) return Failure(RefreshError::kStoreUnavailable, token.family_id);
    if (*revoked > 0) {
      RotateResult r = Failure(RefreshError::kReuseDetected, token.family_id);
      r.reuse_detected = true;
      log::Warn("refresh.reuse_detected", {{"family_id", token.family_id},
                                           {"user_id", token.user_id},
                                           {"client_id", token.client_id},
                                           {"revoked", static_cast<std::int64_t>(*revoked)}});
      return r;
    }
    return Failure(RefreshError::kRevoked, token.family_id);
  }
  if (token.used_at) return HandleUsed(token, requested_scope, hooks, now);
  if (now >= token.expires_at) return Failure(RefreshError::kExpired, token.family_id);
  std::optional<std::string> scope = NarrowScope(token.scope, requested_scope);
  if (!scope) return Failure(RefreshError::kScopeExceeded, token.family_id);
  if (hooks.vet) {
    if (RefreshError vetted = hooks.vet(token); vetted != RefreshError::kOk) {
      return Failure(vetted, token.family_id);
    }
  }

  auto [opaque, next] = MakeSuccessor(token, std::move(*scope), now);
  Status rotated = store_.RotateRefreshToken(hash, next, now, hooks.audit);
  switch (rotated.code()) {
    case StatusCode::kOk: {
      RotateResult r;
      r.refresh_token = std::move(opaque);
      r.record = std::move(next);
      r.family_id = token.family_id;
      r.audit_written = hooks.audit != nullptr;
      return r;
    }
    case StatusCode::kAborted: {
      // Lost a race with a concurrent rotation of the same token: the same rules as a replay.
      Result<store::RefreshToken> reread = store_.FindRefreshToken(hash);
      if (!reread.ok()) return Failure(RefreshError::kStoreUnavailable, token.family_id);
      return HandleUsed(*reread, requested_scope, hooks, now);
    }
    case StatusCode::kFailedPrecondition:
      return Failure(RefreshError::kRevoked, token.family_id);
    case StatusCode::kNotFound:
      return Failure(RefreshError::kUnknown, token.family_id);
    default:
      return Failure(RefreshError::kStoreUnavailable, token.family_id);
  }
}

Status RefreshService::RevokeToken(std::string_view presented) {
  Result<store::RefreshToken> found = Find(presented);
  // RFC 7009 §2.2: an invalid or unknown token is not an error.
  if (!found.ok()) {
    return found.status().code() == StatusCode::kNotFound ? Status::Ok() : found.status();
  }
  Result<int> revoked = store_.RevokeRefreshFamily(found->family_id, clock_.Now());
  if (!revoked.ok()) return revoked.status();
  return Status::Ok();
}

Result<store::RefreshToken> RefreshService::Find(std::string_view presented) {
  if (presented.empty() || presented.size() > kMaxPresentedTokenBytes) {
    return NotFoundError("refresh token not found");
  }
  return store_.FindRefreshToken(crypto::Sha256Hex(presented));
}

Result<int> RefreshService::RevokeAllForUser(std::string_view user_id) {
  return store_.RevokeUserRefreshTokens(user_id, clock_.Now());
}

Result<int> RefreshService::Prune() { return store_.PruneRefreshTokens(clock_.Now()); }

}  // namespace portcullis::token
