#include "token/dpop_state.h"

#include <gtest/gtest.h>

#include <chrono>
#include <span>
#include <string>

namespace portcullis::token {
namespace {

using jose::DpopError;
using std::chrono::seconds;

constexpr UnixSeconds kNow = 1'700'000'000;

SecretBytes Key(char c) {
  const std::string bytes(32, c);
  return SecretBytes(std::span(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()));
}

TEST(DpopReplayCacheTest, AcceptsAProofOnceUntilItExpires) {
  DpopReplayCache cache(10);
  const std::string key = DpopReplayCache::ProofKey("jkt-1", "jti-1");
  EXPECT_EQ(cache.Record(key, kNow + 65, kNow), DpopError::kOk);
  EXPECT_EQ(cache.Record(key, kNow + 66, kNow + 1), DpopError::kReplayed);
  EXPECT_EQ(cache.Record(key, kNow + 129, kNow + 64), DpopError::kReplayed);
  // The same jti under another key is another proof.
  EXPECT_EQ(cache.Record(DpopReplayCache::ProofKey("jkt-2", "jti-1"), kNow + 66, kNow + 1),
            DpopError::kOk);
  // Expired: forgotten (a proof that old is refused by its iat anyway).
  EXPECT_EQ(cache.Record(key, kNow + 130, kNow + 65), DpopError::kOk);
}

TEST(DpopReplayCacheTest, ProofKeysAreHexSha256OfKeyAndJti) {
  // A thumbprint is base64url (no '.'), so "jkt.jti" is unambiguous.
  EXPECT_NE(DpopReplayCache::ProofKey("jkt", "b.c"), DpopReplayCache::ProofKey("jkt", "b"));
  EXPECT_EQ(DpopReplayCache::ProofKey("a", "b").size(), 64u);
}

TEST(DpopReplayCacheTest, WhenFullOfLiveProofsForgetsTheOldestAndCountsIt) {
  DpopReplayCache cache(3);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(
        cache.Record(DpopReplayCache::ProofKey("k", std::to_string(i)), kNow + 65 + i, kNow + i),
        DpopError::kOk);
  }
  const std::string fourth = DpopReplayCache::ProofKey("k", "3");
  EXPECT_EQ(cache.Record(fourth, kNow + 68, kNow + 3), DpopError::kOk);
  EXPECT_EQ(cache.size(), 3u);
  EXPECT_EQ(cache.evicted_live(), 1u);
  // The newest stay remembered; the oldest was forgotten.
  EXPECT_EQ(cache.Record(fourth, kNow + 68, kNow + 3), DpopError::kReplayed);
  EXPECT_EQ(cache.Record(DpopReplayCache::ProofKey("k", "2"), kNow + 68, kNow + 3),
            DpopError::kReplayed);
  EXPECT_EQ(cache.Record(DpopReplayCache::ProofKey("k", "0"), kNow + 68, kNow + 3), DpopError::kOk);
  // Entries whose lifetime is over leave without counting as evictions.
  EXPECT_EQ(cache.Record(DpopReplayCache::ProofKey("k", "9"), kNow + 200, kNow + 135),
            DpopError::kOk);
  EXPECT_EQ(cache.size(), 1u);
  EXPECT_EQ(cache.evicted_live(), 2u);
}

TEST(DpopNoncesTest, ANonceIsValidInItsWindowAndTheNextOnly) {
  FakeClock clock(kNow - kNow % 60);
  DpopNonces nonces(Key('k'), clock, 60);
  const std::string nonce = nonces.Current();
  EXPECT_TRUE(nonces.IsValid(nonce));
  clock.Advance(seconds(59));
  EXPECT_TRUE(nonces.IsValid(nonce));
  EXPECT_EQ(nonces.Current(), nonce);
  clock.Advance(seconds(1));
  EXPECT_NE(nonces.Current(), nonce);
  EXPECT_TRUE(nonces.IsValid(nonce));
  clock.Advance(seconds(60));
  EXPECT_FALSE(nonces.IsValid(nonce));
}

TEST(DpopNoncesTest, RefusesForgedAndForeignNonces) {
  FakeClock clock(kNow);
  DpopNonces nonces(Key('k'), clock);
  DpopNonces other(Key('o'), clock);
  EXPECT_FALSE(nonces.IsValid(other.Current()));
  EXPECT_FALSE(nonces.IsValid(""));
  EXPECT_FALSE(nonces.IsValid("not-a-nonce"));
  std::string nonce = nonces.Current();
  nonce.back() = nonce.back() == 'A' ? 'B' : 'A';
  EXPECT_FALSE(nonces.IsValid(nonce));
}

}  // namespace
}  // namespace portcullis::token
