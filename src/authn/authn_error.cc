#include "authn/authn_error.h"

namespace portcullis::authn {

std::string_view ToString(AuthnError error) {
  switch (error) {
    case AuthnError::kOk:
      return "ok";
    case AuthnError::kUnknownUser:
      return "unknown_user";
    case AuthnError::kBadPassword:
      return "bad_password";
    case AuthnError::kDisabled:
      return "disabled";
    case AuthnError::kBadStoredHash:
      return "bad_stored_hash";
    case AuthnError::kMfaRequired:
      return "mfa_required";
    case AuthnError::kBadOtp:
      return "bad_otp";
    case AuthnError::kLocked:
      return "locked";
    case AuthnError::kThrottled:
      return "throttled";
    case AuthnError::kTokenInvalid:
      return "token_invalid";
    case AuthnError::kNoCredentials:
      return "no_credentials";
    case AuthnError::kMalformedCredentials:
      return "malformed_credentials";
    case AuthnError::kStoreUnavailable:
      return "store_unavailable";
  }
  return "unknown";
}

}  // namespace portcullis::authn
