// GET /v1/me: the caller as the credential pipeline sees it (DESIGN §4 "Self-service").
#pragma once

#include <boost/asio/awaitable.hpp>

#include "api/api_context.h"
#include "http/parse.h"
#include "http/request.h"
#include "http/response.h"

namespace portcullis::api {

boost::asio::awaitable<http::Response> HandleMe(ApiContext& ctx, http::Request& req);

}  // namespace portcullis::api
