#include "authn/basic_cache.h"

#include "crypto/sha256.h"

namespace portcullis::authn {

namespace {
constexpr std::size_t kHmacKeyBytes = 32;
}  // namespace

BasicCache::BasicCache(const Clock& clock, std::int64_t ttl_s, crypto::Random& random,
                       CacheLimits limits)
    : clock_(clock), ttl_s_(ttl_s), limits_(limits), hmac_key_(kHmacKeyBytes) {
  random.Fill(std::span<std::uint8_t>(hmac_key_.data(), hmac_key_.size()));
}

std::size_t BasicCache::EntryBytes(const std::string& key, const CachedBasicUser& user) {
  return kCacheNodeBytes + sizeof(Entry) + EstimatedBytes(key) + EstimatedBytes(user.id) +
         EstimatedBytes(user.username) + EstimatedBytes(user.roles) +
         EstimatedBytes(user.permissions);
}

void BasicCache::EraseLocked(Map::iterator it) {
  bytes_ -= EntryBytes(it->first, it->second.user);
  entries_.erase(it);
}

std::string BasicCache::Key(std::string_view username, std::string_view password) const {
  std::string material(username);
  material.push_back('\0');
  material.append(password);
  std::string key = crypto::HmacSha256(hmac_key_.view(), material);
  SecureZero(material.data(), material.size());
  return key;
}

std::optional<CachedBasicUser> BasicCache::Find(std::string_view username,
                                                std::string_view password) {
  if (ttl_s_ <= 0) return std::nullopt;
  std::string key = Key(username, password);
  std::lock_guard lock(mu_);
  auto it = entries_.find(key);
  if (it == entries_.end()) return std::nullopt;
  if (clock_.Now() >= it->second.expires_at) {
    EraseLocked(it);
    return std::nullopt;
  }
  return it->second.user;
}

void BasicCache::Put(std::string_view username, std::string_view password, CachedBasicUser user) {
  if (ttl_s_ <= 0) return;
  std::string key = Key(username, password);
  const std::size_t bytes = EntryBytes(key, user);
  if (bytes > limits_.max_bytes) return;
  std::lock_guard lock(mu_);
  if (auto it = entries_.find(key); it != entries_.end()) EraseLocked(it);
  // Bounded; refills from active clients.
  if (entries_.size() >= limits_.max_entries || bytes_ + bytes > limits_.max_bytes) {
    entries_.clear();
    bytes_ = 0;
  }
  entries_.emplace(std::move(key), Entry{std::move(user), clock_.Now() + ttl_s_});
  bytes_ += bytes;
}

void BasicCache::Erase(std::string_view username, std::string_view password) {
  std::string key = Key(username, password);
  std::lock_guard lock(mu_);
  if (auto it = entries_.find(key); it != entries_.end()) EraseLocked(it);
}

std::size_t BasicCache::SizeForTesting() const {
  std::lock_guard lock(mu_);
  return entries_.size();
}

std::size_t BasicCache::BytesForTesting() const {
  std::lock_guard lock(mu_);
  return bytes_;
}

}  // namespace portcullis::authn
