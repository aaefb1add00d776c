#include "api/authz.h"

#include "api/auth_response.h"
#include "authz/permission.h"

namespace portcullis::api {

std::optional<http::Response> RequirePermission(ApiContext& ctx, const Principal& principal,
                                                std::string_view permission) {
  if (!authz::AnyGrants(principal.permissions, permission)) return Forbidden(permission);
  if (principal.kind == Principal::Kind::kUser && ctx.permission_usage != nullptr) {
    ctx.permission_usage->Record(principal.id, permission, ctx.clock->Now());
  }
  return std::nullopt;
}

audit::AuditContext AuditContextOf(const http::Request& req, std::string_view actor) {
  audit::AuditContext c;
  c.actor = std::string(actor);
  c.client_ip = req.client_ip;
  c.user_agent = std::string(req.Header("User-Agent"));
  c.request_id = req.request_id;
  return c;
}

}  // namespace portcullis::api
