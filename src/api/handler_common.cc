#include "api/handler_common.h"

#include <algorithm>
#include <charconv>

#include "api/authz.h"
#include "api/credentials.h"

namespace portcullis::api {

namespace bhttp = boost::beast::http;

http::Response BadRequestProblem(std::string_view detail) {
  return http::ProblemResponse(bhttp::status::bad_request, "Bad Request", detail);
}

http::Response NotFoundProblem(std::string_view detail) {
  return http::ProblemResponse(bhttp::status::not_found, "Not Found", detail);
}

http::Response UnavailableProblem() {
  http::Response res = http::ProblemResponse(bhttp::status::service_unavailable,
                                             "Service Unavailable", "retry shortly");
  res.set(bhttp::field::retry_after, "1");
  return res;
}

boost::asio::awaitable<std::variant<Principal, http::Response>> Authorize(
    ApiContext& ctx, const http::Request& req, std::string_view permission) {
  std::variant<Principal, http::Response> auth = co_await AuthenticateRequest(ctx, req);
  if (std::holds_alternative<http::Response>(auth)) co_return auth;
  if (auto denied = RequirePermission(ctx, std::get<Principal>(auth), permission)) {
    co_return *denied;
  }
  co_return auth;
}

std::variant<std::size_t, http::Response> ParseLimit(const http::FormFields& query) {
  const std::string* v = query.Get("limit");
  if (v == nullptr || v->empty()) return kDefaultPageLimit;
  std::size_t n = 0;
  auto [ptr, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
  if (ec == std::errc::result_out_of_range) return kMaxPageLimit;
  if (ec != std::errc() || ptr != v->data() + v->size() || n == 0) {
    return BadRequestProblem("limit must be a positive integer");
  }
  return std::min(n, kMaxPageLimit);
}

std::optional<std::vector<std::string>> StringArray(const boost::json::value& v) {
  if (!v.is_array()) return std::nullopt;
  std::vector<std::string> out;
  out.reserve(v.as_array().size());
  for (const boost::json::value& e : v.as_array()) {
    if (!e.is_string()) return std::nullopt;
    out.emplace_back(e.as_string());
  }
  return out;
}

boost::json::array ToJsonArray(const std::vector<std::string>& v) {
  boost::json::array out;
  out.reserve(v.size());
  for (const std::string& s : v) out.emplace_back(s);
  return out;
}

std::optional<http::Response> RejectUnknownFields(const boost::json::object& body,
                                                  std::initializer_list<std::string_view> allowed) {
  for (const auto& member : body) {
    if (std::find(allowed.begin(), allowed.end(), std::string_view(member.key())) ==
        allowed.end()) {
      return BadRequestProblem("unknown field \"" + std::string(member.key()) + "\"");
    }
  }
  return std::nullopt;
}

http::Response ProblemFromStatus(const Status& status) {
  switch (status.code()) {
    case StatusCode::kInvalidArgument:
      return BadRequestProblem(status.message());
    case StatusCode::kPermissionDenied:
      return http::ProblemResponse(bhttp::status::forbidden, "Forbidden", status.message());
    case StatusCode::kNotFound:
      return NotFoundProblem(status.message());
    case StatusCode::kAlreadyExists:
    case StatusCode::kFailedPrecondition:
      return http::ProblemResponse(bhttp::status::conflict, "Conflict", status.message());
    default:
      return UnavailableProblem();
  }
}

admin::Actor ActorOf(const Principal& principal) {
  admin::Actor actor;
  actor.id = principal.id;
  actor.is_user = principal.kind == Principal::Kind::kUser;
  actor.permissions = principal.permissions;
  return actor;
}

}  // namespace portcullis::api
