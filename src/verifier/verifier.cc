#include "portcullis/verifier.h"

#include <algorithm>
#include <chrono>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>

#include "authz/permission.h"
#include "crypto/constant_time.h"
#include "jose/algorithm.h"
#include "jose/claims.h"
#include "jose/dpop.h"
#include "jose/jws.h"
#include "jose/verify_error.h"
#include "verifier/http_jwks_source.h"
#include "verifier/jwks_cache.h"

namespace portcullis {

namespace {

// The public enum is the server's enum: same names, same numbers (DESIGN §11, STYLE 5).
#define PORTCULLIS_SAME_ERROR(name)                              \
  static_assert(static_cast<std::uint16_t>(VerifyError::name) == \
                static_cast<std::uint16_t>(jose::VerifyError::name))
PORTCULLIS_SAME_ERROR(kOk);
PORTCULLIS_SAME_ERROR(kTooLarge);
PORTCULLIS_SAME_ERROR(kMalformed);
PORTCULLIS_SAME_ERROR(kNonCanonicalBase64);
PORTCULLIS_SAME_ERROR(kMalformedJson);
PORTCULLIS_SAME_ERROR(kAlgMissing);
PORTCULLIS_SAME_ERROR(kAlgNone);
PORTCULLIS_SAME_ERROR(kAlgNotAllowed);
PORTCULLIS_SAME_ERROR(kAlgMismatch);
PORTCULLIS_SAME_ERROR(kKidMissing);
PORTCULLIS_SAME_ERROR(kKeyNotFound);
PORTCULLIS_SAME_ERROR(kTypInvalid);
PORTCULLIS_SAME_ERROR(kCritPresent);
PORTCULLIS_SAME_ERROR(kEmbeddedKey);
PORTCULLIS_SAME_ERROR(kSignatureInvalid);
PORTCULLIS_SAME_ERROR(kClaimMissing);
PORTCULLIS_SAME_ERROR(kClaimInvalid);
PORTCULLIS_SAME_ERROR(kIssuerMismatch);
PORTCULLIS_SAME_ERROR(kAudienceMismatch);
PORTCULLIS_SAME_ERROR(kExpired);
PORTCULLIS_SAME_ERROR(kNotYetValid);
PORTCULLIS_SAME_ERROR(kIssuedInFuture);
PORTCULLIS_SAME_ERROR(kRevoked);
PORTCULLIS_SAME_ERROR(kStaleCredentials);
PORTCULLIS_SAME_ERROR(kSubjectDisabled);
PORTCULLIS_SAME_ERROR(kUnknownSubject);
#undef PORTCULLIS_SAME_ERROR

VerifyError FromJose(jose::VerifyError error) { return static_cast<VerifyError>(error); }

class SystemClockImpl final : public VerifierClock {
 public:
  std::int64_t NowSeconds() const override {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
};

Claims ToPublicClaims(jose::AccessTokenClaims c) {
  Claims out;
  out.iss = std::move(c.iss);
  out.sub = std::move(c.sub);
  out.aud = std::move(c.aud);
  out.exp = c.exp;
  out.iat = c.iat;
  out.nbf = c.nbf;
  out.jti = std::move(c.jti);
  out.client_id = std::move(c.client_id);
  out.scopes = authz::SplitScope(c.scope);
  out.roles = std::move(c.roles);
  out.username = std::move(c.username);
  out.cnf_jkt = std::move(c.cnf_jkt);
  return out;
}

VerifyResult Failure(VerifyError error, std::string dpop_error = {}) {
  VerifyResult r;
  r.error = error;
  r.dpop_error = std::move(dpop_error);
  return r;
}

class VerifierImpl final : public Verifier {
 public:
  VerifierImpl(VerifierOptions options, std::vector<jose::Algorithm> allowed,
               std::unique_ptr<JwksSource> owned_source)
      : options_(std::move(options)),
        allowed_(std::move(allowed)),
        owned_source_(std::move(owned_source)),
        clock_(options_.clock != nullptr ? *options_.clock : SystemVerifierClock()),
        cache_(options_.jwks_source != nullptr ? *options_.jwks_source : *owned_source_, clock_,
               options_.jwks_min_refresh) {
    policy_.issuer = options_.issuer;
    policy_.audiences = options_.audiences;
    policy_.leeway_s = options_.leeway.count();
    policy_.max_token_bytes = options_.max_token_bytes;
  }

  // Fetches the first key set; a failure is remembered only by the cache's spacing.
  void Start() { (void)cache_.Refresh(); }

  VerifyResult Verify(std::string_view token) override {
    VerifyResult r = VerifyToken(token);
    if (r.ok() && r.claims.cnf_jkt) {
      // RFC 9449 §7.2: a DPoP-bound token is no Bearer token (the server answers the same).
      return Failure(VerifyError::kDpopRequired);
    }
    return r;
  }

