// VerifyError: every reason an access token can fail verification, one closed enum.
//
// The numbers are stable: they are written to logs and used as metric labels. Never renumber or
// reuse a value; add new ones at the end of their group. HTTP mapping lives elsewhere
// (http/auth_response.cc): every non-kOk value is a 401 with a generic body.
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <string_view>

namespace portcullis::jose {

enum class VerifyError : std::uint16_t {
  kOk = 0,  // the token is valid as far as the jose layer can tell
  // Format
  kTooLarge = 1,            // longer than VerifyPolicy::max_token_bytes
  kMalformed = 2,           // not three non-empty dot-separated segments
  kNonCanonicalBase64 = 3,  // a segment is not canonical unpadded base64url
  kMalformedJson = 4,       // header or payload is not a JSON object: syntax, duplicate key, UTF-8
  // Header
  kAlgMissing = 10,     // no "alg" member
  kAlgNone = 11,        // "alg" is "none" (any case)
  kAlgNotAllowed = 12,  // "alg" is HMAC, unknown, or not a string
  kAlgMismatch = 13,    // "alg" differs from the algorithm of the key named by "kid"
  kKidMissing = 14,     // no "kid", or it is not a non-empty string
  kKeyNotFound = 15,    // no key in the ring has this "kid"
  kTypInvalid = 16,     // "typ" missing or not "at+jwt" (RFC 9068 §4)
  kCritPresent = 17,    // a "crit" member is present; we understand no extensions
  kEmbeddedKey = 18,    // "jwk", "jku", "x5u", "x5c", "x5t" or "x5t#S256" present
  // Signature
  kSignatureInvalid = 20,  // the signature does not verify under the key
  // Claims
  kClaimMissing = 30,      // a required claim is absent
  kClaimInvalid = 31,      // a claim has the wrong JSON type or an empty value
  kIssuerMismatch = 32,    // "iss" is not our issuer
  kAudienceMismatch = 33,  // "aud" names none of our audiences
  kExpired = 34,           // now - leeway >= exp
  kNotYetValid = 35,       // nbf > now + leeway
  kIssuedInFuture = 36,    // iat > now + leeway
  // Token layer (token::TokenService; the pure jose verifier never returns these)
  kRevoked = 40,           // "jti" is on the access-token revocation list
  kStaleCredentials = 41,  // "uv" is below the user's current credential version
  kSubjectDisabled = 42,   // the user is disabled
  kUnknownSubject = 43,    // the user no longer exists (not in the user-state cache)
};

// A snake_case name for logs and metric labels, e.g. "expired", "alg_none".
std::string_view ToString(VerifyError error);

}  // namespace portcullis::jose
