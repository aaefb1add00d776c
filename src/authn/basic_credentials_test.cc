#include "authn/basic_credentials.h"

#include <gtest/gtest.h>

#include "crypto/base64.h"

namespace portcullis::authn {
namespace {

std::string Basic(std::string_view plain) { return "Basic " + crypto::Base64Encode(plain); }

TEST(BasicCredentialsTest, SplitsAtTheFirstColon) {
  auto c = ParseBasicCredentials(Basic("alice:pa:ss word"), false);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->user, "alice");
  EXPECT_EQ(c->password.reveal(), "pa:ss word");
}

TEST(BasicCredentialsTest, SchemeIsCaseInsensitive) {
  EXPECT_TRUE(ParseBasicCredentials("bAsIc " + crypto::Base64Encode("a:b"), false));
}

TEST(BasicCredentialsTest, ClientCredentialsAreFormDecoded) {
  auto c = ParseBasicCredentials(Basic("my%20client:s%2Bcr+t"), true);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->user, "my client");
  EXPECT_EQ(c->password.reveal(), "s+cr t");
  EXPECT_FALSE(ParseBasicCredentials(Basic("client:bad%2"), true));
  EXPECT_FALSE(ParseBasicCredentials(Basic("client:bad%zz"), true));
}

TEST(BasicCredentialsTest, RejectsMalformedInput) {
  EXPECT_FALSE(ParseBasicCredentials("Bearer abc", false));
  EXPECT_FALSE(ParseBasicCredentials("Basic", false));
  EXPECT_FALSE(ParseBasicCredentials("Basic !!!", false));
  EXPECT_FALSE(ParseBasicCredentials(Basic("no-colon"), false));
  EXPECT_FALSE(ParseBasicCredentials(Basic(":password"), false));
  EXPECT_FALSE(ParseBasicCredentials(Basic("a\nb:c"), false));
  EXPECT_FALSE(ParseBasicCredentials("Basic " + std::string(5000, 'A'), false));
}

TEST(BasicCredentialsTest, EmptyPasswordIsAllowedByTheParser) {
  auto c = ParseBasicCredentials(Basic("default:"), true);
  ASSERT_TRUE(c);
  EXPECT_TRUE(c->password.empty());
}

}  // namespace
}  // namespace portcullis::authn
