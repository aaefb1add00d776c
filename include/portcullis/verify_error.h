// portcullis/verify_error.h: why a resource server refused an access token.
//
// The values and numbers are exactly those of the server's jose::VerifyError (src/jose/
// verify_error.h); src/verifier/verifier.cc static_asserts that every value matches, so logs and
// metric labels mean the same thing on both sides. Values 40-43 (revocation, credential version,
// disabled or unknown subject) need the server's state and are never returned by this library.
//
// Thread-safety: pure values and functions.
#pragma once

#include <cstdint>
#include <string_view>

namespace portcullis {

enum class VerifyError : std::uint16_t {
  kOk = 0,
  // Format
  kTooLarge = 1,            // longer than VerifierOptions::max_token_bytes
  kMalformed = 2,           // not three non-empty dot-separated segments
  kNonCanonicalBase64 = 3,  // a segment is not canonical unpadded base64url
  kMalformedJson = 4,       // header or payload is not a JSON object
  // Header
  kAlgMissing = 10,     // no "alg" member
  kAlgNone = 11,        // "alg" is "none" (any case)
  kAlgNotAllowed = 12,  // "alg" is HMAC, unknown, or not in VerifierOptions::allowed_algorithms
  kAlgMismatch = 13,    // "alg" differs from the algorithm of the key named by "kid"
  kKidMissing = 14,     // no "kid"
  kKeyNotFound = 15,    // no key in the JWKS (even after an allowed refetch) has this "kid"
  kTypInvalid = 16,     // "typ" missing or not "at+jwt" (RFC 9068 §4)
  kCritPresent = 17,    // a "crit" member is present
  kEmbeddedKey = 18,    // "jwk", "jku", "x5u", "x5c", "x5t" or "x5t#S256" present
  // Signature
  kSignatureInvalid = 20,
  // Claims
  kClaimMissing = 30,
  kClaimInvalid = 31,
  kIssuerMismatch = 32,
  kAudienceMismatch = 33,
  kExpired = 34,         // now - leeway >= exp
  kNotYetValid = 35,     // nbf > now + leeway
  kIssuedInFuture = 36,  // iat > now + leeway
  // Server-only (never returned by the library; listed so the numbers stay shared)
  kRevoked = 40,
  kStaleCredentials = 41,
  kSubjectDisabled = 42,
  kUnknownSubject = 43,
  // Library-only
  kJwksUnavailable = 60,  // no JWKS has ever been fetched successfully
  kDpopRequired = 61,     // the token is DPoP-bound (cnf.jkt) but was checked without a proof
  kDpopInvalid = 62,      // the proof failed; VerifyResult::dpop_error says why
  kDpopKeyMismatch = 63,  // the proof's key thumbprint is not the token's cnf.jkt
  kNotDpopBound = 64,     // VerifyDpop on a token without cnf.jkt (a Bearer token)
};

// A snake_case name for logs and metric labels, e.g. "expired"; the same strings as the server's.
std::string_view ToString(VerifyError error);

}  // namespace portcullis
