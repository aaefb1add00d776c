#include "crypto/master_key.h"

#include <gtest/gtest.h>

#include <string>

#include "crypto/base64.h"
#include "crypto/fake_random.h"

namespace portcullis::crypto {
namespace {

MasterKey TestKey(std::uint64_t seed = 1) {
  FakeRandom random(seed);
  return MasterKey::Generate(random);
}

TEST(MasterKeyTest, SealThenOpenReturnsPlaintext) {
  const MasterKey key = TestKey();
  const std::string sealed = key.Seal("private key bytes", "signing_key:k1");
  EXPECT_EQ(sealed.size(), 1 + 24 + 17 + 16u);
  EXPECT_EQ(sealed[0], '\x01');
  Result<SecretBytes> opened = key.Open(sealed, "signing_key:k1");
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  EXPECT_EQ(opened->view(), "private key bytes");
}

TEST(MasterKeyTest, APreviousKeyOpensWhatItSealedButNeverSeals) {
  const MasterKey old_key = TestKey(1);
  const std::string sealed_old = old_key.Seal("secret", "ad");
  MasterKey key = TestKey(2);
  EXPECT_FALSE(key.Open(sealed_old, "ad").ok());
  EXPECT_FALSE(key.has_previous());
  key.SetPrevious(TestKey(1));
  EXPECT_TRUE(key.has_previous());
  Result<SecretBytes> opened = key.Open(sealed_old, "ad");
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  EXPECT_EQ(opened->view(), "secret");
  EXPECT_FALSE(key.Open(sealed_old, "other ad").ok());  // still bound to its context
  const std::string sealed_new = key.Seal("secret", "ad");
  EXPECT_FALSE(old_key.Open(sealed_new, "ad").ok());  // sealed under the new key only
  EXPECT_TRUE(TestKey(2).Open(sealed_new, "ad").ok());
}

TEST(MasterKeyTest, EmptyPlaintextRoundTrips) {
  const MasterKey key = TestKey();
  Result<SecretBytes> opened = key.Open(key.Seal("", ""), "");
  ASSERT_TRUE(opened.ok());
  EXPECT_TRUE(opened->empty());
}

TEST(MasterKeyTest, EachSealUsesAFreshNonce) {
  const MasterKey key = TestKey();
  EXPECT_NE(key.Seal("x", "ad"), key.Seal("x", "ad"));
}

TEST(MasterKeyTest, EveryTamperedByteFailsToOpen) {
  const MasterKey key = TestKey();
  const std::string sealed = key.Seal("secret", "ad");
  for (std::size_t i = 0; i < sealed.size(); ++i) {
    std::string tampered = sealed;
    tampered[i] = static_cast<char>(tampered[i] ^ 0x01);
    Result<SecretBytes> opened = key.Open(tampered, "ad");
    ASSERT_FALSE(opened.ok()) << "byte " << i;
    EXPECT_EQ(opened.status().code(), StatusCode::kInvalidArgument);
  }
}

TEST(MasterKeyTest, WrongAssociatedDataFailsToOpen) {
  const MasterKey key = TestKey();
  Result<SecretBytes> opened = key.Open(key.Seal("secret", "signing_key:k1"), "signing_key:k2");
  EXPECT_EQ(opened.status(), InvalidArgumentError("sealed data failed authentication"));
}

TEST(MasterKeyTest, WrongKeyFailsToOpen) {
  Result<SecretBytes> opened = TestKey(2).Open(TestKey(1).Seal("secret", "ad"), "ad");
  EXPECT_EQ(opened.status(), InvalidArgumentError("sealed data failed authentication"));
}

TEST(MasterKeyTest, ShortOrUnknownVersionIsRejected) {
  const MasterKey key = TestKey();
  EXPECT_EQ(key.Open(std::string(40, '\x01'), "").status(),
            InvalidArgumentError("sealed data is too short"));
  std::string sealed = key.Seal("x", "");
  sealed[0] = '\x02';
  EXPECT_EQ(key.Open(sealed, "").status(),
            InvalidArgumentError("sealed data has an unknown format version"));
}

TEST(MasterKeyTest, Base64RoundTrip) {
  const MasterKey key = TestKey();
  Result<MasterKey> again = MasterKey::FromBase64(key.ToBase64());
  ASSERT_TRUE(again.ok());
  Result<SecretBytes> opened = again->Open(key.Seal("secret", "ad"), "ad");
  ASSERT_TRUE(opened.ok());
  EXPECT_EQ(opened->view(), "secret");
}

TEST(MasterKeyTest, FromBase64RejectsWrongLengthAndBadEncoding) {
  EXPECT_EQ(MasterKey::FromBase64(Base64Encode(std::string(31, 'k'))).status(),
            InvalidArgumentError("master key must be exactly 32 bytes, got 31"));
  EXPECT_EQ(MasterKey::FromBase64(Base64Encode(std::string(33, 'k'))).status(),
            InvalidArgumentError("master key must be exactly 32 bytes, got 33"));
  EXPECT_EQ(MasterKey::FromBase64("not base64!").status(),
            InvalidArgumentError("master key is not valid base64"));
}

}  // namespace
}  // namespace portcullis::crypto
