#include "authz/forward_auth.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cctype>
#include <string>
#include <vector>

namespace portcullis::authz {
namespace {

using ::testing::HasSubstr;

struct PathCase {
  std::string in;
  std::string out;  // "" when denied
  PathError error = PathError::kOk;
};

std::vector<PathCase> PathTable() {
  return {
      // Percent-decoding of unreserved characters only, other escapes upper-cased.
      {"/%41", "/A"},
      {"/%7e", "/~"},
      {"/%7E%2d%2E%5f", "/~-._"},
      {"/a%20b", "/a%20b"},
      {"/a%3ab", "/a%3Ab"},
      {"/%c3%bc", "/%C3%BC"},
      {"/%25", "/%25"},
      {"/%252F", "/%252F"},  // a literal "%2F" after one decoding: not a separator here
      // Encoded separators, backslashes and NULs are refused.
      {"/a%2Fb", "", PathError::kEncodedSlash},
      {"/a%2fb", "", PathError::kEncodedSlash},
      {"/a%5Cb", "", PathError::kEncodedBackslash},
      {"/a%5cb", "", PathError::kEncodedBackslash},
      {"/a\\b", "", PathError::kBackslash},
      {"/a%00b", "", PathError::kNul},
      {std::string("/a\0b", 4), "", PathError::kNul},
      {"/a\tb", "", PathError::kControlCharacter},
      {"/a\x7f", "", PathError::kControlCharacter},
      {"/a%", "", PathError::kBadPercentEncoding},
      {"/a%4", "", PathError::kBadPercentEncoding},
      {"/a%zz", "", PathError::kBadPercentEncoding},
      {"/a%4g", "", PathError::kBadPercentEncoding},
      // Dot segments (RFC 3986 §5.2.4) and repeated slashes.
      {"/a/./b", "/a/b"},
      {"/a/../b", "/b"},
      {"/../a", "/a"},
      {"/../../..", "/"},
      {"//a///b", "/a/b"},
      {"/a/%2e%2e/b", "/b"},
      {"/a/%2E/b", "/a/b"},
      {"/a/.%2e/b", "/b"},
      {"/a//../b", "/b"},  // slashes merged first, as nginx and Go's path.Clean do
      {"/public/../admin", "/admin"},
      {"/a/.", "/a/"},
      {"/a/b/..", "/a/"},
      {"/a/..", "/"},
      {"/.", "/"},
      {"/a/...", "/a/..."},  // not a dot-segment
      {"/a/..b", "/a/..b"},
      // Trailing slash kept, query and fragment cut.
      {"/a/", "/a/"},
      {"/a//", "/a/"},
      {"/", "/"},
      {"//", "/"},
      {"/a?x=1", "/a"},
      {"/a?x=%2F", "/a"},
      {"/a/?", "/a/"},
      {"/a#frag", "/a"},
      {"/a/..?x=/../", "/"},
      // Empty means "/"; anything else must start with '/'.
      {"", "/"},
      {"?x=1", "/"},
      {"a/b", "", PathError::kNotAbsolute},
      {"http://evil.example/admin", "", PathError::kNotAbsolute},
      {"*", "", PathError::kNotAbsolute},
      {std::string(kMaxForwardedUriBytes + 1, '/'), "", PathError::kTooLong},
  };
}

TEST(NormalizeForwardedPathTest, FollowsTheDesignTable) {
  for (const PathCase& c : PathTable()) {
    NormalizedPath n = NormalizeForwardedPath(c.in);
    EXPECT_EQ(n.error, c.error) << "input " << c.in << " gave " << ToString(n.error);
    EXPECT_EQ(n.path, c.out) << "input " << c.in;
  }
}

TEST(NormalizeForwardedPathTest, EveryUnreservedEscapeDecodesAndNoOtherDoes) {
  for (int b = 1; b < 256; ++b) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string in = "/x%";
    in.push_back(kHex[b / 16]);
    in.push_back(kHex[b % 16]);
    NormalizedPath n = NormalizeForwardedPath(in);
    const char c = static_cast<char>(b);
    const bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                            (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~';
    if (c == '/') {
      EXPECT_EQ(n.error, PathError::kEncodedSlash);
    } else if (c == '\\') {
      EXPECT_EQ(n.error, PathError::kEncodedBackslash);
    } else if (unreserved) {
      EXPECT_EQ(n.path, std::string("/x") + c) << b;
    } else {
      std::string upper = in;
      upper[3] = static_cast<char>(std::toupper(upper[3]));
      upper[4] = static_cast<char>(std::toupper(upper[4]));
      EXPECT_EQ(n.path, upper) << b;
    }
  }
}

TEST(NormalizeForwardedPathTest, NormalizingTwiceChangesNothing) {
  for (const PathCase& c : PathTable()) {
    if (c.error != PathError::kOk) continue;
    EXPECT_EQ(NormalizeForwardedPath(c.out).path, c.out) << c.in;
  }
}

TEST(NormalizeForwardedHostTest, LowerCasesAndStripsThePort) {
  EXPECT_EQ(NormalizeForwardedHost("App.Example.COM"), "app.example.com");
  EXPECT_EQ(NormalizeForwardedHost("app.example.com:8443"), "app.example.com");
  EXPECT_EQ(NormalizeForwardedHost("app.example.com."), "app.example.com");
  EXPECT_EQ(NormalizeForwardedHost("[::1]:8080"), "[::1]");
  EXPECT_EQ(NormalizeForwardedHost("[2001:DB8::1]"), "[2001:db8::1]");
  EXPECT_EQ(NormalizeForwardedHost("127.0.0.1:80"), "127.0.0.1");
  EXPECT_EQ(NormalizeForwardedHost(""), "");
}

TEST(NormalizeForwardedHostTest, RefusesWhatCannotBeAHost) {
  for (const char* bad :
       {"a.example.com, b.example.com", "a b", "a/b", "a.example.com:", "a.example.com:x", "[::1",
        "[]", "[::1]x", "..", ".a", "a..b", "a@b", "a.example.com:80:80"}) {
    EXPECT_EQ(NormalizeForwardedHost(bad), std::nullopt) << bad;
  }
}

TEST(NormalizeForwardedMethodTest, UpperCasesTokensAndRefusesOthers) {
  EXPECT_EQ(NormalizeForwardedMethod("GET"), "GET");
  EXPECT_EQ(NormalizeForwardedMethod("delete"), "DELETE");
  EXPECT_EQ(NormalizeForwardedMethod("PROPFIND"), "PROPFIND");
  EXPECT_EQ(NormalizeForwardedMethod(""), std::nullopt);
  EXPECT_EQ(NormalizeForwardedMethod("GET POST"), std::nullopt);
  EXPECT_EQ(NormalizeForwardedMethod("GET,POST"), std::nullopt);
  EXPECT_EQ(NormalizeForwardedMethod(std::string(33, 'A')), std::nullopt);
}

struct GlobCase {
  const char* glob;
  const char* text;
  bool matches;
};

TEST(PathGlobMatchesTest, SingleStarStaysInOneSegmentDoubleStarSpansSegments) {
  const GlobCase cases[] = {
      {"/api/**", "/api", true},
      {"/api/**", "/api/", true},
      {"/api/**", "/api/x", true},
      {"/api/**", "/api/x/y/z", true},
      {"/api/**", "/apix", false},
      {"/api/**", "/", false},
      {"/api/*", "/api/x", true},
      {"/api/*", "/api/", true},
      {"/api/*", "/api", false},
      {"/api/*", "/api/x/y", false},
      {"/api/*/edit", "/api/7/edit", true},
      {"/api/*/edit", "/api/7/8/edit", false},
      {"/api/**/edit", "/api/edit", true},
      {"/api/**/edit", "/api/7/8/edit", true},
      {"/api/**/edit", "/api/7/8/view", false},
      {"/files/*.txt", "/files/a.txt", true},
      {"/files/*.txt", "/files/.txt", true},
      {"/files/*.txt", "/files/a.txt.gz", false},
      {"/files/*.txt", "/files/d/a.txt", false},
      {"/v*/users", "/v1/users", true},
      {"/**", "/", true},
      {"/**", "/anything/at/all", true},
      {"/", "/", true},
      {"/", "/a", false},
      {"/a", "/a", true},
      {"/a", "/a/", false},
      {"/a/", "/a/", true},
      {"/a", "/A", false},  // paths are case-sensitive
      {"/**/x/**", "/a/b/x/c", true},
      {"/**/x/**", "/a/b/c", false},
      {"/a*b*c", "/aXbYc", true},
      {"/a*b*c", "/aXbY", false},
  };
  for (const GlobCase& c : cases) {
    EXPECT_EQ(PathGlobMatches(c.glob, c.text), c.matches) << c.glob << " vs " << c.text;
  }
}

TEST(PathGlobMatchesTest, ManyDoubleStarsStayFast) {
  std::string glob;
  for (int i = 0; i < 50; ++i) glob += "/**";
  glob += "/z";
  std::string path;
  for (int i = 0; i < 500; ++i) path += "/a";
  EXPECT_FALSE(PathGlobMatches(glob, path));
  EXPECT_TRUE(PathGlobMatches(glob, path + "/z"));
}

TEST(HostGlobMatchesTest, StarMatchesWithinOneLabelAndCaseIsIgnored) {
  const GlobCase cases[] = {
      {"*", "anything.example.com", true},
      {"*", "", true},
      {"*", "[::1]", true},
      {"example.com", "example.com", true},
      {"Example.COM", "example.com", true},
      {"example.com", "www.example.com", false},
      {"*.example.com", "a.example.com", true},
      {"*.example.com", "example.com", false},
      {"*.example.com", "a.b.example.com", false},
      {"*.example.com", "a.example.org", false},
      {"*.*.example.com", "a.b.example.com", true},
      {"api-*.example.com", "api-eu.example.com", true},
      {"api-*.example.com", "web-eu.example.com", false},
      {"example.com", "", false},
      {"[::1]", "[::1]", true},
  };
  for (const GlobCase& c : cases) {
    EXPECT_EQ(HostGlobMatches(c.glob, c.text), c.matches) << c.glob << " vs " << c.text;
  }
  // Through NormalizeForwardedHost: case and port do not matter.
  EXPECT_TRUE(HostGlobMatches("*.example.com", *NormalizeForwardedHost("A.Example.Com:443")));
}

TEST(ValidateGlobTest, AcceptsWellFormedGlobs) {
  for (const char* g : {"*", "example.com", "*.example.com", "api-*.Example.com", "[::1]",
                        "localhost", "a_b.example"}) {
    EXPECT_TRUE(ValidateHostGlob(g).ok()) << g;
  }
  for (const char* g : {"/", "/**", "/api/**", "/api/*", "/a/**/b", "/a/", "/files/*.txt",
                        "/~user/x", "/a-b_c.d"}) {
    EXPECT_TRUE(ValidatePathGlob(g).ok()) << g;
  }
}

TEST(ValidateGlobTest, RefusesHostGlobsThatCannotMatchANormalizedHost) {
  EXPECT_EQ(ValidateHostGlob(""), InvalidArgumentError("a host glob must not be empty"));
  EXPECT_EQ(ValidateHostGlob("example.com:443"),
            InvalidArgumentError("a host glob has no port (ports are ignored)"));
  EXPECT_EQ(ValidateHostGlob("a..com"), InvalidArgumentError("a host glob has no empty labels"));
  EXPECT_EQ(ValidateHostGlob(".example.com"),
            InvalidArgumentError("a host glob has no empty labels"));
  EXPECT_EQ(ValidateHostGlob("**.example.com"),
            InvalidArgumentError("'**' has no meaning in a host glob; use '*'"));
  EXPECT_EQ(ValidateHostGlob("exa mple.com"),
            InvalidArgumentError("a host glob holds only letters, digits, '-', '_', '.' and '*'"));
  EXPECT_EQ(ValidateHostGlob("[::1"),
            InvalidArgumentError("a bracketed IPv6 literal holds only hex digits, ':' and '.'"));
}

TEST(ValidateGlobTest, RefusesPathGlobsThatCannotMatchANormalizedPath) {
  const Status literals = InvalidArgumentError(
      "a path glob holds only letters, digits, '-', '.', '_', '~', '*' and '/'");
  EXPECT_EQ(ValidatePathGlob(""), InvalidArgumentError("a path glob starts with '/'"));
  EXPECT_EQ(ValidatePathGlob("api/**"), InvalidArgumentError("a path glob starts with '/'"));
  EXPECT_EQ(ValidatePathGlob("/a//b"),
            InvalidArgumentError("a path glob has no empty segments (\"//\")"));
  EXPECT_EQ(ValidatePathGlob("/a/../b"),
            InvalidArgumentError("a path glob has no \".\" or \"..\" segments"));
  EXPECT_EQ(ValidatePathGlob("/a/./b"),
            InvalidArgumentError("a path glob has no \".\" or \"..\" segments"));
  EXPECT_EQ(ValidatePathGlob("/a**"),
            InvalidArgumentError("'**' must be a whole path segment (\"/a/**\")"));
  EXPECT_EQ(ValidatePathGlob("/a/***"),
            InvalidArgumentError("'**' must be a whole path segment (\"/a/**\")"));
  EXPECT_EQ(ValidatePathGlob("/a?x"), literals);
  EXPECT_EQ(ValidatePathGlob("/a#x"), literals);
  EXPECT_EQ(ValidatePathGlob("/a\\x"), literals);
  EXPECT_EQ(ValidatePathGlob("/a x"), literals);
  EXPECT_EQ(ValidatePathGlob("/a%41"), literals);
  EXPECT_EQ(ValidatePathGlob("/a:b"), literals);  // "%3A" would be the same path to a backend
}

ForwardRule Rule(std::string host, std::string path, std::vector<std::string> methods,
                 Requirement requirement, std::vector<std::string> permissions = {}) {
  ForwardRule r;
  r.host = std::move(host);
  r.path = std::move(path);
  r.methods = std::move(methods);
  r.requirement = requirement;
  r.permissions = std::move(permissions);
  return r;
}

TEST(ForwardRuleSetTest, FirstMatchingRuleWins) {
  Result<ForwardRuleSet> rules = ForwardRuleSet::Create({
      Rule("*", "/admin/**", {"*"}, Requirement::kPermissions, {"admin:access"}),
      Rule("*", "/public/**", {"GET", "HEAD"}, Requirement::kPublic),
      Rule("*", "/**", {"*"}, Requirement::kAuthenticated),
  });
  ASSERT_TRUE(rules.ok()) << rules.status().ToString();
  const ForwardRule* r = rules->Decide("GET", "app.example.com", "/public/x");
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(rules->IndexOf(*r), 1u);
  r = rules->Decide("POST", "app.example.com", "/public/x");
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(rules->IndexOf(*r), 2u);  // method does not match rule 1
  r = rules->Decide("GET", "app.example.com", "/admin");
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(rules->IndexOf(*r), 0u);
  // The normalized form of "/public/../admin" is decided by the admin rule.
  r = rules->Decide("GET", "", NormalizeForwardedPath("/public/../admin/x").path);
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->requirement, Requirement::kPermissions);
}

TEST(ForwardRuleSetTest, NoMatchingRuleMeansDeny) {
  Result<ForwardRuleSet> rules = ForwardRuleSet::Create({
      Rule("app.example.com", "/api/**", {"GET"}, Requirement::kPublic),
  });
  ASSERT_TRUE(rules.ok());
  EXPECT_NE(rules->Decide("GET", "app.example.com", "/api/x"), nullptr);
  EXPECT_EQ(rules->Decide("POST", "app.example.com", "/api/x"), nullptr);
  EXPECT_EQ(rules->Decide("GET", "other.example.com", "/api/x"), nullptr);
  EXPECT_EQ(rules->Decide("GET", "app.example.com", "/apix"), nullptr);
  EXPECT_EQ(rules->Decide("GET", "", "/api/x"), nullptr);

  Result<ForwardRuleSet> none = ForwardRuleSet::Create({});
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->Decide("GET", "app.example.com", "/"), nullptr);
}

