// GET /openapi.json: an OpenAPI 3.1 description generated from the route table, so it can never
// list a route that does not exist or miss one that does.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>

#include "api/api_context.h"
#include "http/request.h"
#include "http/response.h"
#include "http/router.h"

namespace portcullis::api {

// The document for `router`'s routes; `issuer` gives the server URL and the token URL.
boost::json::object OpenApiDocument(const http::Router& router, std::string_view issuer);

boost::asio::awaitable<http::Response> HandleOpenApi(ApiContext& ctx, http::Request& req);

}  // namespace portcullis::api
