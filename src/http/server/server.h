// Server: the HTTP/1.1 listener. Moves bytes, enforces limits and timeouts, and hands each request
// to Router::Dispatch; it knows nothing about authentication or endpoints.
//
// Threading: one io_context per network thread (`threads` of them, each run by exactly one
// thread). The acceptor lives on the first and hands each accepted socket round-robin to the
// contexts; a connection then stays on its context's thread for its whole life, so it needs no
// strand and a request costs no cross-thread wake-up. (A single acceptor was chosen over one
// SO_REUSEPORT listener per context: it keeps one bound socket, balances connections evenly even
// when the kernel's hash would not, and never lets another process join the port.)
//
// Per connection (one coroutine on one thread): optional TLS handshake, then a keep-alive
// loop reading one request at a time. Limits, all from ServerOptions:
//   - the TLS handshake and each request header must complete within header_timeout (measured
//     over the whole header, so a client dribbling bytes is cut off); the body within
//     request_timeout; the wait for the next request on a kept-alive connection within
//     idle_timeout;
//   - header larger than max_header_bytes -> 431, body larger than max_body_bytes -> 413,
//     malformed HTTP -> 400, each with Connection: close;
//   - beyond max_connections live connections, new ones are closed at once.
// Every response gets X-Request-Id, Date, and on TLS Strict-Transport-Security; no Server header.
// A handler that throws yields a generic 500 and a log line; it never takes the process down.
// One access-log line per request ("http.request": method, route, path without query, status,
// latency_ms, request_id, client_ip, bytes) — never headers, bodies or the query string.
//
// Thread-safety: Create, then Run on one thread (it runs `threads` io_context threads, the caller's
// included, one io_context each). Stop and io_context may be called from any thread. Route
// handlers run concurrently on the network threads; the handlers of one connection never overlap,
// and a coroutine resumes on its connection's thread (http::RunOn posts back there).
//
//   Result<std::unique_ptr<Server>> server = Server::Create(options, router);
//   if (!server.ok()) return server.status();
//   return (*server)->Run([&] { std::cerr << "listening on " << (*server)->port() << "\n"; });
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "base/status.h"
#include "http/router.h"

namespace portcullis::http {

// Called after each response is written: the route pattern ("unmatched" when none), the status
// code and the latency in seconds. For metrics; must be thread-safe and quick.
using RequestObserver =
    std::function<void(std::string_view route, unsigned status, double seconds)>;

struct ServerOptions {
  // An IP literal or a host name resolved at Create; port 0 picks a free port.
  std::string host = "127.0.0.1";
  std::uint16_t port = 8443;
  // Null: plain HTTP.
  std::shared_ptr<boost::asio::ssl::context> tls;
  std::size_t max_body_bytes = 65536;
  std::size_t max_header_bytes = 8192;
  std::chrono::milliseconds header_timeout{10000};
  std::chrono::milliseconds idle_timeout{60000};
  // Deadline for reading the body after the header, and for writing the response.
  std::chrono::milliseconds request_timeout{30000};
  // How long Stop waits for in-flight requests before abandoning them.
  std::chrono::milliseconds drain_timeout{10000};
  std::size_t max_connections = 10000;
  // Network threads, one io_context each (0 is treated as 1).
  unsigned threads = 1;
  // Strict-Transport-Security max-age on TLS responses; 0 or less disables the header.
  std::int64_t hsts_max_age = 31536000;
  // Whether a peer may speak for the client through X-Forwarded-For. Null: trust none.
  std::function<bool(std::string_view peer_ip)> is_trusted_proxy;
  // Optional metrics hook.
  RequestObserver on_request;
  // Called on SIGHUP (DESIGN §3): the new TLS context for connections accepted from then on.
  // Established connections keep theirs. On error the old context stays and the error is logged.
  // Null = SIGHUP is ignored.
  std::function<Result<std::shared_ptr<boost::asio::ssl::context>>()> reload_tls;
};

class Server {
 public:
  // Binds and listens on options.host:options.port. The router is copied. Fails with
  // kInvalidArgument for a host that does not resolve and kUnavailable when binding fails; the
  // message names the address ("cannot listen on 127.0.0.1:8443: Address already in use").
  static Result<std::unique_ptr<Server>> Create(ServerOptions options, const Router& router);

  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // The bound port (the real one when options.port was 0).
  std::uint16_t port() const;

  // Serves until stopped, on `threads` threads (the caller's included). SIGTERM and SIGINT
  // (registered here via asio::signal_set) or Stop(): stop accepting, close idle keep-alive
  // connections, let in-flight requests finish (bounded by drain_timeout), then return
  // Status::Ok(). `on_ready`, if set, is called once, when the server is about to serve. Call at
  // most once.
  Status Run(std::function<void()> on_ready = {});

  // Starts the graceful shutdown described at Run. Idempotent; callable from any thread, also
  // before Run (which then returns promptly).
  void Stop();

  // The first of the server's io_contexts (the one that accepts; run by the thread that called
  // Run), for the app's timers (key rotation, pruning). Work posted here runs on that thread, so
  // it should be short, and is abandoned at shutdown.
  boost::asio::io_context& io_context();

 private:
  class Impl;
  explicit Server(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace portcullis::http
