// RefreshService: opaque refresh tokens with rotation, families and reuse detection
// (DESIGN §4, issue #3 point 1; RFC 6749 §6 and §10.4, RFC 9700 §4.14.2).
//
// A refresh token is 32 bytes from the CSPRNG, base64url-encoded (43 characters); the store
// keeps only its SHA-256 (hex). Each login starts a family; every use rotates: the presented token
// is marked used and a successor in the same family is issued, with
//   expires_at = min(now + idle_ttl_s, family_expires_at)   (idle lifetime)
//   family_expires_at = first issue + absolute_ttl_s          (absolute lifetime, inherited)
// A token is expired when now >= expires_at or now >= family_expires_at.
//
// Reuse detection: presenting a token that was already used revokes the whole family (its newest
// token included) and answers kReuseDetected, except in the grace case: reuse_grace_s > 0, the
// presented token is the immediate parent of a successor that is still unused and not revoked,
// and now <= used_at + reuse_grace_s. Then the unused successor is revoked and a new token is
// issued as another child of the presented one (a client that never received its new token may
// retry). Older ancestors never get grace: their successor is itself used.
//
// Concurrency: the store rotates atomically, so of several concurrent rotations of one token
// exactly one store call wins. The losers are treated as reuse under the same rules: with
// reuse_grace_s = 0 a lost race revokes the family (DESIGN: "at most one succeeds" — here even the
// winner's new token dies, which is the safe side); with grace, a loser within the window replaces
// the winner's still-unused successor, so only the last response's token stays valid.
//
// Thread-safety: all methods may be called concurrently from any thread.
//
//   RefreshService refresh(token_store, {.idle_ttl_s = 1209600, .absolute_ttl_s = 2592000},
//                          clock, crypto::OsRandomInstance());
//   Result<IssuedRefresh> first = refresh.IssueFamily(user_id, "default", granted_scope);
//   RotateResult next = refresh.Rotate(presented, "default", std::nullopt);
//   if (next.error != RefreshError::kOk) { /* 400 invalid_grant; audit if reuse_detected */ }
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/clock.h"
#include "base/status.h"
#include "crypto/random.h"
#include "store/store.h"

namespace portcullis::token {

struct RefreshPolicy {
  std::int64_t idle_ttl_s = 14 * 86'400;      // a token unused this long expires
  std::int64_t absolute_ttl_s = 30 * 86'400;  // a family ends this long after its first issue
  std::int64_t reuse_grace_s = 0;             // 0 = strict: any reuse revokes the family
};

// Every outcome of a refresh; stable numbers (log fields, metric labels). Every non-kOk value is
// answered with RFC 6749 §5.2 invalid_grant, except kStoreUnavailable (a server error).
enum class RefreshError : std::uint16_t {
  kOk = 0,
  kUnknown = 1,           // no such token (never issued, pruned, or garbage)
  kExpired = 2,           // idle or absolute lifetime over
  kRevoked = 3,           // the token or its family was revoked earlier
  kReuseDetected = 4,     // an already-used token was presented; its family is revoked now
  kClientMismatch = 5,    // bound to another client (RFC 6749 §6, §10.4)
  kScopeExceeded = 6,     // a requested scope is not in the token's scope (RFC 6749 §6)
  kStoreUnavailable = 7,  // the store failed; nothing can be said about the token
  kDpopKeyMismatch = 8,   // bound to a DPoP key the request did not prove (RFC 9449 §5)
};

// A snake_case name for logs and metric labels, e.g. "reuse_detected".
std::string_view ToString(RefreshError error);

struct IssuedRefresh {
  std::string refresh_token;  // the opaque token, to hand to the client once; never log it
  store::RefreshToken record;
};

struct RotateResult {
  RefreshError error = RefreshError::kOk;
  std::string refresh_token;   // the new opaque token (kOk only); never log it
  store::RefreshToken record;  // the new token's record (kOk only): user_id, client_id, scope
  std::string family_id;       // the presented token's family, when it was found (for the audit)
  // Reuse was detected: with kReuseDetected the family is now revoked; with kStoreUnavailable
  // the revocation failed. Audit it either way.
  bool reuse_detected = false;
  // kOk only: RotateHooks::audit was stored with the rotation.
  bool audit_written = false;
};

// What a caller adds to a rotation (both optional; see Rotate).
struct RotateHooks {
  // Called with the presented token's record once every check above passed, before anything is
  // written (also before a grace replacement): kOk to go on, anything else ends the rotation
  // with that error and nothing written. E.g. refuse a token whose user is disabled.
  std::function<RefreshError(const store::RefreshToken& presented)> vet;
  // Appended in the rotation's own transaction when the rotation is written (its id set), and
  // RotateResult::audit_written says so; a grace replacement does not carry it. May be filled
  // by `vet`.
  store::AuditEvent* audit = nullptr;
};

class RefreshService {
 public:
  // Every reference must outlive the service.
  RefreshService(store::TokenStore& store, RefreshPolicy policy, const Clock& clock,
                 crypto::Random& random);

