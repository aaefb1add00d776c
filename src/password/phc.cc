#include "password/phc.h"

#include <charconv>
#include <system_error>

namespace portcullis::password {
namespace {

// The largest bound is below 10^7; more digits than this is junk, not a number to parse.
constexpr std::size_t kMaxDecimalDigits = 10;

// Consumes `prefix` from the front of `s`; false (s unchanged) if it is not there.
bool Consume(std::string_view& s, std::string_view prefix) {
  if (!s.starts_with(prefix)) return false;
  s.remove_prefix(prefix.size());
  return true;
}

// Consumes a decimal number without sign or leading zeros, within [min, max].
std::optional<std::uint32_t> ConsumeDecimal(std::string_view& s, std::uint32_t min,
                                            std::uint32_t max) {
  std::size_t digits = 0;
  while (digits < s.size() && s[digits] >= '0' && s[digits] <= '9') ++digits;
  if (digits == 0 || digits > kMaxDecimalDigits) return std::nullopt;
  if (digits > 1 && s[0] == '0') return std::nullopt;
  std::uint64_t value = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + digits, value);
  if (ec != std::errc() || ptr != s.data() + digits) return std::nullopt;
  if (value < min || value > max) return std::nullopt;
  s.remove_prefix(digits);
  return static_cast<std::uint32_t>(value);
}

int Base64Value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

// True when `b64` is canonical unpadded standard base64 of min..max bytes: alphabet only, a
// length that encodes whole bytes, and zero bits after the last byte (so one string per value).
bool IsCanonicalBase64(std::string_view b64, std::size_t min_bytes, std::size_t max_bytes) {
  if (b64.size() % 4 == 1) return false;
  const std::size_t bytes = DecodedBase64Size(b64.size());
  if (bytes < min_bytes || bytes > max_bytes) return false;
  for (char c : b64) {
    if (Base64Value(c) < 0) return false;
  }
  if (b64.empty()) return true;
  const int last = Base64Value(b64.back());
  switch (b64.size() % 4) {
    case 2:  // 1 byte: 4 unused bits
      return (last & 0x0F) == 0;
    case 3:  // 2 bytes: 2 unused bits
      return (last & 0x03) == 0;
    default:
      return true;
  }
}

}  // namespace

std::optional<PhcString> ParsePhc(std::string_view s) {
  PhcString phc;
  if (Consume(s, "$argon2id$")) {
    phc.algorithm = "argon2id";
  } else if (Consume(s, "$argon2i$")) {
    phc.algorithm = "argon2i";
  } else if (Consume(s, "$argon2d$")) {
    phc.algorithm = "argon2d";
  } else {
    return std::nullopt;
  }

  if (!Consume(s, "v=")) return std::nullopt;
  auto version = ConsumeDecimal(s, kArgon2Version10, kArgon2Version13);
  if (!version || (*version != kArgon2Version10 && *version != kArgon2Version13)) {
    return std::nullopt;
  }
  phc.version = static_cast<int>(*version);

  if (!Consume(s, "$m=")) return std::nullopt;
  auto m = ConsumeDecimal(s, 1, kPhcMaxMemoryKib);
  if (!m || !Consume(s, ",t=")) return std::nullopt;
  auto t = ConsumeDecimal(s, 1, kPhcMaxIterations);
  if (!t || !Consume(s, ",p=")) return std::nullopt;
  auto p = ConsumeDecimal(s, 1, kPhcMaxParallelism);
  if (!p || !Consume(s, "$")) return std::nullopt;
  // RFC 9106 §3.1: memory is at least 8 KiB per lane.
  if (*m < 8 * *p) return std::nullopt;
  phc.m = *m;
  phc.t = *t;
  phc.p = *p;

  const std::size_t dollar = s.find('$');
  if (dollar == std::string_view::npos) return std::nullopt;
  const std::string_view salt = s.substr(0, dollar);
  const std::string_view hash = s.substr(dollar + 1);
  if (!IsCanonicalBase64(salt, kPhcMinSaltBytes, kPhcMaxSaltBytes)) return std::nullopt;
  if (!IsCanonicalBase64(hash, kPhcMinHashBytes, kPhcMaxHashBytes)) return std::nullopt;
  phc.salt_b64 = std::string(salt);
  phc.hash_b64 = std::string(hash);
  return phc;
}

std::string FormatPhc(const PhcString& phc) {
  std::string out;
  out.reserve(64 + phc.salt_b64.size() + phc.hash_b64.size());
  out += '$';
  out += phc.algorithm;
  out += "$v=";
  out += std::to_string(phc.version);
  out += "$m=";
  out += std::to_string(phc.m);
  out += ",t=";
  out += std::to_string(phc.t);
  out += ",p=";
  out += std::to_string(phc.p);
  out += '$';
  out += phc.salt_b64;
  out += '$';
  out += phc.hash_b64;
  return out;
}

}  // namespace portcullis::password
