#include "api/me/me.h"

#include <boost/json.hpp>

#include "api/credentials.h"

namespace portcullis::api {

namespace bhttp = boost::beast::http;

namespace {

boost::json::array ToJsonArray(const std::vector<std::string>& items) {
  boost::json::array out;
  out.reserve(items.size());
  for (const std::string& s : items) out.emplace_back(s);
  return out;
}

}  // namespace

boost::asio::awaitable<http::Response> HandleMe(ApiContext& ctx, http::Request& req) {
  std::variant<Principal, http::Response> auth = co_await AuthenticateRequest(ctx, req);
  if (auto* res = std::get_if<http::Response>(&auth)) co_return std::move(*res);
  const Principal& p = std::get<Principal>(auth);
  boost::json::object body;
  body["kind"] = p.kind == Principal::Kind::kUser ? "user" : "client";
  body["id"] = p.id;
  if (p.username) body["username"] = *p.username;
  body["client_id"] = p.client_id;
  body["roles"] = ToJsonArray(p.roles);
  body["permissions"] = ToJsonArray(p.permissions);
  body["auth_method"] = p.auth_method;
  http::Response res = http::JsonResponse(bhttp::status::ok, body);
  res.set(bhttp::field::cache_control, "no-store");
  co_return res;
}

}  // namespace portcullis::api
