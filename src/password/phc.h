// PHC string format for Argon2 password hashes, parsed strictly:
//
//   $argon2id$v=19$m=19456,t=2,p=1$<salt, base64 without padding>$<hash, base64 without padding>
//
// The layout is the one the reference Argon2 implementation, libsodium, the Debian `argon2` CLI
// and python argon2-cffi write. Anything else is rejected: other algorithms, a missing "v=",
// parameters out of order, extra parameters (keyid=, data=), numbers with signs or leading zeros,
// numbers outside the bounds below, '=' padding, characters outside the base64 alphabet,
// non-zero trailing bits, salts or hashes of unusual length, trailing bytes. The bounds keep an
// imported hash from asking for absurd memory or time.
//
// Does not check that the hash is correct for any password; see password::Hasher::Verify.
//
// Thread-safety: pure functions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace portcullis::password {

// Bounds accepted by ParsePhc.
inline constexpr std::uint32_t kPhcMaxMemoryKib = 4u * 1024 * 1024;  // 4 GiB
inline constexpr std::uint32_t kPhcMaxIterations = 1024;
inline constexpr std::uint32_t kPhcMaxParallelism = 255;
inline constexpr std::size_t kPhcMinSaltBytes = 8;  // RFC 9106 §3.1 minimum
inline constexpr std::size_t kPhcMaxSaltBytes = 64;
inline constexpr std::size_t kPhcMinHashBytes = 16;  // libsodium's minimum output
inline constexpr std::size_t kPhcMaxHashBytes = 64;
// Argon2 versions: 0x10 (16) and 0x13 (19, the current one).
inline constexpr int kArgon2Version10 = 16;
inline constexpr int kArgon2Version13 = 19;

struct PhcString {
  std::string algorithm;  // "argon2id", "argon2i" or "argon2d"
  int version = 0;        // 16 or 19
  std::uint32_t m = 0;    // memory in KiB, at least 8 * p
  std::uint32_t t = 0;    // iterations, at least 1
  std::uint32_t p = 0;    // lanes, at least 1
  std::string salt_b64;   // as written: standard base64 alphabet, no padding
  std::string hash_b64;

  friend bool operator==(const PhcString&, const PhcString&) = default;
};

// Parses an Argon2 PHC string; std::nullopt when it is not exactly the layout above.
std::optional<PhcString> ParsePhc(std::string_view encoded);

// Writes `phc` back in the canonical layout; ParsePhc(FormatPhc(x)) == x for every parsed x.
std::string FormatPhc(const PhcString& phc);

// Number of bytes encoded by an unpadded base64 string of `b64_chars` characters.
constexpr std::size_t DecodedBase64Size(std::size_t b64_chars) { return b64_chars * 3 / 4; }

}  // namespace portcullis::password
