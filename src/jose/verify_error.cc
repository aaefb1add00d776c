#include "jose/verify_error.h"

namespace portcullis::jose {

std::string_view ToString(VerifyError error) {
  // No default: -Wswitch flags a new enumerator that has no name here.
  switch (error) {
    case VerifyError::kOk:
      return "ok";
    case VerifyError::kTooLarge:
      return "too_large";
    case VerifyError::kMalformed:
      return "malformed";
    case VerifyError::kNonCanonicalBase64:
      return "non_canonical_base64";
    case VerifyError::kMalformedJson:
      return "malformed_json";
    case VerifyError::kAlgMissing:
      return "alg_missing";
    case VerifyError::kAlgNone:
      return "alg_none";
    case VerifyError::kAlgNotAllowed:
      return "alg_not_allowed";
    case VerifyError::kAlgMismatch:
      return "alg_mismatch";
    case VerifyError::kKidMissing:
      return "kid_missing";
    case VerifyError::kKeyNotFound:
      return "key_not_found";
    case VerifyError::kTypInvalid:
      return "typ_invalid";
    case VerifyError::kCritPresent:
      return "crit_present";
    case VerifyError::kEmbeddedKey:
      return "embedded_key";
    case VerifyError::kSignatureInvalid:
      return "bad_signature";
    case VerifyError::kClaimMissing:
      return "claim_missing";
    case VerifyError::kClaimInvalid:
      return "claim_invalid";
    case VerifyError::kIssuerMismatch:
      return "issuer_mismatch";
    case VerifyError::kAudienceMismatch:
      return "audience_mismatch";
    case VerifyError::kExpired:
      return "expired";
    case VerifyError::kNotYetValid:
      return "not_yet_valid";
    case VerifyError::kIssuedInFuture:
      return "issued_in_future";
    case VerifyError::kRevoked:
      return "revoked";
    case VerifyError::kStaleCredentials:
      return "stale_credentials";
    case VerifyError::kSubjectDisabled:
      return "subject_disabled";
    case VerifyError::kUnknownSubject:
      return "unknown_subject";
  }
  return "unknown";
}

}  // namespace portcullis::jose
