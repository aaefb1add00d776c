#include "http/server/server.h"

#include <algorithm>
#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <csignal>
#include <ctime>
#include <exception>
#include <mutex>
#include <optional>
#include <thread>
#include <tuple>
#include <type_traits>
#include <unordered_map>
#include <vector>

#include "base/log.h"
#include "http/response.h"
#include "http/server/framing.h"
#include "http/server/request_meta.h"

namespace portcullis::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

// Pause after a failed accept (e.g. EMFILE) so the loop does not spin.
constexpr auto kAcceptRetryDelay = std::chrono::milliseconds(100);
// After an error response, how long and how much of the client's unread input is drained before
// closing, so the client sees the response instead of a connection reset.
constexpr auto kLingerTimeout = std::chrono::seconds(1);
constexpr std::size_t kMaxLingerBytes = 1024 * 1024;
constexpr std::size_t kLingerChunkBytes = 16 * 1024;
// Bound on the TLS close_notify exchange.
constexpr auto kTlsShutdownTimeout = std::chrono::seconds(2);
// How much one read may take while waiting for the next request on an idle connection.
constexpr std::size_t kIdleReadBytes = 4096;
// How much one read may take while a request head is incomplete.
constexpr std::size_t kHeadReadBytes = 8192;
// A connection keeps its response buffer between requests unless one response made it larger.
constexpr std::size_t kMaxKeptWireBytes = 64 * 1024;

constexpr auto kAsTuple = asio::as_tuple(asio::use_awaitable);

using WorkGuard = asio::executor_work_guard<asio::io_context::executor_type>;

// What Stop() needs to reach a live connection: its io_context's executor and, while it waits idle
// between requests, its stream. Touched only on the connection's thread (except `executor`,
// immutable).
struct Connection {
  explicit Connection(asio::any_io_executor ex) : executor(std::move(ex)) {}
  const asio::any_io_executor executor;
  beast::tcp_stream* stream = nullptr;  // null once the session has ended
  bool idle = false;
};

template <typename F>
class ScopeExit {
 public:
  explicit ScopeExit(F f) : f_(std::move(f)) {}
  ~ScopeExit() { f_(); }
  ScopeExit(const ScopeExit&) = delete;
  ScopeExit& operator=(const ScopeExit&) = delete;

 private:
  F f_;
};

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
    return std::tolower(static_cast<unsigned char>(x)) ==
           std::tolower(static_cast<unsigned char>(y));
  });
}

std::string_view View(beast::string_view s) { return {s.data(), s.size()}; }

// The response for a failed request read, or nullopt when the connection should just close
// (end of stream, timeout, reset: nobody to answer, or a slow client to cut off).
std::optional<Response> ResponseForReadError(const beast::error_code& ec) {
  if (ec == bhttp::error::header_limit) {
    return ProblemResponse(bhttp::status::request_header_fields_too_large,
                           "Request Header Fields Too Large", "the request header is too large");
  }
  if (ec == bhttp::error::body_limit) {
    return ProblemResponse(bhttp::status::payload_too_large, "Payload Too Large",
                           "the request body is too large");
  }
  if (ec == bhttp::error::end_of_stream || ec == bhttp::error::partial_message) {
    return std::nullopt;
  }
  if (&ec.category() == &bhttp::make_error_code(bhttp::error::bad_target).category()) {
    return ProblemResponse(bhttp::status::bad_request, "Bad Request", "malformed HTTP request");
  }
  return std::nullopt;
}

// The Date header value for now, formatted at most once per second per thread (the format costs
// more than the rest of Finalize).
const std::string& CurrentHttpDate() {
  struct Cache {
    std::time_t second = -1;
    std::string text;
  };
  thread_local Cache cache;
  const auto now = std::chrono::system_clock::now();
  const std::time_t second = std::chrono::system_clock::to_time_t(now);
  if (second != cache.second) {
    cache.text = HttpDate(now);
    cache.second = second;
  }
  return cache.text;
}

