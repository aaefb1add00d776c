#include "authn/api_key_cache.h"

#include <gtest/gtest.h>

#include <chrono>
#include <memory>

#include "store/sqlite/sqlite_store.h"

namespace portcullis::authn {
namespace {

constexpr std::string_view kSecret = "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789abcdefg";

VerifiedApiKey MakeKey(std::string id, std::string owner = "u1",
                       std::optional<UnixSeconds> expires_at = std::nullopt) {
  VerifiedApiKey key;
  key.key_id = std::move(id);
  key.secret_hash = HashApiKeySecret(kSecret);
  key.expires_at = expires_at;
  key.user_id = std::move(owner);
  key.username = "alice";
  key.permissions = {"users:read"};
  key.credential_version = 3;
  return key;
}

TEST(ApiKeyCacheTest, HitWithinTtlAndMissAfter) {
  FakeClock clock(1000);
  ApiKeyCache cache(clock, 30);
  cache.Put(MakeKey("k1"), cache.Epoch());
  std::optional<VerifiedApiKey> hit = cache.Find("k1");
  ASSERT_TRUE(hit.has_value());
  EXPECT_EQ(hit->credential_version, 3);
  EXPECT_EQ(hit->permissions, std::vector<std::string>({"users:read"}));
  EXPECT_FALSE(cache.Find("k2"));
  clock.Advance(std::chrono::seconds(29));
  EXPECT_TRUE(cache.Find("k1"));
  clock.Advance(std::chrono::seconds(1));
  EXPECT_FALSE(cache.Find("k1"));
}

TEST(ApiKeyCacheTest, StaleEntryServesWhileTheStoreIsDownUntilMaxStaleThenIsDropped) {
  FakeClock clock(1000);
  ApiKeyCache cache(clock, 30);
  cache.Put(MakeKey("k1"), cache.Epoch());
  clock.Advance(std::chrono::seconds(31));
  EXPECT_FALSE(cache.Find("k1"));
  EXPECT_TRUE(cache.FindStale("k1"));
  clock.Advance(std::chrono::seconds(ApiKeyCache::kMaxStaleS));
  EXPECT_FALSE(cache.FindStale("k1"));
  EXPECT_FALSE(cache.Find("k1"));
  EXPECT_EQ(cache.SizeForTesting(), 0u);
  // Revocations reach stale entries too.
  cache.Put(MakeKey("k2", "u2"), cache.Epoch());
  clock.Advance(std::chrono::seconds(31));
  cache.EraseOwner("u2");
  EXPECT_FALSE(cache.FindStale("k2"));
}

TEST(ApiKeyCacheTest, HitStillNeedsTheRightSecretAndAnUnexpiredKey) {
  FakeClock clock(1000);
  ApiKeyCache cache(clock, 30);
  cache.Put(MakeKey("k1", "u1", 1010), cache.Epoch());
  std::optional<VerifiedApiKey> hit = cache.Find("k1");
  ASSERT_TRUE(hit.has_value());
  EXPECT_EQ(CheckApiKeySecret(hit->secret_hash, hit->expires_at, kSecret, clock.Now()),
            ApiKeyError::kOk);
  EXPECT_EQ(CheckApiKeySecret(hit->secret_hash, hit->expires_at, "wrong", clock.Now()),
            ApiKeyError::kWrongSecret);
  // The cache TTL outlives the key: the expiry check on the hit refuses it.
  clock.Set(1010);
  hit = cache.Find("k1");
  ASSERT_TRUE(hit.has_value());
  EXPECT_EQ(CheckApiKeySecret(hit->secret_hash, hit->expires_at, kSecret, clock.Now()),
            ApiKeyError::kExpired);
}

TEST(ApiKeyCacheTest, EraseAndEraseOwnerDropEntries) {
  FakeClock clock(1000);
  ApiKeyCache cache(clock, 30);
  cache.Put(MakeKey("k1", "u1"), cache.Epoch());
  cache.Put(MakeKey("k2", "u1"), cache.Epoch());
  cache.Put(MakeKey("k3", "u2"), cache.Epoch());
  cache.Erase("k1");
  EXPECT_FALSE(cache.Find("k1"));
  EXPECT_TRUE(cache.Find("k2"));
  cache.EraseOwner("u1");
  EXPECT_FALSE(cache.Find("k2"));
  EXPECT_TRUE(cache.Find("k3"));
}

TEST(ApiKeyCacheTest, PutAfterAConcurrentEraseIsIgnored) {
  FakeClock clock(1000);
  ApiKeyCache cache(clock, 30);
  std::uint64_t epoch = cache.Epoch();  // a verification starts reading the store...
  cache.Erase("k1");                    // ...the key is revoked meanwhile...
  cache.Put(MakeKey("k1"), epoch);      // ...and its stale result must not be cached.
  EXPECT_FALSE(cache.Find("k1"));
  epoch = cache.Epoch();
  cache.EraseOwner("u9");
  cache.Put(MakeKey("k1"), epoch);
  EXPECT_FALSE(cache.Find("k1"));
  cache.Put(MakeKey("k1"), cache.Epoch());
  EXPECT_TRUE(cache.Find("k1"));
}

TEST(ApiKeyCacheTest, ZeroTtlDisablesTheCache) {
  FakeClock clock(1000);
  ApiKeyCache cache(clock, 0);
  cache.Put(MakeKey("k1"), cache.Epoch());
  EXPECT_FALSE(cache.Find("k1"));
  EXPECT_EQ(cache.SizeForTesting(), 0u);
}

TEST(ApiKeyCacheTest, BytesAreCountedOnPutAndGivenBackOnEveryErase) {
  FakeClock clock(1000);
  ApiKeyCache cache(clock, 30);
  cache.Put(MakeKey("k1", "u1"), cache.Epoch());
  const std::size_t one = cache.BytesForTesting();
  EXPECT_GT(one, MakeKey("k1").secret_hash.size());
  cache.Put(MakeKey("k2", "u1"), cache.Epoch());
  cache.Put(MakeKey("k3", "u2"), cache.Epoch());
  EXPECT_EQ(cache.BytesForTesting(), 3 * one);
  cache.Put(MakeKey("k3", "u2"), cache.Epoch());  // replaced, not added
  EXPECT_EQ(cache.BytesForTesting(), 3 * one);
  cache.Erase("k1");
  EXPECT_EQ(cache.BytesForTesting(), 2 * one);
  cache.EraseOwner("u1");
  EXPECT_EQ(cache.BytesForTesting(), one);
  clock.Advance(std::chrono::seconds(30 + ApiKeyCache::kMaxStaleS));
  EXPECT_FALSE(cache.Find("k3"));  // dropped for good
  EXPECT_EQ(cache.SizeForTesting(), 0u);
  EXPECT_EQ(cache.BytesForTesting(), 0u);
}

TEST(ApiKeyCacheTest, APutPastTheByteCapStartsTheCacheOver) {
  FakeClock clock(1000);
  ApiKeyCache probe(clock, 30);
  probe.Put(MakeKey("k1"), probe.Epoch());
  const std::size_t one = probe.BytesForTesting();
  // Room for two entries by bytes, many by count.
  ApiKeyCache cache(clock, 30, CacheLimits{.max_entries = 100, .max_bytes = 2 * one + one / 2});
  cache.Put(MakeKey("k1"), cache.Epoch());
  cache.Put(MakeKey("k2"), cache.Epoch());
  cache.Put(MakeKey("k2"), cache.Epoch());  // a replacement fits
  EXPECT_TRUE(cache.Find("k1"));
  cache.Put(MakeKey("k3"), cache.Epoch());
  EXPECT_FALSE(cache.Find("k1"));
  EXPECT_FALSE(cache.Find("k2"));
  EXPECT_TRUE(cache.Find("k3"));
  EXPECT_EQ(cache.BytesForTesting(), one);
}

TEST(ApiKeyCacheTest, APutPastTheCountCapStartsTheCacheOver) {
  FakeClock clock(1000);
  ApiKeyCache cache(clock, 30, CacheLimits{.max_entries = 2, .max_bytes = 1 << 20});
  cache.Put(MakeKey("k1"), cache.Epoch());
  cache.Put(MakeKey("k2"), cache.Epoch());
  cache.Put(MakeKey("k3"), cache.Epoch());
  EXPECT_EQ(cache.SizeForTesting(), 1u);
  EXPECT_TRUE(cache.Find("k3"));
}

TEST(ApiKeyCacheTest, AnEntryLargerThanTheByteCapIsNeverCached) {
  FakeClock clock(1000);
  ApiKeyCache cache(clock, 30, CacheLimits{.max_entries = 100, .max_bytes = 4096});
  cache.Put(MakeKey("k1"), cache.Epoch());
  VerifiedApiKey huge = MakeKey("k2");
  huge.permissions.assign(100, std::string(64, 'p'));  // ~10 KiB of permissions
  cache.Put(huge, cache.Epoch());
  EXPECT_FALSE(cache.Find("k2"));
  EXPECT_TRUE(cache.Find("k1"));  // and nothing was dropped for it
}

class ApiKeyUsageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Result<std::unique_ptr<store::Store>> opened = store::OpenSqliteStore({.path = ":memory:"});
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    store_ = std::move(*opened);
    ASSERT_TRUE(store_->Migrate().ok());
    store::NewUser alice;
    alice.id = "u1";
    alice.username = "alice";
    alice.password_hash = "$argon2id$x";
    ASSERT_TRUE(store_->CreateUser(alice).ok());
    for (const char* id : {"k1", "k2"}) {
      store::ApiKey key;
      key.id = id;
      key.secret_hash = std::string(64, 'a');
      key.user_id = "u1";
      key.name = id;
      ASSERT_TRUE(store_->CreateApiKey(key).ok());
    }
  }

