// POST /oauth2/token (RFC 6749 §3.2): grant_type=password in the exact form FastAPI's
// OAuth2PasswordRequestForm sends (username, password, optional scope, client_id, client_secret;
// empty values count as absent). refresh_token and client_credentials follow in issue #3.
#pragma once

#include <boost/asio/awaitable.hpp>

#include "api/api_context.h"
#include "http/parse.h"
#include "http/request.h"
#include "http/response.h"

namespace portcullis::api {

boost::asio::awaitable<http::Response> HandleToken(ApiContext& ctx, http::Request& req);

}  // namespace portcullis::api
