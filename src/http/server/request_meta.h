// What the server derives about a request before routing: its id, the client's address, and the
// Date header. Pure functions, kept apart from socket I/O so they can be tested directly.
//
// Thread-safety: pure functions (GenerateRequestId uses OpenSSL's thread-safe RAND_bytes).
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace portcullis::http {

// Longest client-supplied X-Request-Id that is echoed.
inline constexpr std::size_t kMaxRequestIdLength = 128;

// True when `id` is 1..kMaxRequestIdLength characters of [A-Za-z0-9._-].
bool IsValidRequestId(std::string_view id);

// 16 random bytes (RAND_bytes) as 32 lowercase hex characters.
std::string GenerateRequestId();

// The id to use for a request whose X-Request-Id header is `client_value` ("" when absent): the
// client's value when IsValidRequestId, else a fresh GenerateRequestId().
std::string RequestIdFor(std::string_view client_value);

// Canonical text for an IP literal (IPv4-mapped IPv6 becomes IPv4, IPv6 compressed per RFC 5952),
// or nullopt when `text` is not a plain IPv4/IPv6 literal (no brackets, ports or zone ids).
std::optional<std::string> CanonicalIp(std::string_view text);

// The client address for a request from `peer_ip` carrying X-Forwarded-For `forwarded_for` ("" when
// absent). Without a trust predicate, or when the peer is not trusted, or without the header: the
// peer. Otherwise walks the header's comma-separated entries from the right, skipping trusted
// proxies, and returns the first untrusted address (or the left-most one if all are trusted). An
// entry that is not an IP literal stops the walk and yields the peer: it cannot be believed.
std::string ResolveClientIp(std::string_view peer_ip, std::string_view forwarded_for,
                            const std::function<bool(std::string_view)>& is_trusted_proxy);

// An RFC 9110 §5.6.7 IMF-fixdate, e.g. "Sun, 06 Nov 1994 08:49:37 GMT".
std::string HttpDate(std::chrono::system_clock::time_point when);

}  // namespace portcullis::http
