// JWS compact serialization (RFC 7515 §7.1) for Portcullis access tokens (RFC 9068): parsing,
// signing, and the pure verification function every protected request goes through; and the
// signing of OpenID Connect ID tokens, which this module never verifies as access tokens.
//
// Verification is split in two so each half can be reviewed and fuzzed alone:
//   ParseJws          bytes -> Jws: size, segments, canonical base64url, strict JSON, header rules.
//   VerifyAccessToken ParseJws + key lookup + signature + claims, a pure function of its inputs.
// Neither checks revocation (jti) or the user's credential version (uv): the token layer does.
//
// Thread-safety: pure functions; safe from any thread given a KeyRing nobody is modifying.
//
//   VerifyResult r = VerifyAccessToken(bearer, ring, policy, clock.Now());
//   if (!r.ok()) return Unauthorized(r.error);  // log ToString(r.error), never the token
#pragma once

#include <boost/json/object.hpp>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/clock.h"
#include "base/status.h"
#include "jose/algorithm.h"
#include "jose/claims.h"
#include "jose/key.h"
#include "jose/key_ring.h"
#include "jose/verify_error.h"

namespace portcullis::jose {

// A parsed, not yet verified, JWS.
struct Jws {
  boost::json::object header;
  boost::json::object payload;
  std::string signing_input;  // ASCII(BASE64URL(header) || '.' || BASE64URL(payload))
  std::string signature;      // raw signature bytes
  Algorithm alg = Algorithm::kEdDsa;
  std::string kid;
};

struct ParseResult {
  VerifyError error = VerifyError::kOk;
  Jws jws;  // meaningful only when error == kOk
};

// Parses a compact JWS and applies every header rule; does not look up keys, verify the signature
// or read claims. Errors, checked in this order: kTooLarge (more than max_bytes), kMalformed (not
// exactly three non-empty segments), kNonCanonicalBase64, kMalformedJson (header not a JSON
// object, duplicate member, bad UTF-8), kAlgMissing, kAlgNone, kAlgNotAllowed, kCritPresent,
// kEmbeddedKey, kTypInvalid, kKidMissing, then kMalformedJson for the payload.
// "typ" must be "at+jwt" or "application/at+jwt", compared case-insensitively as media types are
// (RFC 9068 §4, RFC 7515 §4.1.9); a missing typ is rejected, stricter than RFC 7515.
ParseResult ParseJws(std::string_view compact, std::size_t max_bytes);

// Signs `claims` with `key` as a compact JWS whose header is exactly
// {"alg":<key alg>,"kid":<key kid>,"typ":"at+jwt"}. kInternal if signing fails.
Result<std::string> SignAccessToken(const AccessTokenClaims& claims, const PrivateKey& key);

// Signs an OpenID Connect ID token (OpenID Connect Core 1.0 §2, §3.1.3.7): `claims` serialized
// as given, in a compact JWS whose header is exactly {"alg":<key alg>,"kid":<key kid>,"typ":"JWT"}.
// Does NOT check or add any claim (iss, sub, aud, exp, iat, nonce, ...): the caller builds them.
// The typ "JWT" keeps an ID token from ever passing VerifyAccessToken (kTypInvalid), which
// requires "at+jwt" (RFC 9068 §4). kInternal if signing fails.
Result<std::string> SignIdToken(const boost::json::object& claims, const PrivateKey& key);

struct VerifyPolicy {
  std::string issuer;                  // "iss" must equal this exactly
  std::vector<std::string> audiences;  // "aud" must contain at least one of these
  std::int64_t leeway_s = 30;          // allowed clock skew, seconds
  std::size_t max_token_bytes = 8 * 1024;
};

struct VerifyResult {
  VerifyError error = VerifyError::kOk;
  AccessTokenClaims claims;  // meaningful only when ok()
  bool ok() const { return error == VerifyError::kOk; }
};

// Verifies an access token at time `now`: ParseJws; the key named by "kid" (kKeyNotFound); the
// token's alg must equal the key's (kAlgMismatch); the signature (kSignatureInvalid); then the
// claims: required and typed (kClaimMissing, kClaimInvalid), iss equal (kIssuerMismatch), aud
// contains one of ours (kAudienceMismatch), kExpired when now - leeway >= exp, kNotYetValid when
// nbf > now + leeway, kIssuedInFuture when iat > now + leeway. Does NOT check revocation or uv.
VerifyResult VerifyAccessToken(std::string_view token, const KeyRing& keys,
                               const VerifyPolicy& policy, UnixSeconds now);

}  // namespace portcullis::jose
