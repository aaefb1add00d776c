#include "authn/password_authenticator.h"

#include <crypt.h>
#include <gtest/gtest.h>

#include <array>
#include <memory>
#include <string>

#include "base/clock.h"
#include "base/metrics.h"
#include "password/hasher.h"
#include "store/sqlite/sqlite_store.h"
#include "store/store.h"

namespace portcullis::authn {
namespace {

constexpr UnixSeconds kNow = 1'700'000'000;
// Cheap parameters so the suite stays fast.
constexpr password::Argon2Params kParams{.memory_kib = 64, .iterations = 1, .parallelism = 1};
// crypt_blowfish's test vector: "U*U" under $2a$, cost 5.
constexpr char kBcryptOfUU[] = "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW";
// Debian's argon2 CLI: echo -n "correct horse" | argon2 somesaltsalt -i -t 3 -m 10 -p 1 -e
constexpr char kArgon2iOfCorrectHorse[] =
    "$argon2i$v=19$m=1024,t=3,p=1$c29tZXNhbHRzYWx0$MJ4/VnGOXh1zPdSqnJ4yjv+hwXXo+rYbqTBepNEGlpU";

// A $2b$ hash of `password` made by libxcrypt (as python's bcrypt writes them).
std::string Bcrypt2b(const std::string& password) {
  std::array<char, CRYPT_GENSALT_OUTPUT_SIZE> setting{};
  EXPECT_NE(crypt_gensalt_rn("$2b$", 4, nullptr, 0, setting.data(), setting.size()), nullptr);
  crypt_data data{};
  const char* out = crypt_rn(password.c_str(), setting.data(), &data, sizeof(data));
  EXPECT_NE(out, nullptr);
  return out == nullptr ? std::string() : std::string(out);
}

class PasswordAuthenticatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store::SqliteOptions options;
    options.path = ":memory:";
    Result<std::unique_ptr<store::Store>> opened = store::OpenSqliteStore(options);
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    store_ = std::move(*opened);
    ASSERT_TRUE(store_->Migrate().ok());
    Result<password::Hasher> hasher = password::Hasher::Create(kParams);
    ASSERT_TRUE(hasher.ok()) << hasher.status().ToString();
    hasher_ = std::make_unique<password::Hasher>(std::move(*hasher));
    authenticator_ =
        std::make_unique<PasswordAuthenticator>(*store_, *hasher_, verifications_, clock_);
  }

  void AddUser(const std::string& username, const std::string& hash) {
    store::NewUser user{.id = "id-" + username,
                        .username = username,
                        .email = std::nullopt,
                        .password_hash = hash,
                        .roles = {"user"},
                        .created_at = kNow};
    Result<store::User> created = store_->CreateUser(user);
    ASSERT_TRUE(created.ok()) << created.status().ToString();
  }

  std::string StoredHash(const std::string& username) {
    Result<store::User> user = store_->FindUserByUsername(username);
    EXPECT_TRUE(user.ok()) << user.status().ToString();
    return user.ok() ? user->password_hash : std::string();
  }

  FakeClock clock_{kNow};
  Counter verifications_{"verifications", "test", {}};
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<password::Hasher> hasher_;
  std::unique_ptr<PasswordAuthenticator> authenticator_;
};

TEST_F(PasswordAuthenticatorTest, BcryptHashIsRehashedToArgon2idAtFirstLogin) {
  AddUser("alice", Bcrypt2b("tr0ub4dor&3"));
  PasswordLogin first = authenticator_->Authenticate("alice", "tr0ub4dor&3");
  ASSERT_EQ(first.error, AuthnError::kOk);
  EXPECT_EQ(first.rehashed_from, "bcrypt");
  const std::string stored = StoredHash("alice");
  EXPECT_TRUE(stored.starts_with("$argon2id$v=19$m=64,t=1,p=1$")) << stored;
  EXPECT_EQ(first.user.password_hash, stored);
  EXPECT_FALSE(hasher_->NeedsRehash(stored));

  // The new hash verifies the same password and is not rehashed again.
  PasswordLogin second = authenticator_->Authenticate("alice", "tr0ub4dor&3");
  ASSERT_EQ(second.error, AuthnError::kOk);
  EXPECT_EQ(second.rehashed_from, "");
  EXPECT_EQ(StoredHash("alice"), stored);
}

TEST_F(PasswordAuthenticatorTest, KnownBcryptVectorIsRehashed) {
  AddUser("bob", kBcryptOfUU);
  PasswordLogin login = authenticator_->Authenticate("bob", "U*U");
  ASSERT_EQ(login.error, AuthnError::kOk);
  EXPECT_EQ(login.rehashed_from, "bcrypt");
  EXPECT_TRUE(StoredHash("bob").starts_with("$argon2id$")) << StoredHash("bob");
}

TEST_F(PasswordAuthenticatorTest, WrongPasswordLeavesTheBcryptHashAlone) {
  AddUser("carol", kBcryptOfUU);
  PasswordLogin login = authenticator_->Authenticate("carol", "U*V");
  EXPECT_EQ(login.error, AuthnError::kBadPassword);
  EXPECT_EQ(login.rehashed_from, "");
  EXPECT_EQ(StoredHash("carol"), kBcryptOfUU);
}

TEST_F(PasswordAuthenticatorTest, Argon2iAndOldArgon2idParamsNameTheirScheme) {
  AddUser("dave", kArgon2iOfCorrectHorse);
  PasswordLogin argon2i = authenticator_->Authenticate("dave", "correct horse");
  ASSERT_EQ(argon2i.error, AuthnError::kOk);
  EXPECT_EQ(argon2i.rehashed_from, "argon2i");

  Result<password::Hasher> old = password::Hasher::Create({.memory_kib = 128, .iterations = 1});
  ASSERT_TRUE(old.ok());
  Result<std::string> old_hash = old->Hash("pw of erin");
  ASSERT_TRUE(old_hash.ok());
  AddUser("erin", *old_hash);
  PasswordLogin argon2id = authenticator_->Authenticate("erin", "pw of erin");
  ASSERT_EQ(argon2id.error, AuthnError::kOk);
  EXPECT_EQ(argon2id.rehashed_from, "argon2id");
}

TEST_F(PasswordAuthenticatorTest, CurrentHashIsNotRehashed) {
  Result<std::string> hash = hasher_->Hash("pw of frank");
  ASSERT_TRUE(hash.ok());
  AddUser("frank", *hash);
  PasswordLogin login = authenticator_->Authenticate("frank", "pw of frank");
  ASSERT_EQ(login.error, AuthnError::kOk);
  EXPECT_EQ(login.rehashed_from, "");
  EXPECT_EQ(StoredHash("frank"), *hash);
}

}  // namespace
}  // namespace portcullis::authn
