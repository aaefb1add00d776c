#include "crypto/constant_time.h"

#include <gtest/gtest.h>

namespace portcullis::crypto {
namespace {

TEST(ConstantTimeEqualTest, EqualStringsCompareEqual) {
  EXPECT_TRUE(ConstantTimeEqual("", ""));
  EXPECT_TRUE(ConstantTimeEqual("secret", "secret"));
  EXPECT_TRUE(ConstantTimeEqual(std::string_view("a\0b", 3), std::string_view("a\0b", 3)));
}

TEST(ConstantTimeEqualTest, DifferentContentsOrLengthsCompareUnequal) {
  EXPECT_FALSE(ConstantTimeEqual("secret", "secreT"));
  EXPECT_FALSE(ConstantTimeEqual("secret", "secret1"));
  EXPECT_FALSE(ConstantTimeEqual("", "a"));
  EXPECT_FALSE(ConstantTimeEqual(std::string_view("a\0b", 3), std::string_view("a\0c", 3)));
}

}  // namespace
}  // namespace portcullis::crypto
