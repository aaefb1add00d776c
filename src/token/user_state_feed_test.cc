// UserStateCache::ApplyChanges against the real SQLite store: changes written by "another
// process" (here: the store directly, as the CLI does) reach the cache through the change feed.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "store/sqlite/sqlite_store.h"
#include "token/user_state_cache.h"

namespace portcullis::token {
namespace {

using jose::VerifyError;

class UserStateFeedTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = ::testing::TempDir() + "portcullis_feed_XXXXXX";
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    Result<std::unique_ptr<store::Store>> opened =
        store::OpenSqliteStore({.path = (dir_ / "p.db").string()});
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    store_ = std::move(*opened);
    ASSERT_TRUE(store_->Migrate().ok());
    ASSERT_TRUE(AddUser("u1", "alice").ok());
    ASSERT_TRUE(AddUser("u2", "bob").ok());
    Result<std::int64_t> latest = store_->LatestUserChange();
    ASSERT_TRUE(latest.ok());
    seq_ = *latest;
    ASSERT_TRUE(cache_.LoadFrom(*store_).ok());
  }
  void TearDown() override {
    store_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  Status AddUser(const std::string& id, const std::string& name) {
    store::NewUser u;
    u.id = id;
    u.username = name;
    u.password_hash = "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA";
    u.roles = {"user"};
    u.created_at = 1000;
    return store_->CreateUser(u).status();
  }

  void Follow() {
    Result<std::int64_t> next = cache_.ApplyChanges(*store_, seq_);
    ASSERT_TRUE(next.ok()) << next.status().ToString();
    EXPECT_GE(*next, seq_);
    seq_ = *next;
  }

  std::filesystem::path dir_;
  std::unique_ptr<store::Store> store_;
  UserStateCache cache_;
  std::int64_t seq_ = 0;
};

TEST_F(UserStateFeedTest, NothingNewKeepsTheSequence) {
  std::int64_t before = seq_;
  Follow();
  EXPECT_EQ(seq_, before);
  EXPECT_EQ(cache_.Check("u1", 1), VerifyError::kOk);
}

TEST_F(UserStateFeedTest, DisableWrittenElsewhereReachesTheCache) {
  ASSERT_TRUE(store_->SetUserDisabled("u1", true).ok());
  EXPECT_EQ(cache_.Check("u1", 1), VerifyError::kOk);  // not yet followed
  Follow();
  EXPECT_EQ(cache_.Check("u1", 2), VerifyError::kSubjectDisabled);
  EXPECT_EQ(cache_.Check("u2", 1), VerifyError::kOk);
  ASSERT_TRUE(store_->SetUserDisabled("u1", false).ok());
  Follow();
  EXPECT_EQ(cache_.Check("u1", 1), VerifyError::kStaleCredentials);
  EXPECT_EQ(cache_.Check("u1", 2), VerifyError::kOk);
}

TEST_F(UserStateFeedTest, BumpAndDeletionAndCreationReachTheCache) {
  ASSERT_TRUE(store_->BumpCredentialVersion("u2").ok());
  ASSERT_TRUE(store_->DeleteUser("u1").ok());
  ASSERT_TRUE(AddUser("u3", "carol").ok());
  Follow();
  EXPECT_EQ(cache_.Check("u2", 1), VerifyError::kStaleCredentials);
  EXPECT_EQ(cache_.Check("u1", 1), VerifyError::kUnknownSubject);
  EXPECT_EQ(cache_.Check("u3", 1), VerifyError::kOk);
}

TEST_F(UserStateFeedTest, RoleRemovalWrittenElsewhereMakesOldTokensStale) {
  ASSERT_TRUE(store_->SetUserRoles("u2", {}).ok());
  Follow();
  EXPECT_EQ(cache_.Check("u2", 1), VerifyError::kStaleCredentials);
}

TEST_F(UserStateFeedTest, OnChangeNamesEachChangedUserIncludingApiKeyRevocations) {
  store::ApiKey key;
  key.id = "k00000000001";
  key.secret_hash = std::string(64, 'a');
  key.user_id = "u2";
  key.name = "ci";
  ASSERT_TRUE(store_->CreateApiKey(key).ok());
  ASSERT_TRUE(store_->BumpCredentialVersion("u1").ok());
  ASSERT_TRUE(store_->DeleteApiKey("k00000000001").ok());  // u2's state is unchanged
  std::vector<std::string> changed;
  Result<std::int64_t> next = cache_.ApplyChanges(
      *store_, seq_, [&changed](std::string_view id) { changed.emplace_back(id); });
  ASSERT_TRUE(next.ok()) << next.status().ToString();
  EXPECT_EQ(changed, std::vector<std::string>({"u1", "u2"}));
  EXPECT_EQ(cache_.Check("u2", 1), VerifyError::kOk);
}

}  // namespace
}  // namespace portcullis::token
