#include "token/key_manager.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "crypto/fake_random.h"
#include "crypto/master_key.h"
#include "jose/jws.h"
#include "token/test_fakes.h"
#include "token/token_service.h"

namespace portcullis::token {
namespace {

using testing::FakeSigningKeyStore;

constexpr UnixSeconds kStart = 1'800'000'000;
constexpr std::int64_t kDay = 86'400;
constexpr std::int64_t kLifetime = 900 + 30;  // access_ttl_s + leeway_s

TokenPolicy TestPolicy() {
  TokenPolicy p;
  p.issuer = "https://auth.example.test";
  p.audience = {"portcullis"};
  p.access_ttl_s = 900;
  p.leeway_s = 30;
  return p;
}

TEST(KeyManagerTest, FirstStartCreatesOneSealedKeyAndRestartReusesIt) {
  FakeSigningKeyStore store;
  FakeClock clock(kStart);
  crypto::FakeRandom random(1);
  crypto::MasterKey master = crypto::MasterKey::Generate(random);
  auto first = *KeyManager::Create(store, master, jose::Algorithm::kEdDsa, clock, random);
  ASSERT_EQ(store.keys_.size(), 1u);
  EXPECT_EQ(store.keys_[0].state, "active");
  EXPECT_EQ(store.keys_[0].alg, "EdDSA");
  EXPECT_EQ(store.keys_[0].sealed_private_key.find("PRIVATE"), std::string::npos);
  auto second = *KeyManager::Create(store, master, jose::Algorithm::kEdDsa, clock, random);
  EXPECT_EQ(store.keys_.size(), 1u);
  EXPECT_EQ(first->active_kid(), second->active_kid());
}

TEST(KeyManagerTest, WrongMasterKeyFailsWithFailedPrecondition) {
  FakeSigningKeyStore store;
  FakeClock clock(kStart);
  crypto::FakeRandom random(2);
  crypto::MasterKey master = crypto::MasterKey::Generate(random);
  crypto::MasterKey other = crypto::MasterKey::Generate(random);
  ASSERT_TRUE(KeyManager::Create(store, master, jose::Algorithm::kEdDsa, clock, random).ok());
  auto r = KeyManager::Create(store, other, jose::Algorithm::kEdDsa, clock, random);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition);
}

TEST(KeyManagerTest, ResealAllMovesEveryKeyToTheNewMasterKey) {
  FakeSigningKeyStore store;
  FakeClock clock(kStart);
  crypto::FakeRandom random(3);
  crypto::FakeRandom old_seed(30), new_seed(31);
  crypto::MasterKey old_key = crypto::MasterKey::Generate(old_seed);
  auto keys = *KeyManager::Create(store, old_key, jose::Algorithm::kEdDsa, clock, random);
  ASSERT_TRUE(keys->Rotate().ok());  // two keys: one verify-only, one active
  const std::string active = keys->active_kid();
  ASSERT_EQ(store.keys_.size(), 2u);

  crypto::MasterKey new_key = crypto::MasterKey::Generate(new_seed);
  // Without the previous key nothing opens, and nothing is written.
  const std::vector<store::SigningKey> before = store.keys_;
  Result<int> refused = KeyManager::ResealAll(store, new_key);
  EXPECT_EQ(refused.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(store.keys_[0].sealed_private_key, before[0].sealed_private_key);

  crypto::FakeRandom again(30);
  new_key.SetPrevious(crypto::MasterKey::Generate(again));
  Result<int> resealed = KeyManager::ResealAll(store, new_key);
  ASSERT_TRUE(resealed.ok()) << resealed.status().ToString();
  EXPECT_EQ(*resealed, 2);
  // The new key alone now opens every key, the old one none; the key set itself is unchanged.
  crypto::FakeRandom new_again(31);
  crypto::MasterKey new_only = crypto::MasterKey::Generate(new_again);
  auto reloaded = KeyManager::Create(store, new_only, jose::Algorithm::kEdDsa, clock, random);
  ASSERT_TRUE(reloaded.ok()) << reloaded.status().ToString();
  EXPECT_EQ((*reloaded)->active_kid(), active);
  EXPECT_EQ(store.keys_.size(), 2u);
  EXPECT_EQ(
      KeyManager::Create(store, old_key, jose::Algorithm::kEdDsa, clock, random).status().code(),
      StatusCode::kFailedPrecondition);
}

TEST(KeyManagerTest, SealedKeyCannotBeMovedToAnotherKid) {
  FakeSigningKeyStore store;
  FakeClock clock(kStart);
  crypto::FakeRandom random(3);
  crypto::MasterKey master = crypto::MasterKey::Generate(random);
  ASSERT_TRUE(KeyManager::Create(store, master, jose::Algorithm::kEdDsa, clock, random).ok());
  store.keys_[0].kid = "attacker-chosen";
  auto r = KeyManager::Create(store, master, jose::Algorithm::kEdDsa, clock, random);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition);
}

TEST(KeyManagerTest, ChangingTheAlgorithmKeepsOldTokensValid) {
  FakeSigningKeyStore store;
  FakeClock clock(kStart);
  crypto::FakeRandom random(4);
  crypto::MasterKey master = crypto::MasterKey::Generate(random);
  auto ed = *KeyManager::Create(store, master, jose::Algorithm::kEdDsa, clock, random);
  RevocationSet revocations(30);
  UserStateCache users;
  users.Set("u", 1, false);
  TokenService ed_service(*ed, revocations, users, TestPolicy(), clock, random);
  std::string old_token = ed_service.Issue({"u", "bob", {}, 1}, {}, "default")->access_token;

  auto es = *KeyManager::Create(store, master, jose::Algorithm::kEs256, clock, random);
  EXPECT_EQ(es->active_alg(), jose::Algorithm::kEs256);
  EXPECT_EQ(es->key_ring()->size(), 2u);
  EXPECT_EQ(store.keys_[0].state, "verify_only");
  TokenService es_service(*es, revocations, users, TestPolicy(), clock, random);
  EXPECT_EQ(es_service.Validate(old_token).error, jose::VerifyError::kOk);
  std::string new_token = es_service.Issue({"u", "bob", {}, 1}, {}, "default")->access_token;
  EXPECT_EQ(es_service.Validate(new_token).error, jose::VerifyError::kOk);
}

// A key manager over a fake store, with a service that signs and validates through it.
class KeyRotationTest : public ::testing::Test {
 protected:
  KeyRotationTest()
      : clock_(kStart),
        random_(11),
        master_(crypto::MasterKey::Generate(random_)),
        keys_(*KeyManager::Create(store_, master_, jose::Algorithm::kEdDsa, clock_, random_)),
        revocations_(30),
        service_(*keys_, revocations_, users_, TestPolicy(), clock_, random_) {
    users_.Set("u", 1, false);
  }

