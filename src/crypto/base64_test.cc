#include "crypto/base64.h"

#include <gtest/gtest.h>

#include <string>

namespace portcullis::crypto {
namespace {

// RFC 4648 §10 test vectors.
struct Vector {
  std::string_view plain;
  std::string_view base64;
};
constexpr Vector kRfc4648Vectors[] = {
    {"", ""},
    {"f", "Zg=="},
    {"fo", "Zm8="},
    {"foo", "Zm9v"},
    {"foob", "Zm9vYg=="},
    {"fooba", "Zm9vYmE="},
    {"foobar", "Zm9vYmFy"},
};

TEST(Base64Test, EncodesRfc4648Vectors) {
  for (const Vector& v : kRfc4648Vectors) EXPECT_EQ(Base64Encode(v.plain), v.base64) << v.plain;
}

TEST(Base64Test, DecodesRfc4648Vectors) {
  for (const Vector& v : kRfc4648Vectors) EXPECT_EQ(Base64Decode(v.base64), v.plain) << v.base64;
}

TEST(Base64UrlTest, EncodesRfc4648VectorsWithoutPadding) {
  EXPECT_EQ(Base64UrlEncode(""), "");
  EXPECT_EQ(Base64UrlEncode("f"), "Zg");
  EXPECT_EQ(Base64UrlEncode("fo"), "Zm8");
  EXPECT_EQ(Base64UrlEncode("foobar"), "Zm9vYmFy");
}

TEST(Base64UrlTest, UsesUrlAlphabet) {
  EXPECT_EQ(Base64UrlEncode("\xfb\xff\xbf"), "-_-_");
  EXPECT_EQ(Base64Encode("\xfb\xff\xbf"), "+/+/");
  EXPECT_EQ(Base64UrlDecode("-_-_"), "\xfb\xff\xbf");
}

TEST(Base64UrlTest, RoundTripsEveryLengthAndByte) {
  std::string data;
  for (int i = 0; i < 300; ++i) {
    data += static_cast<char>(i * 37 + 11);
    EXPECT_EQ(Base64UrlDecode(Base64UrlEncode(data)), data);
    EXPECT_EQ(Base64Decode(Base64Encode(data)), data);
  }
}

TEST(Base64UrlTest, RejectsPadding) {
  EXPECT_EQ(Base64UrlDecode("Zg=="), std::nullopt);
  EXPECT_EQ(Base64UrlDecode("Zm8="), std::nullopt);
}

TEST(Base64UrlTest, RejectsStandardAlphabetAndWhitespace) {
  EXPECT_EQ(Base64UrlDecode("+/+/"), std::nullopt);
  EXPECT_EQ(Base64UrlDecode("Zm9v Zg"), std::nullopt);
  EXPECT_EQ(Base64UrlDecode("Zm9v\n"), std::nullopt);
  EXPECT_EQ(Base64UrlDecode(std::string_view("Zm\0v", 4)), std::nullopt);
}

TEST(Base64UrlTest, RejectsImpossibleLength) {
  EXPECT_EQ(Base64UrlDecode("Z"), std::nullopt);
  EXPECT_EQ(Base64UrlDecode("Zm9vY"), std::nullopt);
}

TEST(Base64UrlTest, RejectsNonZeroTrailingBits) {
  EXPECT_EQ(Base64UrlDecode("Zg"), "f");
  EXPECT_EQ(Base64UrlDecode("Zh"), std::nullopt);  // 'h' sets a low bit that no byte uses.
  EXPECT_EQ(Base64UrlDecode("Zm8"), "fo");
  EXPECT_EQ(Base64UrlDecode("Zm9"), std::nullopt);
}

TEST(Base64Test, RejectsMissingOrMisplacedPadding) {
  EXPECT_EQ(Base64Decode("Zg"), std::nullopt);
  EXPECT_EQ(Base64Decode("Zg="), std::nullopt);
  EXPECT_EQ(Base64Decode("Z==="), std::nullopt);
  EXPECT_EQ(Base64Decode("===="), std::nullopt);
  EXPECT_EQ(Base64Decode("Zg==Zm9v"), std::nullopt);
  EXPECT_EQ(Base64Decode("Zm=v"), std::nullopt);
}

TEST(Base64Test, RejectsUrlAlphabetAndNonZeroTrailingBits) {
  EXPECT_EQ(Base64Decode("-_-_"), std::nullopt);
  EXPECT_EQ(Base64Decode("Zh=="), std::nullopt);
  EXPECT_EQ(Base64Decode("Zm9="), std::nullopt);
}

}  // namespace
}  // namespace portcullis::crypto
