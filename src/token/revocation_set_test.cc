#include "token/revocation_set.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "token/test_fakes.h"

namespace portcullis::token {
namespace {

constexpr UnixSeconds kExp = 1'800'000'900;
constexpr std::int64_t kLeeway = 30;

TEST(RevocationSetTest, AddedJtiIsRevokedAndOthersAreNot) {
  RevocationSet set(kLeeway);
  EXPECT_FALSE(set.IsRevoked("jti-1"));
  set.Add("jti-1", kExp);
  EXPECT_TRUE(set.IsRevoked("jti-1"));
  EXPECT_FALSE(set.IsRevoked("jti-2"));
  EXPECT_FALSE(set.IsRevoked(""));
  EXPECT_EQ(set.size(), 1u);
}

TEST(RevocationSetTest, PruneKeepsEntryWhileTheTokenIsAcceptedWithinLeeway) {
  RevocationSet set(kLeeway);
  set.Add("jti-1", kExp);
  // The verifier accepts the token while now - leeway < exp.
  EXPECT_EQ(set.Prune(kExp + kLeeway - 1), 0u);
  EXPECT_TRUE(set.IsRevoked("jti-1"));
  EXPECT_EQ(set.Prune(kExp + kLeeway), 1u);
  EXPECT_FALSE(set.IsRevoked("jti-1"));
  EXPECT_EQ(set.size(), 0u);
}

TEST(RevocationSetTest, PruneDropsOnlyExpiredEntries) {
  RevocationSet set(0);
  set.Add("old", 100);
  set.Add("new", 200);
  EXPECT_EQ(set.Prune(150), 1u);
  EXPECT_FALSE(set.IsRevoked("old"));
  EXPECT_TRUE(set.IsRevoked("new"));
}

TEST(RevocationSetTest, AddingTwiceKeepsTheLaterExpiry) {
  RevocationSet set(0);
  set.Add("jti", 200);
  set.Add("jti", 100);
  EXPECT_EQ(set.size(), 1u);
  EXPECT_EQ(set.Prune(150), 0u);
  EXPECT_TRUE(set.IsRevoked("jti"));
}

TEST(RevocationSetTest, NegativeLeewayIsTreatedAsZero) {
  RevocationSet set(-5);
  set.Add("jti", 100);
  EXPECT_EQ(set.Prune(99), 0u);
  EXPECT_EQ(set.Prune(100), 1u);
}

TEST(RevocationSetTest, LoadReplacesTheWholeSet) {
  RevocationSet set(kLeeway);
  set.Add("stale", kExp);
  set.Load({{"a", kExp}, {"b", kExp + 1}});
  EXPECT_FALSE(set.IsRevoked("stale"));
  EXPECT_TRUE(set.IsRevoked("a"));
  EXPECT_TRUE(set.IsRevoked("b"));
  EXPECT_EQ(set.size(), 2u);
}

TEST(RevocationSetTest, LoadFromStoreTakesEntriesStillWithinLeeway) {
  testing::FakeTokenStore store;
  ASSERT_TRUE(store.AddRevokedJti("gone", kExp - kLeeway).ok());
  ASSERT_TRUE(store.AddRevokedJti("in-leeway", kExp - kLeeway + 1).ok());
  ASSERT_TRUE(store.AddRevokedJti("live", kExp + 100).ok());
  RevocationSet set(kLeeway);
  ASSERT_TRUE(set.LoadFrom(store, kExp).ok());
  EXPECT_FALSE(set.IsRevoked("gone"));
  EXPECT_TRUE(set.IsRevoked("in-leeway"));
  EXPECT_TRUE(set.IsRevoked("live"));
}

TEST(RevocationSetTest, LoadFromFailingStoreKeepsTheSetAndReturnsTheError) {
  testing::FakeTokenStore store;
  store.fail_all_ = true;
  RevocationSet set(kLeeway);
  set.Add("kept", kExp);
  Status s = set.LoadFrom(store, kExp);
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  EXPECT_TRUE(set.IsRevoked("kept"));
}

TEST(RevocationSetTest, ConcurrentReadersAndWritersSeeConsistentState) {
  RevocationSet set(0);
  constexpr int kPerThread = 1000;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&set, t] {
      for (int i = 0; i < kPerThread; ++i) {
        std::string jti = std::to_string(t) + "-" + std::to_string(i);
        set.Add(jti, 1000);
        EXPECT_TRUE(set.IsRevoked(jti));
      }
    });
  }
  for (std::thread& th : threads) th.join();
  EXPECT_EQ(set.size(), 4u * kPerThread);
  EXPECT_EQ(set.Prune(1000), 4u * kPerThread);
}

}  // namespace
}  // namespace portcullis::token
