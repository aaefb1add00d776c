#include "crypto/sha256.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include <cstdio>
#include <cstdlib>

namespace portcullis::crypto {

std::array<std::uint8_t, 32> Sha256(std::string_view data) {
  std::array<std::uint8_t, 32> digest{};
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest.data());
  return digest;
}

std::string Sha256Hex(std::string_view data) {
  constexpr std::string_view kHex = "0123456789abcdef";
  std::string out;
  out.reserve(64);
  for (std::uint8_t b : Sha256(data)) {
    out += kHex[b >> 4];
    out += kHex[b & 0x0f];
  }
  return out;
}

std::string HmacSha256(std::string_view key, std::string_view data) {
  std::string out(32, '\0');
  unsigned int length = 0;
  // HMAC() with SHA-256 cannot fail for in-memory inputs short of memory exhaustion; treat that
  // as fatal rather than return a predictable MAC.
  if (HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
           reinterpret_cast<const unsigned char*>(data.data()), data.size(),
           reinterpret_cast<unsigned char*>(out.data()), &length) == nullptr ||
      length != out.size()) {
    std::fputs("portcullis: fatal: HMAC-SHA-256 failed\n", stderr);
    std::abort();
  }
  return out;
}

}  // namespace portcullis::crypto

namespace portcullis::crypto {

std::string HmacSha1(std::string_view key, std::string_view data) {
  std::string out(20, '\0');
  unsigned int length = 0;
  if (HMAC(EVP_sha1(), key.data(), static_cast<int>(key.size()),
           reinterpret_cast<const unsigned char*>(data.data()), data.size(),
           reinterpret_cast<unsigned char*>(out.data()), &length) == nullptr ||
      length != out.size()) {
    std::fputs("portcullis: fatal: HMAC-SHA-1 failed\n", stderr);
    std::abort();
  }
  return out;
}

}  // namespace portcullis::crypto
