#include "api/me/me.h"

#include <boost/json.hpp>

#include "api/credentials.h"

namespace portcullis::api {

namespace bhttp = boost::beast::http;

namespace {

boost::json::array ToJsonArray(const std::vector<std::string>& items, boost::json::storage_ptr sp) {
  boost::json::array out(std::move(sp));
  out.reserve(items.size());
  for (const std::string& s : items) out.emplace_back(s);
  return out;
}

// The answer of /v1/me, built in an arena on this (ordinary, not coroutine) stack frame: as heap
// objects its keys, strings, arrays and table cost ~25 allocations and frees on every Bearer
// request. A principal with more than ~4 KiB of roles and permissions spills to the heap.
http::Response MeResponse(const Principal& p) {
  unsigned char buffer[4096];
  boost::json::monotonic_resource arena(buffer, sizeof buffer);
  boost::json::storage_ptr sp(&arena);
  boost::json::object body(sp);
  body.reserve(7);
  body["kind"] = p.kind == Principal::Kind::kUser ? "user" : "client";
  body["id"] = p.id;
  if (p.username) body["username"] = *p.username;
  body["client_id"] = p.client_id;
  body["roles"] = ToJsonArray(p.roles, sp);
  body["permissions"] = ToJsonArray(p.permissions, sp);
  body["auth_method"] = p.auth_method;
  http::Response res = http::JsonResponse(bhttp::status::ok, body);
  res.set(bhttp::field::cache_control, "no-store");
  return res;
}

}  // namespace

boost::asio::awaitable<http::Response> HandleMe(ApiContext& ctx, http::Request& req) {
  std::variant<Principal, http::Response> auth = co_await AuthenticateRequest(ctx, req);
  if (auto* res = std::get_if<http::Response>(&auth)) co_return std::move(*res);
  co_return MeResponse(std::get<Principal>(auth));
}

}  // namespace portcullis::api
