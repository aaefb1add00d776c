// An "orders" API in C++ (Boost.Beast) whose routes are protected by Portcullis access tokens,
// verified locally with the Portcullis verifier library: one Verify call per request, no call to
// Portcullis (its JWKS is fetched once and cached).
//
//   GET  /orders              needs orders:read     -> 200 {"orders": [...], "sub", "username"}
//   POST /orders/{id}/refund  needs orders:refund   -> 200 {"refunded": id, "by": sub}
//   GET  /healthz             open
//
// Answers: 401 + `WWW-Authenticate: Bearer realm="orders"` without a token; 401 with
// `error="invalid_token"` for a bad one (the reason is logged, never the token); a DPoP-bound
// token needs `Authorization: DPoP <token>` and its `DPoP` proof (401 `WWW-Authenticate: DPoP
// algs="ES256 EdDSA", error=...` otherwise); 403 `error="insufficient_scope"` without the
// permission; 503 while the issuer's keys could never be fetched.
//
// Usage:
//   cpp-resource-server --issuer https://auth.example --audience orders-api
//                       [--jwks-url URL] [--ca-file PEM] [--bind 127.0.0.1] [--port 8080]
//                       [--public-url URL] [--jwks-min-refresh 30]
// Each flag can also come from the environment (ORDERS_ISSUER, ORDERS_AUDIENCE, ORDERS_JWKS_URL,
// ORDERS_CA_FILE, ORDERS_BIND, ORDERS_PORT, ORDERS_PUBLIC_URL, ORDERS_JWKS_MIN_REFRESH); a flag
// wins over its variable. --public-url is the scheme://host[:port] clients use to reach this
// server (DPoP's `htu`); default http://<bind address>:<port>. --port 0 picks a free port.
// Prints "listening on <port>". --jwks-min-refresh: seconds between JWKS refetches on an
// unknown kid (after a key rotation). Exit status: 2 for a bad setting, 1 when it cannot listen.
#include <portcullis/verifier.h>

#include <boost/asio.hpp>
#include <boost/beast.hpp>
#include <boost/json.hpp>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;
using namespace std::chrono_literals;

namespace {

using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;

struct Options {
  std::string issuer, audience, jwks_url, ca_file, public_url, bind = "127.0.0.1";
  unsigned short port = 8080;
  long jwks_min_refresh_s = 30;
};

Response Reply(const Request& req, http::status status, const boost::json::value& body) {
  Response res{status, req.version()};
  res.set(http::field::content_type, "application/json");
  res.set(http::field::cache_control, "no-store");
  res.body() = boost::json::serialize(body);
  res.prepare_payload();
  return res;
}

Response Challenge(const Request& req, http::status status, std::string scheme,
                   std::string_view error, std::string_view scope = {}) {
  std::string value = scheme == "DPoP" ? "DPoP algs=\"ES256 EdDSA\"" : "Bearer realm=\"orders\"";
  if (!error.empty()) value += ", error=\"" + std::string(error) + "\"";
  if (!scope.empty()) value += ", scope=\"" + std::string(scope) + "\"";
  Response res = Reply(req, status, {{"error", error.empty() ? "unauthorized" : error}});
  res.set(http::field::www_authenticate, value);
  return res;
}

class OrdersApi {
 public:
  OrdersApi(std::unique_ptr<portcullis::Verifier> verifier, std::string public_url)
      : verifier_(std::move(verifier)), public_url_(std::move(public_url)) {}

