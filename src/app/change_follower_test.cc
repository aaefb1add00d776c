#include "app/change_follower.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <ctime>
#include <filesystem>
#include <memory>
#include <string>

#include "crypto/fake_random.h"
#include "crypto/master_key.h"
#include "store/sqlite/sqlite_store.h"

namespace portcullis::app {
namespace {

// Near the wall clock: the feed stamps changes with the database's clock.
const UnixSeconds kStart = static_cast<UnixSeconds>(std::time(nullptr));

token::TokenPolicy Policy() {
  token::TokenPolicy p;
  p.issuer = "https://auth.example.test";
  p.audience = {"portcullis"};
  p.access_ttl_s = 900;
  p.leeway_s = 30;
  return p;
}

// What one instance holds in memory, on its own store connections to the shared database.
struct Instance {
  Instance(const std::string& path, const crypto::MasterKey& master, FakeClock& clock,
           crypto::FakeRandom& random)
      : clock_(clock) {
    store::SqliteOptions options;
    options.path = path;
    store = std::move(*store::OpenSqliteStore(options));
    EXPECT_TRUE(store->Migrate().ok());
    keys = std::move(
        *token::KeyManager::Create(*store, master, jose::Algorithm::kEdDsa, clock, random));
    tokens =
        std::make_unique<token::TokenService>(*keys, revocations, users, Policy(), clock, random);
    clients = std::make_unique<authn::ClientAuthenticator>(*store, clock);
    follower = std::make_unique<ChangeFollower>(*store,
                                                ChangeFollower::Targets{.users = &users,
                                                                        .revocations = &revocations,
                                                                        .keys = keys.get(),
                                                                        .tokens = tokens.get(),
                                                                        .clients = clients.get()},
                                                clock);
  }

  FakeClock& clock_;
  std::unique_ptr<store::Store> store;
  std::unique_ptr<token::KeyManager> keys;
  token::RevocationSet revocations{30};
  token::UserStateCache users;
  std::unique_ptr<token::TokenService> tokens;
  std::unique_ptr<authn::ClientAuthenticator> clients;
  std::unique_ptr<ChangeFollower> follower;
};

class ChangeFollowerTest : public ::testing::Test {
 protected:
  ChangeFollowerTest()
      : path_(::testing::TempDir() + "follower_" + std::to_string(::getpid()) + ".db"),
        random_(11),
        master_(crypto::MasterKey::Generate(random_)) {
    std::filesystem::remove(path_);
    a_ = std::make_unique<Instance>(path_, master_, clock_, random_);
    b_ = std::make_unique<Instance>(path_, master_, clock_, random_);
  }
  ~ChangeFollowerTest() override {
    a_.reset();
    b_.reset();
    std::filesystem::remove(path_);
  }

