// The caller's TOTP (DESIGN.md §8): POST /v1/me/mfa/totp (start enrolment: secret, otpauth URI,
// SVG QR code), POST /v1/me/mfa/totp/confirm {"code"} (activate; ten recovery codes, shown once),
// DELETE /v1/me/mfa/totp {"code"} (remove). Any authenticated user, for themselves; wrong codes
// count toward the brute-force throttle like wrong passwords and are audited (mfa.failed).
#pragma once

#include <boost/asio/awaitable.hpp>

#include "api/api_context.h"
#include "http/request.h"

namespace portcullis::api {

boost::asio::awaitable<http::Response> HandleStartTotp(ApiContext& ctx, http::Request& req);
boost::asio::awaitable<http::Response> HandleConfirmTotp(ApiContext& ctx, http::Request& req);
boost::asio::awaitable<http::Response> HandleDeleteTotp(ApiContext& ctx, http::Request& req);

}  // namespace portcullis::api
