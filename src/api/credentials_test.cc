#include "api/credentials.h"

#include <gtest/gtest.h>

namespace portcullis::api {
namespace {

TEST(ParseBearerTest, AcceptsCaseInsensitiveScheme) {
  EXPECT_EQ(ParseBearer("Bearer abc.def.ghi"), std::optional<std::string_view>("abc.def.ghi"));
  EXPECT_EQ(ParseBearer("bearer abc"), std::optional<std::string_view>("abc"));
  EXPECT_EQ(ParseBearer("BEARER  abc "), std::optional<std::string_view>("abc"));
}

TEST(ParseBearerTest, RejectsOtherSchemesAndBadCharacters) {
  EXPECT_FALSE(ParseBearer("Basic dXNlcjpwYXNz"));
  EXPECT_FALSE(ParseBearer("Bearer"));
  EXPECT_FALSE(ParseBearer("Bearer "));
  EXPECT_FALSE(ParseBearer("Bearer a b"));
  EXPECT_FALSE(ParseBearer("Bearer a\"b"));
  EXPECT_FALSE(ParseBearer("Bearerabc"));
}

}  // namespace
}  // namespace portcullis::api