  Response Handle(const Request& req) const {
    std::string_view target = req.target();
    const std::string path(target.substr(0, target.find('?')));
    if (path == "/healthz") return Reply(req, http::status::ok, {{"status", "ok"}});

    // Route -> the permission it needs.
    std::string permission, order_id;
    if (req.method() == http::verb::get && path == "/orders") {
      permission = "orders:read";
    } else if (req.method() == http::verb::post && path.starts_with("/orders/") &&
               path.ends_with("/refund")) {
      order_id = path.substr(8, path.size() - 8 - 7);
      if (order_id.empty() || order_id.find('/') != std::string::npos) {
        return Reply(req, http::status::not_found, {{"error", "not_found"}});
      }
      permission = "orders:refund";
    } else {
      return Reply(req, http::status::not_found, {{"error", "not_found"}});
    }

    // Authenticate: Bearer, or DPoP with its proof for this method and URL.
    std::string_view authorization = req[http::field::authorization];
    if (authorization.empty()) return Challenge(req, http::status::unauthorized, "Bearer", "");
    const std::size_t space = authorization.find(' ');
    const std::string scheme(authorization.substr(0, space));
    const std::string_view token =
        space == std::string_view::npos ? std::string_view() : authorization.substr(space + 1);
    portcullis::VerifyResult result;
    if (beast::iequals(scheme, "Bearer") && !token.empty()) {
      result = verifier_->Verify(token);
    } else if (beast::iequals(scheme, "DPoP") && !token.empty()) {
      std::string_view proof = req["DPoP"];
      if (proof.empty()) {
        return Challenge(req, http::status::unauthorized, "DPoP", "invalid_dpop_proof");
      }
      result = verifier_->VerifyDpop(token, proof, req.method_string(), public_url_ + path);
    } else {
      return Challenge(req, http::status::unauthorized, "Bearer", "invalid_request");
    }
    if (!result.ok()) return Refuse(req, result, beast::iequals(scheme, "DPoP"));

    // Authorize, with Portcullis' own wildcard matcher ("orders:*" grants "orders:refund").
    const portcullis::Claims& claims = result.claims;
    if (!claims.HasPermission(permission)) {
      return Challenge(req, http::status::forbidden, claims.cnf_jkt ? "DPoP" : "Bearer",
                       "insufficient_scope", permission);
    }
    if (!order_id.empty()) {
      return Reply(req, http::status::ok, {{"refunded", order_id}, {"by", claims.sub}});
    }
    boost::json::object body{{"sub", claims.sub},
                             {"orders", boost::json::array{{{"id", "A-1001"}, {"total", 42}}}}};
    body["username"] = claims.username ? boost::json::value(*claims.username) : nullptr;
    return Reply(req, http::status::ok, body);
  }

 private:
  Response Refuse(const Request& req, const portcullis::VerifyResult& result, bool dpop) const {
    using portcullis::VerifyError;
    // Log why (never the token), as Portcullis names it.
    std::clog << "token refused: " << portcullis::ToString(result.error)
              << (result.dpop_error.empty() ? "" : " (" + result.dpop_error + ")") << "\n";
    switch (result.error) {
      case VerifyError::kJwksUnavailable: {
        Response res = Reply(req, http::status::service_unavailable,
                             {{"error", "authorization server unreachable"}});
        res.set(http::field::retry_after, "5");
        return res;
      }
      case VerifyError::kDpopInvalid:
      case VerifyError::kDpopKeyMismatch:
        return Challenge(req, http::status::unauthorized, "DPoP", "invalid_dpop_proof");
      case VerifyError::kDpopRequired:  // a bound token sent as Bearer (RFC 9449 §7.1)
        return Challenge(req, http::status::unauthorized, "DPoP", "invalid_token");
      default:
        return Challenge(req, http::status::unauthorized, dpop ? "DPoP" : "Bearer",
                         "invalid_token");
    }
  }

  std::unique_ptr<portcullis::Verifier> verifier_;
  std::string public_url_;
};

asio::awaitable<void> Session(beast::tcp_stream stream, const OrdersApi& api) {
  beast::flat_buffer buffer;
  for (;;) {
    stream.expires_after(30s);  // idle and slow clients are dropped
    http::request_parser<http::string_body> parser;
    parser.body_limit(64 * 1024);
    auto [read_error, read] =
        co_await http::async_read(stream, buffer, parser, asio::as_tuple(asio::use_awaitable));
    if (read_error) break;
    Request req = parser.release();
    Response res = api.Handle(req);
    res.keep_alive(req.keep_alive());
    const bool keep_alive = res.keep_alive();
    auto [write_error, written] =
        co_await http::async_write(stream, res, asio::as_tuple(asio::use_awaitable));
    if (write_error || !keep_alive) break;
  }
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
}

asio::awaitable<void> Listen(tcp::acceptor& acceptor, const OrdersApi& api) {
  for (;;) {
    auto [error, socket] = co_await acceptor.async_accept(asio::as_tuple(asio::use_awaitable));
    if (error) co_return;
    asio::co_spawn(acceptor.get_executor(), Session(beast::tcp_stream(std::move(socket)), api),
                   asio::detached);
  }
}

// A whole decimal number in [min, max], or nothing: "8o80", "" and "99999" are refused, not
// read as 8, 0 or 34463.
std::optional<long> ParseNumber(std::string_view text, long min, long max) {
  long value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || value < min || value > max) {
    return std::nullopt;
  }
  return value;
}

