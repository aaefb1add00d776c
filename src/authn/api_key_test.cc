#include "authn/api_key.h"

#include <gtest/gtest.h>

#include <memory>
#include <set>
#include <string>

#include "crypto/fake_random.h"
#include "store/sqlite/sqlite_store.h"

namespace portcullis::authn {
namespace {

constexpr std::string_view kId = "abc123def456";
constexpr std::string_view kSecret = "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789abcdefg";  // 43

std::string Key(std::string_view id = kId, std::string_view secret = kSecret) {
  return std::string(kApiKeyPrefix) + std::string(id) + "_" + std::string(secret);
}

TEST(ApiKeyFormatTest, WellFormedKeySplitsIntoIdAndSecret) {
  ASSERT_EQ(kSecret.size(), kApiKeySecretLength);
  const std::string key = Key();
  std::optional<ParsedApiKey> parsed = ParseApiKey(key);
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->id, kId);
  EXPECT_EQ(parsed->secret, kSecret);
}

TEST(ApiKeyFormatTest, EveryTruncationAndExtensionIsMalformed) {
  const std::string key = Key();
  for (std::size_t n = 0; n < key.size(); ++n) {
    EXPECT_FALSE(ParseApiKey(key.substr(0, n))) << n;
  }
  EXPECT_FALSE(ParseApiKey(key + "a"));
  EXPECT_FALSE(ParseApiKey(" " + key));
  EXPECT_FALSE(ParseApiKey(key.substr(1) + "a"));
}

TEST(ApiKeyFormatTest, WrongPrefixSeparatorOrCharsetIsMalformed) {
  std::string key = Key();
  for (std::string prefix : {"PCS_", "pcx_", "pcs-", "pk__"}) {
    std::string mutated = key;
    mutated.replace(0, 4, prefix);
    EXPECT_FALSE(ParseApiKey(mutated)) << prefix;
  }
  std::string separator = key;
  separator[kApiKeyPrefix.size() + kApiKeyIdLength] = '-';
  EXPECT_FALSE(ParseApiKey(separator));
  // The id is lower-case only; the secret is alphanumeric only.
  EXPECT_FALSE(ParseApiKey(Key("ABC123def456")));
  EXPECT_FALSE(ParseApiKey(Key("abc123def45_")));
  for (char bad : {'_', '-', '+', '/', '=', ' ', '\0', '\x80'}) {
    std::string secret(kSecret);
    secret[10] = bad;
    EXPECT_FALSE(ParseApiKey(Key(kId, secret))) << static_cast<int>(bad);
  }
}

TEST(ApiKeyFormatTest, GeneratedKeysParseAndDiffer) {
  crypto::FakeRandom random(7);
  std::set<std::string> ids;
  for (int i = 0; i < 50; ++i) {
    GeneratedApiKey generated = GenerateApiKey(random);
    std::optional<ParsedApiKey> parsed = ParseApiKey(generated.key.reveal());
    ASSERT_TRUE(parsed.has_value()) << i;
    EXPECT_EQ(parsed->id, generated.id);
    EXPECT_EQ(generated.secret_hash, HashApiKeySecret(parsed->secret));
    EXPECT_EQ(generated.secret_hash.size(), 64u);
    EXPECT_EQ(generated.key.reveal().find(generated.secret_hash), std::string_view::npos);
    ids.insert(generated.id);
  }
  EXPECT_EQ(ids.size(), 50u);
}

TEST(ApiKeyFormatTest, ErrorNamesAreStable) {
  EXPECT_EQ(ToString(ApiKeyError::kOk), "ok");
  EXPECT_EQ(ToString(ApiKeyError::kWrongSecret), "wrong_secret");
  EXPECT_EQ(ToString(ApiKeyError::kOwnerDisabled), "owner_disabled");
}

TEST(ApiKeyCheckTest, RightSecretBeforeExpiryIsOk) {
  const std::string hash = HashApiKeySecret(kSecret);
  EXPECT_EQ(CheckApiKeySecret(hash, std::nullopt, kSecret, 1000), ApiKeyError::kOk);
  EXPECT_EQ(CheckApiKeySecret(hash, 1001, kSecret, 1000), ApiKeyError::kOk);
}

TEST(ApiKeyCheckTest, ExpiredAtOrAfterExpiresAt) {
  const std::string hash = HashApiKeySecret(kSecret);
  EXPECT_EQ(CheckApiKeySecret(hash, 1000, kSecret, 1000), ApiKeyError::kExpired);
  EXPECT_EQ(CheckApiKeySecret(hash, 1000, kSecret, 5000), ApiKeyError::kExpired);
}

TEST(ApiKeyCheckTest, EverySingleCharacterChangeOfTheSecretIsWrongSecret) {
  const std::string hash = HashApiKeySecret(kSecret);
  for (std::size_t i = 0; i < kSecret.size(); ++i) {
    std::string mutated(kSecret);
    mutated[i] = mutated[i] == 'z' ? 'y' : 'z';
    EXPECT_EQ(CheckApiKeySecret(hash, std::nullopt, mutated, 1000), ApiKeyError::kWrongSecret) << i;
  }
  // The secret is checked before expiry: a wrong secret never learns the key expired.
  EXPECT_EQ(CheckApiKeySecret(hash, 10, "x", 1000), ApiKeyError::kWrongSecret);
}

TEST(ApiKeyCheckTest, EffectivePermissionsAreScopesTheOwnerStillHolds) {
  EXPECT_EQ(EffectiveApiKeyPermissions({"users:read", "audit:read", "roles:write"},
                                       {"users:*", "roles:write"}),
            std::vector<std::string>({"users:read", "roles:write"}));
  EXPECT_TRUE(EffectiveApiKeyPermissions({"users:read"}, {}).empty());
  EXPECT_EQ(EffectiveApiKeyPermissions({"users:*"}, {"*"}), std::vector<std::string>({"users:*"}));
  // Holding one action does not grant a wildcard scope.
  EXPECT_TRUE(EffectiveApiKeyPermissions({"users:*"}, {"users:read"}).empty());
}

class ApiKeyStoreVerificationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Result<std::unique_ptr<store::Store>> opened = store::OpenSqliteStore({.path = ":memory:"});
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    store_ = std::move(*opened);
    ASSERT_TRUE(store_->Migrate().ok());
    ASSERT_TRUE(store_
                    ->CreateRole({.name = "reader",
                                  .description = "",
                                  .permissions = {"users:read"},
                                  .created_at = 0})
                    .ok());
    store::NewUser alice;
    alice.id = "u1";
    alice.username = "alice";
    alice.password_hash = "$argon2id$x";
    alice.roles = {"reader"};
    ASSERT_TRUE(store_->CreateUser(alice).ok());
    store::ApiKey key;
    key.id = std::string(kId);
    key.secret_hash = HashApiKeySecret(kSecret);
    key.user_id = "u1";
    key.name = "ci";
    key.scopes = {"users:read", "audit:read"};
    key.created_at = 100;
    key.expires_at = 2000;
    ASSERT_TRUE(store_->CreateApiKey(key).ok());
  }

  ApiKeyVerification Verify(std::string_view id, std::string_view secret, UnixSeconds now) {
    return VerifyApiKeyWithStore(*store_, ParsedApiKey{id, secret}, now);
  }

  std::unique_ptr<store::Store> store_;
};

