#include "token/token_service.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <string>
#include <thread>
#include <vector>

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
  EXPECT_EQ(service_.CacheSize(), 1u);
  clock_.Set(kStart + 900 + 29);
  EXPECT_EQ(service_.Validate(token).error, jose::VerifyError::kOk);
  clock_.Set(kStart + 900 + 30);
  EXPECT_EQ(service_.Validate(token).error, jose::VerifyError::kExpired);
  EXPECT_EQ(service_.CacheSize(), 0u);
}

TEST_F(TokenServiceTest, InvalidTokensAreNotCached) {
  std::string token = service_.Issue(Alice(), {}, "default")->access_token;
  char& c = token[token.size() - 10];  // inside the signature, away from its padding bits
  c = c == 'A' ? 'B' : 'A';
  EXPECT_EQ(service_.Validate(token).error, jose::VerifyError::kSignatureInvalid);
  EXPECT_EQ(service_.CacheSize(), 0u);
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
  EXPECT_EQ(service_.CacheSize(), 1u);
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

// --- The verified-token cache's bounds (issue #11) ---

// Tokens of one subject, scope and issue time have the same length (the jti is fixed-size), so
// each entry's estimate is the same.
std::vector<std::string> IssueTokens(TokenService& service, const Subject& subject, int n) {
  std::vector<std::string> tokens;
  for (int i = 0; i < n; ++i) {
    tokens.push_back(service.Issue(subject, {"articles:read"}, "default")->access_token);
  }
  return tokens;
}

TEST_F(TokenServiceTest, CacheByteCapHoldsAndEvictsOneEntryAtATime) {
  std::vector<std::string> tokens = IssueTokens(service_, Alice(), 40);
  for (const std::string& t : tokens) ASSERT_EQ(t.size(), tokens[0].size());
  ASSERT_EQ(service_.Validate(tokens[0]).error, jose::VerifyError::kOk);
  const std::size_t entry_bytes = service_.CacheBytes();
  // Room for 5 entries and a half: the byte cap binds, not the count cap.
  const CacheLimits limits{.max_entries = 1'000, .max_bytes = entry_bytes * 11 / 2};
  TokenService capped(*keys_, revocations_, users_, Policy(), clock_, random_, limits);
  for (const std::string& t : tokens) {
    ASSERT_EQ(capped.Validate(t).error, jose::VerifyError::kOk);
    EXPECT_LE(capped.CacheBytes(), limits.max_bytes);
    EXPECT_EQ(capped.CacheBytes(), capped.CacheSize() * entry_bytes);
  }
  // Full, but not emptied: eviction makes room for one entry, it does not start over.
  EXPECT_EQ(capped.CacheSize(), 5u);
  EXPECT_TRUE(capped.IsCachedForTesting(tokens.back()));
}

TEST_F(TokenServiceTest, CacheEntryEstimateCountsTheTokenItsClaimsAndNodeOverhead) {
  std::string token = service_.Issue(Alice(), {"articles:read"}, "default")->access_token;
  ASSERT_EQ(service_.Validate(token).error, jose::VerifyError::kOk);
  // Node overhead, the token, the claims' objects and contents.
  EXPECT_GT(service_.CacheBytes(), token.size() + 300);
  EXPECT_LT(service_.CacheBytes(), token.size() + 800);
}

TEST_F(TokenServiceTest, TokenLargerThanTheByteCapIsVerifiedButNotCached) {
  std::string small = service_.Issue(Alice(), {}, "default")->access_token;
  Subject many_roles = Alice();
  for (int i = 0; i < 100; ++i) many_roles.roles.push_back("role-" + std::to_string(i));
  std::string large = service_.Issue(many_roles, {}, "default")->access_token;
  ASSERT_EQ(service_.Validate(small).error, jose::VerifyError::kOk);
  const std::size_t small_bytes = service_.CacheBytes();
  // The cap fits the small token's entry, not the large one's.
  TokenService capped(*keys_, revocations_, users_, Policy(), clock_, random_,
                      {.max_entries = 10, .max_bytes = small_bytes + 512});
  jose::VerifyResult r = capped.Validate(large);
  ASSERT_EQ(r.error, jose::VerifyError::kOk);
  EXPECT_EQ(r.claims.roles.size(), 101u);
  EXPECT_EQ(capped.CacheSize(), 0u);
  EXPECT_EQ(capped.CacheBytes(), 0u);
  EXPECT_EQ(capped.Validate(large).error, jose::VerifyError::kOk);  // verified again
  EXPECT_EQ(capped.CacheSize(), 0u);
  ASSERT_EQ(capped.Validate(small).error, jose::VerifyError::kOk);
  EXPECT_TRUE(capped.IsCachedForTesting(small));
}

TEST_F(TokenServiceTest, CacheCountCapHolds) {
  std::vector<std::string> tokens = IssueTokens(service_, Alice(), 30);
  TokenService capped(*keys_, revocations_, users_, Policy(), clock_, random_,
                      {.max_entries = 7, .max_bytes = 16 << 20});
  for (const std::string& t : tokens) {
    ASSERT_EQ(capped.Validate(t).error, jose::VerifyError::kOk);
    EXPECT_LE(capped.CacheSize(), 7u);
  }
  EXPECT_EQ(capped.CacheSize(), 7u);
}

TEST_F(TokenServiceTest, CacheHitsReturnEachTokensOwnClaimsAfterEvictions) {
  // Distinct subjects, so claims of the wrong token could not pass for the right ones.
  std::vector<std::string> tokens;
  std::vector<std::string> jtis;
  for (int i = 0; i < 12; ++i) {
    std::string id = "user-" + std::to_string(100 + i);
    users_.Set(id, 1, false);
    IssuedAccessToken issued =
        *service_.Issue(Subject{id, "name-" + std::to_string(i), {"user"}, 1}, {}, "default");
    tokens.push_back(issued.access_token);
    jtis.push_back(issued.jti);
  }
  TokenService capped(*keys_, revocations_, users_, Policy(), clock_, random_,
                      {.max_entries = 4, .max_bytes = 16 << 20});
  for (int round = 0; round < 3; ++round) {
    for (std::size_t i = 0; i < tokens.size(); i += (round + 1)) {
      jose::VerifyResult r = capped.Validate(tokens[i]);
      ASSERT_EQ(r.error, jose::VerifyError::kOk);
      EXPECT_EQ(r.claims.jti, jtis[i]);
      EXPECT_EQ(r.claims.sub, "user-" + std::to_string(100 + i));
      // Twice: the second is a hit on the entry just cached.
      ASSERT_TRUE(capped.IsCachedForTesting(tokens[i]));
      jose::VerifyResult hit = capped.Validate(tokens[i]);
      ASSERT_EQ(hit.error, jose::VerifyError::kOk);
      EXPECT_EQ(hit.claims, r.claims);
    }
  }
}

TEST_F(TokenServiceTest, TokenInUseStaysCachedWhileOneOffTokensComeAndGo) {
  std::vector<std::string> tokens = IssueTokens(service_, Alice(), 50);
  TokenService capped(*keys_, revocations_, users_, Policy(), clock_, random_,
                      {.max_entries = 4, .max_bytes = 16 << 20});
  const std::string& hot = tokens[0];
  ASSERT_EQ(capped.Validate(hot).error, jose::VerifyError::kOk);
  for (std::size_t i = 1; i < tokens.size(); ++i) {
    ASSERT_EQ(capped.Validate(tokens[i]).error, jose::VerifyError::kOk);  // presented once
    ASSERT_TRUE(capped.IsCachedForTesting(hot)) << "after one-off token " << i;
    ASSERT_EQ(capped.Validate(hot).error, jose::VerifyError::kOk);
  }
}

TEST_F(TokenServiceTest, ExpiredEntryIsEvictedBeforeAnUnusedLiveOne) {
  std::string first = service_.Issue(Alice(), {}, "default")->access_token;  // exp kStart+900
  clock_.Set(kStart + 500);
  std::string second = service_.Issue(Alice(), {}, "default")->access_token;
  clock_.Set(kStart);
  TokenService capped(*keys_, revocations_, users_, Policy(), clock_, random_,
                      {.max_entries = 2, .max_bytes = 16 << 20});
  ASSERT_EQ(capped.Validate(first).error, jose::VerifyError::kOk);
  ASSERT_EQ(capped.Validate(first).error, jose::VerifyError::kOk);  // in use: marked
  clock_.Set(kStart + 500);
  ASSERT_EQ(capped.Validate(second).error, jose::VerifyError::kOk);  // cached, never hit
  clock_.Set(kStart + 900 + 30);  // `first` expired (leeway included), `second` not
  std::string third = service_.Issue(Alice(), {}, "default")->access_token;
  ASSERT_EQ(capped.Validate(third).error, jose::VerifyError::kOk);
  EXPECT_FALSE(capped.IsCachedForTesting(first));
  EXPECT_TRUE(capped.IsCachedForTesting(second));
  EXPECT_TRUE(capped.IsCachedForTesting(third));
}

TEST_F(TokenServiceTest, CachedTokenIsRejectedOnceItsKeyLeftTheRing) {
  std::string token = service_.Issue(Alice(), {}, "default")->access_token;
  ASSERT_EQ(service_.Validate(token).error, jose::VerifyError::kOk);
  ASSERT_TRUE(keys_->Rotate().ok());
  EXPECT_EQ(service_.Validate(token).error, jose::VerifyError::kOk);  // verify_only key
  ASSERT_EQ(*keys_->RetireExpired(clock_.Now(), 0), 3);               // one old key per algorithm
  EXPECT_EQ(service_.Validate(token).error, jose::VerifyError::kKeyNotFound);
  // Still there (nothing was cached since that could empty the cache), but never used again.
  EXPECT_TRUE(service_.IsCachedForTesting(token));
  EXPECT_EQ(service_.Validate(token).error, jose::VerifyError::kKeyNotFound);
}

TEST_F(TokenServiceTest, ConcurrentHitsAndEvictionsNeverMixUpTokens) {
  std::vector<std::string> tokens;
  std::vector<std::string> jtis;
  for (int i = 0; i < 32; ++i) {
    IssuedAccessToken issued = *service_.Issue(Alice(), {}, "default");
    tokens.push_back(issued.access_token);
    jtis.push_back(issued.jti);
  }
  TokenService capped(*keys_, revocations_, users_, Policy(), clock_, random_,
                      {.max_entries = 8, .max_bytes = 16 << 20});
  std::vector<std::thread> threads;
  std::vector<int> mismatches(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int n = 0; n < 400; ++n) {
        // Threads 0 and 1 stay on a few hot tokens; 2 and 3 sweep all of them.
        std::size_t i = t < 2 ? static_cast<std::size_t>(n % 3 + t)
                              : static_cast<std::size_t>((n * 7 + t) % 32);
        jose::VerifyResult r = capped.Validate(tokens[i]);
        if (r.error != jose::VerifyError::kOk || r.claims.jti != jtis[i]) ++mismatches[t];
      }
    });
  }
  for (std::thread& th : threads) th.join();
  EXPECT_EQ(mismatches, std::vector<int>(4, 0));
  EXPECT_LE(capped.CacheSize(), 8u);
}

}  // namespace
}  // namespace portcullis::token