  VerifyResult VerifyDpop(std::string_view token, std::string_view proof, std::string_view method,
                          std::string_view url) override {
    VerifyResult r = VerifyToken(token);
    if (!r.ok()) return r;
    if (!r.claims.cnf_jkt) return Failure(VerifyError::kNotDpopBound);
    std::optional<std::string> htu = jose::NormalizeHtu(url);
    if (!htu) return Failure(VerifyError::kDpopInvalid, "htu_mismatch");
    jose::DpopResult checked =
        jose::VerifyDpopProof(proof, {.method = method, .url = *htu, .access_token = token},
                              jose::DpopPolicy{}, clock_.NowSeconds());
    if (!checked.ok()) {
      return Failure(VerifyError::kDpopInvalid, std::string(jose::ToString(checked.error)));
    }
    if (!crypto::ConstantTimeEqual(checked.proof.jkt, *r.claims.cnf_jkt)) {
      return Failure(VerifyError::kDpopKeyMismatch);
    }
    // Recorded only now, when token and proof checked out: nobody without a bound token and its
    // key can fill the record (the server learned that the hard way, threat-model F2).
    if (!RecordProof(checked.proof)) {
      return Failure(VerifyError::kDpopInvalid,
                     std::string(jose::ToString(jose::DpopError::kReplayed)));
    }
    return r;
  }

  bool Refresh() override { return cache_.Refresh(); }

 private:
  // Every check but the bearer/DPoP scheme rule: the verified-token cache, else VerifyUncached.
  VerifyResult VerifyToken(std::string_view token) {
    if (options_.cache_max_entries == 0) return VerifyUncached(token);
    std::shared_ptr<const jose::KeyRing> keys = cache_.Keys();
    const std::int64_t now = clock_.NowSeconds();
    {
      std::lock_guard lock(verified_mu_);
      if (verified_keys_ != keys) {
        // The key set changed (rotation, or a key withdrawn): what it verified counts no more.
        verified_.clear();
        verified_keys_ = keys;
      } else if (auto it = verified_.find(token); it != verified_.end()) {
        const Claims& c = it->second;
        const std::int64_t leeway = policy_.leeway_s;
        // The server's rules (jose::VerifyAccessToken), again: time has moved on.
        if (now - leeway >= c.exp) {
          verified_.erase(it);
          return Failure(VerifyError::kExpired);
        }
        if (c.nbf > now + leeway) return Failure(VerifyError::kNotYetValid);
        if (c.iat > now + leeway) return Failure(VerifyError::kIssuedInFuture);
        VerifyResult r;
        r.claims = c;
        return r;
      }
    }
    VerifyResult r = VerifyUncached(token);
    if (!r.ok()) return r;  // failures are never cached: forged tokens cannot fill it
    std::lock_guard lock(verified_mu_);
    if (verified_keys_ == keys && cache_.Keys() == keys) {
      if (verified_.size() >= options_.cache_max_entries) verified_.erase(verified_.begin());
      verified_.emplace(std::string(token), r.claims);
    }
    return r;
  }

  // False when this proof (its key and jti) was accepted before within its lifetime.
  bool RecordProof(const jose::DpopProof& proof) {
    if (options_.dpop_replay_entries == 0) return true;
    const std::int64_t now = clock_.NowSeconds();
    std::string key = proof.jkt;
    key += '\n';
    key += proof.jti;
    std::lock_guard lock(replay_mu_);
    if (auto it = seen_proofs_.find(key); it != seen_proofs_.end()) {
      if (it->second >= now) return false;
      seen_proofs_.erase(it);  // its lifetime is over (the proof would fail its iat check anyway)
    }
    // Forget what has expired, then the oldest if still full.
    while (!proof_order_.empty() && (seen_proofs_.size() >= options_.dpop_replay_entries ||
                                     proof_order_.front().first < now)) {
      auto it = seen_proofs_.find(proof_order_.front().second);
      if (it != seen_proofs_.end() && it->second == proof_order_.front().first) {
        seen_proofs_.erase(it);
      }
      proof_order_.pop_front();
    }
    const std::int64_t expires = proof.iat + jose::DpopPolicy{}.max_age_s;
    seen_proofs_[key] = expires;
    proof_order_.emplace_back(expires, std::move(key));
    return true;
  }

  VerifyResult VerifyUncached(std::string_view token) {
    // Parse once up front only to learn alg and kid: the allow-list and the unknown-kid refetch
    // need them. The full check below is the server's own VerifyAccessToken.
    jose::ParseResult parsed = jose::ParseJws(token, options_.max_token_bytes);
    if (parsed.error != jose::VerifyError::kOk) return Failure(FromJose(parsed.error));
    if (std::find(allowed_.begin(), allowed_.end(), parsed.jws.alg) == allowed_.end()) {
      return Failure(VerifyError::kAlgNotAllowed);
    }
    std::shared_ptr<const jose::KeyRing> keys = cache_.Keys();
    if (keys == nullptr || keys->Find(parsed.jws.kid) == nullptr) {
      // Unknown kid: the issuer may have rotated. Refetch, rate-limited by the cache.
      if (cache_.RefreshForUnknownKid()) keys = cache_.Keys();
      if (keys == nullptr) return Failure(VerifyError::kJwksUnavailable);
    }
    jose::VerifyResult verified =
        jose::VerifyAccessToken(token, *keys, policy_, clock_.NowSeconds());
    if (!verified.ok()) return Failure(FromJose(verified.error));
    VerifyResult r;
    r.claims = ToPublicClaims(std::move(verified.claims));
    return r;
  }

