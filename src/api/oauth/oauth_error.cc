#include "api/oauth/oauth_error.h"

namespace portcullis::api {

namespace bhttp = boost::beast::http;

namespace {

// The one message for every credential failure: never say whether the user or the password
// was wrong (DESIGN §5, no enumeration).
constexpr std::string_view kInvalidCredentials = "invalid username or password";
constexpr std::string_view kRetryAfterSeconds = "1";

}  // namespace

http::Response InvalidRequest(std::string_view description) {
  return http::OAuthErrorResponse(bhttp::status::bad_request, "invalid_request", description);
}

http::Response HashPoolFull() {
  http::Response res =
      http::OAuthErrorResponse(bhttp::status::service_unavailable, "temporarily_unavailable",
                               "the server is busy verifying passwords; retry shortly");
  res.set(bhttp::field::retry_after, kRetryAfterSeconds);
  return res;
}

http::Response PasswordGrantFailure(authn::AuthnError error, std::int64_t retry_after_s) {
  using authn::AuthnError;
  switch (error) {
    case AuthnError::kUnknownUser:
    case AuthnError::kBadPassword:
    case AuthnError::kDisabled:
    case AuthnError::kBadStoredHash:
    case AuthnError::kBadOtp:
    case AuthnError::kTokenInvalid:
    case AuthnError::kNoCredentials:
    case AuthnError::kMalformedCredentials:
      return http::OAuthErrorResponse(bhttp::status::bad_request, "invalid_grant",
                                      kInvalidCredentials);
    case AuthnError::kMfaRequired:
      // DESIGN §8: the password grant of a TOTP user without the `totp` field.
      return http::OAuthErrorResponse(bhttp::status::bad_request, "mfa_required",
                                      "this account requires a TOTP code (form field totp)");
    case AuthnError::kLocked:
    case AuthnError::kThrottled: {
      http::Response res =
          http::OAuthErrorResponse(bhttp::status::too_many_requests, "temporarily_unavailable",
                                   "too many failed attempts; retry later");
      res.set(bhttp::field::retry_after, std::to_string(retry_after_s < 1 ? 1 : retry_after_s));
      return res;
    }
    case AuthnError::kStoreUnavailable:
    case AuthnError::kOk: {
      http::Response res =
          http::OAuthErrorResponse(bhttp::status::service_unavailable, "temporarily_unavailable",
                                   "the server cannot complete the request now; retry shortly");
      res.set(bhttp::field::retry_after, kRetryAfterSeconds);
      return res;
    }
  }
  return http::OAuthErrorResponse(bhttp::status::bad_request, "invalid_grant", kInvalidCredentials);
}

}  // namespace portcullis::api
