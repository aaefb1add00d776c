// The one place that maps authentication and authorization failures on /v1 routes to HTTP
// (STYLE point 6): 401 + WWW-Authenticate (RFC 6750 §3), 403, 429 + Retry-After. Bodies are
// generic problem+json; the precise reason is logged and counted by the caller.
#pragma once

#include "authn/authn_error.h"
#include "http/parse.h"
#include "http/request.h"
#include "http/response.h"

namespace portcullis::api {

// 401 for missing, malformed or invalid credentials. With no credentials at all the challenge
// carries no error code (RFC 6750 §3.1); otherwise error="invalid_token".
http::Response Unauthenticated(authn::AuthnError error);
// 403 when the caller is authenticated but lacks `permission`.
http::Response Forbidden(std::string_view permission);

}  // namespace portcullis::api
