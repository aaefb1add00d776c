// Self-service session endpoints (DESIGN §4 "Self-service").
//
// POST /v1/logout: revokes the presented access token (its jti until exp) and, with
//   {"refresh_token": "..."}, that token's family; {"all": true} ends every session of the user
//   (credential version bump + every refresh token revoked). Needs a Bearer token: Basic and
//   API-key callers have no session (400). Answers 204.
// POST /v1/me/password: {"current_password","new_password"}; checks the current password (on the
//   hash pool), applies the password policy, stores the new hash, bumps the credential version
//   (every earlier access token stops working) and revokes every refresh token. Answers 204.
#pragma once

#include <boost/asio/awaitable.hpp>

#include "api/api_context.h"
#include "http/request.h"
#include "http/response.h"

namespace portcullis::api {

boost::asio::awaitable<http::Response> HandleLogout(ApiContext& ctx, http::Request& req);
boost::asio::awaitable<http::Response> HandleChangePassword(ApiContext& ctx, http::Request& req);

}  // namespace portcullis::api
