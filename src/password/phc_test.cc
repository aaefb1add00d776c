#include "password/phc.h"

#include <gtest/gtest.h>

#include <string>

namespace portcullis::password {
namespace {

constexpr std::string_view kSalt = "c29tZXNhbHRzYWx0";  // "somesaltsalt", 12 bytes
constexpr std::string_view kHash = "1R1yXZhnNQBF1AsC098iQlFVMr+mfdHXbIhuNJPYGQM";  // 32 bytes

std::string Phc(std::string_view middle, std::string_view salt = kSalt,
                std::string_view hash = kHash) {
  return std::string(middle) + "$" + std::string(salt) + "$" + std::string(hash);
}

TEST(PhcTest, ParsesEveryField) {
  auto phc = ParsePhc(Phc("$argon2id$v=19$m=1024,t=2,p=4"));
  ASSERT_TRUE(phc.has_value());
  EXPECT_EQ(phc->algorithm, "argon2id");
  EXPECT_EQ(phc->version, 19);
  EXPECT_EQ(phc->m, 1024u);
  EXPECT_EQ(phc->t, 2u);
  EXPECT_EQ(phc->p, 4u);
  EXPECT_EQ(phc->salt_b64, kSalt);
  EXPECT_EQ(phc->hash_b64, kHash);
}

TEST(PhcTest, RoundTripsThroughFormat) {
  const std::string valid[] = {
      Phc("$argon2id$v=19$m=19456,t=2,p=1"),
      Phc("$argon2i$v=19$m=8,t=1,p=1"),
      Phc("$argon2d$v=16$m=4194304,t=1024,p=255"),
      // Debian argon2 CLI, 8-byte salt.
      "$argon2id$v=19$m=32768,t=2,p=1$c2FsdHNhbHQ$vUDxuGKexN3YUGwufDyomkTKDteOupQ90Tq2tLRhUy8",
      // python3-argon2 defaults: p=8, 16-byte hash.
      "$argon2id$v=19$m=102400,t=2,p=8$hMv0Br9+tZPa4U+Dv4Y6DA$o3FSlaYHd4gABRdj6zJttg",
  };
  for (const std::string& s : valid) {
    auto phc = ParsePhc(s);
    ASSERT_TRUE(phc.has_value()) << s;
    EXPECT_EQ(FormatPhc(*phc), s);
    EXPECT_EQ(ParsePhc(FormatPhc(*phc)), phc);
  }
}

TEST(PhcTest, RejectsAnythingButTheExactLayout) {
  const std::string invalid[] = {
      "",
      "argon2id$v=19$m=1024,t=2,p=4$c29tZXNhbHRzYWx0$" + std::string(kHash),
      Phc("$Argon2id$v=19$m=1024,t=2,p=4"),
      Phc("$argon2$v=19$m=1024,t=2,p=4"),
      Phc("$argon2x$v=19$m=1024,t=2,p=4"),
      Phc("$scrypt$v=19$m=1024,t=2,p=4"),
      Phc("$argon2id$m=1024,t=2,p=4"),              // no version
      Phc("$argon2id$v=18$m=1024,t=2,p=4"),         // unknown version
      Phc("$argon2id$v=019$m=1024,t=2,p=4"),        // leading zero
      Phc("$argon2id$v=19$m=01024,t=2,p=4"),        // leading zero
      Phc("$argon2id$v=19$m=+1024,t=2,p=4"),        // sign
      Phc("$argon2id$v=19$m=-1024,t=2,p=4"),        // sign
      Phc("$argon2id$v=19$m=0,t=2,p=1"),            // m below 8 * p
      Phc("$argon2id$v=19$m=31,t=2,p=4"),           // m below 8 * p
      Phc("$argon2id$v=19$m=4194305,t=2,p=1"),      // m above the bound
      Phc("$argon2id$v=19$m=99999999999,t=2,p=1"),  // overflow
      Phc("$argon2id$v=19$m=1024,t=0,p=4"),
      Phc("$argon2id$v=19$m=1024,t=1025,p=4"),
      Phc("$argon2id$v=19$m=1024,t=2,p=0"),
      Phc("$argon2id$v=19$m=4096,t=2,p=256"),
      Phc("$argon2id$v=19$t=2,m=1024,p=4"),  // order
      Phc("$argon2id$v=19$m=1024,p=4,t=2"),
      Phc("$argon2id$v=19$m=1024,t=2"),                            // missing p
      Phc("$argon2id$v=19$m=1024,t=2,p=4,keyid=abc"),              // extra parameter
      Phc("$argon2id$v=19$m=1024,t=2,p=4,data=abc"),               // extra parameter
      Phc("$argon2id$v=19$m=1024, t=2,p=4"),                       // space
      Phc("$argon2id$v=19$m=1024,t=2,p=4", "c29tZXNhbHRzYWx0="),   // padding
      Phc("$argon2id$v=19$m=1024,t=2,p=4", "c29tZXNhbHRzYWx-"),    // base64url alphabet
      Phc("$argon2id$v=19$m=1024,t=2,p=4", "c2FsdHNhbHR"),         // non-zero trailing bits
      Phc("$argon2id$v=19$m=1024,t=2,p=4", "c2FsdA"),              // 4-byte salt
      Phc("$argon2id$v=19$m=1024,t=2,p=4", std::string(88, 'A')),  // 66-byte salt
      Phc("$argon2id$v=19$m=1024,t=2,p=4", "c29tZXNhbHRzYWx0c"),   // length 17: not whole bytes
      Phc("$argon2id$v=19$m=1024,t=2,p=4", kSalt, "AAAAAAAAAAAAAAAAAAAA"),  // 15-byte hash
      Phc("$argon2id$v=19$m=1024,t=2,p=4", kSalt, std::string(88, 'A')),    // 66-byte hash
      Phc("$argon2id$v=19$m=1024,t=2,p=4", kSalt, ""),
      Phc("$argon2id$v=19$m=1024,t=2,p=4", "", kHash),
      Phc("$argon2id$v=19$m=1024,t=2,p=4") + "$",
      Phc("$argon2id$v=19$m=1024,t=2,p=4") + " ",
      Phc("$argon2id$v=19$m=1024,t=2,p=4") + "\n",
      Phc("$argon2id$v=19$m=1024,t=2,p=4") + std::string(1, '\0'),
      "$argon2id$v=19$m=1024,t=2,p=4$" + std::string(kSalt),  // no hash
  };
  for (const std::string& s : invalid) {
    EXPECT_FALSE(ParsePhc(s).has_value()) << s;
  }
}

TEST(PhcTest, EveryTruncationIsRejected) {
  const std::string valid = Phc("$argon2id$v=19$m=1024,t=2,p=4");
  ASSERT_TRUE(ParsePhc(valid).has_value());
  // Cutting inside the hash can leave a shorter valid one (16 bytes or more, canonical bits), so
  // only cuts that leave fewer than 22 hash characters must all fail.
  const std::size_t must_fail_below = valid.size() - kHash.size() + 22;
  for (std::size_t n = 0; n < must_fail_below; ++n) {
    EXPECT_FALSE(ParsePhc(std::string_view(valid).substr(0, n)).has_value()) << n;
  }
}

TEST(PhcTest, DecodedBase64Size) {
  EXPECT_EQ(DecodedBase64Size(11), 8u);
  EXPECT_EQ(DecodedBase64Size(22), 16u);
  EXPECT_EQ(DecodedBase64Size(43), 32u);
}

}  // namespace
}  // namespace portcullis::password
