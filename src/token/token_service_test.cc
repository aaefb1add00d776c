#include "token/token_service.h"

#include <gtest/gtest.h>

#include <map>

#include "crypto/fake_random.h"
#include "crypto/master_key.h"
#include "token/key_manager.h"
#include "token/test_fakes.h"

namespace portcullis::token {
namespace {

constexpr UnixSeconds kStart = 1'800'000'000;

using testing::FakeSigningKeyStore;

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
        revocations_(Policy().leeway_s),
        service_(*keys_, revocations_, users_, Policy(), clock_, random_) {
    users_.Set("user-1", 3, false);
  }

  static TokenPolicy Policy() { return TestPolicy(); }

  static Subject Alice() { return Subject{"user-1", "alice", {"user"}, 3}; }

  FakeSigningKeyStore store_;
  FakeClock clock_;
  crypto::FakeRandom random_;
  crypto::MasterKey master_key_;
  std::unique_ptr<KeyManager> keys_;
  RevocationSet revocations_;
  UserStateCache users_;
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
  TokenService fresh(*keys_, revocations_, users_, Policy(), clock_, random_);  // empty cache
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

TEST_F(TokenServiceTest, RevokedTokenIsRejectedOnCacheHitAndMiss) {
  std::string token = service_.Issue(Alice(), {}, "default")->access_token;
  jose::VerifyResult first = service_.Validate(token);
  ASSERT_EQ(first.error, jose::VerifyError::kOk);  // now cached
  service_.Revoke(first.claims);
  EXPECT_EQ(service_.Validate(token).error, jose::VerifyError::kRevoked);
  TokenService fresh(*keys_, revocations_, users_, Policy(), clock_, random_);
  EXPECT_EQ(fresh.Validate(token).error, jose::VerifyError::kRevoked);
  EXPECT_TRUE(fresh.Validate(token).claims.sub.empty());
}

TEST_F(TokenServiceTest, RevokingOneTokenLeavesOthersValid) {
  std::string revoked = service_.Issue(Alice(), {}, "default")->access_token;
  std::string other = service_.Issue(Alice(), {}, "default")->access_token;
  service_.Revoke(service_.Validate(revoked).claims);
  EXPECT_EQ(service_.Validate(other).error, jose::VerifyError::kOk);
}

TEST_F(TokenServiceTest, CredentialVersionBumpRejectsEarlierTokensOnCacheHitAndMiss) {
  std::string old_token = service_.Issue(Alice(), {}, "default")->access_token;  // uv 3
  ASSERT_EQ(service_.Validate(old_token).error, jose::VerifyError::kOk);
  users_.Set("user-1", 4, false);
  EXPECT_EQ(service_.Validate(old_token).error, jose::VerifyError::kStaleCredentials);
  TokenService fresh(*keys_, revocations_, users_, Policy(), clock_, random_);
  EXPECT_EQ(fresh.Validate(old_token).error, jose::VerifyError::kStaleCredentials);
  Subject bumped = Alice();
  bumped.credential_version = 4;
  std::string new_token = service_.Issue(bumped, {}, "default")->access_token;
  EXPECT_EQ(service_.Validate(new_token).error, jose::VerifyError::kOk);
}

TEST_F(TokenServiceTest, DisabledUserIsRejected) {
  std::string token = service_.Issue(Alice(), {}, "default")->access_token;
  ASSERT_EQ(service_.Validate(token).error, jose::VerifyError::kOk);
  users_.Set("user-1", 3, true);
  EXPECT_EQ(service_.Validate(token).error, jose::VerifyError::kSubjectDisabled);
}

TEST_F(TokenServiceTest, DeletedUserIsUnknownSubject) {
  std::string token = service_.Issue(Alice(), {}, "default")->access_token;
  users_.Remove("user-1");
  EXPECT_EQ(service_.Validate(token).error, jose::VerifyError::kUnknownSubject);
}

TEST_F(TokenServiceTest, LiveChecksComeAfterExpiry) {
  std::string token = service_.Issue(Alice(), {}, "default")->access_token;
  service_.Revoke(service_.Validate(token).claims);
  clock_.Set(kStart + 900 + 30);
  EXPECT_EQ(service_.Validate(token).error, jose::VerifyError::kExpired);
}

TEST_F(TokenServiceTest, JoseVerdictIsCachedEvenWhenALiveCheckFails) {
  users_.Remove("user-1");
  std::string token = service_.Issue(Alice(), {}, "default")->access_token;
  EXPECT_EQ(service_.Validate(token).error, jose::VerifyError::kUnknownSubject);
  EXPECT_EQ(service_.CacheSizeForTesting(), 1u);
  users_.Set("user-1", 3, false);  // e.g. the cache caught up with a new user
  EXPECT_EQ(service_.Validate(token).error, jose::VerifyError::kOk);
}

TEST_F(TokenServiceTest, ClientTokensAreNotCheckedAgainstUserState) {
  Subject client{"reporting-job", std::nullopt, {}, 0};  // client_credentials: no username
  std::string token = service_.Issue(client, {"reports:read"}, "reporting-job")->access_token;
  jose::VerifyResult r = service_.Validate(token);
  ASSERT_EQ(r.error, jose::VerifyError::kOk);
  EXPECT_EQ(r.claims.sub, "reporting-job");
  EXPECT_FALSE(r.claims.username.has_value());
  service_.Revoke(r.claims);  // but the revocation list applies to them
  EXPECT_EQ(service_.Validate(token).error, jose::VerifyError::kRevoked);
}

TEST_F(TokenServiceTest, TokenOfAnotherDeploymentHasUnknownKid) {
  FakeSigningKeyStore other_store;
  auto other =
      *KeyManager::Create(other_store, master_key_, jose::Algorithm::kEdDsa, clock_, random_);
  TokenService other_service(*other, revocations_, users_, Policy(), clock_, random_);
  std::string foreign = other_service.Issue(Alice(), {}, "default")->access_token;
  EXPECT_EQ(service_.Validate(foreign).error, jose::VerifyError::kKeyNotFound);
}

TEST_F(TokenServiceTest, WrongIssuerIsRejected) {
  TokenPolicy p = Policy();
  p.issuer = "https://evil.example.test";
  TokenService evil(*keys_, revocations_, users_, p, clock_, random_);
  std::string token = evil.Issue(Alice(), {}, "default")->access_token;
  EXPECT_EQ(service_.Validate(token).error, jose::VerifyError::kIssuerMismatch);
}

}  // namespace
}  // namespace portcullis::token
