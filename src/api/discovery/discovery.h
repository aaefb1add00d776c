// Discovery: RFC 8414 authorization-server metadata (also served as
// /.well-known/openid-configuration) and the JWKS (RFC 7517) with every non-retired public key.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>

#include "api/api_context.h"
#include "http/parse.h"
#include "http/request.h"
#include "http/response.h"

namespace portcullis::api {

// The metadata document for `issuer` (no trailing slash). Lists only what is implemented.
boost::json::object AuthorizationServerMetadata(const config::Config& config);

boost::asio::awaitable<http::Response> HandleMetadata(ApiContext& ctx, http::Request& req);
boost::asio::awaitable<http::Response> HandleJwks(ApiContext& ctx, http::Request& req);

}  // namespace portcullis::api
