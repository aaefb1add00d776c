#include "http/router.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json/parse.hpp>
#include <optional>

#include "http/response.h"

namespace portcullis::http {
namespace {

namespace asio = boost::asio;
using boost::beast::http::field;
using boost::beast::http::status;
using boost::beast::http::verb;

Handler Named(std::string name) {
  return [name](Request& req) -> asio::awaitable<Response> {
    boost::json::object params;
    for (const auto& [k, v] : req.path_params) params[k] = v;
    co_return JsonResponse(status::ok, {{"handler", name}, {"params", params}});
  };
}

Response Dispatch(const Router& router, verb method, std::string path, Request* out = nullptr) {
  Request req;
  req.message.method(method);
  req.path = std::move(path);
  asio::io_context ioc;
  std::optional<Response> res;
  asio::co_spawn(ioc, router.Dispatch(req), [&](std::exception_ptr e, Response r) {
    if (e) std::rethrow_exception(e);
    res = std::move(r);
  });
  ioc.run();
  if (out != nullptr) *out = std::move(req);
  return std::move(*res);
}

std::string HandlerOf(const Response& res) {
  return std::string(boost::json::parse(res.body()).at("handler").as_string());
}

class RouterTest : public ::testing::Test {
 protected:
  RouterTest() {
    router_.Add({verb::get, "/v1/users", Named("list"), AuthRequirement::kBearer, "users.list"});
    router_.Add({verb::post, "/v1/users", Named("create"), AuthRequirement::kBearer, "users.add"});
    router_.Add({verb::get, "/v1/users/{id}", Named("get"), AuthRequirement::kBearer, "users.get"});
    router_.Add(
        {verb::delete_, "/v1/users/{id}", Named("delete"), AuthRequirement::kBearer, "users.del"});
    router_.Add({verb::get, "/v1/users/{id}/roles/{role}", Named("role"), AuthRequirement::kBearer,
                 "users.role"});
    router_.Add(
        {verb::post, "/v1/keys/rotate", Named("rotate"), AuthRequirement::kBearer, "keys.rotate"});
    router_.Add(
        {verb::delete_, "/v1/keys/{id}", Named("key.delete"), AuthRequirement::kBearer, "k.del"});
    router_.Add({verb::get, "/", Named("root"), AuthRequirement::kPublic, "root"});
    router_.Add({verb::post, "/oauth2/token", Named("token"), AuthRequirement::kClientOrUser,
                 "oauth.token"});
  }
  Router router_;
};

TEST_F(RouterTest, MatchesLiteralAndParameterRoutes) {
  Request req;
  Response res = Dispatch(router_, verb::get, "/v1/users/42", &req);
  EXPECT_EQ(res.result(), status::ok);
  EXPECT_EQ(HandlerOf(res), "get");
  EXPECT_EQ(req.route, "/v1/users/{id}");
  EXPECT_EQ(req.path_params.at("id"), "42");

  EXPECT_EQ(HandlerOf(Dispatch(router_, verb::get, "/v1/users")), "list");
  EXPECT_EQ(HandlerOf(Dispatch(router_, verb::post, "/v1/users")), "create");
  EXPECT_EQ(HandlerOf(Dispatch(router_, verb::delete_, "/v1/users/7")), "delete");
  EXPECT_EQ(HandlerOf(Dispatch(router_, verb::get, "/")), "root");
}

TEST_F(RouterTest, FillsEveryParameterPercentDecoded) {
  Request req;
  Response res = Dispatch(router_, verb::get, "/v1/users/a%20b/roles/r%2Fx", &req);
  EXPECT_EQ(HandlerOf(res), "role");
  EXPECT_EQ(req.path_params.at("id"), "a b");
  EXPECT_EQ(req.path_params.at("role"), "r/x");
}

TEST_F(RouterTest, BadPercentEncodingInParameterIs400) {
  Response res = Dispatch(router_, verb::get, "/v1/users/%zz");
  EXPECT_EQ(res.result(), status::bad_request);
  Response utf8 = Dispatch(router_, verb::get, "/v1/users/%ff");
  EXPECT_EQ(utf8.result(), status::bad_request);
}

TEST_F(RouterTest, LiteralSegmentBeatsParameter) {
  EXPECT_EQ(HandlerOf(Dispatch(router_, verb::post, "/v1/keys/rotate")), "rotate");
  EXPECT_EQ(HandlerOf(Dispatch(router_, verb::delete_, "/v1/keys/abc")), "key.delete");
}

TEST_F(RouterTest, UnknownPathIs404Unmatched) {
  for (std::string path : {"/v1/nope", "/v1/users/42/extra", "/v1", "", "relative"}) {
    Request req;
    Response res = Dispatch(router_, verb::get, path, &req);
    EXPECT_EQ(res.result(), status::not_found) << path;
    EXPECT_EQ(req.route, "unmatched") << path;
    EXPECT_EQ(res[field::content_type], "application/problem+json");
  }
}

TEST_F(RouterTest, TrailingSlashAndEmptySegmentsDoNotMatch) {
  EXPECT_EQ(Dispatch(router_, verb::get, "/v1/users/").result(), status::not_found);
  EXPECT_EQ(Dispatch(router_, verb::get, "/v1//users").result(), status::not_found);
  EXPECT_EQ(Dispatch(router_, verb::get, "/v1/users//roles/x").result(), status::not_found);
  EXPECT_EQ(Dispatch(router_, verb::get, "/V1/users").result(), status::not_found);
}

TEST_F(RouterTest, WrongMethodIs405WithAllow) {
  Request req;
  Response res = Dispatch(router_, verb::put, "/v1/users/1", &req);
  EXPECT_EQ(res.result(), status::method_not_allowed);
  EXPECT_EQ(res[field::allow], "GET, DELETE, HEAD");
  EXPECT_EQ(req.route, "/v1/users/{id}");

  Response token = Dispatch(router_, verb::get, "/oauth2/token");
  EXPECT_EQ(token.result(), status::method_not_allowed);
  EXPECT_EQ(token[field::allow], "POST");
  // Under /oauth2/ errors take the RFC 6749 shape.
  EXPECT_EQ(boost::json::parse(token.body()).at("error"), "invalid_request");
}

TEST_F(RouterTest, HeadFallsBackToGet) {
  Response res = Dispatch(router_, verb::head, "/v1/users/5");
  EXPECT_EQ(res.result(), status::ok);
  EXPECT_EQ(HandlerOf(res), "get");
  EXPECT_EQ(Dispatch(router_, verb::head, "/oauth2/token").result(), status::method_not_allowed);
}

TEST_F(RouterTest, RoutesKeepOrderAndAuthRequirement) {
  ASSERT_EQ(router_.routes().size(), 9u);
  EXPECT_EQ(router_.routes()[0].pattern, "/v1/users");
  EXPECT_EQ(router_.routes()[8].auth, AuthRequirement::kClientOrUser);
  EXPECT_EQ(ToString(AuthRequirement::kAnyCredential), "any_credential");
}

using RouterDeathTest = RouterTest;

TEST_F(RouterDeathTest, DuplicateRouteAbortsAtStartup) {
  EXPECT_DEATH(router_.Add({verb::get, "/v1/users", Named("x"), AuthRequirement::kPublic, "x"}),
               "duplicate route");
  EXPECT_DEATH(
      router_.Add({verb::get, "/v1/users/{uid}", Named("x"), AuthRequirement::kPublic, "x"}),
      "duplicate route");
}

TEST_F(RouterDeathTest, MalformedPatternAborts) {
  EXPECT_DEATH(router_.Add({verb::get, "v1/x", Named("x"), AuthRequirement::kPublic, "x"}),
               "must start with");
  EXPECT_DEATH(router_.Add({verb::get, "/v1/a{id}", Named("x"), AuthRequirement::kPublic, "x"}),
               "whole segment");
  EXPECT_DEATH(router_.Add({verb::get, "/v1/{}", Named("x"), AuthRequirement::kPublic, "x"}),
               "whole segment");
  EXPECT_DEATH(router_.Add({verb::get, "/v1/x", nullptr, AuthRequirement::kPublic, "x"}),
               "null handler");
}

TEST(RouterSameMethodTest, SamePathDifferentMethodIsNotADuplicate) {
  Router router;
  router.Add({verb::get, "/a/{x}", Named("g"), AuthRequirement::kPublic, "g"});
  router.Add({verb::post, "/a/{y}", Named("p"), AuthRequirement::kPublic, "p"});
  Request req;
  EXPECT_EQ(HandlerOf(Dispatch(router, verb::post, "/a/1", &req)), "p");
  EXPECT_EQ(req.path_params.at("y"), "1");
}

}  // namespace
}  // namespace portcullis::http
