#include "api/credentials.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

namespace portcullis::api {
namespace {

TEST(ParseBearerTest, AcceptsCaseInsensitiveScheme) {
  EXPECT_EQ(ParseBearer("Bearer abc.def.ghi"), std::optional<std::string_view>("abc.def.ghi"));
  EXPECT_EQ(ParseBearer("bearer abc"), std::optional<std::string_view>("abc"));
  EXPECT_EQ(ParseBearer("BEARER  abc "), std::optional<std::string_view>("abc"));
}

// Every byte value at every position of the eight-byte blocks and of the tail agrees with the
// RFC 6750 b64token character set.
TEST(ParseBearerTest, EveryByteAtEveryPositionMatchesTheCharacterSet) {
  auto allowed = [](unsigned char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           std::string_view("-._~+/").find(static_cast<char>(c)) != std::string_view::npos;
  };
  for (int b = 0; b < 256; ++b) {
    const auto c = static_cast<unsigned char>(b);
    if (c == ' ' || c == '=') continue;  // trimmed / padding: covered above
    for (std::size_t at = 0; at < 20; ++at) {
      std::string token(20, 'a');
      token[at] = static_cast<char>(c);
      const std::string header = "Bearer " + token;
      EXPECT_EQ(ParseBearer(header).has_value(), allowed(c)) << "byte " << b << " at " << at;
    }
  }
}

TEST(ParseBearerTest, RejectsOtherSchemesAndBadCharacters) {
  EXPECT_FALSE(ParseBearer("Basic dXNlcjpwYXNz"));
  EXPECT_FALSE(ParseBearer("Bearer"));
  EXPECT_FALSE(ParseBearer("Bearer "));
  EXPECT_FALSE(ParseBearer("Bearer a b"));
  EXPECT_FALSE(ParseBearer("Bearer a\"b"));
  EXPECT_FALSE(ParseBearer("Bearerabc"));
  // RFC 6750 b64token: "=" only as trailing padding, at least one other character first.
  EXPECT_EQ(ParseBearer("Bearer abc=="), std::optional<std::string_view>("abc=="));
  EXPECT_EQ(ParseBearer("Bearer A-Z._~+/09"), std::optional<std::string_view>("A-Z._~+/09"));
  EXPECT_FALSE(ParseBearer("Bearer ab=c"));
  EXPECT_FALSE(ParseBearer("Bearer ==="));
  EXPECT_FALSE(
      ParseBearer("Bearer a\x80"
                  "b"));
  EXPECT_FALSE(ParseBearer(std::string_view("Bearer a\0b", 9)));
}

TEST(ParseDpopAuthorizationTest, AcceptsTheDpopSchemeOnly) {
  EXPECT_EQ(ParseDpopAuthorization("DPoP abc.def.ghi"), "abc.def.ghi");
  EXPECT_EQ(ParseDpopAuthorization("dpop  abc.def.ghi "), "abc.def.ghi");
  EXPECT_FALSE(ParseDpopAuthorization("Bearer abc.def.ghi").has_value());
  EXPECT_FALSE(ParseDpopAuthorization("DPoP").has_value());
  EXPECT_FALSE(ParseDpopAuthorization("DPoP a,b").has_value());
  EXPECT_FALSE(ParseDpopAuthorization("DPoPX abc").has_value());
  EXPECT_FALSE(ParseBearer("DPoP abc.def.ghi").has_value());
}

TEST(ParseApiKeyAuthorizationTest, AcceptsCaseInsensitiveSchemeAndTrimsSpaces) {
  EXPECT_EQ(ParseApiKeyAuthorization("ApiKey pcs_x"), std::optional<std::string_view>("pcs_x"));
  EXPECT_EQ(ParseApiKeyAuthorization("apikey pcs_x"), std::optional<std::string_view>("pcs_x"));
  EXPECT_EQ(ParseApiKeyAuthorization("APIKEY   pcs_x  "), std::optional<std::string_view>("pcs_x"));
  // The scheme alone is an ApiKey credential with an empty (malformed) key: 401, not Bearer.
  EXPECT_EQ(ParseApiKeyAuthorization("ApiKey"), std::optional<std::string_view>(""));
}

TEST(ParseApiKeyAuthorizationTest, OtherSchemesAreNotApiKeys) {
  EXPECT_FALSE(ParseApiKeyAuthorization(""));
  EXPECT_FALSE(ParseApiKeyAuthorization("Bearer pcs_x"));
  EXPECT_FALSE(ParseApiKeyAuthorization("Basic dXNlcjpwYXNz"));
  EXPECT_FALSE(ParseApiKeyAuthorization("ApiKeys pcs_x"));
  EXPECT_FALSE(ParseApiKeyAuthorization("ApiKeypcs_x"));
}

}  // namespace
}  // namespace portcullis::api
