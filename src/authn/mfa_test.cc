#include "authn/mfa.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "authn/totp.h"
#include "base/clock.h"
#include "crypto/master_key.h"
#include "crypto/random.h"
#include "store/sqlite/sqlite_store.h"
#include "store/store.h"

namespace portcullis::authn {
namespace {

constexpr UnixSeconds kNow = 1'700'000'000;

// Mfa over an in-memory SQLite store, with alice enrolled by Begin + Confirm.
class MfaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store::SqliteOptions options;
    options.path = ":memory:";
    Result<std::unique_ptr<store::Store>> opened = store::OpenSqliteStore(options);
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    store_ = std::move(*opened);
    ASSERT_TRUE(store_->Migrate().ok());
    mfa_ = std::make_unique<Mfa>(*store_, master_key_, clock_, random_, "Portcullis");
  }

  store::User AddUser(const std::string& username) {
    store::NewUser user{.id = "id-" + username,
                        .username = username,
                        .email = std::nullopt,
                        .password_hash = "$argon2id$unused",
                        .roles = {"user"},
                        .created_at = kNow};
    Result<store::User> created = store_->CreateUser(user);
    EXPECT_TRUE(created.ok()) << created.status().ToString();
    return created.ok() ? *created : store::User{};
  }

  // Begins an enrolment; the raw TOTP secret.
  std::string Begin(const store::User& user) {
    Result<TotpEnrollmentStart> start = mfa_->Begin(user);
    EXPECT_TRUE(start.ok()) << start.status().ToString();
    if (!start.ok()) return {};
    std::optional<std::string> secret = Base32Decode(start->secret);
    EXPECT_TRUE(secret.has_value());
    return secret.value_or("");
  }

  // Enrols `user`; the recovery codes shown, and the raw TOTP secret in `secret`.
  std::vector<std::string> Enrol(const store::User& user, std::string& secret) {
    secret = Begin(user);
    const std::string code = Hotp(secret, static_cast<std::uint64_t>(TotpStep(clock_.Now())));
    Result<std::vector<std::string>> codes = mfa_->Confirm(user.id, code);
    EXPECT_TRUE(codes.ok()) << codes.status().ToString();
    return codes.ok() ? *codes : std::vector<std::string>{};
  }

  std::vector<std::string> StoredRecoveryCodes(const std::string& user_id) {
    Result<store::TotpEnrollment> e = store_->FindTotp(user_id);
    EXPECT_TRUE(e.ok()) << e.status().ToString();
    return e.ok() ? e->recovery_code_hashes : std::vector<std::string>{};
  }

  FakeClock clock_{kNow};
  crypto::Random& random_ = crypto::OsRandomInstance();
  crypto::MasterKey master_key_ = crypto::MasterKey::Generate(crypto::OsRandomInstance());
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<Mfa> mfa_;
};

TEST_F(MfaTest, ConfirmStoresRecoveryCodesKeyedNeverAsSha256) {
  const store::User alice = AddUser("alice");
  std::string secret;
  const std::vector<std::string> codes = Enrol(alice, secret);
  ASSERT_EQ(codes.size(), static_cast<std::size_t>(kRecoveryCodeCount));
  std::vector<std::string> expected;
  for (const std::string& c : codes) expected.push_back(KeyedRecoveryCodeHash(secret, c));
  std::sort(expected.begin(), expected.end());
  const std::vector<std::string> stored = StoredRecoveryCodes(alice.id);
  EXPECT_EQ(stored, expected);
  for (const std::string& value : stored) {
    EXPECT_EQ(value.substr(0, 3), "k1:") << value;
    for (const std::string& c : codes) {
      EXPECT_EQ(value.find(LegacyRecoveryCodeHash(c)), std::string::npos) << value;
    }
  }
}

