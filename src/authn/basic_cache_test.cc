#include "authn/basic_cache.h"

#include <gtest/gtest.h>

#include "crypto/fake_random.h"

namespace portcullis::authn {
namespace {

TEST(BasicCacheTest, HitWithinTtlAndMissAfter) {
  FakeClock clock(1000);
  crypto::FakeRandom random(1);
  BasicCache cache(clock, 30, random);
  cache.Put("alice", "secret-1", CachedBasicUser{"u1", "alice", {"user"}, {}, 3});
  ASSERT_TRUE(cache.Find("alice", "secret-1"));
  EXPECT_EQ(cache.Find("alice", "secret-1")->credential_version, 3);
  clock.Set(1029);
  EXPECT_TRUE(cache.Find("alice", "secret-1"));
  clock.Set(1030);
  EXPECT_FALSE(cache.Find("alice", "secret-1"));
}

TEST(BasicCacheTest, OtherPasswordOrUserMisses) {
  FakeClock clock(1000);
  crypto::FakeRandom random(2);
  BasicCache cache(clock, 30, random);
  cache.Put("alice", "secret-1", CachedBasicUser{"u1", "alice", {}, {}, 1});
  EXPECT_FALSE(cache.Find("alice", "secret-2"));
  EXPECT_FALSE(cache.Find("alicf", "secret-1"));
  EXPECT_FALSE(cache.Find(std::string_view("alice\0secret", 12), "-1"));  // NUL separator
  cache.Erase("alice", "secret-1");
  EXPECT_FALSE(cache.Find("alice", "secret-1"));
}

TEST(BasicCacheTest, ZeroTtlDisablesTheCache) {
  FakeClock clock(1000);
  crypto::FakeRandom random(3);
  BasicCache cache(clock, 0, random);
  cache.Put("alice", "secret-1", CachedBasicUser{"u1", "alice", {}, {}, 1});
  EXPECT_FALSE(cache.Find("alice", "secret-1"));
  EXPECT_EQ(cache.SizeForTesting(), 0u);
}

TEST(BasicCacheTest, BytesAreCountedOnPutAndGivenBackOnEraseAndExpiry) {
  FakeClock clock(1000);
  crypto::FakeRandom random(4);
  BasicCache cache(clock, 30, random);
  cache.Put("alice", "secret-1", CachedBasicUser{"u1", "alice", {"user"}, {"users:read"}, 1});
  const std::size_t one = cache.BytesForTesting();
  EXPECT_GT(one, 0u);
  cache.Put("alice", "secret-1", CachedBasicUser{"u1", "alice", {"user"}, {"users:read"}, 2});
  EXPECT_EQ(cache.BytesForTesting(), one);  // replaced, not added
  cache.Put("bobby", "secret-2", CachedBasicUser{"u2", "bobby", {"user"}, {"users:read"}, 1});
  EXPECT_EQ(cache.BytesForTesting(), 2 * one);
  cache.Erase("alice", "secret-1");
  EXPECT_EQ(cache.BytesForTesting(), one);
  clock.Set(1030);
  EXPECT_FALSE(cache.Find("bobby", "secret-2"));
  EXPECT_EQ(cache.BytesForTesting(), 0u);
}

TEST(BasicCacheTest, APutPastEitherCapStartsTheCacheOver) {
  FakeClock clock(1000);
  crypto::FakeRandom random(5);
  const CachedBasicUser user{"u1", "alice", {"user"}, {"users:read"}, 1};
  BasicCache probe(clock, 30, random);
  probe.Put("alice", "secret-1", user);
  const std::size_t one = probe.BytesForTesting();

  BasicCache by_bytes(clock, 30, random, CacheLimits{.max_entries = 100, .max_bytes = 2 * one});
  by_bytes.Put("alice", "secret-1", user);
  by_bytes.Put("alice", "secret-2", user);
  EXPECT_EQ(by_bytes.SizeForTesting(), 2u);
  by_bytes.Put("alice", "secret-3", user);
  EXPECT_EQ(by_bytes.SizeForTesting(), 1u);
  EXPECT_TRUE(by_bytes.Find("alice", "secret-3"));

  BasicCache by_count(clock, 30, random, CacheLimits{.max_entries = 2, .max_bytes = 1 << 20});
  by_count.Put("alice", "secret-1", user);
  by_count.Put("alice", "secret-2", user);
  by_count.Put("alice", "secret-3", user);
  EXPECT_EQ(by_count.SizeForTesting(), 1u);
  EXPECT_TRUE(by_count.Find("alice", "secret-3"));
}

TEST(BasicCacheTest, AnEntryLargerThanTheByteCapIsNeverCached) {
  FakeClock clock(1000);
  crypto::FakeRandom random(6);
  BasicCache cache(clock, 30, random, CacheLimits{.max_entries = 100, .max_bytes = 4096});
  cache.Put("alice", "secret-1", CachedBasicUser{"u1", "alice", {"user"}, {}, 1});
  CachedBasicUser huge{"u2", "bobby", {}, {}, 1};
  huge.permissions.assign(100, std::string(64, 'p'));  // ~10 KiB of permissions
  cache.Put("bobby", "secret-2", huge);
  EXPECT_FALSE(cache.Find("bobby", "secret-2"));
  EXPECT_TRUE(cache.Find("alice", "secret-1"));  // and nothing was dropped for it
}

}  // namespace
}  // namespace portcullis::authn
