// CacheLimits and EstimatedBytes: the two bounds of an in-memory cache (issue #11: caches are
// capped by count AND bytes), and the estimate of an entry's size that the byte bound counts.
//
// A count cap alone lets a cache of large entries grow past any memory budget; a byte cap alone
// lets many tiny entries grow a map's per-node overhead without bound. Caches take both:
//
//   CacheLimits limits{.max_entries = 10'000, .max_bytes = 8 << 20};
//   std::size_t bytes = kCacheNodeBytes + EstimatedBytes(key) + EstimatedBytes(value.roles);
//   if (bytes > limits.max_bytes) return;  // never cached
//   if (entries.size() >= limits.max_entries || used + bytes > limits.max_bytes) Clear();
//
// EstimatedBytes counts what an entry holds, not what the allocator handed out: each string's
// object plus its length, each vector's object plus its elements, and kCacheNodeBytes per entry
// of a node-based map (node header, cached hash, bucket pointer, allocator rounding). It is
// deterministic, so a cache can add an entry's estimate on insert and subtract the same value on
// erase.
//
// Thread-safety: pure functions and a value type.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace portcullis {

struct CacheLimits {
  std::size_t max_entries = 0;  // entries; a Put into a full cache starts it over
  std::size_t max_bytes = 0;    // EstimatedBytes of every entry together, keys included
};

// Per entry of an unordered_map: the node's next pointer and cached hash, the bucket slot, and
// malloc's header and rounding of the node allocation.
inline constexpr std::size_t kCacheNodeBytes = 64;

inline std::size_t EstimatedBytes(std::string_view s) { return sizeof(std::string) + s.size(); }

inline std::size_t EstimatedBytes(const std::vector<std::string>& v) {
  std::size_t bytes = sizeof(v);
  for (const std::string& s : v) bytes += EstimatedBytes(s);
  return bytes;
}

}  // namespace portcullis
