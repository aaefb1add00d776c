#include "token/key_manager.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <string>
#include <vector>

#include "crypto/base64.h"
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

// The kids of `keys`' active keys, in jose::kAllAlgorithms order.
std::vector<std::string> ActiveKids(const KeyManager& keys) {
  std::vector<std::string> kids;
  for (const ActiveKeyInfo& k : keys.active_keys()) kids.push_back(k.kid);
  return kids;
}

TEST(KeyManagerTest, FirstStartCreatesOneSealedActiveKeyPerAlgorithmAndRestartReusesThem) {
  FakeSigningKeyStore store;
  FakeClock clock(kStart);
  crypto::FakeRandom random(1);
  crypto::MasterKey master = crypto::MasterKey::Generate(random);
  auto first = *KeyManager::Create(store, master, jose::Algorithm::kEdDsa, clock, random);
  ASSERT_EQ(store.keys_.size(), 3u);
  const std::vector<std::string> algs = {"EdDSA", "ES256", "RS256"};
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(store.keys_[i].state, "active");
    EXPECT_EQ(store.keys_[i].alg, algs[i]);
    EXPECT_EQ(store.keys_[i].created_at, kStart);
    EXPECT_EQ(store.keys_[i].sealed_private_key.find("PRIVATE"), std::string::npos);
  }
  std::vector<ActiveKeyInfo> active = first->active_keys();
  ASSERT_EQ(active.size(), 3u);
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(active[i].alg, jose::kAllAlgorithms[i]);
    EXPECT_EQ(active[i].kid, store.keys_[i].kid);
    EXPECT_EQ(active[i].created_at, kStart);
    EXPECT_EQ(first->active_kid(jose::kAllAlgorithms[i]), store.keys_[i].kid);
    ASSERT_NE(first->key_ring()->Find(active[i].kid), nullptr);
    EXPECT_EQ(first->key_ring()->Find(active[i].kid)->alg(), jose::kAllAlgorithms[i]);
  }
  EXPECT_EQ(first->key_ring()->size(), 3u);
  EXPECT_TRUE(first->verify_only_kids().empty());
  // The configured algorithm's key signs access tokens.
  EXPECT_EQ(first->active_alg(), jose::Algorithm::kEdDsa);
  EXPECT_EQ(first->active_kid(), store.keys_[0].kid);

  auto second = *KeyManager::Create(store, master, jose::Algorithm::kEdDsa, clock, random);
  EXPECT_EQ(store.keys_.size(), 3u);
  EXPECT_EQ(ActiveKids(*first), ActiveKids(*second));
  EXPECT_EQ(first->active_kid(), second->active_kid());
}

