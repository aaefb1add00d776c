// portcullis/verifier.h: verify Portcullis access tokens in a resource server.
//
// A Verifier checks a JWT access token against the issuer's JWKS with the same code the server
// uses (signature, alg, kid, typ, crit, embedded keys, iss, aud, exp, nbf, iat, cnf) and, for a
// DPoP-bound token, the request's DPoP proof (RFC 9449). It does NOT check revocation (jti) or
// the user's credential version ("uv"): those need the server's state. Short access-token
// lifetimes bound how long a revoked token is accepted, as with every JWKS-based verifier.
// DPoP proof replay is detected per Verifier (so per process): a proof's jti is accepted once
// within the proof's lifetime (60 s), in a bounded memory (VerifierOptions::dpop_replay_entries);
// several processes behind one name each keep their own record.
//
// Tokens that passed are cached (VerifierOptions::cache_max_entries): verifying the same token
// again costs a hash lookup and the time checks, not a signature verification.
//
// The JWKS is fetched at Create (a failure there is not fatal) and cached. A token naming an
// unknown kid triggers a refetch at most once per jwks_min_refresh, so forged kids cannot make the
// Verifier hammer the issuer. When a refetch fails, the cached key set keeps serving.
//
// Thread-safety: Verify, VerifyDpop and Refresh may be called concurrently from many threads.
//
// Usage:
//   auto verifier = portcullis::Verifier::Create({.issuer = "https://auth.example",
//                                                 .audiences = {"orders-api"},
//                                                 .jwks_url =
//                                                 "https://auth.example/.well-known/jwks.json"});
//   if (!verifier.ok()) die(verifier.error);
//   portcullis::VerifyResult r = verifier.value->Verify(token);
//   if (!r.ok()) return 401;
//   if (!r.claims.HasPermission("orders:refund")) return 403;
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "portcullis/claims.h"
#include "portcullis/clock.h"
#include "portcullis/jwks_source.h"
#include "portcullis/verify_error.h"

namespace portcullis {

struct VerifierOptions {
  std::string issuer;                  // "iss" must equal this exactly
  std::vector<std::string> audiences;  // "aud" must contain at least one of these
  // https://... (certificate verified against ca_file or the system store); http:// is accepted
  // only for loopback hosts (127.0.0.1, ::1, localhost), for tests.
  std::string jwks_url;
  std::string ca_file;              // PEM bundle; empty = system default trust store
  std::chrono::seconds leeway{30};  // allowed clock skew for exp/nbf/iat
  // Subset of {"EdDSA", "ES256", "RS256"}; empty = all three. Anything else fails Create.
  std::vector<std::string> allowed_algorithms;
  std::chrono::seconds jwks_min_refresh{30};  // min spacing of refetches on an unknown kid
  std::chrono::seconds fetch_timeout{5};      // whole fetch: resolve, connect, TLS, read
  std::size_t max_token_bytes = 8 * 1024;
  // Verified tokens remembered (keyed by the whole token) so that a token seen again costs a
  // lookup instead of a signature check; 0 disables. Only tokens that passed every check enter;
  // a hit still checks exp/nbf/iat against the clock, and the cache is dropped whenever the key
  // set changes. DPoP proofs are checked on every request, hit or not. ~1 KiB per entry.
  std::size_t cache_max_entries = 10'000;
  // DPoP proofs remembered against replay (RFC 9449 §11.1), ~200 bytes each; 0 disables the
  // check. When full, the oldest are forgotten first, so a replay of any of the last
  // dpop_replay_entries accepted proofs is always refused.
  std::size_t dpop_replay_entries = 100'000;
  // Injection points (not owned; must outlive the Verifier). nullptr = defaults.
  const VerifierClock* clock = nullptr;  // default: SystemVerifierClock()
  JwksSource* jwks_source = nullptr;     // default: HTTPS fetch of jwks_url
};

struct VerifyResult {
  VerifyError error = VerifyError::kOk;
  // When error == kDpopInvalid: the snake_case DPoP failure ("htu_mismatch", "iat_too_old", ...).
  std::string dpop_error;
  Claims claims;  // meaningful only when ok()
  bool ok() const { return error == VerifyError::kOk; }
};

template <typename T>
struct [[nodiscard]] CreateResult {
  T value;            // non-null when ok()
  std::string error;  // why Create failed (bad options), when !ok()
  bool ok() const { return error.empty(); }
};

class Verifier {
 public:
  // Validates options (issuer and at least one audience non-empty, a parseable https or loopback
  // http jwks_url unless a jwks_source is given, known algorithms, readable ca_file) and tries a
  // first fetch. An unreachable issuer is not an error: Verify answers kJwksUnavailable until a
  // fetch succeeds.
  static CreateResult<std::unique_ptr<Verifier>> Create(VerifierOptions options);

  virtual ~Verifier() = default;

  // Verifies a bearer token. A DPoP-bound token (cnf.jkt) fails with kDpopRequired: it is only
  // valid with its proof (RFC 9449 §7.1), see VerifyDpop.
  [[nodiscard]] virtual VerifyResult Verify(std::string_view token) = 0;

  // Verifies a token presented as "Authorization: DPoP <token>" with its "DPoP" header `proof`
  // for the request `method` and absolute `url` (scheme://host[:port]/path, query ignored).
  // The token must be DPoP-bound and the proof's key must match cnf.jkt; the proof must carry
  // "ath"; a proof already accepted once is refused (kDpopInvalid, dpop_error "replayed").
  [[nodiscard]] virtual VerifyResult VerifyDpop(std::string_view token, std::string_view proof,
                                                std::string_view method, std::string_view url) = 0;

  // Refetches the JWKS now, ignoring jwks_min_refresh. Returns false (and keeps the cached set)
  // when the fetch or parse fails.
  virtual bool Refresh() = 0;
};

}  // namespace portcullis