  // Starts a new family for `user_id` (or a client id) bound to `client_id` with `scope`
  // (space-separated). Returns the store's error if the insert fails.
  // `family_id`: chosen by the caller (the authorization-code grant records it before issuing);
  // empty = a fresh random one. `dpop_jkt`: the DPoP key thumbprint the family is bound to
  // (RFC 9449 §5; every token of the family inherits it), nullopt = not bound.
  Result<IssuedRefresh> IssueFamily(std::string_view user_id, std::string_view client_id,
                                    std::string_view scope, std::string_view family_id = {},
                                    std::optional<std::string> dpop_jkt = std::nullopt);

  // A fresh random family id, as IssueFamily makes.
  std::string NewFamilyId();

  // Exchanges `presented` for a new token (see the header comment). `client_id` is the
  // authenticated client of the request; it is checked before anything changes state.
  // `requested_scope`: nullopt keeps the token's scope; otherwise each entry must be in the
  // token's scope (kScopeExceeded) and the new token gets exactly those (duplicates dropped).
  // Checks, in order: kUnknown, kClientMismatch, kExpired (absolute), kRevoked (presenting a
  // revoked token of a family that still has live tokens revokes them too: kReuseDetected),
  // reuse (grace or kReuseDetected), kExpired (idle), kScopeExceeded.
  RotateResult Rotate(std::string_view presented, std::string_view client_id,
                      std::optional<std::vector<std::string>> requested_scope,
                      const RotateHooks& hooks = {});

  // RFC 7009: revokes the whole family of `presented`. An unknown token is not an error (OK).
  // Does not check which client asks; use Find() first where that matters (RFC 7009 §2.1).
  Status RevokeToken(std::string_view presented);

  // The stored record of `presented` (any state). kNotFound if unknown.
  Result<store::RefreshToken> Find(std::string_view presented);

  // Revokes every refresh token of the user (logout-all, password change, disable); returns how
  // many were revoked.
  Result<int> RevokeAllForUser(std::string_view user_id);

  // Deletes tokens of families past their absolute expiry; returns how many.
  Result<int> Prune();

  const RefreshPolicy& policy() const { return policy_; }

 private:
  // A fresh opaque token and its record: same family, user, client and family expiry as
  // `parent`, parent_hash = parent's hash, `scope`, expires_at = min(now + idle, family end).
  std::pair<std::string, store::RefreshToken> MakeSuccessor(const store::RefreshToken& parent,
                                                            std::string scope, UnixSeconds now);
  // The used-token path: grace replacement or family revocation.
  RotateResult HandleUsed(const store::RefreshToken& token,
                          const std::optional<std::vector<std::string>>& requested_scope,
                          const RotateHooks& hooks, UnixSeconds now);
  RotateResult RevokeFamilyForReuse(const store::RefreshToken& token, UnixSeconds now);

  store::TokenStore& store_;
  const RefreshPolicy policy_;
  const Clock& clock_;
  crypto::Random& random_;
};

}  // namespace portcullis::token
