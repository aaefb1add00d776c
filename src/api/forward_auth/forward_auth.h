// GET /v1/forward-auth (DESIGN §4 "Forward auth"): the decision endpoint for nginx
// `auth_request` and Traefik/Caddy ForwardAuth.
//
// The original request is described by headers the proxy sets: method X-Forwarded-Method (else
// X-Original-Method, else GET), URI X-Forwarded-Uri (else X-Original-URI, else "/"), host
// X-Forwarded-Host (else Host). The path is normalized (authz::NormalizeForwardedPath), then the
// first matching [[forward_auth.rule]] decides:
//   - no rule, or a path/host/method that cannot be normalized -> 403 (default deny);
//   - "public" -> 200 without authenticating and without identity headers;
//   - otherwise the credential pipeline (api::AuthenticateRequest: Bearer, Basic, API key) runs:
//     its 401 (with WWW-Authenticate), 429 or 503 is returned as is; a missing permission -> 403;
//     success -> 200 with X-Auth-User, X-Auth-User-Id (users) or X-Auth-Client-Id (client
//     tokens), X-Auth-Roles (comma-separated) and X-Auth-Scopes (space-separated effective
//     permissions).
// Every answer has an empty or problem+json body and Cache-Control: no-store. The response is
// built from scratch, so identity headers a client forged on its request never appear in it;
// proxies must copy exactly these headers (Traefik authResponseHeaders replaces them) so a
// forged X-Auth-User never reaches the upstream.
//
// The handler authenticates itself, so its route is AuthRequirement::kPublic in routes.cc.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <vector>

#include "api/api_context.h"
#include "authz/forward_auth.h"
#include "base/status.h"
#include "config/config.h"
#include "http/parse.h"
#include "http/request.h"
#include "http/response.h"

namespace portcullis::api {

// Converts the configured rules and compiles them; the app calls it once at start-up and stores
// the result in ApiContext::forward_auth_rules. kInvalidArgument ("forward_auth.rule[N].field:
// reason") only if LoadConfig's validation was bypassed.
Result<authz::ForwardRuleSet> CompileForwardAuthRules(
    const std::vector<config::ForwardAuthRule>& rules);

// GET /v1/forward-auth, as described above. With ctx.forward_auth_rules null every request is
// denied (no rules configured behaves the same way).
boost::asio::awaitable<http::Response> HandleForwardAuth(ApiContext& ctx, http::Request& req);

}  // namespace portcullis::api
