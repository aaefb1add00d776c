#include "crypto/fake_random.h"

namespace portcullis::crypto {

void FakeRandom::Fill(std::span<std::uint8_t> out) {
  for (std::uint8_t& b : out) {
    if (!queued_.empty()) {
      b = queued_.front();
      queued_.pop_front();
    } else {
      b = NextStreamByte();
    }
  }
}

void FakeRandom::QueueBytesForTesting(std::string_view bytes) {
  for (char c : bytes) queued_.push_back(static_cast<std::uint8_t>(c));
}

std::uint8_t FakeRandom::NextStreamByte() {
  if (word_bytes_left_ == 0) {
    // splitmix64: a small, well-mixed deterministic generator.
    state_ += 0x9e3779b97f4a7c15ULL;
    std::uint64_t z = state_;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    word_ = z ^ (z >> 31);
    word_bytes_left_ = 8;
  }
  const auto b = static_cast<std::uint8_t>(word_ & 0xff);
  word_ >>= 8;
  --word_bytes_left_;
  return b;
}

}  // namespace portcullis::crypto
