#include "authn/api_key_cache.h"

#include <vector>

namespace portcullis::authn {

ApiKeyCache::ApiKeyCache(const Clock& clock, std::int64_t ttl_s) : clock_(clock), ttl_s_(ttl_s) {}

std::optional<VerifiedApiKey> ApiKeyCache::Find(std::string_view key_id) {
  if (ttl_s_ <= 0) return std::nullopt;
  std::lock_guard lock(mu_);
  auto it = entries_.find(std::string(key_id));
  if (it == entries_.end()) return std::nullopt;
  const UnixSeconds now = clock_.Now();
  if (now >= it->second.cached_until) {
    if (now >= it->second.cached_until + kMaxStaleS) entries_.erase(it);
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
  if (entries_.size() >= kMaxEntries) entries_.clear();
  std::string id = key.key_id;
  entries_[std::move(id)] = Entry{std::move(key), clock_.Now() + ttl_s_};
}

void ApiKeyCache::Erase(std::string_view key_id) {
  std::lock_guard lock(mu_);
  ++epoch_;
  entries_.erase(std::string(key_id));
}

void ApiKeyCache::EraseOwner(std::string_view user_id) {
  std::lock_guard lock(mu_);
  ++epoch_;
  std::erase_if(entries_, [&](const auto& item) { return item.second.key.user_id == user_id; });
}

std::size_t ApiKeyCache::SizeForTesting() const {
  std::lock_guard lock(mu_);
  return entries_.size();
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
    for (auto& [id, use] : uses_) {
      if (use.flushed) continue;
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

}  // namespace portcullis::authn