  std::size_t FlushOk(ApiKeyUsage& usage) {
    Result<std::size_t> n = usage.Flush(*store_);
    EXPECT_TRUE(n.ok()) << n.status().ToString();
    return n.ok() ? *n : 0;
  }

  std::optional<UnixSeconds> LastUsed(std::string_view id) {
    Result<store::ApiKey> key = store_->FindApiKey(id);
    EXPECT_TRUE(key.ok());
    return key.ok() ? key->last_used_at : std::nullopt;
  }

  std::unique_ptr<store::Store> store_;
};

TEST_F(ApiKeyUsageTest, FlushWritesLatestUsesOnceAndSkipsNearRepeats) {
  ApiKeyUsage usage(60);
  usage.Record("k1", 1000);
  usage.Record("k1", 1030);  // within the resolution: not re-recorded
  usage.Record("k2", 1005);
  Result<std::size_t> flushed = usage.Flush(*store_);
  ASSERT_TRUE(flushed.ok()) << flushed.status().ToString();
  EXPECT_EQ(*flushed, 2u);
  EXPECT_EQ(LastUsed("k1"), std::optional<UnixSeconds>(1000));
  EXPECT_EQ(LastUsed("k2"), std::optional<UnixSeconds>(1005));

  flushed = usage.Flush(*store_);
  ASSERT_TRUE(flushed.ok());
  EXPECT_EQ(*flushed, 0u);  // nothing new

  usage.Record("k1", 1100);
  flushed = usage.Flush(*store_);
  ASSERT_TRUE(flushed.ok());
  EXPECT_EQ(*flushed, 1u);
  EXPECT_EQ(LastUsed("k1"), std::optional<UnixSeconds>(1100));
}

