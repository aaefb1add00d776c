#include "http/response.h"

#include <gtest/gtest.h>

#include <boost/beast/http/write.hpp>
#include <boost/json/parse.hpp>
#include <sstream>
#include <string>
#include <vector>

namespace portcullis::http {
namespace {

using boost::beast::http::field;
using boost::beast::http::status;

boost::json::value Body(const Response& res) { return boost::json::parse(res.body()); }

TEST(ResponseTest, JsonResponseSetsTypeAndLength) {
  Response res = JsonResponse(status::created, boost::json::object{{"id", "u1"}});
  EXPECT_EQ(res.result(), status::created);
  EXPECT_EQ(res[field::content_type], "application/json");
  EXPECT_EQ(res.body(), R"({"id":"u1"})");
  EXPECT_EQ(res[field::content_length], "11");
}

TEST(ResponseTest, ProblemResponseFollowsRfc9457) {
  Response res = ProblemResponse(status::bad_request, "Bad Request", "missing username");
  EXPECT_EQ(res[field::content_type], "application/problem+json");
  EXPECT_EQ(Body(res), boost::json::parse(R"({"type":"about:blank","title":"Bad Request",
                                               "status":400,"detail":"missing username"})"));
}

TEST(ResponseTest, OAuthErrorResponseFollowsRfc6749AndIsNotCached) {
  Response res = OAuthErrorResponse(status::bad_request, "invalid_grant", "bad credentials");
  EXPECT_EQ(res[field::content_type], "application/json");
  EXPECT_EQ(res[field::cache_control], "no-store");
  EXPECT_EQ(res[field::pragma], "no-cache");
  EXPECT_EQ(Body(res), boost::json::parse(R"({"error":"invalid_grant",
                                               "error_description":"bad credentials"})"));
}

TEST(ResponseTest, ErrorResponseUsesOAuthShapeUnderOauth2) {
  Request req;
  req.path = "/oauth2/token";
  Response res = ErrorResponse(req, status::unauthorized, "invalid_client", "client auth failed");
  EXPECT_EQ(res.result(), status::unauthorized);
  EXPECT_EQ(Body(res), boost::json::parse(R"({"error":"invalid_client",
                                               "error_description":"client auth failed"})"));
}

TEST(ResponseTest, ErrorResponseUsesProblemShapeElsewhere) {
  Request req;
  req.path = "/v1/users/42";
  Response res = ErrorResponse(req, status::not_found, "invalid_request", "no such user");
  EXPECT_EQ(res[field::content_type], "application/problem+json");
  EXPECT_EQ(Body(res), boost::json::parse(R"({"type":"about:blank","title":"Not Found",
                                               "status":404,"detail":"no such user"})"));
}

TEST(ResponseTest, OAuth2PrefixMustBeAWholeSegment) {
  Request req;
  req.path = "/oauth2x/token";
  Response res = ErrorResponse(req, status::bad_request, "invalid_request", "x");
  EXPECT_EQ(res[field::content_type], "application/problem+json");
}

// What Beast's serializer writes for the same message (its operator<< runs the serializer).
std::string BeastWire(const Response& res) {
  std::ostringstream out;
  out << res;
  return out.str();
}

TEST(WireResponseTest, MatchesBeastsSerializerByteForByte) {
  std::vector<Response> cases;
  cases.push_back(JsonResponse(boost::beast::http::status::ok, {{"id", "u1"}, {"n", 3}}));
  cases.push_back(OAuthErrorResponse(boost::beast::http::status::bad_request, "invalid_grant",
                                     "the refresh token is invalid"));
  Response custom{boost::beast::http::status::not_found, 10};  // HTTP/1.0
  custom.set("X-Request-Id", "abc");
  custom.set(boost::beast::http::field::date, "Fri, 04 Dec 2026 10:00:00 GMT");
  custom.insert("Set-Cookie", "a=1");
  custom.insert("Set-Cookie", "b=2");  // repeated fields keep their order
  custom.keep_alive(false);
  custom.body() = "gone";
  custom.prepare_payload();
  cases.push_back(custom);
  Response reason{boost::beast::http::status::service_unavailable, 11};
  reason.reason("Busy");
  reason.prepare_payload();
  cases.push_back(reason);
  Response head = JsonResponse(boost::beast::http::status::ok, {{"a", 1}});
  head.body().clear();
  head.content_length(7);  // a HEAD answer: the length of the GET body, no content
  cases.push_back(head);
  for (const Response& res : cases) {
    std::string ours = "left over ";
    AppendWireResponse(res, ours);
    EXPECT_EQ(ours, "left over " + BeastWire(res));
  }
}

}  // namespace
}  // namespace portcullis::http
