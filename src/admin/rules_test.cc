#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "admin/directory.h"

namespace portcullis::admin {
namespace {

using Strings = std::vector<std::string>;

TEST(RoleNameTest, LowercaseDigitsAndPunctuationAreAccepted) {
  for (const char* name : {"admin", "user", "editor", "a", "9", "team.ops-2_x", "a-"}) {
    EXPECT_TRUE(IsValidRoleName(name)) << name;
  }
  EXPECT_TRUE(IsValidRoleName(std::string(64, 'r')));
}

TEST(RoleNameTest, MalformedNamesAreRejected) {
  for (const char* name :
       {"", "Admin", "-x", ".x", "_x", "a b", "a/b", "a:b", "a*", "r\xc3\xb4le", "a\n"}) {
    EXPECT_FALSE(IsValidRoleName(name)) << name;
  }
  EXPECT_FALSE(IsValidRoleName(std::string(65, 'r')));
}

struct EmailCase {
  std::string email;
  bool valid;
};

TEST(EmailTest, AcceptsPlainAndInternationalAddressesAndRejectsJunk) {
  const std::vector<EmailCase> cases = {
      {"a@b.c", true},
      {"alice@example.com", true},
      {"first.last+tag@sub.example.org", true},
      {"j\xc3\xb6rg@b\xc3\xbc"
       "cher.de",
       true},  // jörg@bücher.de
      {"\xe7\x94\xa8\xe6\x88\xb7@\xe4\xbe\x8b\xe5\xad\x90.\xe5\x85\xac\xe5\x8f\xb8", true},
      {"", false},
      {"ab", false},
      {"@b.c", false},        // empty local part
      {"a@b", false},         // no dot in the domain
      {"a.b@c", false},       // the dot must be in the domain
      {"a@@b.c", false},      // two @
      {"a@b@c.d", false},     // two @
      {"a b@c.d", false},     // space
      {" a@b.c", false},      // leading space
      {"a@b.c ", false},      // trailing space
      {"a\t@b.c", false},     // tab
      {"a@b.c\n", false},     // newline
      {"a\r\n@b.c", false},   // CRLF (header injection)
      {"\"a\"@b.c", false},   // double quotes
      {"o'hara@b.c", false},  // single quote
      {"a@b.c\x7f", false},   // DEL
      {std::string("a\0b@c.d", 7), false},
      {"a\xc2\xa0"
       "b@c.d",
       false},                       // U+00A0 no-break space
      {"a\xe2\x80\xa8@b.c", false},  // U+2028 line separator
      {"a\xe3\x80\x80@b.c", false},  // U+3000 ideographic space
      {"a\xe2\x80\x8b@b.c", false},  // U+200B zero-width space
      {"a\xc2\x85@b.c", false},      // U+0085 next line (C1 control)
      {"\xe2\x80\x9c"
       "a\xe2\x80\x9d@b.c",
       false},                      // curly quotes
      {"\xff@b.c", false},          // invalid UTF-8
      {"\xc0\xaf@b.c", false},      // overlong '/'
      {"\xed\xa0\x80@b.c", false},  // surrogate
      {"a@b.c\xc3", false},         // truncated sequence
  };
  for (const EmailCase& c : cases) {
    EXPECT_EQ(IsValidEmail(c.email), c.valid) << "\"" << c.email << "\"";
  }
}

TEST(EmailTest, LengthIsLimitedTo254Bytes) {
  const std::string domain = "@example.com";
  EXPECT_TRUE(IsValidEmail(std::string(254 - domain.size(), 'a') + domain));
  EXPECT_FALSE(IsValidEmail(std::string(255 - domain.size(), 'a') + domain));
}

TEST(UnheldPermissionsTest, StarGrantsEverything) {
  EXPECT_EQ(UnheldPermissions({"*"}, {"users:write", "roles:*", "*"}), Strings{});
}

TEST(UnheldPermissionsTest, SegmentWildcardGrantsOnlyItsResource) {
  EXPECT_EQ(UnheldPermissions({"articles:*"}, {"articles:read", "articles:*", "users:read"}),
            Strings{"users:read"});
}

TEST(UnheldPermissionsTest, HoldingOneActionDoesNotGrantTheWildcard) {
  EXPECT_EQ(UnheldPermissions({"articles:read"}, {"articles:*", "*"}),
            (Strings{"*", "articles:*"}));
}

TEST(UnheldPermissionsTest, ResourceWildcardGrantsTheActionOnEveryResource) {
  EXPECT_EQ(UnheldPermissions({"*:read"}, {"users:read", "users:write", "roles:read"}),
            Strings{"users:write"});
}

TEST(UnheldPermissionsTest, NothingHeldGrantsNothingAndResultIsSortedUnique) {
  EXPECT_EQ(UnheldPermissions({}, {"b:x", "a:x", "b:x"}), (Strings{"a:x", "b:x"}));
  EXPECT_EQ(UnheldPermissions({}, {}), Strings{});
}

TEST(SortedUniqueTest, SortsAndDropsDuplicates) {
  EXPECT_EQ(SortedUnique({"user", "admin", "user", "editor"}),
            (Strings{"admin", "editor", "user"}));
}

TEST(ActorTest, CliHoldsEverythingAndIsNoUser) {
  Actor cli = Actor::Cli();
  EXPECT_EQ(cli.id, "cli");
  EXPECT_FALSE(cli.is_user);
  EXPECT_EQ(cli.permissions, Strings{"*"});
}

}  // namespace
}  // namespace portcullis::admin
