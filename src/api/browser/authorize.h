// Browser sign-in endpoints (DESIGN.md §8, issue #12):
//   GET|POST /oauth2/authorize   the authorization request (RFC 6749 §4.1, PKCE S256 required,
//                                OpenID Connect prompt/max_age/nonce); without a live session, the
//                                login page; POST with csrf_token: the login form (password, then
//                                TOTP when the user has it)
//   GET|POST /oauth2/logout      RP-initiated logout (id_token_hint, post_logout_redirect_uri,
//                                state)
//   GET|POST /oauth2/userinfo    OpenID Connect UserInfo with the access token
//   GET /assets/portcullis.css   the login page's stylesheet
//   GET /v1/me/sessions, DELETE /v1/me/sessions/{id}   the caller's browser sessions
//
// The rules (which request is acceptable, PKCE) live in authn/authorize_request.h, sessions in
// authn/browser_sessions.h, ID-token claims in token/id_token.h; these handlers parse, call
// them off the network thread and render. Every database call and password hash runs on a pool.
#pragma once

#include <boost/asio/awaitable.hpp>

#include "api/api_context.h"
#include "http/request.h"

namespace portcullis::api {

boost::asio::awaitable<http::Response> HandleAuthorize(ApiContext& ctx, http::Request& req);
boost::asio::awaitable<http::Response> HandleEndSession(ApiContext& ctx, http::Request& req);
boost::asio::awaitable<http::Response> HandleUserinfo(ApiContext& ctx, http::Request& req);
boost::asio::awaitable<http::Response> HandleStylesheet(ApiContext& ctx, http::Request& req);
boost::asio::awaitable<http::Response> HandleListSessions(ApiContext& ctx, http::Request& req);
boost::asio::awaitable<http::Response> HandleDeleteSession(ApiContext& ctx, http::Request& req);

}  // namespace portcullis::api
