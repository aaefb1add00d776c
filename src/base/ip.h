// IP addresses and CIDR networks: parsing, printing, prefix matching.
//
// Used for `server.trusted_proxies` (which peers may speak for the client through
// X-Forwarded-For), for the loopback rule of `--tls off`, and for the "known source" networks of
// the brute-force defence (DESIGN §5: same /24 for IPv4, /64 for IPv6).
//
// Normalization: an IPv4-mapped IPv6 address (::ffff:a.b.c.d, RFC 4291 §2.5.5.2) is always turned
// into the plain IPv4 address, so a dual-stack socket's peer and a configured IPv4 network compare
// equal. Parsing is strict (inet_pton): no zone ids ("%eth0"), no leading zeros in IPv4 octets,
// no surrounding whitespace.
//
// Thread-safety: plain values and pure functions.
//
//   std::optional<Cidr> net = ParseCidr("10.0.0.0/8");
//   std::optional<IpAddress> peer = ParseIp("10.1.2.3");
//   if (net && peer && net->Contains(*peer)) { ... }
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace portcullis {

struct IpAddress {
  bool is_v6 = false;
  // Network byte order. For IPv4 only the first 4 bytes are used; the rest stay zero.
  std::array<std::uint8_t, 16> bytes{};

  // Canonical text: dotted quad for IPv4, RFC 5952 compressed form for IPv6 ("2001:db8::1").
  std::string ToString() const;

  friend bool operator==(const IpAddress&, const IpAddress&) = default;
};

// Parses a literal IPv4 or IPv6 address. Returns nullopt for anything else (host names,
// bracketed "[::1]", ports, zone ids). ::ffff:a.b.c.d comes back as the IPv4 address a.b.c.d.
std::optional<IpAddress> ParseIp(std::string_view text);

// A network: an address whose bits beyond prefix_len are zero, and the prefix length
// (0..32 for IPv4, 0..128 for IPv6).
struct Cidr {
  IpAddress network;
  int prefix_len = 0;

  // True when `address` has the same family and its first prefix_len bits equal the network's.
  // An IPv4 network never contains an IPv6 address and vice versa (mapped addresses are already
  // IPv4 after ParseIp).
  bool Contains(const IpAddress& address) const;
  // "10.0.0.0/8", "2001:db8::/32".
  std::string ToString() const;

  friend bool operator==(const Cidr&, const Cidr&) = default;
};

// Parses "ADDRESS/PREFIX" or a bare address (meaning /32 or /128). Returns nullopt when the
// address does not parse, the prefix is not a decimal number in range (no sign, no leading
// zeros), or any host bit beyond the prefix is set ("10.0.0.1/8" is rejected rather than
// silently masked: it is almost always a typo). An IPv4-mapped network "::ffff:10.0.0.0/104"
// becomes "10.0.0.0/8"; a mapped prefix shorter than 96 is rejected.
std::optional<Cidr> ParseCidr(std::string_view text);

// The network an address belongs to for "known source" purposes (DESIGN §5): its /24 for IPv4,
// its /64 for IPv6, as text, e.g. "203.0.113.0/24" or "2001:db8:1:2::/64".
std::string SourceNetworkKey(const IpAddress& address);

// True for 127.0.0.0/8 and ::1.
bool IsLoopback(const IpAddress& address);

}  // namespace portcullis