TEST_F(ApiKeyUsageTest, AUseIsForgottenAtTheFlushAfterTheOneThatWroteIt) {
  ApiKeyUsage usage(60);
  usage.Record("k1", 1000);
  usage.Record("k2", 1000);
  ASSERT_EQ(FlushOk(usage), 2u);
  EXPECT_EQ(usage.SizeForTesting(), 2u);  // still suppresses near repeats
  usage.Record("k1", 1030);               // near repeat: not recorded
  usage.Record("k2", 1070);               // renewed
  ASSERT_EQ(FlushOk(usage), 1u);
  EXPECT_EQ(usage.SizeForTesting(), 1u);  // k1 forgotten, k2 written again
  EXPECT_EQ(FlushOk(usage), 0u);
  EXPECT_EQ(usage.SizeForTesting(), 0u);
  EXPECT_EQ(LastUsed("k1"), std::optional<UnixSeconds>(1000));
  EXPECT_EQ(LastUsed("k2"), std::optional<UnixSeconds>(1070));
  // A use after the entry is gone is recorded again; the store keeps the later time.
  usage.Record("k1", 1050);
  ASSERT_EQ(FlushOk(usage), 1u);
  EXPECT_EQ(LastUsed("k1"), std::optional<UnixSeconds>(1050));
}

TEST_F(ApiKeyUsageTest, ListingsSeeUnflushedUsesMergedOverTheStoredOnes) {
  ApiKeyUsage usage(60);
  usage.Record("k1", 1000);
  ASSERT_EQ(FlushOk(usage), 1u);
  usage.Record("k1", 1100);  // newer than the stored 1000, not flushed
  usage.Record("k2", 1200);  // never flushed; the store has null
  Result<store::ApiKeyPage> page = store_->ListApiKeys(std::nullopt, "", 10);
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  ASSERT_EQ(page->items.size(), 2u);
  EXPECT_EQ(page->items[0].last_used_at, std::optional<UnixSeconds>(1000));
  EXPECT_EQ(page->items[1].last_used_at, std::nullopt);

  std::vector<store::ApiKey> merged = usage.WithRecordedUses(std::move(page->items));
  ASSERT_EQ(merged.size(), 2u);
  EXPECT_EQ(merged[0].id, "k1");
  EXPECT_EQ(merged[0].last_used_at, std::optional<UnixSeconds>(1100));
  EXPECT_EQ(merged[1].last_used_at, std::optional<UnixSeconds>(1200));
}

TEST_F(ApiKeyUsageTest, AnOlderRecordedUseNeverHidesTheStoredNewerOne) {
  ApiKeyUsage usage(60);
  usage.Record("k1", 900);  // e.g. another instance wrote 1000 since
  store::ApiKey stored;
  stored.id = "k1";
  stored.last_used_at = 1000;
  store::ApiKey other;
  other.id = "k3";  // nothing recorded: unchanged
  std::vector<store::ApiKey> merged = usage.WithRecordedUses({stored, other});
  EXPECT_EQ(merged[0].last_used_at, std::optional<UnixSeconds>(1000));
  EXPECT_EQ(merged[1].last_used_at, std::nullopt);
}

}  // namespace
}  // namespace portcullis::authn
