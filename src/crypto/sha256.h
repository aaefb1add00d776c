// SHA-256 and HMAC-SHA-256 (FIPS 180-4, RFC 2104) over byte strings.
//
// Used to store high-entropy secrets (API keys, refresh tokens, client secrets) as digests and
// to derive lookup values. Compare digests with ConstantTimeEqual.
//
// Thread-safety: pure functions.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace portcullis::crypto {

// The 32-byte SHA-256 digest of `data`.
std::array<std::uint8_t, 32> Sha256(std::string_view data);

// The SHA-256 digest of `data` as 64 lower-case hex characters.
std::string Sha256Hex(std::string_view data);

// The 32-byte HMAC-SHA-256 of `data` under `key`, returned as raw bytes (not hex).
std::string HmacSha256(std::string_view key, std::string_view data);

// The 20-byte HMAC-SHA-1 of `data` under `key` (raw bytes). Only for HOTP/TOTP (RFC 4226,
// RFC 6238), whose authenticator apps use SHA-1; HMAC-SHA-1 remains a sound MAC.
std::string HmacSha1(std::string_view key, std::string_view data);

}  // namespace portcullis::crypto
