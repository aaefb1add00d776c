#include "authn/totp.h"

#include <gtest/gtest.h>

#include <set>

#include "crypto/random.h"
#include "crypto/sha256.h"

namespace portcullis::authn {
namespace {

// RFC 4226 Appendix D / RFC 6238 Appendix B (SHA-1 seed).
constexpr std::string_view kSeed = "12345678901234567890";

TEST(Hotp, Rfc4226AppendixD) {
  const char* expected[] = {"755224", "287082", "359152", "969429", "338314",
                            "254676", "287922", "162583", "399871", "520489"};
  for (std::uint64_t i = 0; i < 10; ++i) EXPECT_EQ(Hotp(kSeed, i), expected[i]) << i;
}

TEST(Totp, Rfc6238AppendixBSha1) {
  // The RFC's 8-digit values; 8 digits of the same HOTP.
  struct Case {
    UnixSeconds t;
    const char* code;
  };
  for (Case c : {Case{59, "94287082"}, Case{1111111109, "07081804"}, Case{1111111111, "14050471"},
                 Case{1234567890, "89005924"}, Case{2000000000, "69279037"},
                 Case{20000000000, "65353130"}}) {
    EXPECT_EQ(Hotp(kSeed, static_cast<std::uint64_t>(TotpStep(c.t)), 8), c.code) << c.t;
  }
}

TEST(Totp, WindowIsPlusMinusOneStep) {
  const UnixSeconds now = 1'700'000'000;
  const std::int64_t step = TotpStep(now);
  for (std::int64_t d : {-1, 0, 1}) {
    TotpCheck c = VerifyTotp(kSeed, Hotp(kSeed, static_cast<std::uint64_t>(step + d)), now, 0);
    EXPECT_EQ(c.result, TotpResult::kOk) << d;
    EXPECT_EQ(c.step, step + d);
  }
  for (std::int64_t d : {-2, 2}) {
    EXPECT_EQ(VerifyTotp(kSeed, Hotp(kSeed, static_cast<std::uint64_t>(step + d)), now, 0).result,
              TotpResult::kWrong)
        << d;
  }
}

TEST(Totp, EachCodeIsAcceptedOnce) {
  const UnixSeconds now = 1'700'000'000;
  const std::int64_t step = TotpStep(now);
  const std::string code = Hotp(kSeed, static_cast<std::uint64_t>(step));
  EXPECT_EQ(VerifyTotp(kSeed, code, now, step - 1).result, TotpResult::kOk);
  EXPECT_EQ(VerifyTotp(kSeed, code, now, step).result, TotpResult::kReplayed);
  // An older code after a newer one was used is refused too.
  EXPECT_EQ(VerifyTotp(kSeed, Hotp(kSeed, static_cast<std::uint64_t>(step - 1)), now, step).result,
            TotpResult::kReplayed);
}

TEST(Totp, MalformedCodes) {
  for (const char* code :
       {"", "12345", "1234567", "12a456", " 123456", "123456 ", "１２３４５６"}) {
    EXPECT_EQ(VerifyTotp(kSeed, code, 1'700'000'000, 0).result, TotpResult::kMalformed) << code;
  }
}

TEST(Base32, Rfc4648Vectors) {
  EXPECT_EQ(Base32Encode(""), "");
  EXPECT_EQ(Base32Encode("f"), "MY");
  EXPECT_EQ(Base32Encode("fo"), "MZXQ");
  EXPECT_EQ(Base32Encode("foo"), "MZXW6");
  EXPECT_EQ(Base32Encode("foob"), "MZXW6YQ");
  EXPECT_EQ(Base32Encode("fooba"), "MZXW6YTB");
  EXPECT_EQ(Base32Encode("foobar"), "MZXW6YTBOI");
  EXPECT_EQ(Base32Decode("MZXW6YTBOI======"), "foobar");
  EXPECT_EQ(Base32Decode("mzxw6ytboi"), "foobar");
  EXPECT_FALSE(Base32Decode("MZXW1").has_value());
  EXPECT_EQ(Base32Decode(Base32Encode(kSeed)), std::string(kSeed));
}

TEST(Totp, OtpauthUriEncodesLabelParts) {
  EXPECT_EQ(OtpauthUri("Acme Corp", "alice@example.com", "foobar"),
            "otpauth://totp/Acme%20Corp:alice%40example.com?secret=MZXW6YTBOI&issuer=Acme%20Corp"
            "&algorithm=SHA1&digits=6&period=30");
  EXPECT_NE(OtpauthUri("a:b", "c", "x").find("a%3Ab:c"), std::string::npos);
}

TEST(Totp, QrSvgIsAStandaloneSvg) {
  Result<std::string> svg = QrSvg("otpauth://totp/X:y?secret=MZXW6YTBOI", "Scan <me>");
  ASSERT_TRUE(svg.ok());
  EXPECT_EQ(svg->rfind("<svg ", 0), 0u);
  EXPECT_NE(svg->find("<path d=\"M"), std::string::npos);
  EXPECT_NE(svg->find("<title>Scan &lt;me&gt;</title>"), std::string::npos);
  EXPECT_EQ(svg->find("href"), std::string::npos);  // no external references
}

TEST(Totp, SecretsAndRecoveryCodes) {
  crypto::Random& random = crypto::OsRandomInstance();
  EXPECT_EQ(NewTotpSecret(random).size(), kTotpSecretBytes);
  EXPECT_NE(NewTotpSecret(random), NewTotpSecret(random));
  std::vector<std::string> codes = NewRecoveryCodes(random);
  ASSERT_EQ(codes.size(), 10u);
  EXPECT_EQ(std::set<std::string>(codes.begin(), codes.end()).size(), 10u);
  for (const std::string& c : codes) {
    ASSERT_EQ(c.size(), 11u);
    EXPECT_EQ(c[5], '-');
  }
  EXPECT_EQ(NormalizeRecoveryCode("ABCDE-fghjk "), "abcdefghjk");
  EXPECT_EQ(LegacyRecoveryCodeHash("abcde-fghjk"), LegacyRecoveryCodeHash("ABCDEFGHJK"));
  EXPECT_EQ(LegacyRecoveryCodeHash("abcde-fghjk").size(), 64u);
}

// Threat model F7: the stored form is keyed, so the database alone does not allow offline
// guessing. Known answer computed independently (Python hmac/hashlib):
//   key = HMAC-SHA-256(secret, "portcullis recovery-code v1")
//   "k1:" + hex(HMAC-SHA-256(key, hex(SHA-256("abcdefghjk"))))
TEST(RecoveryCodeHash, KeyedHashMatchesKnownAnswer) {
  EXPECT_EQ(LegacyRecoveryCodeHash("abcde-fghjk"),
            "22f3f00d7f9cfe6eeefa9b71bdcb093a9080fcf4981d2dbf932648fa15a2d793");
  EXPECT_EQ(KeyedRecoveryCodeHash(kSeed, "abcde-fghjk"),
            "k1:5286ddf1ba389f1f121cffef2b91d76bdb0c041f8eff09c75272d231460237a7");
}

TEST(RecoveryCodeHash, KeyedHashIsNotTheUnkeyedSha256) {
  const std::string keyed = KeyedRecoveryCodeHash(kSeed, "abcde-fghjk");
  ASSERT_EQ(keyed.size(), 67u);
  EXPECT_EQ(keyed.substr(0, 3), "k1:");
  EXPECT_NE(keyed.substr(3), LegacyRecoveryCodeHash("abcde-fghjk"));
  EXPECT_NE(keyed.substr(3), crypto::Sha256Hex("abcde-fghjk"));
  EXPECT_NE(keyed.substr(3), crypto::Sha256Hex("abcdefghjk"));
}

TEST(RecoveryCodeHash, KeyedHashIgnoresCaseDashesAndSpaces) {
  EXPECT_EQ(KeyedRecoveryCodeHash(kSeed, "abcde-fghjk"),
            KeyedRecoveryCodeHash(kSeed, " ABCDE FGHJK"));
  EXPECT_NE(KeyedRecoveryCodeHash(kSeed, "abcde-fghjk"),
            KeyedRecoveryCodeHash(kSeed, "abcde-fghjm"));
}

TEST(RecoveryCodeHash, KeyedHashDiffersPerTotpSecret) {
  crypto::Random& random = crypto::OsRandomInstance();
  const std::string a = NewTotpSecret(random);
  const std::string b = NewTotpSecret(random);
  EXPECT_NE(KeyedRecoveryCodeHash(a, "abcde-fghjk"), KeyedRecoveryCodeHash(b, "abcde-fghjk"));
  EXPECT_EQ(KeyedRecoveryCodeHash(a, "abcde-fghjk"), KeyedRecoveryCodeHash(a, "abcde-fghjk"));
}

TEST(RecoveryCodeHash, WrappingALegacyHashGivesTheKeyedHash) {
  EXPECT_EQ(WrapLegacyRecoveryCodeHash(kSeed, LegacyRecoveryCodeHash("abcde-fghjk")),
            KeyedRecoveryCodeHash(kSeed, "abcde-fghjk"));
}

}  // namespace
}  // namespace portcullis::authn