TEST_F(ApiKeyStoreVerificationTest, ValidKeyGivesOwnerAndScopesTheOwnerHolds) {
  ApiKeyVerification v = Verify(kId, kSecret, 1000);
  ASSERT_EQ(v.error, ApiKeyError::kOk);
  EXPECT_EQ(v.key.key_id, kId);
  EXPECT_EQ(v.key.user_id, "u1");
  EXPECT_EQ(v.key.username, "alice");
  EXPECT_EQ(v.key.roles, std::vector<std::string>({"reader"}));
  EXPECT_EQ(v.key.permissions, std::vector<std::string>({"users:read"}));  // not audit:read
  EXPECT_EQ(v.key.credential_version, 1);
  EXPECT_EQ(v.key.expires_at, std::optional<UnixSeconds>(2000));
  ASSERT_TRUE(v.owner_state.has_value());
  EXPECT_FALSE(v.owner_state->disabled);
}

TEST_F(ApiKeyStoreVerificationTest, EachFailureHasItsReason) {
  EXPECT_EQ(Verify("zzzzzzzzzzzz", kSecret, 1000).error, ApiKeyError::kUnknownKey);
  std::string wrong(kSecret);
  wrong[0] = 'Z';
  EXPECT_EQ(Verify(kId, wrong, 1000).error, ApiKeyError::kWrongSecret);
  EXPECT_EQ(Verify(kId, kSecret, 2000).error, ApiKeyError::kExpired);
  ASSERT_TRUE(store_->SetUserDisabled("u1", true).ok());
  ApiKeyVerification disabled = Verify(kId, kSecret, 1000);
  EXPECT_EQ(disabled.error, ApiKeyError::kOwnerDisabled);
  ASSERT_TRUE(disabled.owner_state.has_value());
  EXPECT_TRUE(disabled.owner_state->disabled);
  ASSERT_TRUE(store_->DeleteApiKey(kId).ok());
  EXPECT_EQ(Verify(kId, kSecret, 1000).error, ApiKeyError::kUnknownKey);
}

TEST_F(ApiKeyStoreVerificationTest, OwnerLosingARoleLosesTheKeysPermissionsAtOnce) {
  ASSERT_TRUE(store_->SetUserRoles("u1", {}).ok());
  ApiKeyVerification v = Verify(kId, kSecret, 1000);
  ASSERT_EQ(v.error, ApiKeyError::kOk);
  EXPECT_TRUE(v.key.permissions.empty());
  EXPECT_EQ(v.key.credential_version, 2);
}

}  // namespace
}  // namespace portcullis::authn