  std::string path_;
  FakeClock clock_{kStart};
  crypto::FakeRandom random_;
  crypto::MasterKey master_;
  std::unique_ptr<Instance> a_, b_;
};

TEST_F(ChangeFollowerTest, BothInstancesShareOneKeySetAndFollowARotation) {
  ASSERT_EQ(a_->keys->active_kid(), b_->keys->active_kid());
  ASSERT_TRUE(b_->follower->Init().ok());
  // One active key per algorithm (EdDSA signs access tokens); a rotation renews all three.
  std::vector<std::string> old_kids;
  for (const token::ActiveKeyInfo& k : a_->keys->active_keys()) old_kids.push_back(k.kid);
  ASSERT_EQ(old_kids.size(), 3u);
  ASSERT_TRUE(a_->keys->Rotate().ok());
  ASSERT_NE(b_->keys->active_kid(), a_->keys->active_kid());
  ASSERT_TRUE(b_->follower->PollOnce().ok());
  EXPECT_EQ(b_->keys->active_kid(), a_->keys->active_kid());
  for (jose::Algorithm alg : jose::kAllAlgorithms) {
    EXPECT_EQ(b_->keys->active_kid(alg), a_->keys->active_kid(alg)) << jose::ToString(alg);
  }
  EXPECT_EQ(b_->keys->verify_only_kids(), old_kids);
  // A token A signs with the new key verifies on B.
  token::Subject client{.id = "svc", .username = std::nullopt, .roles = {}};
  Result<token::IssuedAccessToken> issued = a_->tokens->Issue(client, {}, "svc");
  ASSERT_TRUE(issued.ok());
  EXPECT_EQ(b_->tokens->Validate(issued->access_token).error, jose::VerifyError::kOk);
}

TEST_F(ChangeFollowerTest, RevokedTokenAndDeletedClientReachTheOtherInstance) {
  ASSERT_TRUE(b_->follower->Init().ok());
  token::Subject client{.id = "svc", .username = std::nullopt, .roles = {}};
  std::string revoked = a_->tokens->Issue(client, {}, "svc")->access_token;
  std::string other = a_->tokens->Issue(client, {}, "svc")->access_token;
  jose::VerifyResult claims = a_->tokens->Validate(revoked);
  ASSERT_EQ(claims.error, jose::VerifyError::kOk);
  ASSERT_EQ(b_->tokens->Validate(revoked).error, jose::VerifyError::kOk);

  // A revokes one token: durable first, then its own memory; B learns it from the feed.
  ASSERT_TRUE(a_->store->AddRevokedJti(claims.claims.jti, claims.claims.exp).ok());
  a_->tokens->Revoke(claims.claims);
  EXPECT_EQ(b_->tokens->Validate(revoked).error, jose::VerifyError::kOk);
  ASSERT_TRUE(b_->follower->PollOnce().ok());
  EXPECT_EQ(b_->tokens->Validate(revoked).error, jose::VerifyError::kRevoked);
  EXPECT_EQ(b_->tokens->Validate(other).error, jose::VerifyError::kOk);

  // The client is deleted (e.g. by the CLI): its earlier tokens stop working everywhere.
  store::Client record;
  record.client_id = "svc";
  record.name = "svc";
  record.secret_hash = authn::HashClientSecret("svc-secret");
  ASSERT_TRUE(a_->store->CreateClient(record).ok());
  ASSERT_EQ(b_->clients->Authenticate("svc", "svc-secret", authn::ClientSecretMethod::kBasic).error,
            authn::ClientAuthError::kOk);
  ASSERT_TRUE(
      b_->clients->AuthenticateCached("svc", "svc-secret", authn::ClientSecretMethod::kBasic)
          .has_value());
  ASSERT_TRUE(a_->store->DeleteClient("svc", kStart).ok());
  ASSERT_TRUE(b_->follower->PollOnce().ok());
  EXPECT_EQ(b_->tokens->Validate(other).error, jose::VerifyError::kRevoked);
  EXPECT_EQ(b_->clients->AuthenticateCached("svc", "svc-secret", authn::ClientSecretMethod::kBasic),
            std::nullopt);  // B's cache too
  // A client re-created later with the same id gets working tokens again.
  clock_.Advance(std::chrono::seconds(3600));
  std::string fresh = b_->tokens->Issue(client, {}, "svc")->access_token;
  EXPECT_EQ(b_->tokens->Validate(fresh).error, jose::VerifyError::kOk);

  // A starting instance replays the deletions still in the feed.
  Instance c(path_, master_, clock_, random_);
  ASSERT_TRUE(c.follower->Init().ok());
  clock_.Advance(std::chrono::seconds(-3600));
  EXPECT_EQ(c.tokens->Validate(other).error, jose::VerifyError::kRevoked);
}

TEST_F(ChangeFollowerTest, DisabledUserReachesTheOtherInstance) {
  store::NewUser user;
  user.id = "u1";
  user.username = "alice";
  user.password_hash = "$argon2id$x";
  ASSERT_TRUE(a_->store->CreateUser(user).ok());
  ASSERT_TRUE(b_->follower->Init().ok());
  ASSERT_TRUE(b_->users.LoadFrom(*b_->store).ok());
  EXPECT_EQ(b_->users.Check("u1", 1), jose::VerifyError::kOk);
  ASSERT_TRUE(a_->store->SetUserDisabled("u1", true).ok());
  ASSERT_TRUE(b_->follower->PollOnce().ok());
  EXPECT_NE(b_->users.Check("u1", 2), jose::VerifyError::kOk);
}

TEST_F(ChangeFollowerTest, StartAndStopReturnPromptly) {
  ASSERT_TRUE(b_->follower->Init().ok());
  b_->follower->Start();
  b_->follower->Stop();  // interrupts the wait: the test would time out otherwise
  SUCCEED();
}

}  // namespace
}  // namespace portcullis::app