std::string FormatEndpoint(const asio::ip::address& address, std::uint16_t port) {
  const std::string host = address.to_string();
  return (address.is_v6() ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

}  // namespace

class Server::Impl {
 public:
  Impl(ServerOptions options, const Router& router)
      : options_(std::move(options)),
        router_(router),
        hsts_value_(options_.hsts_max_age > 0
                        ? "max-age=" + std::to_string(options_.hsts_max_age) + "; includeSubDomains"
                        : ""),
        contexts_(MakeContexts(std::max(1u, options_.threads))),
        acceptor_(*contexts_.front()),
        drain_timer_(*contexts_.front()),
        hangup_(*contexts_.front(), SIGHUP) {
    tls_.store(options_.tls);
  }

  ~Impl() {
    destroying_ = true;
    beast::error_code ec;
    acceptor_.close(ec);
  }

  Status Listen();
  Status Run(std::function<void()> on_ready);
  void Stop();
  std::uint16_t port() const { return port_; }
  asio::io_context& io_context() { return *contexts_.front(); }

 private:
  // One io_context per network thread, each told it is run by a single thread (concurrency hint
  // 1), so its scheduler skips the cross-thread hand-offs a shared io_context needs.
  static std::vector<std::unique_ptr<asio::io_context>> MakeContexts(unsigned count) {
    std::vector<std::unique_ptr<asio::io_context>> contexts;
    for (unsigned i = 0; i < count; ++i) contexts.push_back(std::make_unique<asio::io_context>(1));
    return contexts;
  }
  // The io_context for the next accepted connection (round-robin; called on the accept thread).
  asio::io_context& NextContext() {
    asio::io_context& ioc = *contexts_[next_context_];
    next_context_ = (next_context_ + 1) % contexts_.size();
    return ioc;
  }
  // Stops every io_context: each Run thread returns from run().
  void StopAll() {
    for (auto& ioc : contexts_) ioc->stop();
  }

  asio::awaitable<void> AcceptLoop();
  asio::awaitable<void> Session(tcp::socket socket);
  template <typename Stream>
  asio::awaitable<void> Serve(Stream& stream, const std::string& peer_ip, bool tls);
  asio::awaitable<Response> Dispatch(Request& req);
  template <typename Stream>
  asio::awaitable<void> Linger(Stream& stream);
  template <typename Stream>
  asio::awaitable<void> Close(Stream& stream);
  void Finalize(Response& res, const std::string& request_id, bool tls, bool head, bool keep_alive,
                unsigned version) const;
  void RecordRequest(std::string_view method, std::string_view route, std::string_view path,
                     const Response& res, std::chrono::steady_clock::time_point start,
                     std::string_view request_id, std::string_view client_ip) const;
  std::uint64_t Register(std::shared_ptr<Connection> connection);
  void Unregister(std::uint64_t id);
  void OnSessionEnd();

  // Members used by session coroutines are declared before contexts_, so they outlive the
  // coroutine frames that the io_contexts destroy when they are destroyed.
  const ServerOptions options_;
  const Router router_;
  const std::string hsts_value_;  // empty: no Strict-Transport-Security header
  std::atomic<bool> stopping_{false};
  std::atomic<bool> destroying_{false};
  std::atomic<std::size_t> live_{0};
  std::mutex mu_;
  std::unordered_map<std::uint64_t, std::weak_ptr<Connection>> connections_;  // GUARDED_BY(mu_)
  std::uint64_t next_connection_id_ = 0;                                      // GUARDED_BY(mu_)
  std::uint16_t port_ = 0;
  std::size_t next_context_ = 0;  // touched only on the accept thread (contexts_[0])
  // The TLS context new connections use; replaced on SIGHUP. Each session holds its own copy.
  std::atomic<std::shared_ptr<asio::ssl::context>> tls_;

  std::vector<std::unique_ptr<asio::io_context>> contexts_;
  // On contexts_[0], like the accept loop, the signal set, Stop's drain timer.
  tcp::acceptor acceptor_;
  asio::steady_timer drain_timer_;
  asio::signal_set hangup_;  // SIGHUP: reload the TLS certificate

  void WaitForHangup();
};

void Server::Impl::WaitForHangup() {
  hangup_.async_wait([this](const beast::error_code& ec, int) {
    if (ec || stopping_) return;
    if (options_.reload_tls && options_.tls) {
      Result<std::shared_ptr<asio::ssl::context>> fresh = options_.reload_tls();
      if (fresh.ok() && *fresh) {
        tls_.store(*fresh);
        log::Info("http.tls.reloaded", {});
      } else {
        log::Error("http.tls.reload_failed",
                   {{"error", fresh.ok() ? std::string("no context") : fresh.status().ToString()}});
      }
    }
    WaitForHangup();
  });
}

Status Server::Impl::Listen() {
  beast::error_code ec;
  asio::ip::address address = asio::ip::make_address(options_.host, ec);
  if (ec) {
    tcp::resolver resolver(*contexts_.front());
    auto results = resolver.resolve(options_.host, std::to_string(options_.port), ec);
    if (ec || results.empty()) {
      return InvalidArgumentError("cannot resolve listen host \"" + options_.host +
                                  "\": " + ec.message());
    }
    address = results.begin()->endpoint().address();
  }
  const tcp::endpoint endpoint(address, options_.port);
  const std::string where = FormatEndpoint(address, options_.port);
  auto fail = [&](const beast::error_code& e) {
    beast::error_code ignored;
    acceptor_.close(ignored);
    return UnavailableError("cannot listen on " + where + ": " + e.message());
  };
  acceptor_.open(endpoint.protocol(), ec);
  if (ec) return fail(ec);
  acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  if (ec) return fail(ec);
  acceptor_.bind(endpoint, ec);
  if (ec) return fail(ec);
  acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return fail(ec);
  port_ = acceptor_.local_endpoint(ec).port();
  if (ec) return fail(ec);
  return Status::Ok();
}

Status Server::Impl::Run(std::function<void()> on_ready) {
  asio::io_context& accept_context = *contexts_.front();
  asio::signal_set signals(accept_context, SIGINT, SIGTERM);
  signals.async_wait([this](const beast::error_code& ec, int signal_number) {
    if (ec) return;
    log::Info("http.server.signal", {{"signal", signal_number}});
    Stop();
  });
  WaitForHangup();
  asio::co_spawn(accept_context, AcceptLoop(), [](std::exception_ptr e) {
    if (e) log::Error("http.server.accept_loop_failed", {});
  });
  log::Info("http.server.listening",
            {{"port", static_cast<unsigned>(port_)}, {"tls", options_.tls != nullptr}});
  if (on_ready) on_ready();

  // Idle contexts must keep running until Stop, not return for lack of work.
  std::vector<WorkGuard> guards;
  for (auto& ioc : contexts_) guards.push_back(asio::make_work_guard(*ioc));
  auto run = [](asio::io_context& ioc) {
    // An exception escaping a handler must not end the thread; log it and keep serving.
    for (;;) {
      try {
        ioc.run();
        return;
      } catch (const std::exception& e) {
        log::Error("http.server.handler_escaped", {{"what", e.what()}});
      } catch (...) {
        log::Error("http.server.handler_escaped", {});
      }
    }
  };
  std::vector<std::thread> threads;
  for (std::size_t i = 1; i < contexts_.size(); ++i) {
    threads.emplace_back([&run, &ioc = *contexts_[i]] { run(ioc); });
  }
  run(accept_context);
  for (std::thread& t : threads) t.join();
  log::Info("http.server.stopped", {{"abandoned_connections", live_.load()}});
  return Status::Ok();
}

void Server::Impl::Stop() {
  if (stopping_.exchange(true)) return;
  log::Info("http.server.stopping", {{"live_connections", live_.load()}});
  asio::io_context& accept_context = *contexts_.front();
  asio::post(accept_context, [this] {
    beast::error_code ec;
    acceptor_.close(ec);
  });
  std::vector<std::shared_ptr<Connection>> live;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [id, weak] : connections_) {
      if (auto c = weak.lock()) live.push_back(std::move(c));
    }
  }
  for (auto& c : live) {
    asio::post(c->executor, [c] {
      if (c->stream != nullptr && c->idle) c->stream->cancel();
    });
  }
  asio::post(accept_context, [this] {
    drain_timer_.expires_after(options_.drain_timeout);
    drain_timer_.async_wait([this](const beast::error_code& ec) {
      if (ec) return;
      log::Warn("http.server.drain_timeout", {{"abandoned_connections", live_.load()}});
      StopAll();
    });
    if (live_.load() == 0) StopAll();
  });
}

