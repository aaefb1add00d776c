#include "http/response.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

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

}  // namespace
}  // namespace portcullis::http
