#include "token/refresh_service.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <thread>
#include <vector>

#include "crypto/random.h"
#include "crypto/sha256.h"
#include "store/sqlite/sqlite_store.h"
#include "token/test_fakes.h"

namespace portcullis::token {
namespace {

constexpr UnixSeconds kStart = 1'800'000'000;
constexpr std::int64_t kIdle = 1'000;
constexpr std::int64_t kAbsolute = 5'000;

class RefreshServiceTest : public ::testing::Test {
 protected:
  RefreshServiceTest() : clock_(kStart), service_(store_, Policy(0), clock_, random_) {}

  static RefreshPolicy Policy(std::int64_t grace) {
    return RefreshPolicy{.idle_ttl_s = kIdle, .absolute_ttl_s = kAbsolute, .reuse_grace_s = grace};
  }
  std::string Issue(std::string_view scope = "a b c") {
    Result<IssuedRefresh> issued = service_.IssueFamily("user-1", "default", scope);
    EXPECT_TRUE(issued.ok());
    return issued->refresh_token;
  }
  store::RefreshToken Stored(std::string_view opaque) {
    return *store_.FindRefreshToken(crypto::Sha256Hex(opaque));
  }
  // Every token of the family is revoked.
  bool FamilyRevoked(std::string_view family_id) {
    for (const store::RefreshToken& t : store_.AllRefreshTokens()) {
      if (t.family_id == family_id && !t.revoked_at) return false;
    }
    return true;
  }

