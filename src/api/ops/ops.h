// Operations endpoints: liveness, readiness and Prometheus metrics (DESIGN §4 "Operations").
#pragma once

#include <boost/asio/awaitable.hpp>

#include "api/api_context.h"
#include "http/parse.h"
#include "http/request.h"
#include "http/response.h"

namespace portcullis::api {

// GET /healthz: 200 {"status":"ok"} while the process serves requests.
boost::asio::awaitable<http::Response> HandleHealthz(ApiContext& ctx, http::Request& req);
// GET /readyz: 200 when the database answers and signing keys are loaded, else 503.
boost::asio::awaitable<http::Response> HandleReadyz(ApiContext& ctx, http::Request& req);
// GET /metrics: Prometheus text format 0.0.4.
boost::asio::awaitable<http::Response> HandleMetrics(ApiContext& ctx, http::Request& req);

}  // namespace portcullis::api
