#include "api/auth_response.h"

namespace portcullis::api {

namespace bhttp = boost::beast::http;

http::Response Unauthenticated(authn::AuthnError error) {
  http::Response res = http::ProblemResponse(bhttp::status::unauthorized, "Unauthorized",
                                             error == authn::AuthnError::kNoCredentials
                                                 ? "authentication is required"
                                                 : "the credentials are invalid or expired");
  if (error == authn::AuthnError::kNoCredentials) {
    res.set(bhttp::field::www_authenticate, "Bearer realm=\"portcullis\"");
  } else {
    res.set(bhttp::field::www_authenticate,
            "Bearer realm=\"portcullis\", error=\"invalid_token\", "
            "error_description=\"the access token is invalid or expired\"");
  }
  return res;
}

http::Response Forbidden(std::string_view permission) {
  std::string detail = "this operation requires the permission ";
  detail += permission;
  return http::ProblemResponse(bhttp::status::forbidden, "Forbidden", detail);
}

}  // namespace portcullis::api
