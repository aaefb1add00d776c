#include "verifier/http_jwks_source.h"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/url/parse.hpp>
#include <fstream>
#include <optional>
#include <utility>

namespace portcullis::verifier {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;

// Response headers of a JWKS endpoint are small; a megabyte of them is an attack.
constexpr std::uint32_t kMaxHeaderBytes = 16 * 1024;

struct Target {
  bool tls = true;
  std::string host;  // without brackets
  std::string port;
  std::string path;  // path and query, "/" when empty
};

bool IsLoopbackLiteral(const std::string& host) {
  boost::system::error_code ec;
  asio::ip::address addr = asio::ip::make_address(host, ec);
  return !ec && addr.is_loopback();
}

Result<Target> ParseTarget(const std::string& url) {
  auto parsed = boost::urls::parse_absolute_uri(url);
  if (!parsed) return InvalidArgumentError("jwks_url is not an absolute URL: " + url);
  Target t;
  const std::string scheme(parsed->scheme());
  if (scheme == "https") {
    t.tls = true;
  } else if (scheme == "http") {
    t.tls = false;
  } else {
    return InvalidArgumentError("jwks_url must be https: " + url);
  }
  if (parsed->has_userinfo()) return InvalidArgumentError("jwks_url must not hold credentials");
  t.host = std::string(parsed->encoded_host_address());
  if (t.host.size() > 2 && t.host.front() == '[' && t.host.back() == ']') {
    t.host = t.host.substr(1, t.host.size() - 2);
  }
  if (t.host.empty()) return InvalidArgumentError("jwks_url has no host");
  if (!t.tls && t.host != "localhost" && !IsLoopbackLiteral(t.host)) {
    return InvalidArgumentError("plain http jwks_url is allowed only for loopback hosts");
  }
  t.port = parsed->has_port() ? std::string(parsed->port()) : (t.tls ? "443" : "80");
  t.path = std::string(parsed->encoded_path());
  if (t.path.empty()) t.path = "/";
  if (parsed->has_query()) t.path += "?" + std::string(parsed->encoded_query());
  return t;
}

class HttpJwksSource final : public JwksSource {
 public:
  HttpJwksSource(Target target, std::string ca_file, std::chrono::seconds timeout)
      : target_(std::move(target)), ca_file_(std::move(ca_file)), timeout_(timeout) {}

  JwksFetchResult Fetch() override {
    asio::io_context ioc;
    JwksFetchResult result;
    result.error = "timed out";
    asio::co_spawn(ioc, Run(result), asio::detached);
    // The deadline for everything; the stream's own expiry below bounds each operation too.
    ioc.run_for(timeout_);
    if (!ioc.stopped()) {
      ioc.stop();
      result.ok = false;
      result.body.clear();
      result.error = "timed out";
    }
    ERR_clear_error();
    return result;
  }

 private:
  template <typename Stream>
  asio::awaitable<void> Exchange(Stream& stream, JwksFetchResult& result) {
    bhttp::request<bhttp::empty_body> req(bhttp::verb::get, target_.path, 11);
    req.set(bhttp::field::host, target_.host.find(':') != std::string::npos
                                    ? "[" + target_.host + "]:" + target_.port
                                    : target_.host + ":" + target_.port);
    req.set(bhttp::field::accept, "application/jwk-set+json, application/json");
    req.set(bhttp::field::user_agent, "portcullis-verifier");
    co_await bhttp::async_write(stream, req, asio::use_awaitable);
    beast::flat_buffer buffer;
    bhttp::response_parser<bhttp::string_body> parser;
    parser.header_limit(kMaxHeaderBytes);
    parser.body_limit(kMaxJwksBodyBytes);
    co_await bhttp::async_read(stream, buffer, parser, asio::use_awaitable);
    const auto& res = parser.get();
    // Redirects are not followed: the JWKS URL is configuration, not something to discover.
    if (res.result() != bhttp::status::ok) {
      result.error = "HTTP status " + std::to_string(res.result_int());
      co_return;
    }
    result.ok = true;
    result.body = res.body();
    result.error.clear();
  }

  asio::awaitable<void> Run(JwksFetchResult& result) {
    try {
      auto executor = co_await asio::this_coro::executor;
      tcp::resolver resolver(executor);
      auto endpoints =
          co_await resolver.async_resolve(target_.host, target_.port, asio::use_awaitable);
      std::vector<tcp::endpoint> allowed;
      for (const auto& entry : endpoints) {
        // Plain http only ever reaches loopback, even when "localhost" resolves elsewhere.
        if (target_.tls || entry.endpoint().address().is_loopback()) {
          allowed.push_back(entry.endpoint());
        }
      }
      if (allowed.empty()) {
        result.error = "no usable address for " + target_.host;
        co_return;
      }
      if (!target_.tls) {
        beast::tcp_stream stream(executor);
        stream.expires_after(timeout_);
        co_await stream.async_connect(allowed, asio::use_awaitable);
        co_await Exchange(stream, result);
        beast::error_code ignored;
        stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
        co_return;
      }
      asio::ssl::context ctx(asio::ssl::context::tls_client);
      ctx.set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                      asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                      asio::ssl::context::no_tlsv1_1);
      ctx.set_verify_mode(asio::ssl::verify_peer);
      if (ca_file_.empty()) {
        ctx.set_default_verify_paths();
      } else {
        ctx.load_verify_file(ca_file_);
      }
      beast::ssl_stream<beast::tcp_stream> stream(executor, ctx);
      stream.set_verify_callback(asio::ssl::host_name_verification(target_.host));
      if (!IsLoopbackLiteral(target_.host) &&
          !SSL_set_tlsext_host_name(stream.native_handle(), target_.host.c_str())) {
        result.error = "cannot set SNI";
        co_return;
      }
      beast::get_lowest_layer(stream).expires_after(timeout_);
      co_await beast::get_lowest_layer(stream).async_connect(allowed, asio::use_awaitable);
      co_await stream.async_handshake(asio::ssl::stream_base::client, asio::use_awaitable);
      co_await Exchange(stream, result);
      // No TLS close_notify wait: we have the whole body, and a slow peer must not hold us.
    } catch (const std::exception& e) {
      result.ok = false;
      result.body.clear();
      result.error = e.what();
    }
  }

  const Target target_;
  const std::string ca_file_;
  const std::chrono::seconds timeout_;
};

}  // namespace

Result<std::unique_ptr<JwksSource>> CreateHttpJwksSource(const HttpJwksSourceOptions& options) {
  Result<Target> target = ParseTarget(options.url);
  if (!target.ok()) return target.status();
  if (!options.ca_file.empty() && !std::ifstream(options.ca_file).good()) {
    return InvalidArgumentError("cannot read ca_file: " + options.ca_file);
  }
  if (options.timeout.count() <= 0) return InvalidArgumentError("fetch timeout must be positive");
  return std::unique_ptr<JwksSource>(
      std::make_unique<HttpJwksSource>(std::move(*target), options.ca_file, options.timeout));
}

}  // namespace portcullis::verifier
