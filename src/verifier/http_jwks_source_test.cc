#include "verifier/http_jwks_source.h"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <string>
#include <thread>

namespace portcullis::verifier {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;

constexpr char kJwks[] = R"({"keys":[]})";

// A one-thread HTTP server on 127.0.0.1, port 0: /jwks → 200, /redirect → 302, /big → an
// oversized 200, /missing → 404, /silent → reads the request and never answers.
class LocalServer {
 public:
  LocalServer() : acceptor_(ioc_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
    thread_ = std::thread([this] { Serve(); });
  }
  ~LocalServer() {
    stop_ = true;
    beast::error_code ec;
    tcp::socket poke(ioc_);
    poke.connect(acceptor_.local_endpoint(), ec);  // wake accept()
    thread_.join();
  }
  std::string Url(std::string_view path) const {
    return "http://127.0.0.1:" + std::to_string(acceptor_.local_endpoint().port()) +
           std::string(path);
  }
  std::atomic<int> requests{0};

 private:
  void Serve() {
    while (!stop_) {
      beast::error_code ec;
      tcp::socket socket(ioc_);
      acceptor_.accept(socket, ec);
      if (ec || stop_) return;
      beast::flat_buffer buffer;
      bhttp::request<bhttp::string_body> req;
      bhttp::read(socket, buffer, req, ec);
      if (ec) continue;
      ++requests;
      bhttp::response<bhttp::string_body> res(bhttp::status::ok, 11);
      if (req.target() == "/jwks") {
        res.body() = kJwks;
      } else if (req.target() == "/redirect") {
        res.result(bhttp::status::found);
        res.set(bhttp::field::location, "/jwks");
      } else if (req.target() == "/big") {
        res.body() = std::string(kMaxJwksBodyBytes + 1, ' ');
      } else if (req.target() == "/silent") {
        silent_.push_back(std::move(socket));  // keep it open, answer nothing
        continue;
      } else {
        res.result(bhttp::status::not_found);
      }
      res.prepare_payload();
      bhttp::write(socket, res, ec);
    }
  }

  asio::io_context ioc_;
  tcp::acceptor acceptor_;
  std::vector<tcp::socket> silent_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

std::unique_ptr<JwksSource> Source(const std::string& url,
                                   std::chrono::seconds timeout = std::chrono::seconds(5)) {
  Result<std::unique_ptr<JwksSource>> s =
      CreateHttpJwksSource({.url = url, .ca_file = "", .timeout = timeout});
  EXPECT_TRUE(s.ok()) << s.status().message();
  return s.ok() ? std::move(*s) : nullptr;
}

TEST(HttpJwksSourceTest, FetchesFromLoopbackHttp) {
  LocalServer server;
  JwksFetchResult r = Source(server.Url("/jwks"))->Fetch();
  EXPECT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.body, kJwks);
}

TEST(HttpJwksSourceTest, RedirectIsNotFollowed) {
  LocalServer server;
  JwksFetchResult r = Source(server.Url("/redirect"))->Fetch();
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.error, "HTTP status 302");
  EXPECT_EQ(server.requests.load(), 1);
}

TEST(HttpJwksSourceTest, NonOkStatusFails) {
  LocalServer server;
  EXPECT_FALSE(Source(server.Url("/missing"))->Fetch().ok);
}

TEST(HttpJwksSourceTest, OversizedBodyIsRejected) {
  LocalServer server;
  JwksFetchResult r = Source(server.Url("/big"))->Fetch();
  EXPECT_FALSE(r.ok);
  EXPECT_TRUE(r.body.empty());
}

TEST(HttpJwksSourceTest, SilentServerTimesOut) {
  LocalServer server;
  JwksFetchResult r = Source(server.Url("/silent"), std::chrono::seconds(1))->Fetch();
  EXPECT_FALSE(r.ok);
}

TEST(HttpJwksSourceTest, DownServerFails) {
  std::string url;
  {
    LocalServer server;
    url = server.Url("/jwks");
  }
  EXPECT_FALSE(Source(url)->Fetch().ok);
}

TEST(HttpJwksSourceTest, CreateRejectsUnsafeUrls) {
  auto bad = [](std::string url) {
    return !CreateHttpJwksSource(
                {.url = std::move(url), .ca_file = "", .timeout = std::chrono::seconds(5)})
                .ok();
  };
  EXPECT_TRUE(bad("http://auth.example/jwks"));
  EXPECT_TRUE(bad("http://10.0.0.1/jwks"));
  EXPECT_TRUE(bad("ftp://127.0.0.1/jwks"));
  EXPECT_TRUE(bad("https://user:pw@auth.example/jwks"));
  EXPECT_TRUE(bad("not a url"));
  EXPECT_FALSE(bad("http://[::1]:8080/jwks"));
  EXPECT_FALSE(bad("http://localhost:8080/jwks"));
  EXPECT_FALSE(bad("https://auth.example/.well-known/jwks.json"));
  EXPECT_TRUE(!CreateHttpJwksSource({.url = "https://auth.example/jwks",
                                     .ca_file = "/nonexistent/ca.pem",
                                     .timeout = std::chrono::seconds(5)})
                   .ok());
}

}  // namespace
}  // namespace portcullis::verifier
