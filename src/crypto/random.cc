#include "crypto/random.h"

#include <openssl/rand.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <string_view>
#include <vector>

#include "crypto/base64.h"

namespace portcullis::crypto {
namespace {

constexpr std::string_view kAlphanumeric =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
constexpr std::string_view kLowerAlphanumeric = "abcdefghijklmnopqrstuvwxyz0123456789";
// Random bytes drawn per refill while sampling characters.
constexpr std::size_t kSampleBatchBytes = 64;

// Draws n characters uniformly from `alphabet` by rejecting bytes at or above the largest
// multiple of the alphabet size that fits in a byte; a plain `byte % size` would be biased.
std::string SampleFrom(Random& random, std::string_view alphabet, std::size_t n) {
  const std::size_t limit = 256 - (256 % alphabet.size());
  std::string out;
  out.reserve(n);
  std::array<std::uint8_t, kSampleBatchBytes> batch{};
  while (out.size() < n) {
    random.Fill(batch);
    for (std::uint8_t b : batch) {
      if (b >= limit) continue;
      out += alphabet[b % alphabet.size()];
      if (out.size() == n) break;
    }
  }
  return out;
}

}  // namespace

Random::~Random() = default;

void OsRandom::Fill(std::span<std::uint8_t> out) {
  // RAND_bytes takes an int length; fill in chunks so huge requests cannot overflow it.
  constexpr std::size_t kMaxChunk = static_cast<std::size_t>(std::numeric_limits<int>::max());
  while (!out.empty()) {
    const std::size_t chunk = out.size() < kMaxChunk ? out.size() : kMaxChunk;
    if (RAND_bytes(out.data(), static_cast<int>(chunk)) != 1) {
      std::fputs("portcullis: fatal: RAND_bytes failed; refusing to continue without a CSPRNG\n",
                 stderr);
      std::abort();
    }
    out = out.subspan(chunk);
  }
}

Random& OsRandomInstance() {
  static OsRandom* const instance = new OsRandom();  // Never destroyed; stateless.
  return *instance;
}

std::string RandomAlphanumeric(Random& random, std::size_t n) {
  return SampleFrom(random, kAlphanumeric, n);
}

std::string RandomLowerAlphanumeric(Random& random, std::size_t n) {
  return SampleFrom(random, kLowerAlphanumeric, n);
}

std::string RandomBase64Url(Random& random, std::size_t bytes) {
  std::vector<std::uint8_t> buffer(bytes);
  random.Fill(buffer);
  return Base64UrlEncode({reinterpret_cast<const char*>(buffer.data()), buffer.size()});
}

std::string RandomUuid(Random& random) {
  std::array<std::uint8_t, 16> b{};
  random.Fill(b);
  b[6] = static_cast<std::uint8_t>((b[6] & 0x0f) | 0x40);  // version 4
  b[8] = static_cast<std::uint8_t>((b[8] & 0x3f) | 0x80);  // RFC 4122 variant
  constexpr std::string_view kHex = "0123456789abcdef";
  std::string out;
  out.reserve(36);
  for (std::size_t i = 0; i < b.size(); ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out += '-';
    out += kHex[b[i] >> 4];
    out += kHex[b[i] & 0x0f];
  }
  return out;
}

}  // namespace portcullis::crypto
