// FakeRandom: a deterministic Random for tests. Never use it outside tests.
//
// Bytes queued with QueueBytesForTesting are returned first, in order; after that the output is a
// fixed pseudo-random stream (splitmix64) determined by the seed.
//
// Thread-safety: not synchronized; use from one thread.
//
//   FakeRandom random(/*seed=*/7);
//   EXPECT_EQ(RandomUuid(random), RandomUuid(FakeRandom(7)));
#pragma once

#include <cstdint>
#include <deque>
#include <span>
#include <string_view>

#include "crypto/random.h"

namespace portcullis::crypto {

class FakeRandom final : public Random {
 public:
  explicit FakeRandom(std::uint64_t seed = 0) : state_(seed) {}

  // Fills `out` from the queued bytes, then from the seeded stream.
  void Fill(std::span<std::uint8_t> out) override;

  // Appends bytes that the next Fill calls return before the seeded stream.
  void QueueBytesForTesting(std::string_view bytes);

 private:
  std::uint8_t NextStreamByte();

  std::deque<std::uint8_t> queued_;
  std::uint64_t state_;
  std::uint64_t word_ = 0;
  int word_bytes_left_ = 0;
};

}  // namespace portcullis::crypto
