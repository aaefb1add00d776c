#include "crypto/random.h"

#include <gtest/gtest.h>

#include <array>
#include <map>
#include <regex>
#include <set>
#include <string>

#include "crypto/base64.h"
#include "crypto/fake_random.h"

namespace portcullis::crypto {
namespace {

TEST(OsRandomTest, FillsDistinctBuffers) {
  std::array<std::uint8_t, 32> a{}, b{};
  OsRandomInstance().Fill(a);
  OsRandomInstance().Fill(b);
  EXPECT_NE(a, b);
}

TEST(FakeRandomTest, SameSeedGivesSameStream) {
  FakeRandom a(7), b(7), c(8);
  EXPECT_EQ(RandomUuid(a), RandomUuid(b));
  EXPECT_NE(RandomUuid(a), RandomUuid(c));
}

TEST(FakeRandomTest, QueuedBytesComeFirst) {
  FakeRandom random;
  random.QueueBytesForTesting("\x01\x02");
  std::array<std::uint8_t, 2> out{};
  random.Fill(out);
  EXPECT_EQ(out, (std::array<std::uint8_t, 2>{1, 2}));
}

TEST(RandomAlphanumericTest, HasRequestedLengthAndAlphabet) {
  const std::string s = RandomAlphanumeric(OsRandomInstance(), 43);
  EXPECT_TRUE(std::regex_match(s, std::regex("[A-Za-z0-9]{43}"))) << s;
  const std::string lower = RandomLowerAlphanumeric(OsRandomInstance(), 12);
  EXPECT_TRUE(std::regex_match(lower, std::regex("[a-z0-9]{12}"))) << lower;
  EXPECT_EQ(RandomAlphanumeric(OsRandomInstance(), 0), "");
}

TEST(RandomAlphanumericTest, RejectsBytesThatWouldBias) {
  // 248..255 would make the first 8 characters more likely; they must be skipped.
  FakeRandom random;
  random.QueueBytesForTesting("\xf8\xff\x01\x3d");
  EXPECT_EQ(RandomAlphanumeric(random, 2), "B9");
  FakeRandom lower;
  lower.QueueBytesForTesting("\xfc\xff\x01\x23");
  EXPECT_EQ(RandomLowerAlphanumeric(lower, 2), "b9");
}

TEST(RandomAlphanumericTest, EveryCharacterAppearsWithRoughlyEqualFrequency) {
  FakeRandom random(3);
  std::map<char, int> counts;
  for (char c : RandomAlphanumeric(random, 62 * 1000)) ++counts[c];
  ASSERT_EQ(counts.size(), 62u);
  for (const auto& [c, n] : counts) {
    EXPECT_GT(n, 850) << c;
    EXPECT_LT(n, 1150) << c;
  }
}

TEST(RandomBase64UrlTest, EncodesRequestedBytes) {
  const std::string s = RandomBase64Url(OsRandomInstance(), 32);
  EXPECT_EQ(s.size(), 43u);
  ASSERT_TRUE(Base64UrlDecode(s).has_value());
  EXPECT_EQ(Base64UrlDecode(s)->size(), 32u);
}

TEST(RandomUuidTest, IsVersion4LowerCase) {
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) {
    const std::string uuid = RandomUuid(OsRandomInstance());
    EXPECT_TRUE(std::regex_match(
        uuid, std::regex("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")))
        << uuid;
    seen.insert(uuid);
  }
  EXPECT_EQ(seen.size(), 100u);
}

}  // namespace
}  // namespace portcullis::crypto
