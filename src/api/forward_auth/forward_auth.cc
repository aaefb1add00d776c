#include "api/forward_auth/forward_auth.h"

#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include "api/auth_response.h"
#include "api/credentials.h"
#include "base/log.h"

namespace portcullis::api {

namespace bhttp = boost::beast::http;

namespace {

// The first non-empty header of `names`, or `fallback`.
std::string_view FirstHeader(const http::Request& req,
                             std::initializer_list<std::string_view> names,
                             std::string_view fallback) {
  for (std::string_view name : names) {
    std::string_view value = req.Header(name);
    if (!value.empty()) return value;
  }
  return fallback;
}

// Header values must not carry CR, LF or other controls; the values here are validated at
// creation (usernames, roles, permissions, client ids), so this only guards against a bug.
std::string HeaderSafe(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte >= 0x20 && byte != 0x7F) out.push_back(c);
  }
  return out;
}

std::string Join(const std::vector<std::string>& items, std::string_view separator) {
  std::string out;
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += separator;
    out += items[i];
  }
  return out;
}

http::Response NoStore(http::Response res) {
  res.set(bhttp::field::cache_control, "no-store");
  return res;
}

// portcullis_forward_auth_decisions_total{result}.
void Count(ApiContext& ctx, std::string_view result) {
  if (ctx.counters.forward_auth != nullptr) ctx.counters.forward_auth->IncOne(result);
}

// 403 for a request no rule allows. The reason goes to the log, never to the client.
http::Response Denied(ApiContext& ctx, const http::Request& req, std::string_view reason,
                      std::string_view result) {
  Count(ctx, result);
  log::Info("forward_auth.denied",
            {{"reason", reason}, {"client_ip", req.client_ip}, {"request_id", req.request_id}});
  return NoStore(http::ProblemResponse(bhttp::status::forbidden, "Forbidden",
                                       "access to this resource is denied"));
}

}  // namespace

Result<authz::ForwardRuleSet> CompileForwardAuthRules(
    const std::vector<config::ForwardAuthRule>& rules) {
  std::vector<authz::ForwardRule> converted;
  converted.reserve(rules.size());
  for (const config::ForwardAuthRule& r : rules) {
    authz::ForwardRule rule;
    rule.host = r.host;
    rule.path = r.path;
    rule.methods = r.methods;
    switch (r.kind) {
      case config::ForwardAuthRule::Kind::kPublic:
        rule.requirement = authz::Requirement::kPublic;
        break;
      case config::ForwardAuthRule::Kind::kAuthenticated:
        rule.requirement = authz::Requirement::kAuthenticated;
        break;
      case config::ForwardAuthRule::Kind::kPermissions:
        rule.requirement = authz::Requirement::kPermissions;
        break;
    }
    rule.permissions = r.permissions;
    converted.push_back(std::move(rule));
  }
  Result<authz::ForwardRuleSet> compiled = authz::ForwardRuleSet::Create(std::move(converted));
  if (!compiled.ok()) return InvalidArgumentError("forward_auth." + compiled.status().message());
  return compiled;
}

boost::asio::awaitable<http::Response> HandleForwardAuth(ApiContext& ctx, http::Request& req) {
  std::optional<std::string> method = authz::NormalizeForwardedMethod(
      FirstHeader(req, {"X-Forwarded-Method", "X-Original-Method"}, "GET"));
  if (!method) co_return Denied(ctx, req, "bad_method", "bad_request");
  std::optional<std::string> host =
      authz::NormalizeForwardedHost(FirstHeader(req, {"X-Forwarded-Host", "Host"}, ""));
  if (!host) co_return Denied(ctx, req, "bad_host", "bad_request");
  authz::NormalizedPath path =
      authz::NormalizeForwardedPath(FirstHeader(req, {"X-Forwarded-Uri", "X-Original-URI"}, "/"));
  if (path.error != authz::PathError::kOk)
    co_return Denied(ctx, req, authz::ToString(path.error), "bad_path");

  const authz::ForwardRule* rule = ctx.forward_auth_rules == nullptr
                                       ? nullptr
                                       : ctx.forward_auth_rules->Decide(*method, *host, path.path);
  if (rule == nullptr) co_return Denied(ctx, req, "no_rule", "no_rule");
  if (rule->requirement == authz::Requirement::kPublic) {
    Count(ctx, "public");
    co_return NoStore(http::Response{bhttp::status::ok, 11});
  }

  // A DPoP proof names the original request: method, and the URL the proxy reports (its scheme
  // from X-Forwarded-Proto, host with port, path; the query is not part of htu). Built only for
  // the DPoP scheme, the one that reads it; otherwise the empty URL matches no proof.
  DpopTarget original;
  original.method = *method;
  if (ParseDpopAuthorization(req.Header("Authorization"))) {
    std::string_view proto = FirstHeader(req, {"X-Forwarded-Proto"}, req.tls ? "https" : "http");
    std::string url(proto);
    url += "://";
    url += FirstHeader(req, {"X-Forwarded-Host", "Host"}, "");
    url += FirstHeader(req, {"X-Forwarded-Uri", "X-Original-URI"}, "/");
    original.url = jose::NormalizeHtu(url).value_or("");
  }
  std::variant<Principal, http::Response> auth = co_await AuthenticateRequest(ctx, req, &original);
  if (auto* res = std::get_if<http::Response>(&auth)) {
    Count(ctx, "unauthenticated");
    co_return NoStore(std::move(*res));
  }
  const Principal& principal = std::get<Principal>(auth);

  if (std::optional<std::string_view> missing =
          authz::FirstMissingPermission(*rule, principal.permissions)) {
    log::Info("forward_auth.denied",
              {{"reason", "missing_permission"},
               {"rule", static_cast<std::uint64_t>(ctx.forward_auth_rules->IndexOf(*rule))},
               {"permission", *missing},
               {"principal", principal.id},
               {"request_id", req.request_id}});
    Count(ctx, "missing_permission");
    co_return NoStore(Forbidden(*missing));
  }
  // Only an allowed request counts as using its permissions (access review "last used").
  if (principal.kind == Principal::Kind::kUser && ctx.permission_usage != nullptr) {
    for (const std::string& p : rule->permissions) {
      ctx.permission_usage->Record(principal.id, p, ctx.clock->Now());
    }
  }

  Count(ctx, "allowed");
  http::Response res{bhttp::status::ok, 11};
  if (principal.kind == Principal::Kind::kUser) {
    res.set("X-Auth-User", HeaderSafe(principal.username.value_or("")));
    res.set("X-Auth-User-Id", HeaderSafe(principal.id));
  } else {
    res.set("X-Auth-Client-Id", HeaderSafe(principal.client_id));
  }
  res.set("X-Auth-Roles", HeaderSafe(Join(principal.roles, ",")));
  res.set("X-Auth-Scopes", HeaderSafe(Join(principal.permissions, " ")));
  co_return NoStore(std::move(res));
}

}  // namespace portcullis::api
