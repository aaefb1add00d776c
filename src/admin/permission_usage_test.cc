#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "admin/admin_test_fixture.h"
#include "admin/directory.h"
#include "store/sqlite/sqlite_store.h"

namespace portcullis::admin {
namespace {

using testing::HasCode;

class PermissionUsageTest : public testing::DirectoryFixture {
 protected:
  void SetUp() override {
    DirectoryFixture::SetUp();
    alice_ = AddUser("alice", {"user"}).id;
    bob_ = AddUser("bob", {"user"}).id;
  }

  std::vector<store::PermissionUse> Stored() {
    Result<std::vector<store::PermissionUse>> uses = store_->ListPermissionUses();
    EXPECT_TRUE(uses.ok()) << uses.status().ToString();
    return uses.ok() ? *uses : std::vector<store::PermissionUse>{};
  }

  std::size_t FlushOk(PermissionUsage& usage) {
    Result<std::size_t> n = usage.Flush(*store_);
    EXPECT_TRUE(n.ok()) << n.status().ToString();
    return n.ok() ? *n : 0;
  }

  std::string alice_, bob_;
};

TEST_F(PermissionUsageTest, FlushWritesEachUserAndPermissionOnce) {
  PermissionUsage usage(60);
  usage.Record(alice_, "users:read", 100);
  usage.Record(alice_, "users:write", 101);
  usage.Record(bob_, "users:read", 102);
  EXPECT_EQ(FlushOk(usage), 3u);
  std::vector<store::PermissionUse> expected = {
      {alice_, "users:read", 100}, {alice_, "users:write", 101}, {bob_, "users:read", 102}};
  std::sort(expected.begin(), expected.end(),
            [](const auto& a, const auto& b) { return a.user_id < b.user_id; });
  EXPECT_EQ(Stored(), expected);
  EXPECT_EQ(FlushOk(usage), 0u);  // nothing new
}

TEST_F(PermissionUsageTest, RepeatedUseWithinResolutionIsNotRecordedAgain) {
  PermissionUsage usage(60);
  usage.Record(alice_, "users:read", 100);
  usage.Record(alice_, "users:read", 159);
  EXPECT_EQ(FlushOk(usage), 1u);
  EXPECT_EQ(Stored().at(0).at, 100);
  usage.Record(alice_, "users:read", 130);  // within resolution of the flushed one
  usage.Record(alice_, "users:read", 50);   // older: never moves the time back
  EXPECT_EQ(FlushOk(usage), 0u);
  usage.Record(alice_, "users:read", 160);  // a full resolution later
  EXPECT_EQ(FlushOk(usage), 1u);
  EXPECT_EQ(Stored().at(0).at, 160);
}

TEST_F(PermissionUsageTest, AUseIsForgottenAtTheFlushAfterTheOneThatWroteIt) {
  PermissionUsage usage(60);
  usage.Record(alice_, "users:read", 100);
  usage.Record(bob_, "users:read", 100);
  EXPECT_EQ(FlushOk(usage), 2u);
  EXPECT_EQ(usage.SizeForTesting(), 2u);    // still suppresses near repeats
  usage.Record(alice_, "users:read", 130);  // near repeat: not recorded
  usage.Record(bob_, "users:read", 170);    // renewed
  EXPECT_EQ(FlushOk(usage), 1u);
  EXPECT_EQ(usage.SizeForTesting(), 1u);  // alice's forgotten, bob's written again
  EXPECT_EQ(FlushOk(usage), 0u);
  EXPECT_EQ(usage.SizeForTesting(), 0u);
  // A use after the entry is gone is recorded again; the store keeps the later time.
  usage.Record(alice_, "users:read", 90);
  EXPECT_EQ(FlushOk(usage), 1u);
  for (const store::PermissionUse& use : Stored()) {
    EXPECT_EQ(use.at, use.user_id == alice_ ? 100 : 170);
  }
}

TEST_F(PermissionUsageTest, FailedFlushKeepsTheBatchForTheNextFlush) {
  // A store without the schema: every write fails.
  store::SqliteOptions options;
  options.path = ":memory:";
  Result<std::unique_ptr<store::Store>> broken = store::OpenSqliteStore(options);
  ASSERT_TRUE(broken.ok()) << broken.status().ToString();

  PermissionUsage usage(60);
  usage.Record(alice_, "users:read", 100);
  usage.Record(bob_, "roles:read", 100);
  Result<std::size_t> failed = usage.Flush(**broken);
  EXPECT_TRUE(HasCode(failed, StatusCode::kInternal));
  usage.Record(alice_, "users:read", 200);  // newer while the write was failing
  EXPECT_EQ(FlushOk(usage), 2u);
  std::vector<store::PermissionUse> stored = Stored();
  ASSERT_EQ(stored.size(), 2u);
  for (const store::PermissionUse& use : stored) {
    EXPECT_EQ(use.at, use.user_id == alice_ ? 200 : 100);
  }
  EXPECT_EQ(FlushOk(usage), 0u);
}

TEST_F(PermissionUsageTest, ConcurrentRecordsAreAllKept) {
  PermissionUsage usage(60);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&usage, t, this] {
      for (int i = 0; i < 1000; ++i) {
        usage.Record(t % 2 == 0 ? alice_ : bob_, "p:" + std::to_string(t), 100 + i);
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(FlushOk(usage), 4u);
  std::vector<store::PermissionUse> stored = Stored();
  ASSERT_EQ(stored.size(), 4u);
  for (const store::PermissionUse& use : stored) EXPECT_EQ(use.at, 100 + 960);
}

}  // namespace
}  // namespace portcullis::admin
