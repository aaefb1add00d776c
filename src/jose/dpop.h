// DPoP proofs (RFC 9449): the pure validation of a `DPoP` header, beside the access-token
// validator and as strict (DESIGN §9).
//
// A proof is a JWS whose header carries the client's public key: {"typ":"dpop+jwt","alg",
// "jwk"} and whose claims name the request it was made for: {"jti","htm","htu","iat"} plus
// "ath" (base64url SHA-256 of the access token) on resource requests and "nonce" when the server
// demands one. VerifyDpopProof checks everything that needs only the proof and the request;
// the caller checks what needs state: the jti replay cache (token::DpopReplayCache), the server
// nonce (token::DpopNonces) and the binding to a token's cnf.jkt.
//
// Thread-safety: pure functions.
//
//   DpopResult r = VerifyDpopProof(req.Header("DPoP"),
//                                  {.method = "GET", .url = NormalizeHtu(url).value_or(""),
//                                   .access_token = token},
//                                  policy, clock.Now());
//   if (!r.ok()) return InvalidDpopProof(r.error);  // log ToString(r.error), never the proof
//   if (r.proof.jkt != claims.cnf_jkt) ...
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/clock.h"

namespace portcullis::jose {

// Every reason a DPoP proof is refused. Stable numbers (logs, metric labels); add at the end of a
// group, never renumber.
enum class DpopError : std::uint16_t {
  kOk = 0,
  // Format
  kTooLarge = 1,            // longer than DpopPolicy::max_proof_bytes
  kMalformed = 2,           // not three non-empty dot-separated segments
  kNonCanonicalBase64 = 3,  // a segment is not canonical unpadded base64url
  kMalformedJson = 4,       // header or payload not a JSON object (syntax, duplicates, UTF-8)
  // Header
  kTypInvalid = 10,     // "typ" is not "dpop+jwt"
  kAlgNone = 11,        // "alg" is "none" (any case)
  kAlgNotAllowed = 12,  // "alg" is missing, HMAC, RS256 or anything but ES256/EdDSA
  kCritPresent = 13,    // a "crit" member: we understand no extensions
  kJwkMissing = 14,     // no "jwk" object
  kJwkInvalid = 15,     // "jwk" is not a public key of the proof's algorithm (or holds "d")
  kKeyReference = 16,   // "jku", "x5u", "x5c", "x5t", "x5t#S256" or "kid": the key is the jwk
  // Signature
  kSignatureInvalid = 20,  // the signature does not verify under the embedded key
  // Claims
  kClaimMissing = 30,  // jti, htm, htu or iat absent
  kClaimInvalid = 31,  // a claim of the wrong type, an empty or overlong jti, a bad htu
  kHtmMismatch = 32,   // "htm" is not the request's method
  kHtuMismatch = 33,   // "htu" (normalized) is not the request's URL
  kIatTooOld = 34,     // iat < now - max_age_s
  kIatInFuture = 35,   // iat > now + leeway_s
  kAthMissing = 36,    // a resource request without "ath"
  kAthMismatch = 37,   // "ath" is not the hash of the presented access token
  // Caller's checks (state): VerifyDpopProof never returns these
  kReplayed = 40,         // this jti was already seen within the proof's lifetime
  kKeyMismatch = 41,      // the proof's key is not the one the token (or refresh token) is bound to
  kNonceRequired = 42,    // the server demands a nonce and the proof has none, or a stale one
  kReplayCacheFull = 43,  // the replay cache is at its bound: the proof cannot be checked
  kMultipleProofs = 44,   // more than one DPoP header
};

// A snake_case name for logs and metric labels, e.g. "htu_mismatch".
std::string_view ToString(DpopError error);

struct DpopPolicy {
  std::int64_t max_age_s = 60;  // a proof is accepted for this long after its iat
  std::int64_t leeway_s = 5;    // iat may be this far in the future (clock skew)
  std::size_t max_proof_bytes = 4096;
  std::size_t max_jti_bytes = 256;
};

// The request a proof must have been made for.
struct DpopRequest {
  std::string_view method;  // the HTTP method, compared case-sensitively (RFC 9110 §9.1)
  std::string_view url;     // the request URL as NormalizeHtu returns it
  // The access token sent with the proof on a resource request ("ath" required and checked);
  // empty at the token endpoint ("ath" ignored).
  std::string_view access_token;
};

// What a valid proof establishes.
struct DpopProof {
  std::string jkt;  // RFC 7638 thumbprint of the embedded key
  std::string jti;
  UnixSeconds iat = 0;
  std::optional<std::string> nonce;
};

struct DpopResult {
  DpopError error = DpopError::kOk;
  DpopProof proof;  // meaningful only when ok()
  bool ok() const { return error == DpopError::kOk; }
};

// Validates `proof` (the DPoP header's value) for `request` at `now`: size, compact JWS form,
// header (typ, alg ES256/EdDSA, no crit, no key references, a public jwk of that algorithm),
// signature by the embedded key, claims (jti, htm, htu, iat typed; htm equal; htu equal after
// NormalizeHtu; iat within [now - max_age_s, now + leeway_s]; ath when request.access_token is
// set). Does not check replay, nonce or key binding (the caller's state).
DpopResult VerifyDpopProof(std::string_view proof, const DpopRequest& request,
                           const DpopPolicy& policy, UnixSeconds now);

// RFC 9449 §4.3 / RFC 3986 §6.2.2–6.2.3: the comparable form of an http(s) URL — scheme and host
// lower-cased, the default port (80, 443) removed, an empty path made "/", percent-encodings
// upper-cased and those of unreserved characters decoded, query and fragment dropped. nullopt
// for anything that is not an absolute http or https URL with a host (userinfo, bad port, bad
// percent-encoding, spaces or controls).
std::optional<std::string> NormalizeHtu(std::string_view url);

// base64url(SHA-256(access_token)), the "ath" of a proof sent with `access_token`.
std::string AccessTokenHash(std::string_view access_token);

}  // namespace portcullis::jose
