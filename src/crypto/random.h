// Random: the one source of randomness for keys, nonces, identifiers and secrets.
//
// Production code uses OsRandomInstance() (OpenSSL's CSPRNG); tests inject FakeRandom
// (crypto/fake_random.h) to make identifiers predictable. The helpers below draw characters by
// rejection sampling, so every output character is uniformly distributed.
//
// Thread-safety: OsRandom is stateless and safe from any thread. The helpers are as thread-safe
// as the Random they are given.
//
//   std::string secret = RandomAlphanumeric(OsRandomInstance(), 43);  // ~256 bits
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

namespace portcullis::crypto {

class Random {
 public:
  virtual ~Random();
  // Fills `out` with random bytes. Never fails: an implementation that cannot produce randomness
  // must abort rather than return predictable bytes.
  virtual void Fill(std::span<std::uint8_t> out) = 0;
};

// The operating system CSPRNG via RAND_bytes. Aborts the process with a message on failure.
class OsRandom final : public Random {
 public:
  void Fill(std::span<std::uint8_t> out) override;
};

// A process-wide OsRandom. It holds no state, so sharing it is safe.
Random& OsRandomInstance();

// n characters drawn uniformly from [A-Za-z0-9] (about 5.95 bits each).
std::string RandomAlphanumeric(Random& random, std::size_t n);

// n characters drawn uniformly from [a-z0-9] (about 5.17 bits each).
std::string RandomLowerAlphanumeric(Random& random, std::size_t n);

// `bytes` random bytes, base64url-encoded without padding.
std::string RandomBase64Url(Random& random, std::size_t bytes);

// An RFC 4122 version 4 UUID in lower-case 8-4-4-4-12 form.
std::string RandomUuid(Random& random);

}  // namespace portcullis::crypto