void Server::Impl::OnSessionEnd() {
  if (--live_ == 0 && stopping_.load() && !destroying_.load()) StopAll();
}

std::uint64_t Server::Impl::Register(std::shared_ptr<Connection> connection) {
  std::lock_guard<std::mutex> lock(mu_);
  const std::uint64_t id = next_connection_id_++;
  connections_.emplace(id, std::move(connection));
  return id;
}

void Server::Impl::Unregister(std::uint64_t id) {
  std::lock_guard<std::mutex> lock(mu_);
  connections_.erase(id);
}

asio::awaitable<void> Server::Impl::AcceptLoop() {
  while (!stopping_.load()) {
    // The socket belongs to the next context: the connection lives on that one thread.
    auto [ec, socket] = co_await acceptor_.async_accept(
        asio::any_io_executor(NextContext().get_executor()), kAsTuple);
    if (ec) {
      if (ec == asio::error::operation_aborted || !acceptor_.is_open()) co_return;
      log::Warn("http.server.accept_failed", {{"error", ec.message()}});
      asio::steady_timer pause(co_await asio::this_coro::executor, kAcceptRetryDelay);
      co_await pause.async_wait(kAsTuple);
      continue;
    }
    if (stopping_.load()) co_return;
    if (live_.load() >= options_.max_connections) {
      // Shedding load: closing costs less than answering, and the client will retry.
      log::Debug("http.server.connection_limit", {});
      beast::error_code ignored;
      socket.close(ignored);
      continue;
    }
    ++live_;
    auto executor = socket.get_executor();
    asio::co_spawn(executor, Session(std::move(socket)), [](std::exception_ptr e) {
      if (!e) return;
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        log::Error("http.session.failed", {{"what", ex.what()}});
      } catch (...) {
        log::Error("http.session.failed", {});
      }
    });
  }
}

