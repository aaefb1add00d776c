#include "api/routes.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace portcullis::api {
namespace {

bool IsPublicByDesign(const std::string& pattern) {
  return pattern == "/healthz" || pattern == "/readyz" || pattern == "/metrics" ||
         pattern == "/openapi.json" || pattern.rfind("/.well-known/", 0) == 0 ||
         pattern.rfind("/oauth2/", 0) == 0 || pattern == "/v1/register" ||
         // Authenticates itself: "public" forward-auth rules need no credential.
         pattern == "/v1/forward-auth" ||
         // The login page's stylesheet.
         pattern == "/assets/portcullis.css";
}

TEST(RoutesTest, EveryRouteUnderV1ExceptRegisterRequiresCredentials) {
  ApiContext ctx;  // handlers are not invoked here
  http::Router router;
  AddRoutes(router, ctx);
  ASSERT_FALSE(router.routes().empty());
  for (const http::Route& r : router.routes()) {
    if (IsPublicByDesign(r.pattern)) {
      EXPECT_EQ(r.auth, http::AuthRequirement::kPublic) << r.pattern;
    } else {
      EXPECT_NE(r.auth, http::AuthRequirement::kPublic)
          << r.pattern << " is not on the list of public routes";
    }
    EXPECT_FALSE(r.name.empty()) << r.pattern;
  }
}

TEST(RoutesTest, TableListsTheWalkingSkeletonEndpoints) {
  ApiContext ctx;
  http::Router router;
  AddRoutes(router, ctx);
  std::set<std::string> patterns;
  for (const http::Route& r : router.routes()) patterns.insert(r.pattern);
  for (const char* p :
       {"/oauth2/token", "/v1/me", "/.well-known/jwks.json", "/.well-known/openid-configuration",
        "/.well-known/oauth-authorization-server", "/healthz", "/readyz"}) {
    EXPECT_TRUE(patterns.count(p)) << p;
  }
}

}  // namespace
}  // namespace portcullis::api
