// The credential pipeline of protected routes: extract the credential from the request,
// authenticate it, build the Principal. Bearer access tokens (RFC 6750 §2.1; no database, no
// await) and HTTP Basic (RFC 7617; `[basic] enabled`; verified on the hash pool under the same
// brute-force defence as the password grant, successes cached for basic.cache_ttl_s) and API keys
// (`X-API-Key: <key>` or `Authorization: ApiKey <key>`; DESIGN §4; verified on the db pool on a
// cache miss, a cache hit touches no database; failures count toward the source's limit).
// DPoP-bound access tokens (`Authorization: DPoP <token>` + a `DPoP` proof, DESIGN §9; a bound
// token sent as Bearer is refused).
// More than one credential in a request is refused with 400 "send exactly one credential".
#pragma once

#include <boost/asio/awaitable.hpp>
#include <variant>

#include "api/api_context.h"
#include "api/dpop.h"
#include "api/principal.h"
#include "http/parse.h"
#include "http/request.h"
#include "http/response.h"

namespace portcullis::api {

// A Principal, or the response to send (401 with WWW-Authenticate; 400 when more than one
// credential is sent; 429 + Retry-After when a Basic attempt is locked out; 503 when the hash or
// db pool is full or the database fails during an API-key verification). `dpop_target`: the
// method and URL a DPoP proof must name; nullptr = this request's own (forward auth passes the
// original request's).
boost::asio::awaitable<std::variant<Principal, http::Response>> AuthenticateRequest(
    ApiContext& ctx, const http::Request& req, const DpopTarget* dpop_target = nullptr);

// The Bearer part alone: synchronous, touches no database.
std::variant<Principal, http::Response> AuthenticateBearer(ApiContext& ctx,
                                                           const http::Request& req);

// The key of an `Authorization: ApiKey <key>` header value (scheme case-insensitive, surrounding
// spaces trimmed; possibly empty), or nullopt if the scheme is not ApiKey. The key's format is
// checked later (authn::ParseApiKey).
std::optional<std::string_view> ParseApiKeyAuthorization(std::string_view authorization);

// Extracts the token of an `Authorization: Bearer <token>` header value; the scheme is
// case-insensitive and the token must be RFC 6750 b64token characters. nullopt if malformed.
std::optional<std::string_view> ParseBearer(std::string_view authorization);

// The same for `Authorization: DPoP <token>` (RFC 9449 §7.1).
std::optional<std::string_view> ParseDpopAuthorization(std::string_view authorization);

}  // namespace portcullis::api
