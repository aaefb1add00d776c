// Test-only helpers: a Server running on port 0 in a background thread, and a blocking Beast
// client. Not part of portcullis_http.
#pragma once

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/json/object.hpp>
#include <future>
#include <memory>
#include <stdexcept>
#include <thread>

#include "http/response.h"
#include "http/router.h"
#include "http/server/server.h"

namespace portcullis::http::testing {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;

// Upper bound for any blocking client read, so a broken server fails a test instead of hanging.
inline constexpr int kClientReadTimeoutSeconds = 10;

inline void SetReceiveTimeout(asio::ip::tcp::socket& socket) {
  timeval tv{kClientReadTimeoutSeconds, 0};
  ::setsockopt(socket.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
}

// Routes: GET/POST /echo (JSON describing the request), GET /throw (throws).
inline Router TestRouter() {
  Router router;
  auto echo = [](Request& req) -> asio::awaitable<Response> {
    co_return JsonResponse(bhttp::status::ok, {{"path", req.path},
                                               {"query", req.query},
                                               {"client_ip", req.client_ip},
                                               {"peer_ip", req.peer_ip},
                                               {"request_id", req.request_id},
                                               {"tls", req.tls},
                                               {"body_bytes", req.message.body().size()}});
  };
  router.Add({bhttp::verb::get, "/echo", echo, AuthRequirement::kPublic, "echo.get"});
  router.Add({bhttp::verb::post, "/echo", echo, AuthRequirement::kPublic, "echo.post"});
  router.Add({bhttp::verb::get, "/throw",
              [](Request&) -> asio::awaitable<Response> {
                throw std::runtime_error("boom");
                co_return Response{};
              },
              AuthRequirement::kPublic, "throw"});
  return router;
}

// Starts a server on 127.0.0.1:0 on construction; Stop()s it and joins on destruction.
class RunningServer {
 public:
  explicit RunningServer(ServerOptions options, const Router& router = TestRouter()) {
    options.host = "127.0.0.1";
    options.port = 0;
    Result<std::unique_ptr<Server>> server = Server::Create(std::move(options), router);
    if (!server.ok()) throw std::runtime_error(server.status().ToString());
    server_ = std::move(*server);
    std::promise<void> ready;
    std::future<void> is_ready = ready.get_future();
    thread_ =
        std::thread([this, &ready] { run_status_ = server_->Run([&] { ready.set_value(); }); });
    is_ready.wait();
  }
  ~RunningServer() { (void)StopAndJoin(); }

  // Stops the server and waits for Run to return; returns Run's status.
  Status StopAndJoin() {
    if (thread_.joinable()) {
      server_->Stop();
      thread_.join();
    }
    return run_status_;
  }
  std::uint16_t port() const { return server_->port(); }

 private:
  std::unique_ptr<Server> server_;
  std::thread thread_;
  Status run_status_ = InternalError("Run has not returned");
};

// A blocking plain-HTTP connection.
class Client {
 public:
  explicit Client(std::uint16_t port) : stream_(ioc_) {
    stream_.connect(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    SetReceiveTimeout(stream_.socket());
  }
  Response Send(HttpRequest req, bool head = false) {
    req.prepare_payload();
    bhttp::write(stream_, req);
    return Read(head);
  }
  Response Read(bool head = false) {
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(16 * 1024 * 1024);
    parser.skip(head);
    bhttp::read(stream_, buffer_, parser);
    return parser.release();
  }
  void WriteRaw(std::string_view bytes) { asio::write(stream_.socket(), asio::buffer(bytes)); }
  // The error of the next read: eof when the server closed the connection.
  beast::error_code ReadError() {
    char byte;
    beast::error_code ec;
    stream_.socket().read_some(asio::buffer(&byte, 1), ec);
    return ec;
  }
  beast::tcp_stream& stream() { return stream_; }

 private:
  asio::io_context ioc_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
};

inline HttpRequest Get(std::string target) {
  HttpRequest req{bhttp::verb::get, target, 11};
  req.set(bhttp::field::host, "localhost");
  return req;
}

}  // namespace portcullis::http::testing
