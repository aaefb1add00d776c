// POST /v1/register (DESIGN §4 "Self-service"): self sign-up, only when `registration.open`
// (default false: 403). Body {"username","password","email"?}; every other field ("roles",
// "disabled", "id", ...) is ignored — no mass assignment: a new user gets exactly
// `registration.default_roles`. Same username/password/email rules as POST /v1/users. 201 with
// the user; 409 if the username is taken; 503 + Retry-After when the hash pool is full.
#pragma once

#include <boost/asio/awaitable.hpp>

#include "api/api_context.h"
#include "http/request.h"
#include "http/response.h"

namespace portcullis::api {

boost::asio::awaitable<http::Response> HandleRegister(ApiContext& ctx, http::Request& req);

}  // namespace portcullis::api