  std::string IssueToken() {
    return service_.Issue({"u", "bob", {}, 1}, {}, "default")->access_token;
  }
  // Validation by a service with an empty cache: the ring alone decides.
  jose::VerifyError ValidateFresh(const std::string& token) {
    TokenService fresh(*keys_, revocations_, users_, TestPolicy(), clock_, random_);
    return fresh.Validate(token).error;
  }

  FakeSigningKeyStore store_;
  FakeClock clock_;
  crypto::FakeRandom random_;
  crypto::MasterKey master_;
  std::unique_ptr<KeyManager> keys_;
  RevocationSet revocations_;
  UserStateCache users_;
  TokenService service_;
};

TEST_F(KeyRotationTest, RotateMakesNewActiveKeyAndOldOneVerifyOnly) {
  std::string old_kid = keys_->active_kid();
  clock_.Set(kStart + 100);
  ASSERT_TRUE(keys_->Rotate().ok());
  EXPECT_NE(keys_->active_kid(), old_kid);
  EXPECT_EQ(keys_->active_alg(), jose::Algorithm::kEdDsa);
  EXPECT_EQ(keys_->active_created_at(), kStart + 100);
  EXPECT_EQ(keys_->key_ring()->size(), 2u);
  EXPECT_EQ(keys_->verify_only_kids(), std::vector<std::string>{old_kid});
  ASSERT_EQ(store_.keys_.size(), 2u);
  EXPECT_EQ(store_.Get(old_kid)->state, "verify_only");
  EXPECT_EQ(store_.Get(old_kid)->deactivated_at, std::optional<UnixSeconds>(kStart + 100));
  EXPECT_EQ(store_.Get(keys_->active_kid())->state, "active");
  EXPECT_EQ(store_.Get(keys_->active_kid())->created_at, kStart + 100);
}

TEST_F(KeyRotationTest, TokensOfTheOldKeyStillVerifyAndNewTokensUseTheNewKid) {
  std::string old_token = IssueToken();
  ASSERT_TRUE(keys_->Rotate().ok());
  EXPECT_EQ(ValidateFresh(old_token), jose::VerifyError::kOk);
  EXPECT_EQ(service_.Validate(old_token).error, jose::VerifyError::kOk);
  std::string new_token = IssueToken();
  jose::VerifyResult r = service_.Validate(new_token);
  ASSERT_EQ(r.error, jose::VerifyError::kOk);
  jose::ParseResult parsed = jose::ParseJws(new_token, 8 * 1024);
  ASSERT_EQ(parsed.error, jose::VerifyError::kOk);
  EXPECT_EQ(parsed.jws.kid, keys_->active_kid());
}

TEST_F(KeyRotationTest, RestartAfterRotationSignsWithTheNewKeyAndKeepsTheOldInTheRing) {
  std::string old_kid = keys_->active_kid();
  ASSERT_TRUE(keys_->Rotate().ok());
  auto restarted = *KeyManager::Create(store_, master_, jose::Algorithm::kEdDsa, clock_, random_);
  EXPECT_EQ(restarted->active_kid(), keys_->active_kid());
  EXPECT_EQ(restarted->verify_only_kids(), std::vector<std::string>{old_kid});
  EXPECT_EQ(restarted->key_ring()->size(), 2u);
  EXPECT_EQ(store_.keys_.size(), 2u);
}

TEST_F(KeyRotationTest, VerifyOnlyKeyRetiresExactlyWhenItsLastTokenExpires) {
  std::string old_kid = keys_->active_kid();
  std::string old_token = IssueToken();  // exp = kStart + 900
  ASSERT_TRUE(keys_->Rotate().ok());     // deactivated_at = kStart

  Result<int> early = keys_->RetireExpired(kStart + kLifetime - 1, kLifetime);
  ASSERT_TRUE(early.ok());
  EXPECT_EQ(*early, 0);
  EXPECT_EQ(keys_->key_ring()->size(), 2u);
  EXPECT_EQ(store_.Get(old_kid)->state, "verify_only");

  Result<int> due = keys_->RetireExpired(kStart + kLifetime, kLifetime);
  ASSERT_TRUE(due.ok());
  EXPECT_EQ(*due, 1);
  EXPECT_EQ(keys_->key_ring()->size(), 1u);
  EXPECT_EQ(keys_->key_ring()->Find(old_kid), nullptr);
  EXPECT_TRUE(keys_->verify_only_kids().empty());
  EXPECT_EQ(store_.Get(old_kid)->state, "retired");
  EXPECT_EQ(store_.Get(old_kid)->deactivated_at, std::optional<UnixSeconds>(kStart));
  // The cached verdict goes with the old ring.
  EXPECT_EQ(service_.Validate(old_token).error, jose::VerifyError::kKeyNotFound);

  Result<int> again = keys_->RetireExpired(kStart + 10 * kLifetime, kLifetime);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, 0);
}

