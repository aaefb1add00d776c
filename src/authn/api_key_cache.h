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
// ApiKeyUsage records last-used times in memory (cheap on the request path; uses within
// `resolution_s` of the last recorded one are not re-recorded) and writes them in batches from
// housekeeping (Flush -> ApiKeyStore::RecordApiKeyUses); never a database write per request.
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

#include "authn/api_key.h"
#include "base/clock.h"
#include "base/status.h"
#include "store/store.h"

namespace portcullis::authn {

class ApiKeyCache {
 public:
  // `clock` must outlive the cache. ttl_s <= 0 disables caching (Find always misses).
  ApiKeyCache(const Clock& clock, std::int64_t ttl_s);
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

  // Caches `key` unless Erase/EraseOwner ran after `epoch` was read. Bounded: when full, the
  // cache is cleared and refills from active clients.
  void Put(VerifiedApiKey key, std::uint64_t epoch);

  // Drops the entry of this key id (revoked here).
  void Erase(std::string_view key_id);

  // Drops every entry whose owner is `user_id`.
  void EraseOwner(std::string_view user_id);

  std::size_t SizeForTesting() const;

 private:
  static constexpr std::size_t kMaxEntries = 10'000;

  struct Entry {
    VerifiedApiKey key;
    UnixSeconds cached_until = 0;  // fresh until; kept as stale for kMaxStaleS more
  };

  const Clock& clock_;
  std::int64_t ttl_s_;
  mutable std::mutex mu_;
  std::uint64_t epoch_ = 0;                         // guarded by mu_
  std::unordered_map<std::string, Entry> entries_;  // guarded by mu_
};

class ApiKeyUsage {
 public:
  explicit ApiKeyUsage(std::int64_t resolution_s = 60) : resolution_s_(resolution_s) {}

  // Notes that the key `key_id` authenticated a request at `at`.
  void Record(std::string_view key_id, UnixSeconds at);

  // Writes every use recorded since the last flush (RecordApiKeyUses) and marks them flushed; on
  // a store error they are kept for the next flush. Returns how many were written.
  Result<std::size_t> Flush(store::ApiKeyStore& store);

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
