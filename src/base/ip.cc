#include "base/ip.h"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <cstddef>

namespace portcullis {
namespace {

constexpr int kV4Bits = 32;
constexpr int kV6Bits = 128;
constexpr std::size_t kV4Bytes = 4;
// Longest textual address inet_pton accepts (INET6_ADDRSTRLEN includes the NUL).
constexpr std::size_t kMaxAddressText = INET6_ADDRSTRLEN;
// RFC 4291 §2.5.5.2: ::ffff:0:0/96 holds IPv4-mapped addresses.
constexpr std::array<std::uint8_t, 12> kV4MappedPrefix = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
constexpr int kV4MappedPrefixBits = 96;
constexpr int kSourceNetworkV4Bits = 24;
constexpr int kSourceNetworkV6Bits = 64;

int FamilyBits(const IpAddress& a) { return a.is_v6 ? kV6Bits : kV4Bits; }

// Parses without the mapped-to-v4 normalization; `was_mapped` reports whether it applied.
std::optional<IpAddress> ParseRaw(std::string_view text, bool& was_mapped) {
  was_mapped = false;
  if (text.empty() || text.size() >= kMaxAddressText) return std::nullopt;
  // An embedded NUL would end the C string early and let "1.2.3.4\0junk" through.
  if (text.find('\0') != std::string_view::npos) return std::nullopt;
  // inet_pton needs a NUL-terminated string.
  char buffer[kMaxAddressText] = {};
  std::copy(text.begin(), text.end(), buffer);
  IpAddress address;
  if (inet_pton(AF_INET, buffer, address.bytes.data()) == 1) return address;
  if (inet_pton(AF_INET6, buffer, address.bytes.data()) != 1) return std::nullopt;
  address.is_v6 = true;
  if (std::equal(kV4MappedPrefix.begin(), kV4MappedPrefix.end(), address.bytes.begin())) {
    IpAddress v4;
    std::copy_n(address.bytes.begin() + kV4MappedPrefix.size(), kV4Bytes, v4.bytes.begin());
    was_mapped = true;
    return v4;
  }
  return address;
}

// Zeroes every bit of `address` beyond the first `prefix_len`.
IpAddress Mask(IpAddress address, int prefix_len) {
  for (int i = 0; i < kV6Bits / 8; ++i) {
    const int bit_start = i * 8;
    if (bit_start >= prefix_len) {
      address.bytes[static_cast<std::size_t>(i)] = 0;
    } else if (prefix_len - bit_start < 8) {
      const int keep = prefix_len - bit_start;
      const auto mask = static_cast<std::uint8_t>(0xff << (8 - keep));
      address.bytes[static_cast<std::size_t>(i)] &= mask;
    }
  }
  return address;
}

}  // namespace

std::string IpAddress::ToString() const {
  char buffer[kMaxAddressText] = {};
  if (inet_ntop(is_v6 ? AF_INET6 : AF_INET, bytes.data(), buffer, sizeof(buffer)) == nullptr) {
    return "";  // unreachable: the buffer always fits
  }
  return buffer;
}

std::optional<IpAddress> ParseIp(std::string_view text) {
  bool was_mapped = false;
  return ParseRaw(text, was_mapped);
}

bool Cidr::Contains(const IpAddress& address) const {
  if (address.is_v6 != network.is_v6) return false;
  if (prefix_len < 0 || prefix_len > FamilyBits(network)) return false;
  return Mask(address, prefix_len) == Mask(network, prefix_len);
}

std::string Cidr::ToString() const { return network.ToString() + "/" + std::to_string(prefix_len); }

std::optional<Cidr> ParseCidr(std::string_view text) {
  const std::size_t slash = text.find('/');
  bool was_mapped = false;
  std::optional<IpAddress> address = ParseRaw(text.substr(0, slash), was_mapped);
  if (!address) return std::nullopt;
  int prefix_len = was_mapped ? kV6Bits : FamilyBits(*address);
  if (slash != std::string_view::npos) {
    const std::string_view digits = text.substr(slash + 1);
    // Only plain decimal: no sign, no leading zeros, nothing trailing.
    if (digits.empty() || (digits.size() > 1 && digits[0] == '0')) return std::nullopt;
    const auto [end, ec] =
        std::from_chars(digits.data(), digits.data() + digits.size(), prefix_len);
    if (ec != std::errc() || end != digits.data() + digits.size()) return std::nullopt;
  }
  if (was_mapped) {
    if (prefix_len < kV4MappedPrefixBits || prefix_len > kV6Bits) return std::nullopt;
    prefix_len -= kV4MappedPrefixBits;
  }
  if (prefix_len < 0 || prefix_len > FamilyBits(*address)) return std::nullopt;
  if (Mask(*address, prefix_len) != *address) return std::nullopt;  // host bits set
  return Cidr{*address, prefix_len};
}

std::string SourceNetworkKey(const IpAddress& address) {
  const int bits = address.is_v6 ? kSourceNetworkV6Bits : kSourceNetworkV4Bits;
  return Cidr{Mask(address, bits), bits}.ToString();
}

bool IsLoopback(const IpAddress& address) {
  if (!address.is_v6) return address.bytes[0] == 127;
  IpAddress v6_loopback;
  v6_loopback.is_v6 = true;
  v6_loopback.bytes[15] = 1;
  return address == v6_loopback;
}

}  // namespace portcullis