TEST_F(KeyRotationTest, RetiredKeyIsNotLoadedAfterRestart) {
  std::string old_kid = keys_->active_kid();
  ASSERT_TRUE(keys_->Rotate().ok());
  ASSERT_TRUE(keys_->RetireExpired(kStart + kLifetime, kLifetime).ok());
  auto restarted = *KeyManager::Create(store_, master_, jose::Algorithm::kEdDsa, clock_, random_);
  EXPECT_EQ(restarted->key_ring()->size(), 1u);
  EXPECT_EQ(restarted->key_ring()->Find(old_kid), nullptr);
}

TEST_F(KeyRotationTest, OnlyKeysPastTheirLifetimeRetire) {
  std::string first = keys_->active_kid();
  ASSERT_TRUE(keys_->Rotate().ok());  // first deactivated at kStart
  std::string second = keys_->active_kid();
  clock_.Set(kStart + 500);
  ASSERT_TRUE(keys_->Rotate().ok());  // second deactivated at kStart + 500
  EXPECT_EQ(keys_->key_ring()->size(), 3u);
  EXPECT_EQ(keys_->verify_only_kids(), (std::vector<std::string>{first, second}));

  Result<int> r = keys_->RetireExpired(kStart + kLifetime, kLifetime);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, 1);
  EXPECT_EQ(keys_->verify_only_kids(), std::vector<std::string>{second});
  r = keys_->RetireExpired(kStart + 500 + kLifetime - 1, kLifetime);
  EXPECT_EQ(*r, 0);
  r = keys_->RetireExpired(kStart + 500 + kLifetime, kLifetime);
  EXPECT_EQ(*r, 1);
  EXPECT_EQ(keys_->key_ring()->size(), 1u);
}

