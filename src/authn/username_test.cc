#include "authn/username.h"

#include <gtest/gtest.h>

#include <string>

namespace portcullis::authn {
namespace {

TEST(UsernameTest, AcceptsCommonShapes) {
  EXPECT_TRUE(IsValidUsername("admin"));
  EXPECT_TRUE(IsValidUsername("alice.smith@example.com"));
  EXPECT_TRUE(IsValidUsername("Bob_2-x"));
  EXPECT_TRUE(IsValidUsername(std::string(64, 'a')));
}

TEST(UsernameTest, RejectsEmptyLongAndOddCharacters) {
  EXPECT_FALSE(IsValidUsername(""));
  EXPECT_FALSE(IsValidUsername(std::string(65, 'a')));
  EXPECT_FALSE(IsValidUsername(".alice"));
  EXPECT_FALSE(IsValidUsername("al ice"));
  EXPECT_FALSE(IsValidUsername("alice\n"));
  EXPECT_FALSE(IsValidUsername("al\xC3\xA9"));
  EXPECT_FALSE(IsValidUsername("a:b"));
}

}  // namespace
}  // namespace portcullis::authn