// A database from before the per-algorithm key set holds one active key (of signing_alg): it
// stays the access-token key, and the missing algorithms get theirs.
TEST(KeyManagerTest, MissingAlgorithmsAreGeneratedBesideAnExistingActiveKey) {
  FakeSigningKeyStore store;
  FakeClock clock(kStart);
  crypto::FakeRandom random(14);
  crypto::MasterKey master = crypto::MasterKey::Generate(random);
  ASSERT_TRUE(KeyManager::Create(store, master, jose::Algorithm::kEs256, clock, random).ok());
  const store::SigningKey es = store.keys_[1];
  ASSERT_EQ(es.alg, "ES256");
  store.keys_ = {es};  // as the single-key KeyManager left it
  clock.Set(kStart + 60);
  auto keys = *KeyManager::Create(store, master, jose::Algorithm::kEs256, clock, random);
  ASSERT_EQ(store.keys_.size(), 3u);
  EXPECT_EQ(keys->active_kid(), es.kid);
  EXPECT_EQ(keys->active_created_at(), kStart);
  EXPECT_EQ(store.keys_[1].alg, "EdDSA");
  EXPECT_EQ(store.keys_[2].alg, "RS256");
  for (const store::SigningKey& k : store.keys_) EXPECT_EQ(k.state, "active") << k.alg;
  EXPECT_EQ(keys->active_kid(jose::Algorithm::kEdDsa), store.keys_[1].kid);
  EXPECT_EQ(keys->active_kid(jose::Algorithm::kRs256), store.keys_[2].kid);
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
  ASSERT_TRUE(keys->Rotate().ok());  // six keys: three verify-only, three active
  const std::vector<std::string> active = ActiveKids(*keys);
  ASSERT_EQ(store.keys_.size(), 6u);

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
  EXPECT_EQ(*resealed, 6);
  // The new key alone now opens every key, the old one none; the key set itself is unchanged.
  crypto::FakeRandom new_again(31);
  crypto::MasterKey new_only = crypto::MasterKey::Generate(new_again);
  auto reloaded = KeyManager::Create(store, new_only, jose::Algorithm::kEdDsa, clock, random);
  ASSERT_TRUE(reloaded.ok()) << reloaded.status().ToString();
  EXPECT_EQ(ActiveKids(**reloaded), active);
  EXPECT_EQ(store.keys_.size(), 6u);
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

// signing_alg only picks which active key signs access tokens: switching it demotes nothing
// (the previous algorithm's key keeps signing ID tokens) and creates nothing.
TEST(KeyManagerTest, SwitchingSigningAlgKeepsEveryKeyActiveAndOldTokensValid) {
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
  EXPECT_EQ(es->active_kid(), ed->active_kid(jose::Algorithm::kEs256));
  EXPECT_EQ(ActiveKids(*es), ActiveKids(*ed));
  EXPECT_EQ(es->key_ring()->size(), 3u);
  EXPECT_TRUE(es->verify_only_kids().empty());
  ASSERT_EQ(store.keys_.size(), 3u);
  for (const store::SigningKey& k : store.keys_) {
    EXPECT_EQ(k.state, "active") << k.alg;
    EXPECT_EQ(k.deactivated_at, std::nullopt) << k.alg;
  }
  TokenService es_service(*es, revocations, users, TestPolicy(), clock, random);
  EXPECT_EQ(es_service.Validate(old_token).error, jose::VerifyError::kOk);
  std::string new_token = es_service.Issue({"u", "bob", {}, 1}, {}, "default")->access_token;
  EXPECT_EQ(es_service.Validate(new_token).error, jose::VerifyError::kOk);
  jose::ParseResult parsed = jose::ParseJws(new_token, 8 * 1024);
  ASSERT_EQ(parsed.error, jose::VerifyError::kOk);
  EXPECT_EQ(parsed.jws.alg, jose::Algorithm::kEs256);
  EXPECT_EQ(parsed.jws.kid, es->active_kid());
  // And back: still nothing demoted, the EdDSA key signs access tokens again.
  auto back = *KeyManager::Create(store, master, jose::Algorithm::kEdDsa, clock, random);
  EXPECT_EQ(back->active_kid(), ed->active_kid());
  EXPECT_EQ(store.keys_.size(), 3u);
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

TEST_F(KeyRotationTest, RotateRenewsEveryAlgorithmAndMakesTheOldKeysVerifyOnly) {
  const std::vector<std::string> old_kids = ActiveKids(*keys_);
  clock_.Set(kStart + 100);
  Result<std::vector<RotatedKey>> rotated = keys_->Rotate();
  ASSERT_TRUE(rotated.ok()) << rotated.status().ToString();
  const std::vector<std::string> new_kids = ActiveKids(*keys_);
  ASSERT_EQ(rotated->size(), 3u);
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ((*rotated)[i].alg, jose::kAllAlgorithms[i]);
    EXPECT_EQ((*rotated)[i].kid, new_kids[i]);
    EXPECT_EQ((*rotated)[i].previous_kid, old_kids[i]);
    EXPECT_NE(new_kids[i], old_kids[i]);
    EXPECT_EQ(keys_->active_keys()[i].created_at, kStart + 100);
    EXPECT_EQ(store_.Get(old_kids[i])->state, "verify_only");
    EXPECT_EQ(store_.Get(old_kids[i])->deactivated_at, std::optional<UnixSeconds>(kStart + 100));
    EXPECT_EQ(store_.Get(new_kids[i])->state, "active");
    EXPECT_EQ(store_.Get(new_kids[i])->alg, jose::ToString(jose::kAllAlgorithms[i]));
    EXPECT_EQ(store_.Get(new_kids[i])->created_at, kStart + 100);
  }
  EXPECT_EQ(keys_->active_alg(), jose::Algorithm::kEdDsa);
  EXPECT_EQ(keys_->active_kid(), new_kids[0]);
  EXPECT_EQ(keys_->active_created_at(), kStart + 100);
  EXPECT_EQ(keys_->key_ring()->size(), 6u);
  EXPECT_EQ(keys_->verify_only_kids(), old_kids);
  EXPECT_EQ(store_.keys_.size(), 6u);
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

TEST_F(KeyRotationTest, RestartAfterRotationSignsWithTheNewKeysAndKeepsTheOldInTheRing) {
  const std::vector<std::string> old_kids = ActiveKids(*keys_);
  ASSERT_TRUE(keys_->Rotate().ok());
  auto restarted = *KeyManager::Create(store_, master_, jose::Algorithm::kEdDsa, clock_, random_);
  EXPECT_EQ(ActiveKids(*restarted), ActiveKids(*keys_));
  EXPECT_EQ(restarted->active_kid(), keys_->active_kid());
  EXPECT_EQ(restarted->verify_only_kids(), old_kids);
  EXPECT_EQ(restarted->key_ring()->size(), 6u);
  EXPECT_EQ(store_.keys_.size(), 6u);
}

TEST_F(KeyRotationTest, VerifyOnlyKeysRetireExactlyWhenTheirLastTokenExpires) {
  const std::vector<std::string> old_kids = ActiveKids(*keys_);
  std::string old_token = IssueToken();  // exp = kStart + 900
  ASSERT_TRUE(keys_->Rotate().ok());     // deactivated_at = kStart

  Result<int> early = keys_->RetireExpired(kStart + kLifetime - 1, kLifetime);
  ASSERT_TRUE(early.ok());
  EXPECT_EQ(*early, 0);
  EXPECT_EQ(keys_->key_ring()->size(), 6u);
  for (const std::string& kid : old_kids) EXPECT_EQ(store_.Get(kid)->state, "verify_only");

  Result<int> due = keys_->RetireExpired(kStart + kLifetime, kLifetime);
  ASSERT_TRUE(due.ok());
  EXPECT_EQ(*due, 3);
  EXPECT_EQ(keys_->key_ring()->size(), 3u);
  for (const std::string& kid : old_kids) {
    EXPECT_EQ(keys_->key_ring()->Find(kid), nullptr);
    EXPECT_EQ(store_.Get(kid)->state, "retired");
    EXPECT_EQ(store_.Get(kid)->deactivated_at, std::optional<UnixSeconds>(kStart));
  }
  EXPECT_TRUE(keys_->verify_only_kids().empty());
  // The cached verdict goes with the old ring.
  EXPECT_EQ(service_.Validate(old_token).error, jose::VerifyError::kKeyNotFound);

  Result<int> again = keys_->RetireExpired(kStart + 10 * kLifetime, kLifetime);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, 0);
}

TEST_F(KeyRotationTest, RetiredKeysAreNotLoadedAfterRestart) {
  const std::vector<std::string> old_kids = ActiveKids(*keys_);
  ASSERT_TRUE(keys_->Rotate().ok());
  ASSERT_TRUE(keys_->RetireExpired(kStart + kLifetime, kLifetime).ok());
  auto restarted = *KeyManager::Create(store_, master_, jose::Algorithm::kEdDsa, clock_, random_);
  EXPECT_EQ(restarted->key_ring()->size(), 3u);
  for (const std::string& kid : old_kids) EXPECT_EQ(restarted->key_ring()->Find(kid), nullptr);
  EXPECT_EQ(store_.keys_.size(), 6u);
}

TEST_F(KeyRotationTest, OnlyKeysPastTheirLifetimeRetire) {
  const std::vector<std::string> first = ActiveKids(*keys_);
  ASSERT_TRUE(keys_->Rotate().ok());  // first set deactivated at kStart
  const std::vector<std::string> second = ActiveKids(*keys_);
  clock_.Set(kStart + 500);
  ASSERT_TRUE(keys_->Rotate().ok());  // second set deactivated at kStart + 500
  EXPECT_EQ(keys_->key_ring()->size(), 9u);
  std::vector<std::string> both = first;
  both.insert(both.end(), second.begin(), second.end());
  EXPECT_EQ(keys_->verify_only_kids(), both);

  Result<int> r = keys_->RetireExpired(kStart + kLifetime, kLifetime);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, 3);
  EXPECT_EQ(keys_->verify_only_kids(), second);
  r = keys_->RetireExpired(kStart + 500 + kLifetime - 1, kLifetime);
  EXPECT_EQ(*r, 0);
  r = keys_->RetireExpired(kStart + 500 + kLifetime, kLifetime);
  EXPECT_EQ(*r, 3);
  EXPECT_EQ(keys_->key_ring()->size(), 3u);
}

