// POST /oauth2/introspect (RFC 7662) and POST /oauth2/revoke (RFC 7009).
//
// Introspection: the caller authenticates as a confidential client, or presents a Bearer access
// token holding `tokens:introspect`. Anything not currently valid — expired, revoked, foreign,
// garbage — is {"active": false}; an active answer never includes anything secret.
// Revocation: any client the token was issued to may revoke it, the public `default` client
// included (possession is enough); the answer is 200 whether or not the token existed or belonged
// to the caller (RFC 7009 §2.2), so it never confirms a token.
#pragma once

#include <boost/asio/awaitable.hpp>

#include "api/api_context.h"
#include "http/request.h"
#include "http/response.h"

namespace portcullis::api {

boost::asio::awaitable<http::Response> HandleIntrospect(ApiContext& ctx, http::Request& req);
boost::asio::awaitable<http::Response> HandleRevoke(ApiContext& ctx, http::Request& req);

}  // namespace portcullis::api
