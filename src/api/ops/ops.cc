#include "api/ops/ops.h"

#include <boost/json.hpp>

#include "http/offload.h"

namespace portcullis::api {

namespace bhttp = boost::beast::http;

boost::asio::awaitable<http::Response> HandleHealthz(ApiContext&, http::Request&) {
  co_return http::JsonResponse(bhttp::status::ok, boost::json::object{{"status", "ok"}});
}

boost::asio::awaitable<http::Response> HandleReadyz(ApiContext& ctx, http::Request&) {
  store::Store* store = ctx.store;
  auto ping_job = [store] { return store->Ping(); };
  std::optional<Status> ping = co_await http::RunOn(*ctx.db_pool, ping_job);
  bool database_ok = ping.has_value() && ping->ok();
  bool keys_ok = ctx.keys->key_ring()->size() > 0;
  boost::json::object body{{"status", database_ok && keys_ok ? "ready" : "not_ready"},
                           {"database", database_ok ? "ok" : "unavailable"},
                           {"keys", keys_ok ? "ok" : "missing"}};
  http::Response res = http::JsonResponse(
      database_ok && keys_ok ? bhttp::status::ok : bhttp::status::service_unavailable, body);
  if (!(database_ok && keys_ok)) res.set(bhttp::field::retry_after, "1");
  co_return res;
}

boost::asio::awaitable<http::Response> HandleMetrics(ApiContext& ctx, http::Request&) {
  http::Response res{bhttp::status::ok, 11};
  res.set(bhttp::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
  res.body() = ctx.metrics->Render();
  res.prepare_payload();
  co_return res;
}

}  // namespace portcullis::api