// Each verify_only key keeps its own retirement clock, whatever its algorithm: here the ES256 key
// was demoted 500 s before the others.
TEST(KeyManagerTest, RetirementRunsPerKeyAcrossAlgorithms) {
  FakeSigningKeyStore store;
  FakeClock clock(kStart - 500);
  crypto::FakeRandom random(15);
  crypto::MasterKey master = crypto::MasterKey::Generate(random);
  ASSERT_TRUE(KeyManager::Create(store, master, jose::Algorithm::kEdDsa, clock, random).ok());
  const std::string old_es = store.keys_[1].kid;
  ASSERT_TRUE(store.UpdateSigningKeyState(old_es, "verify_only", kStart - 500).ok());
  clock.Set(kStart);
  auto keys = *KeyManager::Create(store, master, jose::Algorithm::kEdDsa, clock, random);
  EXPECT_EQ(keys->verify_only_kids(), std::vector<std::string>{old_es});
  EXPECT_NE(keys->active_kid(jose::Algorithm::kEs256), old_es);  // a new ES256 key
  EXPECT_EQ(keys->key_ring()->size(), 4u);
  const std::vector<std::string> demoted = ActiveKids(*keys);
  ASSERT_TRUE(keys->Rotate().ok());  // deactivated_at = kStart
  EXPECT_EQ(keys->key_ring()->size(), 7u);

  EXPECT_EQ(*keys->RetireExpired(kStart - 500 + kLifetime - 1, kLifetime), 0);
  EXPECT_EQ(*keys->RetireExpired(kStart - 500 + kLifetime, kLifetime), 1);
  EXPECT_EQ(store.Get(old_es)->state, "retired");
  EXPECT_EQ(keys->verify_only_kids(), demoted);
  EXPECT_EQ(*keys->RetireExpired(kStart + kLifetime - 1, kLifetime), 0);
  EXPECT_EQ(*keys->RetireExpired(kStart + kLifetime, kLifetime), 3);
  EXPECT_EQ(keys->key_ring()->size(), 3u);
  for (const std::string& kid : demoted) EXPECT_EQ(store.Get(kid)->state, "retired");
}