  const VerifierOptions options_;
  const std::vector<jose::Algorithm> allowed_;
  const std::unique_ptr<JwksSource> owned_source_;
  const VerifierClock& clock_;
  jose::VerifyPolicy policy_;
  verifier::JwksCache cache_;

  // Heterogeneous lookup by string_view: no copy of the token on a hit.
  struct TokenHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::mutex replay_mu_;
  std::unordered_map<std::string, std::int64_t> seen_proofs_;  // GUARDED_BY(replay_mu_)
  // Insertion order, for eviction: (expiry, key).
  std::deque<std::pair<std::int64_t, std::string>> proof_order_;  // GUARDED_BY(replay_mu_)

  std::mutex verified_mu_;
  std::shared_ptr<const jose::KeyRing> verified_keys_;  // GUARDED_BY(verified_mu_)
  std::unordered_map<std::string, Claims, TokenHash, std::equal_to<>>
      verified_;  // GUARDED_BY(verified_mu_)
};

}  // namespace

const VerifierClock& SystemVerifierClock() {
  static const SystemClockImpl* const clock = new SystemClockImpl();
  return *clock;
}

std::string_view ToString(VerifyError error) {
  switch (error) {
    case VerifyError::kJwksUnavailable:
      return "jwks_unavailable";
    case VerifyError::kDpopRequired:
      return "dpop_bound_as_bearer";
    case VerifyError::kDpopInvalid:
      return "invalid_dpop_proof";
    case VerifyError::kDpopKeyMismatch:
      return "dpop_key_mismatch";
    case VerifyError::kNotDpopBound:
      return "not_dpop_bound";
    case VerifyError::kOk:
    case VerifyError::kTooLarge:
    case VerifyError::kMalformed:
    case VerifyError::kNonCanonicalBase64:
    case VerifyError::kMalformedJson:
    case VerifyError::kAlgMissing:
    case VerifyError::kAlgNone:
    case VerifyError::kAlgNotAllowed:
    case VerifyError::kAlgMismatch:
    case VerifyError::kKidMissing:
    case VerifyError::kKeyNotFound:
    case VerifyError::kTypInvalid:
    case VerifyError::kCritPresent:
    case VerifyError::kEmbeddedKey:
    case VerifyError::kSignatureInvalid:
    case VerifyError::kClaimMissing:
    case VerifyError::kClaimInvalid:
    case VerifyError::kIssuerMismatch:
    case VerifyError::kAudienceMismatch:
    case VerifyError::kExpired:
    case VerifyError::kNotYetValid:
    case VerifyError::kIssuedInFuture:
    case VerifyError::kRevoked:
    case VerifyError::kStaleCredentials:
    case VerifyError::kSubjectDisabled:
    case VerifyError::kUnknownSubject:
      return jose::ToString(static_cast<jose::VerifyError>(error));
  }
  return "unknown";
}

bool Claims::HasPermission(std::string_view permission) const {
  return authz::AnyGrants(scopes, permission);
}

bool HasPermission(const Claims& claims, std::string_view permission) {
  return claims.HasPermission(permission);
}

CreateResult<std::unique_ptr<Verifier>> Verifier::Create(VerifierOptions options) {
  CreateResult<std::unique_ptr<Verifier>> result;
  if (options.issuer.empty()) {
    result.error = "issuer is empty";
    return result;
  }
  if (options.audiences.empty() || std::any_of(options.audiences.begin(), options.audiences.end(),
                                               [](const std::string& a) { return a.empty(); })) {
    result.error = "audiences must be non-empty strings";
    return result;
  }
  if (options.leeway.count() < 0 || options.jwks_min_refresh.count() < 0) {
    result.error = "leeway and jwks_min_refresh must not be negative";
    return result;
  }
  std::vector<jose::Algorithm> allowed;
  if (options.allowed_algorithms.empty()) {
    allowed = {jose::Algorithm::kEdDsa, jose::Algorithm::kEs256, jose::Algorithm::kRs256};
  }
  for (const std::string& name : options.allowed_algorithms) {
    std::optional<jose::Algorithm> alg = jose::ParseAlgorithm(name);
    if (!alg) {
      result.error = "unsupported algorithm: " + name;
      return result;
    }
    allowed.push_back(*alg);
  }
  std::unique_ptr<JwksSource> owned;
  if (options.jwks_source == nullptr) {
    Result<std::unique_ptr<JwksSource>> source = verifier::CreateHttpJwksSource(
        {.url = options.jwks_url, .ca_file = options.ca_file, .timeout = options.fetch_timeout});
    if (!source.ok()) {
      result.error = source.status().message();
      return result;
    }
    owned = std::move(*source);
  }
  auto impl =
      std::make_unique<VerifierImpl>(std::move(options), std::move(allowed), std::move(owned));
  impl->Start();
  result.value = std::move(impl);
  return result;
}

}  // namespace portcullis