asio::awaitable<void> Server::Impl::Session(tcp::socket socket) {
  ScopeExit on_end([this] { OnSessionEnd(); });
  beast::error_code ec;
  const tcp::endpoint peer = socket.remote_endpoint(ec);
  if (ec) co_return;
  const std::string raw_peer = peer.address().to_string();
  const std::string peer_ip = CanonicalIp(raw_peer).value_or(raw_peer);
  if (std::shared_ptr<asio::ssl::context> tls = tls_.load()) {
    beast::ssl_stream<beast::tcp_stream> stream(std::move(socket), *tls);
    co_await Serve(stream, peer_ip, /*tls=*/true);
  } else {
    beast::tcp_stream stream(std::move(socket));
    co_await Serve(stream, peer_ip, /*tls=*/false);
  }
}

template <typename Stream>
asio::awaitable<void> Server::Impl::Serve(Stream& stream, const std::string& peer_ip, bool tls) {
  beast::tcp_stream& lowest = beast::get_lowest_layer(stream);
  auto connection = std::make_shared<Connection>(co_await asio::this_coro::executor);
  connection->stream = &lowest;
  const std::uint64_t id = Register(connection);
  // Whether X-Forwarded-* from this peer may be believed: decided once per connection.
  const bool peer_is_trusted_proxy =
      options_.is_trusted_proxy && options_.is_trusted_proxy(peer_ip);
  ScopeExit unregister([&] {
    connection->stream = nullptr;
    Unregister(id);
  });

  if constexpr (!std::is_same_v<Stream, beast::tcp_stream>) {
    lowest.expires_after(options_.header_timeout);
    auto [ec] = co_await stream.async_handshake(asio::ssl::stream_base::server, kAsTuple);
    if (ec) {
      log::Debug("http.tls.handshake_failed", {{"peer_ip", peer_ip}, {"error", ec.message()}});
      co_return;
    }
  }

  beast::flat_buffer buffer;
  std::string wire;  // each response's bytes, written with one send; capacity reused
  bool first = true;
  for (;;) {
    // Wait for the next request. The first request's header (from its first byte) must arrive
    // within header_timeout; later ones may idle for idle_timeout before starting.
    lowest.expires_after(first ? options_.header_timeout : options_.idle_timeout);
    if (buffer.size() == 0) {
      connection->idle = true;
      if (stopping_.load()) break;
      auto [ec, n] = co_await stream.async_read_some(buffer.prepare(kIdleReadBytes), kAsTuple);
      connection->idle = false;
      if (ec) break;
      buffer.commit(n);
    }
    if (!first) lowest.expires_after(options_.header_timeout);
    first = false;

    const auto start = std::chrono::steady_clock::now();
    // DESIGN §10: obs-fold is refused, but Beast's parser unfolds it and consumes the raw bytes;
    // so the request head is first read whole into the buffer and looked at there.
    FramingError framing = FramingError::kOk;
    bool head_complete = false;
    for (std::size_t scanned = 0;;) {
      const std::string_view bytes(static_cast<const char*>(buffer.data().data()), buffer.size());
      if (std::optional<std::size_t> end = FindHeadEnd(bytes.substr(scanned))) {
        if (HasObsFold(bytes.substr(0, scanned + *end))) framing = FramingError::kObsFold;
        head_complete = true;
        break;
      }
      if (bytes.size() > options_.max_header_bytes) break;  // the parser below answers 431
      scanned = bytes.size() < 3 ? 0 : bytes.size() - 3;    // "\r\n\r" may end the buffer
      auto [rec, rn] = co_await stream.async_read_some(buffer.prepare(kHeadReadBytes), kAsTuple);
      if (rec) {
        if (rec == beast::error::timeout) log::Debug("http.read_timeout", {{"peer_ip", peer_ip}});
        break;
      }
      buffer.commit(rn);
    }
    if (!head_complete && buffer.size() <= options_.max_header_bytes) break;

    bhttp::request_parser<bhttp::string_body> parser;
    parser.header_limit(
        static_cast<std::uint32_t>(std::min<std::size_t>(options_.max_header_bytes, UINT32_MAX)));
    parser.body_limit(options_.max_body_bytes);
    beast::error_code ec;
    if (framing == FramingError::kOk) {
      std::tie(ec, std::ignore) =
          co_await bhttp::async_read_header(stream, buffer, parser, kAsTuple);
      if (!ec) framing = CheckFraming(parser.get());
    }
    if (framing != FramingError::kOk) {
      // Refused before any of the message is acted on; the connection is not reused, since
      // where this request ends cannot be trusted.
      log::Info("http.framing_refused",
                {{"peer_ip", peer_ip}, {"framing_error", ToString(framing)}});
      Response error = framing == FramingError::kUnsupportedTransferCoding
                           ? ProblemResponse(bhttp::status::not_implemented, "Not Implemented",
                                             "unsupported transfer coding")
                           : ProblemResponse(bhttp::status::bad_request, "Bad Request",
                                             "malformed HTTP request framing");
      const std::string request_id = GenerateRequestId();
      Finalize(error, request_id, tls, /*head=*/false, /*keep_alive=*/false, 11);
      lowest.expires_after(options_.request_timeout);
      co_await bhttp::async_write(stream, error, kAsTuple);
      RecordRequest("-", "unmatched", "", error, start, request_id, peer_ip);
      co_await Linger(stream);
      break;
    }
    if (!ec) {
      if (EqualsIgnoreCase(View(parser.get()[bhttp::field::expect]), "100-continue")) {
        bhttp::response<bhttp::empty_body> go_on{bhttp::status::continue_, parser.get().version()};
        auto [wec, wn] = co_await bhttp::async_write(stream, go_on, kAsTuple);
        if (wec) break;
      }
      lowest.expires_after(options_.request_timeout);
      auto [bec, bn] = co_await bhttp::async_read(stream, buffer, parser, kAsTuple);
      ec = bec;
    }
    if (ec) {
      std::optional<Response> error = ResponseForReadError(ec);
      if (!error) {
        if (ec == beast::error::timeout) {
          log::Debug("http.read_timeout", {{"peer_ip", peer_ip}});
        }
        break;
      }
      const std::string request_id = GenerateRequestId();
      Finalize(*error, request_id, tls, /*head=*/false, /*keep_alive=*/false, 11);
      lowest.expires_after(options_.request_timeout);
      co_await bhttp::async_write(stream, *error, kAsTuple);
      RecordRequest("-", "unmatched", "", *error, start, request_id, peer_ip);
      co_await Linger(stream);
      break;
    }

    Request req;
    req.message = parser.release();
    req.peer_ip = peer_ip;
    req.tls = tls;
    req.from_trusted_proxy = peer_is_trusted_proxy;
    std::string forwarded_for;
    for (auto [it, end] = req.message.equal_range("X-Forwarded-For"); it != end; ++it) {
      if (!forwarded_for.empty()) forwarded_for += ',';
      forwarded_for += View(it->value());
    }
    req.client_ip = ResolveClientIp(peer_ip, forwarded_for, options_.is_trusted_proxy);
    req.request_id = RequestIdFor(req.Header("X-Request-Id"));
    const std::string_view target = View(req.message.target());
    SplitTarget(target, req.path, req.query);

    Response res;
    bool keep_alive = req.message.keep_alive() && !stopping_.load();
    if (target.empty() || target.front() != '/') {
      req.route = "unmatched";
      res = ErrorResponse(req, bhttp::status::bad_request, "invalid_request",
                          "the request target must be an absolute path");
      keep_alive = false;
    } else {
      res = co_await Dispatch(req);
      keep_alive = keep_alive && !stopping_.load();
    }
    Finalize(res, req.request_id, tls, req.message.method() == bhttp::verb::head, keep_alive,
             req.message.version());
    lowest.expires_after(options_.request_timeout);
    beast::error_code wec;
    if (res.chunked()) {  // no handler streams today; Beast's serializer would handle it
      std::tie(wec, std::ignore) = co_await bhttp::async_write(stream, res, kAsTuple);
    } else {
      wire.clear();
      AppendWireResponse(res, wire);
      std::tie(wec, std::ignore) = co_await asio::async_write(stream, asio::buffer(wire), kAsTuple);
      if (wire.capacity() > kMaxKeptWireBytes) std::string().swap(wire);
    }
    RecordRequest(View(req.message.method_string()), req.route, req.path, res, start,
                  req.request_id, req.client_ip);
    if (wec || !keep_alive) break;
  }
  co_await Close(stream);
}