TEST(ForwardRuleSetTest, MethodsAreMatchedExactlyAfterNormalization) {
  Result<ForwardRuleSet> rules = ForwardRuleSet::Create({
      Rule("*", "/**", {"GET", "HEAD"}, Requirement::kPublic),
      Rule("*", "/**", {"*"}, Requirement::kAuthenticated),
  });
  ASSERT_TRUE(rules.ok());
  EXPECT_EQ(rules->Decide("GET", "h", "/")->requirement, Requirement::kPublic);
  EXPECT_EQ(rules->Decide("HEAD", "h", "/")->requirement, Requirement::kPublic);
  EXPECT_EQ(rules->Decide("DELETE", "h", "/")->requirement, Requirement::kAuthenticated);
  EXPECT_EQ(rules->Decide(*NormalizeForwardedMethod("get"), "h", "/")->requirement,
            Requirement::kPublic);
}

TEST(ForwardRuleSetTest, CreateNamesTheBadRuleAndField) {
  auto error_of = [](std::vector<ForwardRule> rules) {
    return ForwardRuleSet::Create(std::move(rules)).status().message();
  };
  const ForwardRule ok = Rule("*", "/**", {"*"}, Requirement::kPublic);
  EXPECT_THAT(error_of({ok, Rule("*", "/a**", {"*"}, Requirement::kPublic)}),
              HasSubstr("rule[1].path: '**' must be a whole path segment"));
  EXPECT_THAT(error_of({Rule("a:1", "/", {"*"}, Requirement::kPublic)}),
              HasSubstr("rule[0].host: a host glob has no port"));
  EXPECT_EQ(error_of({Rule("*", "/", {}, Requirement::kPublic)}),
            "rule[0].methods: must not be empty");
  EXPECT_EQ(error_of({Rule("*", "/", {"get"}, Requirement::kPublic)}),
            "rule[0].methods: not an upper-case HTTP method or \"*\"");
  EXPECT_EQ(error_of({Rule("*", "/", {"*"}, Requirement::kPermissions)}),
            "rule[0].require: permissions are listed exactly when required");
  EXPECT_EQ(error_of({Rule("*", "/", {"*"}, Requirement::kPublic, {"a:b"})}),
            "rule[0].require: permissions are listed exactly when required");
  EXPECT_EQ(error_of({Rule("*", "/", {"*"}, Requirement::kPermissions, {"Bad Perm"})}),
            "rule[0].require: invalid permission");
}

TEST(FirstMissingPermissionTest, EveryListedPermissionMustBeHeld) {
  const ForwardRule rule =
      Rule("*", "/**", {"*"}, Requirement::kPermissions, {"articles:read", "articles:write"});
  EXPECT_EQ(FirstMissingPermission(rule, {}), "articles:read");
  EXPECT_EQ(FirstMissingPermission(rule, {"articles:read"}), "articles:write");
  EXPECT_EQ(FirstMissingPermission(rule, {"articles:read", "articles:write"}), std::nullopt);
  EXPECT_EQ(FirstMissingPermission(rule, {"articles:*"}), std::nullopt);
  EXPECT_EQ(FirstMissingPermission(rule, {"*"}), std::nullopt);
  EXPECT_EQ(FirstMissingPermission(Rule("*", "/", {"*"}, Requirement::kAuthenticated), {}),
            std::nullopt);
}

}  // namespace
}  // namespace portcullis::authz
