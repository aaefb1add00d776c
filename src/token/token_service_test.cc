#include "token/token_service.h"

#include <gtest/gtest.h>

#include <map>

#include "crypto/fake_random.h"
#include "crypto/master_key.h"
#include "token/key_manager.h"

namespace portcullis::token {
namespace {

constexpr UnixSeconds kStart = 1'800'000'000;

// An in-memory SigningKeyStore: enough for the key manager.
class FakeSigningKeyStore final : public store::SigningKeyStore {
 public:
  Status InsertSigningKey(const store::SigningKey& key) override {
    for (const auto& k : keys_) {
      if (k.kid == key.kid) return AlreadyExistsError("kid");
    }
    keys_.push_back(key);
    return Status::Ok();
  }
  Result<std::vector<store::SigningKey>> ListSigningKeys() override { return keys_; }
  Status UpdateSigningKeyState(std::string_view kid, std::string_view state,
                               std::optional<UnixSeconds> at) override {
    for (auto& k : keys_) {
      if (k.kid == kid) {
        k.state = std::string(state);
        k.deactivated_at = at;
        return Status::Ok();
      }
    }
    return NotFoundError("kid");
  }
  std::vector<store::SigningKey> keys_;
};

TokenPolicy TestPolicy() {
  TokenPolicy p;
  p.issuer = "https://auth.example.test";
  p.audience = {"portcullis"};
  p.access_ttl_s = 900;
  p.leeway_s = 30;
  return p;
}

class TokenServiceTest : public ::testing::Test {
 protected:
  TokenServiceTest()
      : clock_(kStart),
        random_(7),
        master_key_(crypto::MasterKey::Generate(random_)),
        keys_(*KeyManager::Create(store_, master_key_, jose::Algorithm::kEdDsa, clock_, random_)),
        service_(*keys_, Policy(), clock_, random_) {}

  static TokenPolicy Policy() { return TestPolicy(); }

  static Subject Alice() { return Subject{"user-1", "alice", {"user"}, 3}; }

  FakeSigningKeyStore store_;
  FakeClock clock_;
  crypto::FakeRandom random_;
  crypto::MasterKey master_key_;
  std::unique_ptr<KeyManager> keys_;
  TokenService service_;
};

TEST_F(TokenServiceTest, IssuedTokenValidatesWithItsClaims) {
  Result<IssuedAccessToken> issued = service_.Issue(Alice(), {"articles:read"}, "default");
  ASSERT_TRUE(issued.ok()) << issued.status().ToString();
  EXPECT_EQ(issued->expires_in, 900);
  EXPECT_EQ(issued->scope, "articles:read");
  jose::VerifyResult r = service_.Validate(issued->access_token);
  ASSERT_EQ(r.error, jose::VerifyError::kOk);
  EXPECT_EQ(r.claims.sub, "user-1");
  EXPECT_EQ(r.claims.username, std::optional<std::string>("alice"));
  EXPECT_EQ(r.claims.client_id, "default");
  EXPECT_EQ(r.claims.uv, 3);
  EXPECT_EQ(r.claims.exp, kStart + 900);
  EXPECT_EQ(r.claims.jti, issued->jti);
}

TEST_F(TokenServiceTest, TokenIsRejectedOnceExpiredBeyondLeewayOnTheUncachedPath) {
  std::string token = service_.Issue(Alice(), {}, "default")->access_token;
  clock_.Set(kStart + 900 + 29);
  EXPECT_EQ(service_.Validate(token).error, jose::VerifyError::kOk);
  TokenService fresh(*keys_, Policy(), clock_, random_);  // empty cache
  clock_.Set(kStart + 900 + 30);
  EXPECT_EQ(fresh.Validate(token).error, jose::VerifyError::kExpired);
}

TEST_F(TokenServiceTest, CachedTokenStillExpiresAtTheSameInstant) {
  std::string token = service_.Issue(Alice(), {}, "default")->access_token;
  ASSERT_EQ(service_.Validate(token).error, jose::VerifyError::kOk);
  EXPECT_EQ(service_.CacheSizeForTesting(), 1u);
  clock_.Set(kStart + 900 + 29);
  EXPECT_EQ(service_.Validate(token).error, jose::VerifyError::kOk);
  clock_.Set(kStart + 900 + 30);
  EXPECT_EQ(service_.Validate(token).error, jose::VerifyError::kExpired);
  EXPECT_EQ(service_.CacheSizeForTesting(), 0u);
}

TEST_F(TokenServiceTest, InvalidTokensAreNotCached) {
  std::string token = service_.Issue(Alice(), {}, "default")->access_token;
  char& c = token[token.size() - 10];  // inside the signature, away from its padding bits
  c = c == 'A' ? 'B' : 'A';
  EXPECT_EQ(service_.Validate(token).error, jose::VerifyError::kSignatureInvalid);
  EXPECT_EQ(service_.CacheSizeForTesting(), 0u);
}

TEST_F(TokenServiceTest, TokenOfAnotherDeploymentHasUnknownKid) {
  FakeSigningKeyStore other_store;
  auto other =
      *KeyManager::Create(other_store, master_key_, jose::Algorithm::kEdDsa, clock_, random_);
  TokenService other_service(*other, Policy(), clock_, random_);
  std::string foreign = other_service.Issue(Alice(), {}, "default")->access_token;
  EXPECT_EQ(service_.Validate(foreign).error, jose::VerifyError::kKeyNotFound);
}

TEST_F(TokenServiceTest, WrongIssuerIsRejected) {
  TokenPolicy p = Policy();
  p.issuer = "https://evil.example.test";
  TokenService evil(*keys_, p, clock_, random_);
  std::string token = evil.Issue(Alice(), {}, "default")->access_token;
  EXPECT_EQ(service_.Validate(token).error, jose::VerifyError::kIssuerMismatch);
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
  TokenService ed_service(*ed, TestPolicy(), clock, random);
  std::string old_token = ed_service.Issue({"u", "bob", {}, 1}, {}, "default")->access_token;

  auto es = *KeyManager::Create(store, master, jose::Algorithm::kEs256, clock, random);
  EXPECT_EQ(es->active_alg(), jose::Algorithm::kEs256);
  EXPECT_EQ(es->key_ring()->size(), 2u);
  EXPECT_EQ(store.keys_[0].state, "verify_only");
  TokenService es_service(*es, TestPolicy(), clock, random);
  EXPECT_EQ(es_service.Validate(old_token).error, jose::VerifyError::kOk);
  std::string new_token = es_service.Issue({"u", "bob", {}, 1}, {}, "default")->access_token;
  EXPECT_EQ(es_service.Validate(new_token).error, jose::VerifyError::kOk);
}

}  // namespace
}  // namespace portcullis::token