asio::awaitable<Response> Server::Impl::Dispatch(Request& req) {
  try {
    co_return co_await router_.Dispatch(req);
  } catch (const std::exception& e) {
    log::Error("http.handler_exception",
               {{"route", req.route}, {"request_id", req.request_id}, {"what", e.what()}});
  } catch (...) {
    log::Error("http.handler_exception", {{"route", req.route}, {"request_id", req.request_id}});
  }
  co_return ErrorResponse(req, bhttp::status::internal_server_error, "server_error",
                          "an unexpected error occurred");
}

template <typename Stream>
asio::awaitable<void> Server::Impl::Linger(Stream& stream) {
  beast::tcp_stream& lowest = beast::get_lowest_layer(stream);
  if constexpr (std::is_same_v<Stream, beast::tcp_stream>) {
    beast::error_code ignored;
    lowest.socket().shutdown(tcp::socket::shutdown_send, ignored);
  }
  lowest.expires_after(kLingerTimeout);
  std::vector<char> scratch(kLingerChunkBytes);
  std::size_t drained = 0;
  while (drained < kMaxLingerBytes) {
    auto [ec, n] = co_await stream.async_read_some(asio::buffer(scratch), kAsTuple);
    if (ec) break;
    drained += n;
  }
}

template <typename Stream>
asio::awaitable<void> Server::Impl::Close(Stream& stream) {
  beast::tcp_stream& lowest = beast::get_lowest_layer(stream);
  if constexpr (!std::is_same_v<Stream, beast::tcp_stream>) {
    if (lowest.socket().is_open()) {
      lowest.expires_after(kTlsShutdownTimeout);
      co_await stream.async_shutdown(kAsTuple);
    }
  }
  beast::error_code ignored;
  lowest.socket().shutdown(tcp::socket::shutdown_both, ignored);
  lowest.close();
}

