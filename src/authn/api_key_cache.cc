#include "authn/api_key_cache.h"

#include <iterator>
#include <vector>

namespace portcullis::authn {

ApiKeyCache::ApiKeyCache(const Clock& clock, std::int64_t ttl_s, CacheLimits limits)
    : clock_(clock), ttl_s_(ttl_s), limits_(limits) {}

std::size_t ApiKeyCache::EntryBytes(const VerifiedApiKey& key) {
  // The map's key is a copy of key_id, hence twice.
  return kCacheNodeBytes + sizeof(Entry) + 2 * EstimatedBytes(key.key_id) +
         EstimatedBytes(key.secret_hash) + EstimatedBytes(key.user_id) +
         EstimatedBytes(key.username) + EstimatedBytes(key.roles) + EstimatedBytes(key.permissions);
}

void ApiKeyCache::EraseLocked(Map::iterator it) {
  bytes_ -= EntryBytes(it->second.key);
  entries_.erase(it);
}

std::optional<VerifiedApiKey> ApiKeyCache::Find(std::string_view key_id) {
  if (ttl_s_ <= 0) return std::nullopt;
  std::lock_guard lock(mu_);
  auto it = entries_.find(std::string(key_id));
  if (it == entries_.end()) return std::nullopt;
  const UnixSeconds now = clock_.Now();
  if (now >= it->second.cached_until) {
    if (now >= it->second.cached_until + kMaxStaleS) EraseLocked(it);
    return std::nullopt;  // kept for FindStale
  }
  return it->second.key;
}

std::optional<VerifiedApiKey> ApiKeyCache::FindStale(std::string_view key_id) {
  if (ttl_s_ <= 0) return std::nullopt;
  std::lock_guard lock(mu_);
  auto it = entries_.find(std::string(key_id));
  if (it == entries_.end() || clock_.Now() >= it->second.cached_until + kMaxStaleS) {
    return std::nullopt;
  }
  return it->second.key;
}

std::uint64_t ApiKeyCache::Epoch() const {
  std::lock_guard lock(mu_);
  return epoch_;
}

void ApiKeyCache::Put(VerifiedApiKey key, std::uint64_t epoch) {
  if (ttl_s_ <= 0) return;
  std::lock_guard lock(mu_);
  // Something was revoked while this verification read the store: it may be this key.
  if (epoch != epoch_) return;
  const std::size_t bytes = EntryBytes(key);
  if (bytes > limits_.max_bytes) return;
  if (auto it = entries_.find(key.key_id); it != entries_.end()) EraseLocked(it);
  if (entries_.size() >= limits_.max_entries || bytes_ + bytes > limits_.max_bytes) {
    entries_.clear();
    bytes_ = 0;
  }
  std::string id = key.key_id;
  entries_.emplace(std::move(id), Entry{std::move(key), clock_.Now() + ttl_s_});
  bytes_ += bytes;
}

void ApiKeyCache::Erase(std::string_view key_id) {
  std::lock_guard lock(mu_);
  ++epoch_;
  if (auto it = entries_.find(std::string(key_id)); it != entries_.end()) EraseLocked(it);
}

void ApiKeyCache::EraseOwner(std::string_view user_id) {
  std::lock_guard lock(mu_);
  ++epoch_;
  for (auto it = entries_.begin(); it != entries_.end();) {
    auto next = std::next(it);
    if (it->second.key.user_id == user_id) EraseLocked(it);
    it = next;
  }
}

std::size_t ApiKeyCache::SizeForTesting() const {
  std::lock_guard lock(mu_);
  return entries_.size();
}

std::size_t ApiKeyCache::BytesForTesting() const {
  std::lock_guard lock(mu_);
  return bytes_;
}

void ApiKeyUsage::Record(std::string_view key_id, UnixSeconds at) {
  std::lock_guard lock(mu_);
  auto [it, inserted] = uses_.try_emplace(std::string(key_id), Use{at, false});
  if (inserted) return;
  // An older or nearly-as-recent time adds nothing the store doesn't already (or soon) have.
  if (at - it->second.at < resolution_s_) return;
  it->second = Use{at, false};
}

Result<std::size_t> ApiKeyUsage::Flush(store::ApiKeyStore& store) {
  std::vector<store::ApiKeyUse> batch;
  {
    std::lock_guard lock(mu_);
    // Written by an earlier flush and not used since: the store has it.
    std::erase_if(uses_, [](const auto& item) { return item.second.flushed; });
    for (auto& [id, use] : uses_) {
      batch.push_back({id, use.at});
      use.flushed = true;
    }
  }
  if (batch.empty()) return std::size_t{0};
  if (Status s = store.RecordApiKeyUses(batch); !s.ok()) {
    std::lock_guard lock(mu_);
    for (const store::ApiKeyUse& use : batch) {
      auto it = uses_.find(use.id);
      // Unless a newer use replaced it meanwhile (that one is unflushed already).
      if (it != uses_.end() && it->second.at == use.at) it->second.flushed = false;
    }
    return s;
  }
  return batch.size();
}

std::vector<store::ApiKey> ApiKeyUsage::WithRecordedUses(std::vector<store::ApiKey> keys) {
  std::lock_guard lock(mu_);
  if (uses_.empty()) return keys;
  for (store::ApiKey& key : keys) {
    auto it = uses_.find(key.id);
    if (it == uses_.end()) continue;
    if (!key.last_used_at || *key.last_used_at < it->second.at) key.last_used_at = it->second.at;
  }
  return keys;
}

std::size_t ApiKeyUsage::SizeForTesting() {
  std::lock_guard lock(mu_);
  return uses_.size();
}

}  // namespace portcullis::authn
