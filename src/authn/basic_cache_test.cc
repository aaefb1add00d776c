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

}  // namespace
}  // namespace portcullis::authn