TEST_F(KeyRotationTest, ActiveKeysNeverRetire) {
  Result<int> r = keys_->RetireExpired(kStart + 1000 * kDay, kLifetime);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, 0);
  EXPECT_EQ(keys_->key_ring()->size(), 3u);
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

// RotationDue follows the oldest active key, whichever algorithm signs access tokens, so no key
// signs for longer than the rotation period; one Rotate() then renews them all.
TEST(KeyManagerTest, RotationIsDueWhenTheOldestActiveKeyIsDue) {
  FakeSigningKeyStore store;
  FakeClock clock(kStart);
  crypto::FakeRandom random(16);
  crypto::MasterKey master = crypto::MasterKey::Generate(random);
  ASSERT_TRUE(KeyManager::Create(store, master, jose::Algorithm::kEdDsa, clock, random).ok());
  store.keys_.pop_back();  // RS256 created later than the others
  clock.Set(kStart + 10 * kDay);
  auto keys = *KeyManager::Create(store, master, jose::Algorithm::kRs256, clock, random);
  EXPECT_EQ(keys->active_created_at(), kStart + 10 * kDay);  // the access-token (RS256) key
  EXPECT_FALSE(keys->RotationDue(kStart + 30 * kDay - 1, 30));
  EXPECT_TRUE(keys->RotationDue(kStart + 30 * kDay, 30));  // EdDSA and ES256 are 30 days old
  clock.Set(kStart + 30 * kDay);
  ASSERT_TRUE(keys->Rotate().ok());
  for (const ActiveKeyInfo& k : keys->active_keys()) EXPECT_EQ(k.created_at, kStart + 30 * kDay);
  EXPECT_FALSE(keys->RotationDue(kStart + 60 * kDay - 1, 30));
  EXPECT_TRUE(keys->RotationDue(kStart + 60 * kDay, 30));
}

