#include "crypto/sha256.h"

#include <gtest/gtest.h>

#include <string>

namespace portcullis::crypto {
namespace {

std::string Hex(std::string_view bytes) {
  constexpr std::string_view kHex = "0123456789abcdef";
  std::string out;
  for (char c : bytes) {
    const auto b = static_cast<unsigned char>(c);
    out += kHex[b >> 4];
    out += kHex[b & 0x0f];
  }
  return out;
}

TEST(Sha256Test, MatchesFips180Vectors) {
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(Sha256Test, RawDigestMatchesHex) {
  const auto digest = Sha256("abc");
  EXPECT_EQ(Hex({reinterpret_cast<const char*>(digest.data()), digest.size()}), Sha256Hex("abc"));
}

// RFC 4231 test cases 1 and 2.
TEST(HmacSha256Test, MatchesRfc4231Vectors) {
  EXPECT_EQ(Hex(HmacSha256(std::string(20, '\x0b'), "Hi There")),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
  EXPECT_EQ(Hex(HmacSha256("Jefe", "what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

}  // namespace
}  // namespace portcullis::crypto
