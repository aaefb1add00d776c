// ApiKeyCache and ApiKeyUsage: the in-memory halves of API-key authentication, so a request with
// a known key touches no database (DESIGN §2 "The hot path").
//
// ApiKeyCache remembers successful verifications (authn::VerifiedApiKey) for `ttl_s` seconds
// (basic.cache_ttl_s), keyed by key id. An entry holds the secret's HASH, never the secret: a hit
// is only a candidate, and the caller must still run CheckApiKeySecret on it (constant-time
// compare and expiry) and check the owner's credential version against the UserStateCache (so a
// disable, password change or role removal drops the key's cached permissions at once). Entries
// are dropped by Erase (the key was deleted here) and EraseOwner (the owner appeared in the user
// change feed: a revoke by the CLI or another instance, or any change of the owner).
//
// A verification that read the store before an Erase/EraseOwner must not re-insert what was
// just dropped: take Epoch() before reading the store and pass it to Put, which ignores the
// entry if anything was erased since.
//
// Bounded by count and by bytes (CacheLimits, default kDefaultLimits): a Put that would pass
// either bound first empties the cache, which refills from the keys in use; an entry larger than
// the byte bound alone is not cached.
//
// ApiKeyUsage records last-used times in memory (cheap on the request path; uses within
// `resolution_s` of the last recorded one are not re-recorded) and writes them in batches from
// housekeeping (Flush -> ApiKeyStore::RecordApiKeyUses); never a database write per request.
// A key's entry is forgotten at the flush after the one that wrote it, so memory holds only the
// keys used since the last two flushes; with flushes at least `resolution_s` apart (housekeeping:
// once a minute) that re-records nothing, and the store keeps the later time anyway. Listings
// merge the recorded uses into what the store returned (WithRecordedUses), and the server
// flushes once more when it stops gracefully.
//
// Thread-safety: every method of both classes may be called from any thread.
//
//   std::uint64_t epoch = cache.Epoch();
//   ApiKeyVerification v = VerifyApiKeyWithStore(store, parsed, clock.Now());  // off-thread
//   if (v.error == ApiKeyError::kOk) cache.Put(v.key, epoch);
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "authn/api_key.h"
#include "base/cache_limits.h"
#include "base/clock.h"
#include "base/status.h"
#include "store/store.h"

namespace portcullis::authn {

class ApiKeyCache {
 public:
  // An entry with two roles and ten permissions estimates at about 1.1 KiB: 10,000 such keys
  // (11 MiB) fit; larger entries reach the byte cap first.
  static constexpr CacheLimits kDefaultLimits{.max_entries = 10'000, .max_bytes = 16 << 20};

  // `clock` must outlive the cache. ttl_s <= 0 disables caching (Find always misses).
  ApiKeyCache(const Clock& clock, std::int64_t ttl_s, CacheLimits limits = kDefaultLimits);
  ApiKeyCache(const ApiKeyCache&) = delete;
  ApiKeyCache& operator=(const ApiKeyCache&) = delete;

  // The entry verified for `key_id` within the TTL, if any. Not a verdict: see the header.
  std::optional<VerifiedApiKey> Find(std::string_view key_id);

  // The entry verified for `key_id` within kMaxStaleS, even past the TTL: for when the store
  // cannot be reached (DESIGN §6: API keys keep working from memory while the database is down).
  // The same checks apply to it as to Find's; revocations reached this instance before the
  // outage (Erase/EraseOwner), and none can be written during it.
  std::optional<VerifiedApiKey> FindStale(std::string_view key_id);
  static constexpr std::int64_t kMaxStaleS = 86'400;

  // The erase counter to pass to Put; read it before the store read that produced the entry.
  std::uint64_t Epoch() const;

  // Caches `key` unless Erase/EraseOwner ran after `epoch` was read. Bounded: when full (by
  // count or bytes), the cache is cleared and refills from active clients.
  void Put(VerifiedApiKey key, std::uint64_t epoch);

  // Drops the entry of this key id (revoked here).
  void Erase(std::string_view key_id);

  // Drops every entry whose owner is `user_id`.
  void EraseOwner(std::string_view user_id);

  std::size_t SizeForTesting() const;
  // The EstimatedBytes of every entry, keys included (what CacheLimits::max_bytes bounds).
  std::size_t BytesForTesting() const;

 private:
  struct Entry {
    VerifiedApiKey key;
    UnixSeconds cached_until = 0;  // fresh until; kept as stale for kMaxStaleS more
  };
  using Map = std::unordered_map<std::string, Entry>;

  static std::size_t EntryBytes(const VerifiedApiKey& key);
  void EraseLocked(Map::iterator it);  // caller holds mu_

  const Clock& clock_;
  std::int64_t ttl_s_;
  const CacheLimits limits_;
  mutable std::mutex mu_;
  std::uint64_t epoch_ = 0;  // guarded by mu_
  Map entries_;              // guarded by mu_
  std::size_t bytes_ = 0;    // guarded by mu_; EntryBytes of every entry
};

class ApiKeyUsage {
 public:
  explicit ApiKeyUsage(std::int64_t resolution_s = 60) : resolution_s_(resolution_s) {}

  // Notes that the key `key_id` authenticated a request at `at`.
  void Record(std::string_view key_id, UnixSeconds at);

  // Writes every use recorded since the last flush (RecordApiKeyUses) and marks them flushed; on
  // a store error they are kept for the next flush. Forgets the uses the previous flush wrote
  // and nothing has renewed since. Returns how many were written.
  Result<std::size_t> Flush(store::ApiKeyStore& store);

  // `keys` (as a store listing returned them) with each key's last_used_at replaced by the use
  // recorded here when that one is later: the uses not yet flushed are what the store lacks, so
  // listings show a key's newest use at once (within `resolution_s`). Another process (the CLI)
  // reading the store sees only flushed uses.
  std::vector<store::ApiKey> WithRecordedUses(std::vector<store::ApiKey> keys);

  std::size_t SizeForTesting();

 private:
  struct Use {
    UnixSeconds at = 0;
    bool flushed = false;
  };

  std::int64_t resolution_s_;
  std::mutex mu_;
  std::unordered_map<std::string, Use> uses_;  // guarded by mu_
};

}  // namespace portcullis::authn