TEST_F(KeyRotationTest, ActiveKeyNeverRetires) {
  Result<int> r = keys_->RetireExpired(kStart + 1000 * kDay, kLifetime);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, 0);
  EXPECT_EQ(keys_->key_ring()->size(), 1u);
}

TEST_F(KeyRotationTest, RotationIsDueExactlyRotationDaysAfterCreation) {
  EXPECT_FALSE(keys_->RotationDue(kStart + 90 * kDay - 1, 90));
  EXPECT_TRUE(keys_->RotationDue(kStart + 90 * kDay, 90));
  clock_.Set(kStart + 90 * kDay);
  ASSERT_TRUE(keys_->Rotate().ok());
  EXPECT_FALSE(keys_->RotationDue(kStart + 90 * kDay, 90));
  EXPECT_FALSE(keys_->RotationDue(kStart + 180 * kDay - 1, 90));
  EXPECT_TRUE(keys_->RotationDue(kStart + 180 * kDay, 90));
}

TEST_F(KeyRotationTest, RotationIsNeverDueWhenDisabled) {
  EXPECT_FALSE(keys_->RotationDue(kStart + 10'000 * kDay, 0));
  EXPECT_FALSE(keys_->RotationDue(kStart + 10'000 * kDay, -1));
}

TEST_F(KeyRotationTest, FailedDemotionLeavesTheRingUnchangedAndRestartRepairsIt) {
  std::string old_kid = keys_->active_kid();
  std::shared_ptr<const jose::KeyRing> ring = keys_->key_ring();
  store_.fail_updates_ = true;
  Status s = keys_->Rotate();
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  EXPECT_EQ(keys_->active_kid(), old_kid);
  EXPECT_EQ(keys_->key_ring(), ring);
  ASSERT_EQ(store_.keys_.size(), 2u);  // the new key was inserted: two active keys stored
  std::string new_kid = store_.keys_[1].kid;
  EXPECT_EQ(store_.keys_[1].state, "active");

  store_.fail_updates_ = false;
  clock_.Set(kStart + 7);
  auto restarted = *KeyManager::Create(store_, master_, jose::Algorithm::kEdDsa, clock_, random_);
  EXPECT_EQ(restarted->active_kid(), new_kid);
  EXPECT_EQ(store_.Get(old_kid)->state, "verify_only");
  EXPECT_EQ(store_.Get(old_kid)->deactivated_at, std::optional<UnixSeconds>(kStart + 7));
  EXPECT_EQ(restarted->key_ring()->size(), 2u);
}

TEST_F(KeyRotationTest, FailedRetirementKeepsTheKeyInTheRing) {
  ASSERT_TRUE(keys_->Rotate().ok());
  store_.fail_updates_ = true;
  Result<int> r = keys_->RetireExpired(kStart + kLifetime, kLifetime);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(keys_->key_ring()->size(), 2u);
}

TEST(KeyManagerTest, RotationKeepsTheConfiguredAlgorithm) {
  FakeSigningKeyStore store;
  FakeClock clock(kStart);
  crypto::FakeRandom random(12);
  crypto::MasterKey master = crypto::MasterKey::Generate(random);
  auto keys = *KeyManager::Create(store, master, jose::Algorithm::kEs256, clock, random);
  ASSERT_TRUE(keys->Rotate().ok());
  EXPECT_EQ(keys->active_alg(), jose::Algorithm::kEs256);
  EXPECT_EQ(store.keys_[1].alg, "ES256");
}

TEST(KeyManagerTest, VerifyOnlyRecordWithoutDeactivationTimeIsStampedAtLoad) {
  FakeSigningKeyStore store;
  FakeClock clock(kStart);
  crypto::FakeRandom random(13);
  crypto::MasterKey master = crypto::MasterKey::Generate(random);
  ASSERT_TRUE(KeyManager::Create(store, master, jose::Algorithm::kEdDsa, clock, random).ok());
  store.keys_[0].state = "verify_only";
  store.keys_[0].deactivated_at = std::nullopt;
  clock.Set(kStart + 50);
  auto keys = *KeyManager::Create(store, master, jose::Algorithm::kEdDsa, clock, random);
  EXPECT_EQ(store.keys_[0].deactivated_at, std::optional<UnixSeconds>(kStart + 50));
  EXPECT_EQ(*keys->RetireExpired(kStart + 50 + kLifetime - 1, kLifetime), 0);
  EXPECT_EQ(*keys->RetireExpired(kStart + 50 + kLifetime, kLifetime), 1);
}

}  // namespace
}  // namespace portcullis::token
