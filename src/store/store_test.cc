#include "store/store.h"

#include <gtest/gtest.h>

#include <string>

namespace portcullis::store {
namespace {

TEST(NormalizeUsernameTest, FoldsAsciiUppercaseOnly) {
  EXPECT_EQ(NormalizeUsername("Alice.Smith-42_Z@Example.COM"), "alice.smith-42_z@example.com");
}

TEST(NormalizeUsernameTest, KeepsBytesAtOrAbove0x80Unchanged) {
  // "ÄÖÜ" in UTF-8 stays as is; no locale-dependent folding.
  EXPECT_EQ(NormalizeUsername("\xc3\x84\xc3\x96\xc3\x9c"), "\xc3\x84\xc3\x96\xc3\x9c");
  EXPECT_EQ(NormalizeUsername("\xff"
                              "A"),
            "\xff"
            "a");
}

TEST(NormalizeUsernameTest, KeepsCharactersAdjacentToTheAsciiLetterRanges) {
  EXPECT_EQ(NormalizeUsername("@[`{"), "@[`{");
}

TEST(NormalizeUsernameTest, KeepsEmbeddedNulAndEmptyInput) {
  EXPECT_EQ(NormalizeUsername(std::string("A\0B", 3)), std::string("a\0b", 3));
  EXPECT_EQ(NormalizeUsername(""), "");
}

}  // namespace
}  // namespace portcullis::store
