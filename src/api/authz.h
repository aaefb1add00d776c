// Authorization on /v1 routes: one check, one response (STYLE point 6). The matcher itself lives in
// authz/permission.h; this maps its answer to 403.
#pragma once

#include <optional>
#include <string_view>

#include "api/api_context.h"
#include "api/principal.h"
#include "audit/audit_log.h"
#include "http/request.h"
#include "http/response.h"

namespace portcullis::api {

// nullopt when `principal` holds `permission`; else the 403 response to send. A passed check of
// a user is noted in ctx.permission_usage (for the access review's "unused" columns).
std::optional<http::Response> RequirePermission(ApiContext& ctx, const Principal& principal,
                                                std::string_view permission);

// The audit context of a request made by `actor` (empty for anonymous callers).
audit::AuditContext AuditContextOf(const http::Request& req, std::string_view actor);

}  // namespace portcullis::api
