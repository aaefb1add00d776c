#include "api/authz.h"

#include "api/auth_response.h"
#include "authz/permission.h"

namespace portcullis::api {

std::optional<http::Response> RequirePermission(const Principal& principal,
                                                std::string_view permission) {
  if (authz::AnyGrants(principal.permissions, permission)) return std::nullopt;
  return Forbidden(permission);
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