void Server::Impl::Finalize(Response& res, const std::string& request_id, bool tls, bool head,
                            bool keep_alive, unsigned version) const {
  res.version(version);
  res.erase(bhttp::field::server);
  res.set(bhttp::field::date, CurrentHttpDate());
  res.set("X-Request-Id", request_id);
  // Every answer is JSON, text or our own HTML: never let a browser sniff it into something else
  // (testssl.sh rates a response without any security header MEDIUM; docs/security.md).
  res.set("X-Content-Type-Options", "nosniff");
  if (tls && !hsts_value_.empty()) res.set(bhttp::field::strict_transport_security, hsts_value_);
  res.keep_alive(keep_alive);
  if (head) {
    // RFC 9110 §9.3.2: the header of the GET response, no content.
    const std::size_t size = res.body().size();
    res.body().clear();
    res.content_length(size);
  } else {
    res.prepare_payload();
  }
}

void Server::Impl::RecordRequest(std::string_view method, std::string_view route,
                                 std::string_view path, const Response& res,
                                 std::chrono::steady_clock::time_point start,
                                 std::string_view request_id, std::string_view client_ip) const {
  const auto elapsed = std::chrono::steady_clock::now() - start;
  const unsigned status = res.result_int();
  // The access log: batched, so a network thread never waits for stderr.
  log::WriteBatched(
      log::Level::kInfo, "http.request",
      {{"method", method},
       {"route", route},
       {"path", path},
       {"status", status},
       {"latency_ms",
        log::Micros{std::chrono::duration_cast<std::chrono::microseconds>(elapsed).count()}},
       {"request_id", request_id},
       {"client_ip", client_ip},
       {"bytes", static_cast<std::uint64_t>(res.body().size())}});
  if (options_.on_request) {
    options_.on_request(route, status, std::chrono::duration<double>(elapsed).count());
  }
}

Result<std::unique_ptr<Server>> Server::Create(ServerOptions options, const Router& router) {
  auto impl = std::make_unique<Impl>(std::move(options), router);
  if (Status s = impl->Listen(); !s.ok()) return s;
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Server::~Server() = default;
std::uint16_t Server::port() const { return impl_->port(); }
Status Server::Run(std::function<void()> on_ready) { return impl_->Run(std::move(on_ready)); }
void Server::Stop() { impl_->Stop(); }
asio::io_context& Server::io_context() { return impl_->io_context(); }

}  // namespace portcullis::http