// Settings come from ORDERS_* environment variables (ORDERS_ISSUER, ORDERS_AUDIENCE,
// ORDERS_JWKS_URL, ORDERS_CA_FILE, ORDERS_BIND, ORDERS_PORT, ORDERS_PUBLIC_URL,
// ORDERS_JWKS_MIN_REFRESH), then from flags, which win. On a bad value: a message, false.
bool ParseOptions(int argc, char** argv, Options& o, std::string& error) {
  struct Setting {
    const char* flag;
    const char* env;
    std::string* text;
  };
  std::string port = "8080", min_refresh = "30";
  const Setting settings[] = {{"--issuer", "ORDERS_ISSUER", &o.issuer},
                              {"--audience", "ORDERS_AUDIENCE", &o.audience},
                              {"--jwks-url", "ORDERS_JWKS_URL", &o.jwks_url},
                              {"--ca-file", "ORDERS_CA_FILE", &o.ca_file},
                              {"--bind", "ORDERS_BIND", &o.bind},
                              {"--port", "ORDERS_PORT", &port},
                              {"--public-url", "ORDERS_PUBLIC_URL", &o.public_url},
                              {"--jwks-min-refresh", "ORDERS_JWKS_MIN_REFRESH", &min_refresh}};
  for (const Setting& s : settings) {
    if (const char* value = std::getenv(s.env)) *s.text = value;
  }
  for (int i = 1; i < argc; i += 2) {
    const std::string_view flag = argv[i];
    const Setting* setting = nullptr;
    for (const Setting& s : settings) {
      if (flag == s.flag) setting = &s;
    }
    if (setting == nullptr) {
      error = "unknown flag " + std::string(flag);
      return false;
    }
    if (i + 1 >= argc) {
      error = std::string(flag) + " needs a value";
      return false;
    }
    *setting->text = argv[i + 1];
  }
  if (o.issuer.empty() || o.audience.empty()) {
    error = "--issuer and --audience are required";
    return false;
  }
  const std::optional<long> port_number = ParseNumber(port, 0, 65535);
  if (!port_number) {
    error = "--port must be a number from 0 to 65535, not \"" + port + "\"";
    return false;
  }
  o.port = static_cast<unsigned short>(*port_number);
  const std::optional<long> seconds = ParseNumber(min_refresh, 0, 86400);
  if (!seconds) {
    error = "--jwks-min-refresh must be a number of seconds from 0 to 86400, not \"" + min_refresh +
            "\"";
    return false;
  }
  o.jwks_min_refresh_s = *seconds;
  beast::error_code bad_address;
  asio::ip::make_address(o.bind, bad_address);
  if (bad_address) {
    error = "--bind must be an IP address, not \"" + o.bind + "\"";
    return false;
  }
  if (o.jwks_url.empty()) o.jwks_url = o.issuer + "/.well-known/jwks.json";
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  std::string error;
  if (!ParseOptions(argc, argv, options, error)) {
    std::cerr << error
              << "\nusage: cpp-resource-server --issuer URL --audience AUD "
                 "[--jwks-url URL] [--ca-file PEM] [--bind ADDRESS] [--port N] "
                 "[--public-url URL] [--jwks-min-refresh S]\n";
    return 2;
  }
  portcullis::VerifierOptions verifier_options;
  verifier_options.issuer = options.issuer;
  verifier_options.audiences = {options.audience};
  verifier_options.jwks_url = options.jwks_url;
  verifier_options.ca_file = options.ca_file;
  verifier_options.jwks_min_refresh = std::chrono::seconds(options.jwks_min_refresh_s);
  auto verifier = portcullis::Verifier::Create(std::move(verifier_options));
  if (!verifier.ok()) {
    std::cerr << "bad verifier options: " << verifier.error << "\n";
    return 2;
  }

  asio::io_context io;
  tcp::acceptor acceptor(io);
  const tcp::endpoint endpoint(asio::ip::make_address(options.bind), options.port);
  beast::error_code listen_error;
  if (acceptor.open(endpoint.protocol(), listen_error) ||
      acceptor.set_option(asio::socket_base::reuse_address(true), listen_error) ||
      acceptor.bind(endpoint, listen_error) || acceptor.listen(128, listen_error)) {
    std::cerr << "cannot listen on " << options.bind << " port " << options.port << ": "
              << listen_error.message() << "\n";
    return 1;
  }
  const unsigned short port = acceptor.local_endpoint().port();
  if (options.public_url.empty()) {
    const asio::ip::address address = endpoint.address();
    const std::string host = address.is_unspecified() ? "127.0.0.1"
                             : address.is_v6()        ? "[" + address.to_string() + "]"
                                                      : address.to_string();
    options.public_url = "http://" + host + ":" + std::to_string(port);
  }
  const OrdersApi api(std::move(verifier.value), options.public_url);
  asio::co_spawn(io, Listen(acceptor, api), asio::detached);
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const beast::error_code&, int) { io.stop(); });
  std::cout << "listening on " << port << std::endl;

  // Verification is microseconds of CPU; a JWKS refetch (unknown kid, at most once per 30 s)
  // may block one thread up to its 5 s timeout, so run a few.
  std::vector<std::thread> threads;
  for (unsigned i = 1; i < std::max(2u, std::thread::hardware_concurrency()); ++i) {
    threads.emplace_back([&io] { io.run(); });
  }
  io.run();
  for (std::thread& t : threads) t.join();
  return 0;
}