  testing::FakeTokenStore store_;
  FakeClock clock_;
  crypto::Random& random_ = crypto::OsRandomInstance();
  RefreshService service_;
};

TEST(RefreshErrorTest, NumbersAndNamesAreStable) {
  EXPECT_EQ(static_cast<int>(RefreshError::kOk), 0);
  EXPECT_EQ(static_cast<int>(RefreshError::kStoreUnavailable), 7);
  EXPECT_EQ(ToString(RefreshError::kOk), "ok");
  EXPECT_EQ(ToString(RefreshError::kUnknown), "unknown");
  EXPECT_EQ(ToString(RefreshError::kExpired), "expired");
  EXPECT_EQ(ToString(RefreshError::kRevoked), "revoked");
  EXPECT_EQ(ToString(RefreshError::kReuseDetected), "reuse_detected");
  EXPECT_EQ(ToString(RefreshError::kClientMismatch), "client_mismatch");
  EXPECT_EQ(ToString(RefreshError::kScopeExceeded), "scope_exceeded");
  EXPECT_EQ(ToString(RefreshError::kStoreUnavailable), "store_unavailable");
}

TEST_F(RefreshServiceTest, IssuedTokenIsOpaqueAndStoredOnlyHashed) {
  Result<IssuedRefresh> issued = service_.IssueFamily("user-1", "default", "a b");
  ASSERT_TRUE(issued.ok());
  EXPECT_EQ(issued->refresh_token.size(), 43u);
  EXPECT_EQ(issued->record.token_hash, crypto::Sha256Hex(issued->refresh_token));
  EXPECT_EQ(issued->record.expires_at, kStart + kIdle);
  EXPECT_EQ(issued->record.family_expires_at, kStart + kAbsolute);
  EXPECT_FALSE(issued->record.parent_hash.has_value());
  for (const store::RefreshToken& t : store_.AllRefreshTokens()) {
    EXPECT_NE(t.token_hash, issued->refresh_token);
  }
}

TEST_F(RefreshServiceTest, RotationChainKeepsFamilyAndMarksParentsUsed) {
  std::string t0 = Issue();
  std::string family = Stored(t0).family_id;
  clock_.Set(kStart + 10);
  RotateResult r1 = service_.Rotate(t0, "default", std::nullopt);
  ASSERT_EQ(r1.error, RefreshError::kOk);
  EXPECT_NE(r1.refresh_token, t0);
  EXPECT_EQ(r1.family_id, family);
  EXPECT_EQ(r1.record.family_id, family);
  EXPECT_EQ(r1.record.parent_hash, std::optional<std::string>(crypto::Sha256Hex(t0)));
  EXPECT_EQ(r1.record.expires_at, kStart + 10 + kIdle);
  EXPECT_EQ(r1.record.family_expires_at, kStart + kAbsolute);
  EXPECT_EQ(r1.record.scope, "a b c");
  EXPECT_EQ(Stored(t0).used_at, std::optional<UnixSeconds>(kStart + 10));
  clock_.Set(kStart + 20);
  RotateResult r2 = service_.Rotate(r1.refresh_token, "default", std::nullopt);
  ASSERT_EQ(r2.error, RefreshError::kOk);
  EXPECT_EQ(r2.record.family_id, family);
  EXPECT_EQ(store_.AllRefreshTokens().size(), 3u);
}

TEST_F(RefreshServiceTest, IdleExpiryBoundary) {
  std::string t0 = Issue();
  clock_.Set(kStart + kIdle - 1);
  RotateResult r = service_.Rotate(t0, "default", std::nullopt);
  ASSERT_EQ(r.error, RefreshError::kOk);
  clock_.Set(kStart + kIdle - 1 + kIdle);
  EXPECT_EQ(service_.Rotate(r.refresh_token, "default", std::nullopt).error,
            RefreshError::kExpired);
  EXPECT_FALSE(Stored(r.refresh_token).used_at.has_value());
}

TEST_F(RefreshServiceTest, IdleExpiryExactlyAtExpiresAt) {
  std::string t0 = Issue();
  clock_.Set(kStart + kIdle);
  EXPECT_EQ(service_.Rotate(t0, "default", std::nullopt).error, RefreshError::kExpired);
}

TEST_F(RefreshServiceTest, AbsoluteExpiryBoundaryCapsIdleExpiry) {
  std::string t = Issue();
  // Rotate every 900 s: the family ends at kStart + 5000 whatever the idle expiry says.
  for (UnixSeconds at = kStart + 900; at < kStart + kAbsolute; at += 900) {
    clock_.Set(at);
    RotateResult r = service_.Rotate(t, "default", std::nullopt);
    ASSERT_EQ(r.error, RefreshError::kOk) << at - kStart;
    EXPECT_EQ(r.record.expires_at, std::min(at + kIdle, kStart + kAbsolute));
    t = r.refresh_token;
  }
  // Last rotation at +4500: expires_at = min(5500, 5000) = 5000.
  clock_.Set(kStart + kAbsolute - 1);
  RotateResult last = service_.Rotate(t, "default", std::nullopt);
  ASSERT_EQ(last.error, RefreshError::kOk);
  clock_.Set(kStart + kAbsolute);
  EXPECT_EQ(service_.Rotate(last.refresh_token, "default", std::nullopt).error,
            RefreshError::kExpired);
}

TEST_F(RefreshServiceTest, ReuseRevokesWholeFamilyIncludingNewest) {
  std::string t0 = Issue();
  RotateResult r1 = service_.Rotate(t0, "default", std::nullopt);
  RotateResult r2 = service_.Rotate(r1.refresh_token, "default", std::nullopt);
  ASSERT_EQ(r2.error, RefreshError::kOk);
  clock_.Set(kStart + 5);
  RotateResult replay = service_.Rotate(t0, "default", std::nullopt);
  EXPECT_EQ(replay.error, RefreshError::kReuseDetected);
  EXPECT_TRUE(replay.reuse_detected);
  EXPECT_EQ(replay.family_id, r2.family_id);
  EXPECT_TRUE(replay.refresh_token.empty());
  EXPECT_TRUE(FamilyRevoked(r2.family_id));
  EXPECT_EQ(service_.Rotate(r2.refresh_token, "default", std::nullopt).error,
            RefreshError::kRevoked);
}

TEST_F(RefreshServiceTest, OtherFamiliesSurviveReuse) {
  std::string mine = Issue();
  std::string other = Issue();
  ASSERT_EQ(service_.Rotate(mine, "default", std::nullopt).error, RefreshError::kOk);
  ASSERT_EQ(service_.Rotate(mine, "default", std::nullopt).error, RefreshError::kReuseDetected);
  EXPECT_EQ(service_.Rotate(other, "default", std::nullopt).error, RefreshError::kOk);
}

TEST_F(RefreshServiceTest, GraceAllowsImmediateParentWithinWindowExactBoundary) {
  RefreshService grace(store_, Policy(30), clock_, random_);
  std::string t0 = grace.IssueFamily("user-1", "default", "a")->refresh_token;
  clock_.Set(kStart + 100);
  RotateResult lost = grace.Rotate(t0, "default", std::nullopt);  // response never arrived
  ASSERT_EQ(lost.error, RefreshError::kOk);
  clock_.Set(kStart + 130);  // used_at + grace: still allowed
  RotateResult retry = grace.Rotate(t0, "default", std::nullopt);
  ASSERT_EQ(retry.error, RefreshError::kOk);
  EXPECT_FALSE(retry.reuse_detected);
  EXPECT_EQ(retry.record.parent_hash, std::optional<std::string>(crypto::Sha256Hex(t0)));
  EXPECT_EQ(retry.record.family_id, lost.record.family_id);
  EXPECT_TRUE(Stored(lost.refresh_token).revoked_at.has_value());
  EXPECT_FALSE(Stored(retry.refresh_token).revoked_at.has_value());
  // The replaced successor is dead; the new one works.
  clock_.Set(kStart + 131);
  RotateResult next = grace.Rotate(retry.refresh_token, "default", std::nullopt);
  EXPECT_EQ(next.error, RefreshError::kOk);
}

TEST_F(RefreshServiceTest, GraceEndsOneSecondAfterTheWindow) {
  RefreshService grace(store_, Policy(30), clock_, random_);
  std::string t0 = grace.IssueFamily("user-1", "default", "a")->refresh_token;
  clock_.Set(kStart + 100);
  RotateResult lost = grace.Rotate(t0, "default", std::nullopt);
  ASSERT_EQ(lost.error, RefreshError::kOk);
  clock_.Set(kStart + 131);
  RotateResult retry = grace.Rotate(t0, "default", std::nullopt);
  EXPECT_EQ(retry.error, RefreshError::kReuseDetected);
  EXPECT_TRUE(FamilyRevoked(lost.record.family_id));
}

TEST_F(RefreshServiceTest, GraceDoesNotApplyOnceTheSuccessorWasUsed) {
  RefreshService grace(store_, Policy(30), clock_, random_);
  std::string t0 = grace.IssueFamily("user-1", "default", "a")->refresh_token;
  RotateResult r1 = grace.Rotate(t0, "default", std::nullopt);
  RotateResult r2 = grace.Rotate(r1.refresh_token, "default", std::nullopt);
  ASSERT_EQ(r2.error, RefreshError::kOk);
  EXPECT_EQ(grace.Rotate(t0, "default", std::nullopt).error, RefreshError::kReuseDetected);
  EXPECT_TRUE(FamilyRevoked(r2.record.family_id));
}

TEST_F(RefreshServiceTest, GrandparentNeverGetsGrace) {
  RefreshService grace(store_, Policy(30), clock_, random_);
  std::string t0 = grace.IssueFamily("user-1", "default", "a")->refresh_token;
  RotateResult r1 = grace.Rotate(t0, "default", std::nullopt);
  RotateResult r2 = grace.Rotate(r1.refresh_token, "default", std::nullopt);
  ASSERT_EQ(r2.error, RefreshError::kOk);
  // r2 unused, r1 is its immediate parent, t0 is the grandparent: within the window, no grace.
  RotateResult old = grace.Rotate(t0, "default", std::nullopt);
  EXPECT_EQ(old.error, RefreshError::kReuseDetected);
  EXPECT_TRUE(FamilyRevoked(r2.record.family_id));
}

TEST_F(RefreshServiceTest, ClientMismatchChangesNothing) {
  std::string t0 = Issue();
  std::vector<store::RefreshToken> before = store_.AllRefreshTokens();
  RotateResult r = service_.Rotate(t0, "other-client", std::nullopt);
  EXPECT_EQ(r.error, RefreshError::kClientMismatch);
  EXPECT_FALSE(r.reuse_detected);
  std::vector<store::RefreshToken> after = store_.AllRefreshTokens();
  ASSERT_EQ(after.size(), before.size());
  EXPECT_FALSE(after[0].used_at.has_value());
  EXPECT_FALSE(after[0].revoked_at.has_value());
  EXPECT_EQ(service_.Rotate(t0, "default", std::nullopt).error, RefreshError::kOk);
}

TEST_F(RefreshServiceTest, ClientMismatchOnAUsedTokenDoesNotRevokeTheFamily) {
  std::string t0 = Issue();
  RotateResult r1 = service_.Rotate(t0, "default", std::nullopt);
  EXPECT_EQ(service_.Rotate(t0, "other-client", std::nullopt).error, RefreshError::kClientMismatch);
  EXPECT_EQ(service_.Rotate(r1.refresh_token, "default", std::nullopt).error, RefreshError::kOk);
}

TEST_F(RefreshServiceTest, ScopeMayNarrow) {
  std::string t0 = Issue("a b c");
  RotateResult r = service_.Rotate(t0, "default", std::vector<std::string>{"c", "a", "a"});
  ASSERT_EQ(r.error, RefreshError::kOk);
  EXPECT_EQ(r.record.scope, "c a");
  // Narrowed for good: b cannot come back.
  EXPECT_EQ(service_.Rotate(r.refresh_token, "default", std::vector<std::string>{"b"}).error,
            RefreshError::kScopeExceeded);
}

TEST_F(RefreshServiceTest, ScopeExceededChangesNothing) {
  std::string t0 = Issue("a b");
  RotateResult r = service_.Rotate(t0, "default", std::vector<std::string>{"a", "admin"});
  EXPECT_EQ(r.error, RefreshError::kScopeExceeded);
  EXPECT_FALSE(Stored(t0).used_at.has_value());
  EXPECT_EQ(service_.Rotate(t0, "default", std::nullopt).error, RefreshError::kOk);
}

TEST_F(RefreshServiceTest, UnknownAndGarbageTokens) {
  EXPECT_EQ(service_.Rotate("nope", "default", std::nullopt).error, RefreshError::kUnknown);
  EXPECT_EQ(service_.Rotate("", "default", std::nullopt).error, RefreshError::kUnknown);
  EXPECT_EQ(service_.Rotate(std::string(10'000, 'A'), "default", std::nullopt).error,
            RefreshError::kUnknown);
}

TEST_F(RefreshServiceTest, StoreFailureIsStoreUnavailable) {
  std::string t0 = Issue();
  store_.fail_all_ = true;
  EXPECT_EQ(service_.Rotate(t0, "default", std::nullopt).error, RefreshError::kStoreUnavailable);
  EXPECT_EQ(service_.RevokeToken(t0).code(), StatusCode::kUnavailable);
}

TEST_F(RefreshServiceTest, RevokeTokenRevokesItsFamilyAndUnknownIsOk) {
  std::string t0 = Issue();
  RotateResult r1 = service_.Rotate(t0, "default", std::nullopt);
  ASSERT_TRUE(service_.RevokeToken(t0).ok());  // an old token still names the family
  EXPECT_TRUE(FamilyRevoked(r1.record.family_id));
  EXPECT_EQ(service_.Rotate(r1.refresh_token, "default", std::nullopt).error,
            RefreshError::kRevoked);
  EXPECT_TRUE(service_.RevokeToken("never-issued").ok());
  EXPECT_TRUE(service_.RevokeToken("").ok());
}

TEST_F(RefreshServiceTest, RevokeAllForUserEndsEveryFamily) {
  std::string a = Issue();
  std::string b = Issue();
  Result<int> n = service_.RevokeAllForUser("user-1");
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 2);
  EXPECT_EQ(service_.Rotate(a, "default", std::nullopt).error, RefreshError::kRevoked);
  EXPECT_EQ(service_.Rotate(b, "default", std::nullopt).error, RefreshError::kRevoked);
}

TEST_F(RefreshServiceTest, PresentingAReplacedSuccessorEndsTheFamily) {
  RefreshService grace(store_, Policy(30), clock_, random_);
  std::string t0 = grace.IssueFamily("user-1", "default", "a")->refresh_token;
  RotateResult lost = grace.Rotate(t0, "default", std::nullopt);
  RotateResult retry = grace.Rotate(t0, "default", std::nullopt);
  ASSERT_EQ(retry.error, RefreshError::kOk);
  RotateResult late = grace.Rotate(lost.refresh_token, "default", std::nullopt);
  EXPECT_EQ(late.error, RefreshError::kReuseDetected);
  EXPECT_TRUE(late.reuse_detected);
  EXPECT_TRUE(FamilyRevoked(retry.record.family_id));
}

TEST_F(RefreshServiceTest, PruneDropsFamiliesAtTheirAbsoluteExpiry) {
  Issue();
  clock_.Set(kStart + kAbsolute - 1);
  EXPECT_EQ(*service_.Prune(), 0);
  clock_.Set(kStart + kAbsolute);
  EXPECT_EQ(*service_.Prune(), 1);
}

TEST_F(RefreshServiceTest, ConcurrentRotationWithoutGraceHasExactlyOneWinner) {
  std::string t0 = Issue();
  constexpr int kThreads = 8;
  std::atomic<int> ok{0};
  std::atomic<int> reuse{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&] {
      RotateResult r = service_.Rotate(t0, "default", std::nullopt);
      if (r.error == RefreshError::kOk) ++ok;
      if (r.error == RefreshError::kReuseDetected || r.error == RefreshError::kRevoked) ++reuse;
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(ok.load(), 1);
  EXPECT_EQ(reuse.load(), kThreads - 1);
  // The losers revoked the family: the winner's token is dead too.
  EXPECT_TRUE(FamilyRevoked(Stored(t0).family_id));
}

// The same race against the real SQLite store, whose rotation is one IMMEDIATE transaction.
TEST(RefreshServiceSqliteTest, ConcurrentRotationWithoutGraceHasExactlyOneWinner) {
  std::filesystem::path path = std::filesystem::path(::testing::TempDir()) /
                               ("refresh_race_" + std::to_string(::getpid()) + ".db");
  std::filesystem::remove(path);
  Result<std::unique_ptr<store::Store>> opened =
      store::OpenSqliteStore({.path = path.string(), .pool_size = 8});
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  std::unique_ptr<store::Store> db = std::move(*opened);
  ASSERT_TRUE(db->Migrate().ok());
  FakeClock clock(kStart);
  RefreshService service(*db, RefreshPolicy{.idle_ttl_s = kIdle, .absolute_ttl_s = kAbsolute},
                         clock, crypto::OsRandomInstance());
  std::string t0 = service.IssueFamily("user-1", "default", "a")->refresh_token;
  constexpr int kThreads = 8;
  std::atomic<int> ok{0};
  std::atomic<int> rejected{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&] {
      RotateResult r = service.Rotate(t0, "default", std::nullopt);
      if (r.error == RefreshError::kOk) ++ok;
      if (r.error == RefreshError::kReuseDetected || r.error == RefreshError::kRevoked) {
        ++rejected;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(ok.load(), 1);
  EXPECT_EQ(rejected.load(), kThreads - 1);
  db.reset();
  std::filesystem::remove(path);
  std::filesystem::remove(path.string() + "-wal");
  std::filesystem::remove(path.string() + "-shm");
}

}  // namespace
}  // namespace portcullis::token

namespace portcullis::token {
namespace {

class RefreshHooksTest : public ::testing::Test {
 protected:
  RefreshHooksTest() : clock_(kHooksStart), service_(store_, {}, clock_, random_) {}
  static constexpr UnixSeconds kHooksStart = 1'700'000'000;

  testing::FakeTokenStore store_;
  FakeClock clock_;
  crypto::Random& random_ = crypto::OsRandomInstance();
  RefreshService service_;
};

TEST_F(RefreshHooksTest, TheAuditEventIsWrittenWithTheRotation) {
  std::string t0 = service_.IssueFamily("user-1", "default", "a")->refresh_token;
  store::AuditEvent event;
  event.type = "token.refreshed";
  RotateHooks hooks;
  hooks.audit = &event;
  std::vector<std::string> vetted;
  hooks.vet = [&](const store::RefreshToken& presented) {
    vetted.push_back(presented.user_id);
    return RefreshError::kOk;
  };
  RotateResult r = service_.Rotate(t0, "default", std::nullopt, hooks);
  ASSERT_EQ(r.error, RefreshError::kOk);
  EXPECT_TRUE(r.audit_written);
  EXPECT_EQ(vetted, std::vector<std::string>{"user-1"});
  ASSERT_EQ(store_.audited().size(), 1u);
  EXPECT_EQ(store_.audited()[0].type, "token.refreshed");
  EXPECT_EQ(event.id, 1);
}

TEST_F(RefreshHooksTest, AVetRefusalEndsTheRotationAndWritesNothing) {
  std::string t0 = service_.IssueFamily("user-1", "default", "a")->refresh_token;
  store::AuditEvent event;
  RotateHooks hooks;
  hooks.audit = &event;
  hooks.vet = [](const store::RefreshToken&) { return RefreshError::kRevoked; };
  RotateResult r = service_.Rotate(t0, "default", std::nullopt, hooks);
  EXPECT_EQ(r.error, RefreshError::kRevoked);
  EXPECT_FALSE(r.audit_written);
  EXPECT_TRUE(store_.audited().empty());
  // The presented token was not used: it still rotates once the vet allows it.
  EXPECT_FALSE(store_.FindRefreshToken(crypto::Sha256Hex(t0))->used_at.has_value());
  EXPECT_EQ(service_.Rotate(t0, "default", std::nullopt).error, RefreshError::kOk);
}

TEST_F(RefreshHooksTest, TheVetIsNotAskedForATokenThatFailsTheChecks) {
  std::string t0 = service_.IssueFamily("user-1", "default", "a")->refresh_token;
  int asked = 0;
  RotateHooks hooks;
  hooks.vet = [&](const store::RefreshToken&) {
    ++asked;
    return RefreshError::kOk;
  };
  EXPECT_EQ(service_.Rotate(t0, "other-client", std::nullopt, hooks).error,
            RefreshError::kClientMismatch);
  EXPECT_EQ(service_.Rotate("garbage", "default", std::nullopt, hooks).error,
            RefreshError::kUnknown);
  EXPECT_EQ(asked, 0);
}

}  // namespace
}  // namespace portcullis::token
