#include "store/sql/sql_common.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>

namespace portcullis::store::sql {
namespace {

TEST(PrefixUpperBoundTest, IncrementsTheLastCodePointOfUtf8) {
  EXPECT_EQ(PrefixUpperBound("al"), std::optional<std::string>("am"));
  EXPECT_EQ(PrefixUpperBound("a\x7f"), std::optional<std::string>("a\xc2\x80"));
  EXPECT_EQ(PrefixUpperBound("\xc3\xa4"), std::optional<std::string>("\xc3\xa5"));  // ä -> å
  // U+D7FF is followed by U+E000: surrogates are never produced.
  EXPECT_EQ(PrefixUpperBound("\xed\x9f\xbf"), std::optional<std::string>("\xee\x80\x80"));
  // U+10FFFF carries over to the previous code point; nothing is above a lone one.
  EXPECT_EQ(PrefixUpperBound("a\xf4\x8f\xbf\xbf"), std::optional<std::string>("b"));
  EXPECT_EQ(PrefixUpperBound("\xf4\x8f\xbf\xbf"), std::nullopt);
  EXPECT_EQ(PrefixUpperBound(""), std::nullopt);
}

TEST(PrefixUpperBoundTest, OtherBytesIncrementBytewise) {
  EXPECT_EQ(PrefixUpperBound("\xff\xff"), std::nullopt);
  EXPECT_EQ(PrefixUpperBound("a\xff"), std::optional<std::string>("b"));
  EXPECT_EQ(PrefixUpperBound("\xc3"), std::optional<std::string>("\xc4"));
}

TEST(PageFetchLimitTest, AsksForOneMoreRow) {
  EXPECT_EQ(PageFetchLimit(1), 2);
  EXPECT_EQ(PageFetchLimit(500), 501);
}

}  // namespace
}  // namespace portcullis::store::sql
