#include "http/encoding.h"

#include <gtest/gtest.h>

#include <string>

namespace portcullis::http {
namespace {

TEST(PercentDecodeTest, DecodesEscapesInEitherCase) {
  EXPECT_EQ(PercentDecode("a%2Fb%2fc", false), "a/b/c");
}

TEST(PercentDecodeTest, PlusIsSpaceOnlyInFormMode) {
  EXPECT_EQ(PercentDecode("a+b", true), "a b");
  EXPECT_EQ(PercentDecode("a+b", false), "a+b");
}

TEST(PercentDecodeTest, RejectsTruncatedOrNonHexEscapes) {
  EXPECT_EQ(PercentDecode("%", true), std::nullopt);
  EXPECT_EQ(PercentDecode("%4", true), std::nullopt);
  EXPECT_EQ(PercentDecode("ab%", true), std::nullopt);
  EXPECT_EQ(PercentDecode("%zz", true), std::nullopt);
  EXPECT_EQ(PercentDecode("%4g", true), std::nullopt);
}

TEST(IsValidUtf8Test, AcceptsWellFormedText) {
  EXPECT_TRUE(IsValidUtf8(""));
  EXPECT_TRUE(IsValidUtf8("plain"));
  EXPECT_TRUE(IsValidUtf8("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"));
}

TEST(IsValidUtf8Test, RejectsMalformedSequences) {
  EXPECT_FALSE(IsValidUtf8("\xff"));
  EXPECT_FALSE(IsValidUtf8("\xc3"));              // truncated
  EXPECT_FALSE(IsValidUtf8("\xc0\xaf"));          // overlong '/'
  EXPECT_FALSE(IsValidUtf8("\xed\xa0\x80"));      // surrogate
  EXPECT_FALSE(IsValidUtf8("\xf4\x90\x80\x80"));  // above U+10FFFF
  EXPECT_FALSE(IsValidUtf8("\x80"));              // lone continuation byte
}

// The eight-bytes-at-a-time ASCII skip must hand every non-ASCII byte, wherever it falls, to the
// sequence checks.
TEST(IsValidUtf8Test, LongAsciiRunsAroundEveryPosition) {
  const std::string ascii(40, 'a');
  for (std::size_t at = 0; at <= ascii.size(); ++at) {
    const std::string head = ascii.substr(0, at), tail = ascii.substr(at);
    EXPECT_TRUE(IsValidUtf8(head + "\xc3\xa9" + tail)) << at;
    EXPECT_TRUE(IsValidUtf8(head + "\xf0\x9f\x98\x80" + tail)) << at;
    EXPECT_FALSE(IsValidUtf8(head + "\xff" + tail)) << at;
    EXPECT_FALSE(IsValidUtf8(head + "\x80" + tail)) << at;
    EXPECT_FALSE(IsValidUtf8(head + "\xc0\xaf" + tail)) << at;
    EXPECT_FALSE(IsValidUtf8(head + "\xc3")) << at;  // truncated at the very end
  }
  EXPECT_TRUE(IsValidUtf8(std::string(64, 'z')));
}

TEST(PercentDecodeTest, LongValuesDecodeWholeAndEscapesAtTheEdges) {
  const std::string token(500, 'x');
  EXPECT_EQ(PercentDecode(token, true), token);
  EXPECT_EQ(PercentDecode("%41" + token + "%42", true), "A" + token + "B");
  EXPECT_EQ(PercentDecode(token + "+", true), token + " ");
  EXPECT_EQ(PercentDecode(token + "+", false), token + "+");
  EXPECT_EQ(PercentDecode(token + "%4", true), std::nullopt);
  EXPECT_EQ(PercentDecode("%00", false), std::string(1, '\0'));
}

}  // namespace
}  // namespace portcullis::http
