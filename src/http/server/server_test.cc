#include "http/server/server.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <boost/json/parse.hpp>
#include <functional>
#include <mutex>
#include <set>
#include <thread>

#include "http/server/test_server_for_testing.h"

namespace portcullis::http {
namespace {

using namespace portcullis::http::testing;  // NOLINT(google-build-using-namespace)
using bhttp::field;
using bhttp::status;

boost::json::value Json(const Response& res) { return boost::json::parse(res.body()); }
std::string_view View(beast::string_view s) { return {s.data(), s.size()}; }

TEST(ServerTest, RoundTripSetsRequestIdDateAndNoServerHeader) {
  RunningServer server({});
  Client client(server.port());
  HttpRequest req = Get("/echo?token=secret&x=1");
  req.set("X-Request-Id", "client-id-1");
  Response res = client.Send(req);
  EXPECT_EQ(res.result(), status::ok);
  EXPECT_EQ(res["X-Request-Id"], "client-id-1");
  EXPECT_FALSE(res[field::date].empty());
  EXPECT_EQ(res.count(field::server), 0u);
  EXPECT_EQ(res.count(field::strict_transport_security), 0u);
  const boost::json::value body = Json(res);
  EXPECT_EQ(body.at("path"), "/echo");
  EXPECT_EQ(body.at("query"), "token=secret&x=1");
  EXPECT_EQ(body.at("client_ip"), "127.0.0.1");
  EXPECT_EQ(body.at("peer_ip"), "127.0.0.1");
  EXPECT_EQ(body.at("request_id"), "client-id-1");
  EXPECT_EQ(body.at("tls"), false);
}

TEST(ServerTest, InsaneRequestIdIsReplaced) {
  RunningServer server({});
  Client client(server.port());
  HttpRequest req = Get("/echo");
  req.set("X-Request-Id", "bad id with spaces");
  Response res = client.Send(req);
  EXPECT_EQ(res["X-Request-Id"].size(), 32u);
  EXPECT_EQ(Json(res).at("request_id").as_string(), View(res["X-Request-Id"]));
}

TEST(ServerTest, WrongMethodGets405WithAllow) {
  RunningServer server({});
  Client client(server.port());
  HttpRequest req = Get("/echo");
  req.method(bhttp::verb::put);
  Response res = client.Send(req);
  EXPECT_EQ(res.result(), status::method_not_allowed);
  EXPECT_EQ(res[field::allow], "GET, POST, HEAD");
  EXPECT_EQ(res[field::content_type], "application/problem+json");
}

TEST(ServerTest, UnknownPathGets404) {
  RunningServer server({});
  Client client(server.port());
  EXPECT_EQ(client.Send(Get("/nope")).result(), status::not_found);
}

TEST(ServerTest, EveryResponseForbidsContentSniffing) {
  RunningServer server({});
  Client client(server.port());
  EXPECT_EQ(client.Send(Get("/echo"))["X-Content-Type-Options"], "nosniff");
  EXPECT_EQ(client.Send(Get("/nope"))["X-Content-Type-Options"], "nosniff");
}

TEST(ServerTest, HeadGetsGetHeadersWithoutBody) {
  RunningServer server({});
  Client client(server.port());
  HttpRequest req = Get("/echo");
  req.method(bhttp::verb::head);
  Response res = client.Send(req, /*head=*/true);
  EXPECT_EQ(res.result(), status::ok);
  EXPECT_TRUE(res.body().empty());
  EXPECT_NE(res[field::content_length], "0");
  // The connection stays usable: the HEAD response had no body on the wire.
  EXPECT_EQ(client.Send(Get("/echo")).result(), status::ok);
}

TEST(ServerTest, KeepAliveServesTwoRequestsOnOneConnection) {
  RunningServer server({});
  Client client(server.port());
  Response first = client.Send(Get("/echo"));
  Response second = client.Send(Get("/echo?n=2"));
  EXPECT_EQ(first.result(), status::ok);
  EXPECT_TRUE(first.keep_alive());
  EXPECT_EQ(second.result(), status::ok);
  EXPECT_EQ(Json(second).at("query"), "n=2");
}

TEST(ServerTest, ConnectionCloseIsHonoured) {
  RunningServer server({});
  Client client(server.port());
  HttpRequest req = Get("/echo");
  req.keep_alive(false);
  Response res = client.Send(req);
  EXPECT_FALSE(res.keep_alive());
  EXPECT_EQ(client.ReadError(), asio::error::eof);
}

TEST(ServerTest, OversizeBodyGets413AndClose) {
  ServerOptions options;
  options.max_body_bytes = 1024;
  RunningServer server(options);
  Client client(server.port());
  HttpRequest req = Get("/echo");
  req.method(bhttp::verb::post);
  req.set(field::content_type, "application/json");
  req.body() = std::string(100 * 1024, 'x');
  Response res = client.Send(req);
  EXPECT_EQ(res.result(), status::payload_too_large);
  EXPECT_EQ(res[field::content_type], "application/problem+json");
  EXPECT_FALSE(res.keep_alive());
  EXPECT_FALSE(res["X-Request-Id"].empty());
}

TEST(ServerTest, BodyAtTheLimitIsAccepted) {
  ServerOptions options;
  options.max_body_bytes = 1024;
  RunningServer server(options);
  Client client(server.port());
  HttpRequest req = Get("/echo");
  req.method(bhttp::verb::post);
  req.body() = std::string(1024, 'x');
  Response res = client.Send(req);
  EXPECT_EQ(res.result(), status::ok);
  EXPECT_EQ(Json(res).at("body_bytes"), 1024);
}

TEST(ServerTest, OversizeHeaderGets431AndClose) {
  RunningServer server({});
  Client client(server.port());
  HttpRequest req = Get("/echo");
  req.set("X-Padding", std::string(9000, 'a'));
  Response res = client.Send(req);
  EXPECT_EQ(res.result(), status::request_header_fields_too_large);
  EXPECT_FALSE(res.keep_alive());
}

TEST(ServerTest, MalformedRequestGets400) {
  RunningServer server({});
  Client client(server.port());
  client.WriteRaw("NOT HTTP AT ALL\r\n\r\n");
  Response res = client.Read();
  EXPECT_EQ(res.result(), status::bad_request);
  EXPECT_FALSE(res.keep_alive());
}

// DESIGN §10: each smuggling shape is answered 400 (501 for a coding we cannot decode) with
// Connection: close, the connection is closed, and no route runs. Some are refused by Beast's
// parser, the rest by CheckFraming / HasObsFold (framing.h); the answer must be the same.
struct SmugglingCase {
  const char* name;
  const char* bytes;
  unsigned status;
};

class SmugglingTest : public ::testing::TestWithParam<SmugglingCase> {};

TEST_P(SmugglingTest, IsRefusedWithCloseAndNoRouteRuns) {
  std::mutex mu;
  std::vector<std::string> routes;
  ServerOptions options;
  options.on_request = [&](std::string_view route, unsigned, double) {
    std::lock_guard<std::mutex> lock(mu);
    routes.emplace_back(route);
  };
  {
    RunningServer server(options);
    Client client(server.port());
    client.WriteRaw(GetParam().bytes);
    Response res = client.Read();
    EXPECT_EQ(res.result_int(), GetParam().status);
    EXPECT_EQ(res[field::connection], "close");
    EXPECT_FALSE(res.keep_alive());
    EXPECT_EQ(client.ReadError(), asio::error::eof);
    ASSERT_TRUE(server.StopAndJoin().ok());
  }
  std::lock_guard<std::mutex> lock(mu);
  EXPECT_THAT(routes, ::testing::ElementsAre("unmatched"));
}

INSTANTIATE_TEST_SUITE_P(
    Framing, SmugglingTest,
    ::testing::Values(
        SmugglingCase{"ObsFold",
                      "POST /echo HTTP/1.1\r\nHost: a\r\nX-A: one\r\n two\r\n"
                      "Content-Length: 0\r\n\r\n",
                      400},
        SmugglingCase{"ObsFoldTab", "GET /echo HTTP/1.1\r\nHost: a\r\nX-A: one\r\n\ttwo\r\n\r\n",
                      400},
        SmugglingCase{"ObsFoldOfContentLength",
                      "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n 5\r\n\r\nhello", 400},
        SmugglingCase{"ClThenTeChunked",  // Beast: bad_transfer_encoding
                      "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
                      "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
                      400},
        SmugglingCase{"TeChunkedThenCl",  // Beast: bad_content_length
                      "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
                      "Content-Length: 5\r\n\r\n0\r\n\r\n",
                      400},
        SmugglingCase{"TeIdentityThenCl",  // Beast accepts; CheckFraming refuses
                      "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: identity\r\n"
                      "Content-Length: 5\r\n\r\nhello",
                      400},
        SmugglingCase{"TeChunkedNotFinal",
                      "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, identity"
                      "\r\n\r\n0\r\n\r\n",
                      400},
        SmugglingCase{"TeGzipChunked",
                      "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked"
                      "\r\n\r\n0\r\n\r\n",
                      501},
        SmugglingCase{"DifferingContentLengths",  // Beast: multiple_content_length
                      "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
                      "Content-Length: 6\r\n\r\nhello!",
                      400},
        SmugglingCase{"DifferingContentLengthList",  // Beast: multiple_content_length
                      "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 6\r\n\r\nhello!", 400},
        SmugglingCase{"EqualContentLengths",  // Beast accepts; refused like nginx does
                      "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
                      "Content-Length: 5\r\n\r\nhello",
                      400},
        SmugglingCase{"EqualContentLengthList",
                      "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\nhello", 400},
        SmugglingCase{"DuplicateHost", "GET /echo HTTP/1.1\r\nHost: a\r\nHost: evil\r\n\r\n", 400},
        SmugglingCase{"HostList", "GET /echo HTTP/1.1\r\nHost: a, evil\r\n\r\n", 400},
        SmugglingCase{"TeInHttp10",
                      "POST /echo HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400}),
    [](const ::testing::TestParamInfo<SmugglingCase>& case_info) { return case_info.param.name; });

TEST(ServerTest, ObsFoldSentByteByByteIsRefused) {
  RunningServer server({});
  Client client(server.port());
  const std::string bytes = "GET /echo HTTP/1.1\r\nHost: a\r\nX-A: one\r\n two\r\n\r\n";
  for (char c : bytes) client.WriteRaw(std::string_view(&c, 1));
  Response res = client.Read();
  EXPECT_EQ(res.result(), status::bad_request);
  EXPECT_EQ(client.ReadError(), asio::error::eof);
}

TEST(ServerTest, PipelinedRequestsStillWorkAfterTheHeadCheck) {
  RunningServer server({});
  Client client(server.port());
  client.WriteRaw(
      "GET /echo?n=1 HTTP/1.1\r\nHost: a\r\n\r\n"
      "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
      "GET /echo?n=3 HTTP/1.1\r\nHost: a\r\n\r\n");
  EXPECT_EQ(Json(client.Read()).at("query"), "n=1");
  EXPECT_EQ(Json(client.Read()).at("body_bytes"), 3);
  EXPECT_EQ(Json(client.Read()).at("query"), "n=3");
}

TEST(ServerTest, AbsoluteFormTargetGets400) {
  RunningServer server({});
  Client client(server.port());
  EXPECT_EQ(client.Send(Get("http://example.com/echo")).result(), status::bad_request);
}

TEST(ServerTest, HeaderTimeoutClosesASlowClient) {
  ServerOptions options;
  options.header_timeout = std::chrono::milliseconds(200);
  RunningServer server(options);
  Client client(server.port());
  client.WriteRaw("GET /echo HTTP/1.1\r\nHost: x\r\n");  // never finishes the header
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(client.ReadError(), asio::error::eof);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

TEST(ServerTest, SilentConnectionIsClosedAfterHeaderTimeout) {
  ServerOptions options;
  options.header_timeout = std::chrono::milliseconds(200);
  RunningServer server(options);
  Client client(server.port());
  EXPECT_EQ(client.ReadError(), asio::error::eof);
}

TEST(ServerTest, IdleKeepAliveConnectionIsClosedAfterIdleTimeout) {
  ServerOptions options;
  options.idle_timeout = std::chrono::milliseconds(200);
  RunningServer server(options);
  Client client(server.port());
  EXPECT_EQ(client.Send(Get("/echo")).result(), status::ok);
  EXPECT_EQ(client.ReadError(), asio::error::eof);
}

TEST(ServerTest, ThrowingHandlerGets500WithoutDetailsAndServerSurvives) {
  RunningServer server({});
  Client client(server.port());
  Response res = client.Send(Get("/throw"));
  EXPECT_EQ(res.result(), status::internal_server_error);
  EXPECT_EQ(res[field::content_type], "application/problem+json");
  EXPECT_EQ(res.body().find("boom"), std::string::npos);
  EXPECT_EQ(client.Send(Get("/echo")).result(), status::ok);
}

TEST(ServerTest, ForwardedForIsIgnoredFromUntrustedPeer) {
  RunningServer server({});
  Client client(server.port());
  HttpRequest req = Get("/echo");
  req.set("X-Forwarded-For", "198.51.100.9");
  EXPECT_EQ(Json(client.Send(req)).at("client_ip"), "127.0.0.1");
}

TEST(ServerTest, ForwardedForIsBelievedFromTrustedProxy) {
  ServerOptions options;
  options.is_trusted_proxy = [](std::string_view ip) { return ip == "127.0.0.1"; };
  RunningServer server(options);
  Client client(server.port());
  HttpRequest req = Get("/echo");
  req.insert("X-Forwarded-For", "203.0.113.1");
  req.insert("X-Forwarded-For", "198.51.100.9, 127.0.0.1");
  const boost::json::value body = Json(client.Send(req));
  EXPECT_EQ(body.at("client_ip"), "198.51.100.9");
  EXPECT_EQ(body.at("peer_ip"), "127.0.0.1");
}

TEST(ServerTest, ObserverSeesRouteStatusAndLatency) {
  std::mutex mu;
  std::vector<std::pair<std::string, unsigned>> seen;
  ServerOptions options;
  options.on_request = [&](std::string_view route, unsigned code, double seconds) {
    std::lock_guard<std::mutex> lock(mu);
    EXPECT_GE(seconds, 0.0);
    seen.emplace_back(route, code);
  };
  {
    RunningServer server(options);
    Client client(server.port());
    (void)client.Send(Get("/echo"));
    (void)client.Send(Get("/missing/42"));
    ASSERT_TRUE(server.StopAndJoin().ok());
  }
  std::lock_guard<std::mutex> lock(mu);
  EXPECT_THAT(seen, ::testing::ElementsAre(std::pair<std::string, unsigned>{"/echo", 200},
                                           std::pair<std::string, unsigned>{"unmatched", 404}));
}

TEST(ServerTest, ConnectionsBeyondTheLimitAreClosed) {
  ServerOptions options;
  options.max_connections = 1;
  RunningServer server(options);
  Client first(server.port());
  EXPECT_EQ(first.Send(Get("/echo")).result(), status::ok);
  Client second(server.port());
  EXPECT_NE(second.ReadError(), beast::error_code());
  EXPECT_EQ(first.Send(Get("/echo")).result(), status::ok);
}

TEST(ServerTest, StopReturnsFromRunAndClosesIdleConnections) {
  ServerOptions options;
  options.drain_timeout = std::chrono::seconds(60);
  options.idle_timeout = std::chrono::seconds(60);
  RunningServer server(options);
  Client client(server.port());
  EXPECT_EQ(client.Send(Get("/echo")).result(), status::ok);
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(server.StopAndJoin(), Status::Ok());
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  EXPECT_EQ(client.ReadError(), asio::error::eof);
}

// GET /thread answers with an id of the thread that ran the handler.
Router ThreadRouter() {
  Router router;
  router.Add({bhttp::verb::get, "/thread",
              [](Request&) -> asio::awaitable<Response> {
                const std::size_t id = std::hash<std::thread::id>{}(std::this_thread::get_id());
                co_return JsonResponse(status::ok, {{"thread", std::to_string(id)}});
              },
              AuthRequirement::kPublic, "thread"});
  return router;
}

std::string ThreadOf(Client& client) {
  Response res = client.Send(Get("/thread"));
  EXPECT_EQ(res.result(), status::ok);
  return std::string(Json(res).at("thread").as_string());
}

TEST(ServerTest, ConnectionsAreSpreadRoundRobinAndEachStaysOnOneThread) {
  constexpr unsigned kThreads = 3;
  ServerOptions options;
  options.threads = kThreads;
  RunningServer server(options, ThreadRouter());
  std::vector<std::unique_ptr<Client>> clients;
  std::set<std::string> threads;
  for (unsigned i = 0; i < kThreads; ++i) {
    clients.push_back(std::make_unique<Client>(server.port()));
    const std::string first = ThreadOf(*clients.back());
    threads.insert(first);
    for (int request = 0; request < 3; ++request) EXPECT_EQ(ThreadOf(*clients.back()), first);
  }
  EXPECT_EQ(threads.size(), kThreads);
  // The fourth connection wraps around to the first connection's thread.
  Client fourth(server.port());
  EXPECT_EQ(ThreadOf(fourth), ThreadOf(*clients.front()));
}

TEST(ServerTest, ConnectionLimitCountsAcrossAllThreads) {
  ServerOptions options;
  options.threads = 2;
  options.max_connections = 2;
  RunningServer server(options, ThreadRouter());
  Client first(server.port());
  Client second(server.port());
  EXPECT_NE(ThreadOf(first), ThreadOf(second));
  Client third(server.port());
  EXPECT_NE(third.ReadError(), beast::error_code());
  EXPECT_EQ(first.Send(Get("/thread")).result(), status::ok);
}

TEST(ServerTest, StopClosesIdleConnectionsOnEveryThread) {
  constexpr unsigned kThreads = 3;
  ServerOptions options;
  options.threads = kThreads;
  options.drain_timeout = std::chrono::seconds(60);
  options.idle_timeout = std::chrono::seconds(60);
  RunningServer server(options, ThreadRouter());
  std::vector<std::unique_ptr<Client>> clients;
  for (unsigned i = 0; i < kThreads; ++i) {
    clients.push_back(std::make_unique<Client>(server.port()));
    ThreadOf(*clients.back());
  }
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(server.StopAndJoin(), Status::Ok());
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  for (auto& client : clients) EXPECT_EQ(client->ReadError(), asio::error::eof);
}

TEST(ServerTest, StopBeforeRunMakesRunReturn) {
  ServerOptions options;
  options.port = 0;
  Result<std::unique_ptr<Server>> server = Server::Create(options, TestRouter());
  ASSERT_TRUE(server.ok());
  (*server)->Stop();
  EXPECT_EQ((*server)->Run(), Status::Ok());
}

TEST(ServerTest, BindFailureNamesTheAddress) {
  RunningServer first({});
  ServerOptions options;
  options.port = first.port();
  Result<std::unique_ptr<Server>> second = Server::Create(options, TestRouter());
  EXPECT_EQ(second.status(),
            UnavailableError("cannot listen on 127.0.0.1:" + std::to_string(first.port()) +
                             ": Address already in use"));
}

}  // namespace
}  // namespace portcullis::http