TEST_F(KeyRotationTest, RotationIsNeverDueWhenDisabled) {
  EXPECT_FALSE(keys_->RotationDue(kStart + 10'000 * kDay, 0));
  EXPECT_FALSE(keys_->RotationDue(kStart + 10'000 * kDay, -1));
}

TEST_F(KeyRotationTest, FailedDemotionLeavesTheRingUnchangedAndRestartRepairsIt) {
  const std::vector<std::string> old_kids = ActiveKids(*keys_);
  std::shared_ptr<const jose::KeyRing> ring = keys_->key_ring();
  store_.fail_updates_ = true;
  Result<std::vector<RotatedKey>> r = keys_->Rotate();
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(ActiveKids(*keys_), old_kids);
  EXPECT_EQ(keys_->key_ring(), ring);
  // The new keys were inserted: two active keys of every algorithm are stored.
  ASSERT_EQ(store_.keys_.size(), 6u);
  std::vector<std::string> new_kids;
  for (std::size_t i = 3; i < 6; ++i) {
    EXPECT_EQ(store_.keys_[i].state, "active");
    new_kids.push_back(store_.keys_[i].kid);
  }

  store_.fail_updates_ = false;
  clock_.Set(kStart + 7);
  auto restarted = *KeyManager::Create(store_, master_, jose::Algorithm::kEdDsa, clock_, random_);
  EXPECT_EQ(ActiveKids(*restarted), new_kids);
  for (const std::string& kid : old_kids) {
    EXPECT_EQ(store_.Get(kid)->state, "verify_only");
    EXPECT_EQ(store_.Get(kid)->deactivated_at, std::optional<UnixSeconds>(kStart + 7));
  }
  EXPECT_EQ(restarted->verify_only_kids(), old_kids);
  EXPECT_EQ(restarted->key_ring()->size(), 6u);
  EXPECT_EQ(store_.keys_.size(), 6u);
}

TEST_F(KeyRotationTest, FailedRetirementKeepsTheKeyInTheRing) {
  ASSERT_TRUE(keys_->Rotate().ok());
  store_.fail_updates_ = true;
  Result<int> r = keys_->RetireExpired(kStart + kLifetime, kLifetime);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(keys_->key_ring()->size(), 6u);
}

// Another instance (same store) rotates: Reload signs, per algorithm, with the newest active key
// and keeps every other key that is not retired in the ring.
TEST_F(KeyRotationTest, ReloadPicksTheNewestActiveKeyOfEachAlgorithm) {
  auto other = *KeyManager::Create(store_, master_, jose::Algorithm::kRs256, clock_, random_);
  const std::vector<std::string> old_kids = ActiveKids(*keys_);
  ASSERT_EQ(ActiveKids(*other), old_kids);
  clock_.Set(kStart + 30);
  ASSERT_TRUE(other->Rotate().ok());
  ASSERT_EQ(ActiveKids(*keys_), old_kids);  // not yet reloaded

  ASSERT_TRUE(keys_->Reload().ok());
  EXPECT_EQ(ActiveKids(*keys_), ActiveKids(*other));
  EXPECT_EQ(keys_->active_kid(), other->active_kid(jose::Algorithm::kEdDsa));
  EXPECT_EQ(keys_->active_created_at(), kStart + 30);
  EXPECT_EQ(keys_->verify_only_kids(), old_kids);
  EXPECT_EQ(keys_->key_ring()->size(), 6u);
  // The reloaded verify-only keys keep their stored retirement clock.
  EXPECT_EQ(*keys_->RetireExpired(kStart + 30 + kLifetime - 1, kLifetime), 0);
  EXPECT_EQ(*keys_->RetireExpired(kStart + 30 + kLifetime, kLifetime), 3);

  // An interrupted rotation elsewhere (inserts stored, demotions failed): two active keys of each
  // algorithm in the store; Reload, which writes nothing, signs with the newer ones.
  const std::vector<std::string> before = ActiveKids(*keys_);
  store_.fail_updates_ = true;
  ASSERT_FALSE(other->Rotate().ok());
  std::vector<std::string> newest;
  for (std::size_t i = store_.keys_.size() - 3; i < store_.keys_.size(); ++i) {
    newest.push_back(store_.keys_[i].kid);
  }
  ASSERT_TRUE(keys_->Reload().ok());
  EXPECT_EQ(ActiveKids(*keys_), newest);
  EXPECT_EQ(keys_->verify_only_kids(), before);
  EXPECT_EQ(keys_->key_ring()->size(), 6u);
  for (const std::string& kid : before) EXPECT_EQ(store_.Get(kid)->state, "active");
}

TEST(KeyManagerTest, RotationKeepsTheConfiguredAlgorithmForAccessTokens) {
  FakeSigningKeyStore store;
  FakeClock clock(kStart);
  crypto::FakeRandom random(12);
  crypto::MasterKey master = crypto::MasterKey::Generate(random);
  auto keys = *KeyManager::Create(store, master, jose::Algorithm::kEs256, clock, random);
  ASSERT_TRUE(keys->Rotate().ok());
  EXPECT_EQ(keys->active_alg(), jose::Algorithm::kEs256);
  EXPECT_EQ(keys->active_kid(), keys->active_kid(jose::Algorithm::kEs256));
  EXPECT_EQ(store.Get(keys->active_kid())->alg, "ES256");
  EXPECT_EQ(store.Get(keys->active_kid())->state, "active");
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
  EXPECT_NE(keys->active_kid(), store.keys_[0].kid);  // a new EdDSA key took its place
  EXPECT_EQ(*keys->RetireExpired(kStart + 50 + kLifetime - 1, kLifetime), 0);
  EXPECT_EQ(*keys->RetireExpired(kStart + 50 + kLifetime, kLifetime), 1);
}

// --- ID tokens -----------------------------------------------------------------------------------

boost::json::object IdClaims() {
  return {{"iss", "https://auth.example.test"},
          {"sub", "u"},
          {"aud", "client-1"},
          {"exp", kStart + 300},
          {"iat", kStart},
          {"nonce", "n-0S6_WzA"}};
}

// The parts of a compact JWS: decoded header, signing input, raw signature.
struct Parts {
  boost::json::object header;
  std::string signing_input;
  std::string signature;
};
Parts Split(const std::string& token) {
  const std::size_t first = token.find('.');
  const std::size_t last = token.rfind('.');
  Parts p;
  p.header = boost::json::parse(*crypto::Base64UrlDecode(token.substr(0, first))).as_object();
  p.signing_input = token.substr(0, last);
  p.signature = *crypto::Base64UrlDecode(token.substr(last + 1));
  return p;
}

TEST_F(KeyRotationTest, IdTokenIsSignedByTheActiveKeyOfTheRequestedAlgorithm) {
  for (jose::Algorithm alg : jose::kAllAlgorithms) {
    Result<std::string> token = keys_->SignIdToken(alg, IdClaims());
    ASSERT_TRUE(token.ok()) << token.status().ToString();
    Parts p = Split(*token);
    EXPECT_EQ(p.header,
              (boost::json::object{
                  {"alg", jose::ToString(alg)}, {"kid", keys_->active_kid(alg)}, {"typ", "JWT"}}));
    const jose::PublicKey* key = keys_->key_ring()->Find(keys_->active_kid(alg));
    ASSERT_NE(key, nullptr);
    EXPECT_EQ(key->alg(), alg);
    EXPECT_TRUE(key->VerifySignature(p.signing_input, p.signature)) << jose::ToString(alg);
    // No other ring key verifies it.
    for (jose::Algorithm other : jose::kAllAlgorithms) {
      if (other == alg) continue;
      EXPECT_FALSE(keys_->key_ring()
                       ->Find(keys_->active_kid(other))
                       ->VerifySignature(p.signing_input, p.signature));
    }
  }
  // After a rotation the new key of that algorithm signs.
  ASSERT_TRUE(keys_->Rotate().ok());
  Parts p = Split(*keys_->SignIdToken(jose::Algorithm::kRs256, IdClaims()));
  EXPECT_EQ(p.header.at("kid").as_string(), keys_->active_kid(jose::Algorithm::kRs256));
}

// An ID token signed by a ring key, even with every access-token claim, is refused as an access
// token: typ "JWT" is not "at+jwt".
TEST_F(KeyRotationTest, IdTokenIsRefusedAsAnAccessToken) {
  jose::AccessTokenClaims claims;
  claims.iss = TestPolicy().issuer;
  claims.sub = "u";
  claims.aud = TestPolicy().audience;
  claims.exp = kStart + 900;
  claims.iat = kStart;
  claims.nbf = kStart;
  claims.jti = "jti-1";
  claims.client_id = "default";
  claims.username = "bob";
  claims.uv = 1;
  for (jose::Algorithm alg : jose::kAllAlgorithms) {
    const std::string token = *keys_->SignIdToken(alg, jose::ClaimsToJson(claims));
    jose::VerifyPolicy policy{.issuer = TestPolicy().issuer, .audiences = TestPolicy().audience};
    EXPECT_EQ(jose::VerifyAccessToken(token, *keys_->key_ring(), policy, kStart).error,
              jose::VerifyError::kTypInvalid)
        << jose::ToString(alg);
    EXPECT_EQ(service_.Validate(token).error, jose::VerifyError::kTypInvalid);
  }
  // The same claims signed as an access token pass: only the typ differs.
  const std::string access = *keys_->Sign(claims);
  EXPECT_EQ(ValidateFresh(access), jose::VerifyError::kOk);
}

}  // namespace
}  // namespace portcullis::token