TEST_F(MfaTest, NewRecoveryCodeSignsInOnceInAnyCase) {
  const store::User alice = AddUser("alice");
  std::string secret;
  const std::vector<std::string> codes = Enrol(alice, secret);
  ASSERT_FALSE(codes.empty());
  std::string typed = codes[0];
  for (char& c : typed) c = (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c;
  EXPECT_EQ(mfa_->Verify(alice.id, typed), AuthnError::kOk);
  EXPECT_EQ(mfa_->Verify(alice.id, codes[0]), AuthnError::kBadOtp);
  EXPECT_EQ(StoredRecoveryCodes(alice.id).size(), codes.size() - 1);
  EXPECT_EQ(mfa_->Verify(alice.id, codes[1]), AuthnError::kOk);
}

TEST_F(MfaTest, WrongOrOtherUsersRecoveryCodeIsRefused) {
  const store::User alice = AddUser("alice");
  const store::User bob = AddUser("bob");
  std::string alice_secret;
  std::string bob_secret;
  const std::vector<std::string> alice_codes = Enrol(alice, alice_secret);
  const std::vector<std::string> bob_codes = Enrol(bob, bob_secret);
  ASSERT_FALSE(alice_codes.empty());
  ASSERT_FALSE(bob_codes.empty());
  EXPECT_EQ(mfa_->Verify(alice.id, "zzzzz-zzzzz"), AuthnError::kBadOtp);
  EXPECT_EQ(mfa_->Verify(alice.id, bob_codes[0]), AuthnError::kBadOtp);
  // The stored value itself is not a code.
  EXPECT_EQ(mfa_->Verify(alice.id, StoredRecoveryCodes(alice.id)[0]), AuthnError::kBadOtp);
  EXPECT_EQ(StoredRecoveryCodes(alice.id).size(), alice_codes.size());
  EXPECT_EQ(StoredRecoveryCodes(bob.id).size(), bob_codes.size());
}

// Codes issued before F7 was fixed (unkeyed SHA-256 rows) still sign in, once each.
TEST_F(MfaTest, LegacyUnkeyedRecoveryCodeSignsInOnce) {
  const store::User alice = AddUser("alice");
  const std::string secret = Begin(alice);
  const std::int64_t step = TotpStep(clock_.Now());
  ASSERT_TRUE(store_
                  ->ConfirmTotp(alice.id,
                                {LegacyRecoveryCodeHash("abcde-fghjk"),
                                 LegacyRecoveryCodeHash("mnpqr-stuvw")},
                                step, clock_.Now())
                  .ok());
  EXPECT_EQ(mfa_->Verify(alice.id, "ABCDE-FGHJK"), AuthnError::kOk);
  EXPECT_EQ(mfa_->Verify(alice.id, "abcde-fghjk"), AuthnError::kBadOtp);
  EXPECT_EQ(mfa_->Verify(alice.id, "zzzzz-zzzzz"), AuthnError::kBadOtp);
  EXPECT_EQ(StoredRecoveryCodes(alice.id),
            std::vector<std::string>({LegacyRecoveryCodeHash("mnpqr-stuvw")}));
  EXPECT_EQ(mfa_->Verify(alice.id, "mnpqr-stuvw"), AuthnError::kOk);
  EXPECT_TRUE(StoredRecoveryCodes(alice.id).empty());
}

// F7 upgrade: legacy rows become keyed in place (the codes are not needed) and still sign in
// once; keyed rows and other users are untouched; a second run does nothing.
TEST_F(MfaTest, UpgradeLegacyRecoveryCodesKeysThemAndTheyStillSignInOnce) {
  const store::User alice = AddUser("alice");
  const store::User bob = AddUser("bob");
  const std::string alice_secret = Begin(alice);
  const std::int64_t step = TotpStep(clock_.Now());
  ASSERT_TRUE(store_
                  ->ConfirmTotp(
                      alice.id,
                      {LegacyRecoveryCodeHash("abcde-fghjk"), LegacyRecoveryCodeHash("mnpqr-stuvw"),
                       KeyedRecoveryCodeHash(alice_secret, "xyzab-cdefg")},
                      step, clock_.Now())
                  .ok());
  std::string bob_secret;
  const std::vector<std::string> bob_codes = Enrol(bob, bob_secret);
  ASSERT_FALSE(bob_codes.empty());
  const std::vector<std::string> bob_before = StoredRecoveryCodes(bob.id);

  Result<int> upgraded = Mfa::UpgradeLegacyRecoveryCodes(*store_, master_key_);
  ASSERT_TRUE(upgraded.ok()) << upgraded.status().ToString();
  EXPECT_EQ(*upgraded, 2);
  std::vector<std::string> expected = {KeyedRecoveryCodeHash(alice_secret, "abcde-fghjk"),
                                       KeyedRecoveryCodeHash(alice_secret, "mnpqr-stuvw"),
                                       KeyedRecoveryCodeHash(alice_secret, "xyzab-cdefg")};
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(StoredRecoveryCodes(alice.id), expected);
  EXPECT_EQ(StoredRecoveryCodes(bob.id), bob_before);
  upgraded = Mfa::UpgradeLegacyRecoveryCodes(*store_, master_key_);
  ASSERT_TRUE(upgraded.ok());
  EXPECT_EQ(*upgraded, 0);

  EXPECT_EQ(mfa_->Verify(alice.id, "abcde-fghjk"), AuthnError::kOk);
  EXPECT_EQ(mfa_->Verify(alice.id, "abcde-fghjk"), AuthnError::kBadOtp);
  EXPECT_EQ(mfa_->Verify(alice.id, "xyzab-cdefg"), AuthnError::kOk);
  EXPECT_EQ(mfa_->Verify(bob.id, bob_codes[0]), AuthnError::kOk);
}

// A secret that does not open (another master key) is skipped, not an error: those legacy codes
// stay as they are and still work.
TEST_F(MfaTest, UpgradeLegacyRecoveryCodesSkipsASecretThatDoesNotOpen) {
  const store::User alice = AddUser("alice");
  Begin(alice);
  ASSERT_TRUE(store_
                  ->ConfirmTotp(alice.id, {LegacyRecoveryCodeHash("abcde-fghjk")},
                                TotpStep(clock_.Now()), clock_.Now())
                  .ok());
  crypto::MasterKey other = crypto::MasterKey::Generate(random_);
  Result<int> upgraded = Mfa::UpgradeLegacyRecoveryCodes(*store_, other);
  ASSERT_TRUE(upgraded.ok()) << upgraded.status().ToString();
  EXPECT_EQ(*upgraded, 0);
  EXPECT_EQ(StoredRecoveryCodes(alice.id),
            std::vector<std::string>({LegacyRecoveryCodeHash("abcde-fghjk")}));
  EXPECT_EQ(mfa_->Verify(alice.id, "abcde-fghjk"), AuthnError::kOk);
}

// The key comes from the TOTP secret, which resealing does not change: codes outlive a
// master-key rotation.
TEST_F(MfaTest, RecoveryCodesSurviveMasterKeyRotation) {
  const store::User alice = AddUser("alice");
  std::string secret;
  const std::vector<std::string> codes = Enrol(alice, secret);
  ASSERT_FALSE(codes.empty());
  crypto::MasterKey rotated = crypto::MasterKey::Generate(random_);
  Result<crypto::MasterKey> previous = crypto::MasterKey::FromBase64(master_key_.ToBase64());
  ASSERT_TRUE(previous.ok());
  rotated.SetPrevious(std::move(*previous));
  Result<int> resealed = Mfa::ResealAll(*store_, rotated);
  ASSERT_TRUE(resealed.ok()) << resealed.status().ToString();
  EXPECT_EQ(*resealed, 1);
  Result<crypto::MasterKey> copy = crypto::MasterKey::FromBase64(rotated.ToBase64());
  ASSERT_TRUE(copy.ok());
  Mfa after(*store_, *copy, clock_, random_, "Portcullis");
  EXPECT_EQ(after.Verify(alice.id, codes[0]), AuthnError::kOk);
  EXPECT_EQ(after.Verify(alice.id, codes[0]), AuthnError::kBadOtp);
}

}  // namespace
}  // namespace portcullis::authn
