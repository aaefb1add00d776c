#include "authz/permission.h"

#include <gtest/gtest.h>

namespace portcullis::authz {
namespace {

struct Case {
  const char* held;
  const char* required;
  bool grants;
};

TEST(PermissionTest, MatcherTable) {
  const Case cases[] = {
      {"articles:read", "articles:read", true},
      {"articles:read", "articles:write", false},
      {"articles:*", "articles:read", true},
      {"articles:*", "articles:read:draft", false},  // * is one segment
      {"*", "articles:read", true},
      {"*", "anything:at:all", true},
      {"*:read", "articles:read", true},
      {"*:read", "articles:write", false},
      {"articles:read", "articles:*", false},
      {"articles", "articles:read", false},
      {"articles:read", "articles", false},
      {"art*:read", "articles:read", false},      // no partial-segment wildcard
      {"Articles:read", "articles:read", false},  // case-sensitive
      {"users:read", "users:read", true},
      {"", "users:read", false},
      {"*:*", "articles:read", true},
      {"*:*", "articles", false},  // segment count must match
      {"articles:*:draft", "articles:read:draft", true},
      {"articles:*:draft", "articles:read:final", false},
      {"articles:*", "*", false},  // a required "*" needs a held "*"
      {"*", "*", true},
      {"articles:read", "articles:read ", false},  // no trimming
      {"articles:read", "articles:READ", false},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(PermissionGrants(c.held, c.required), c.grants) << c.held << " vs " << c.required;
  }
}

TEST(PermissionTest, AnyGrantsChecksEveryHeldPermission) {
  std::vector<std::string> held = {"users:read", "roles:*"};
  EXPECT_TRUE(AnyGrants(held, "roles:write"));
  EXPECT_TRUE(AnyGrants(held, "users:read"));
  EXPECT_FALSE(AnyGrants(held, "users:write"));
  EXPECT_FALSE(AnyGrants({}, "users:read"));
}

TEST(PermissionTest, Validity) {
  EXPECT_TRUE(IsValidPermission("users:read"));
  EXPECT_TRUE(IsValidPermission("*"));
  EXPECT_TRUE(IsValidPermission("articles:*"));
  EXPECT_FALSE(IsValidPermission(""));
  EXPECT_FALSE(IsValidPermission("users:"));
  EXPECT_FALSE(IsValidPermission(":read"));
  EXPECT_FALSE(IsValidPermission("art*:read"));
  EXPECT_FALSE(IsValidPermission("Users:read"));
  EXPECT_FALSE(IsValidPermission("users read"));
  EXPECT_FALSE(IsValidPermission(std::string(129, 'a')));
}

TEST(PermissionTest, GrantScopesWithoutRequestGrantsEverythingHeld) {
  std::vector<std::string> held = {"articles:*", "users:read"};
  EXPECT_EQ(GrantScopes(held, std::nullopt), held);
}

TEST(PermissionTest, GrantScopesNarrowsToTheRequestedValues) {
  std::vector<std::string> held = {"articles:*", "users:read"};
  EXPECT_EQ(GrantScopes(held, std::vector<std::string>{"articles:read"}),
            (std::vector<std::string>{"articles:read"}));
  EXPECT_EQ(
      GrantScopes(held, std::vector<std::string>{"users:read", "articles:write", "users:read"}),
      (std::vector<std::string>{"users:read", "articles:write"}));
  EXPECT_EQ(GrantScopes({"*"}, std::vector<std::string>{"anything:goes"}),
            (std::vector<std::string>{"anything:goes"}));
}

TEST(PermissionTest, GrantScopesRefusesAnythingNotHeld) {
  std::vector<std::string> held = {"articles:read"};
  EXPECT_EQ(GrantScopes(held, std::vector<std::string>{"articles:write"}), std::nullopt);
  EXPECT_EQ(GrantScopes(held, std::vector<std::string>{"articles:*"}), std::nullopt);
  EXPECT_EQ(GrantScopes(held, std::vector<std::string>{"articles:read", "users:read"}),
            std::nullopt);
  EXPECT_EQ(GrantScopes({}, std::vector<std::string>{"articles:read"}), std::nullopt);
}

TEST(PermissionTest, GrantScopesWithAnEmptyRequestGrantsNothing) {
  EXPECT_EQ(GrantScopes({"*"}, std::vector<std::string>{}), std::vector<std::string>{});
}

TEST(PermissionTest, ScopeSplitAndJoin) {
  EXPECT_EQ(SplitScope("  a:b  c:d "), (std::vector<std::string>{"a:b", "c:d"}));
  EXPECT_TRUE(SplitScope("").empty());
  EXPECT_EQ(JoinScope({"a", "b"}), "a b");
}

}  // namespace
}  // namespace portcullis::authz
