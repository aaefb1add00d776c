// The credential pipeline of protected routes: extract the credential from the request,
// authenticate it, build the Principal. Today: Bearer access tokens (RFC 6750 §2.1); API keys
// and HTTP Basic join here in issue #6.
#pragma once

#include <variant>

#include "api/api_context.h"
#include "api/principal.h"
#include "http/parse.h"
#include "http/request.h"
#include "http/response.h"

namespace portcullis::api {

// A Principal, or the 401 response to send. Touches no database.
std::variant<Principal, http::Response> AuthenticateRequest(ApiContext& ctx,
                                                            const http::Request& req);

// Extracts the token of an `Authorization: Bearer <token>` header value; the scheme is
// case-insensitive and the token must be RFC 6750 b64token characters. nullopt if malformed.
std::optional<std::string_view> ParseBearer(std::string_view authorization);

}  // namespace portcullis::api
