#include "token/revocation_set.h"

#include <algorithm>
#include <mutex>

namespace portcullis::token {

RevocationSet::RevocationSet(std::int64_t leeway_s)
    : leeway_s_(std::max<std::int64_t>(0, leeway_s)) {}

void RevocationSet::Load(const std::vector<store::RevokedJti>& entries) {
  std::unordered_map<std::string, UnixSeconds, Hash, std::equal_to<>> loaded;
  for (const store::RevokedJti& e : entries) {
    auto [it, inserted] = loaded.emplace(e.jti, e.expires_at);
    if (!inserted) it->second = std::max(it->second, e.expires_at);
  }
  std::unique_lock lock(mu_);
  exp_by_jti_ = std::move(loaded);
}

Status RevocationSet::LoadFrom(store::TokenStore& store, UnixSeconds now) {
  // The store keeps entries with expires_at > its argument; ours live until exp <= now - leeway.
  Result<std::vector<store::RevokedJti>> entries = store.ListRevokedJtis(now - leeway_s_);
  if (!entries.ok()) return entries.status();
  Load(*entries);
  return Status::Ok();
}

void RevocationSet::Add(std::string_view jti, UnixSeconds exp) {
  std::unique_lock lock(mu_);
  auto it = exp_by_jti_.find(jti);
  if (it == exp_by_jti_.end()) {
    exp_by_jti_.emplace(std::string(jti), exp);
  } else {
    it->second = std::max(it->second, exp);
  }
}

bool RevocationSet::IsRevoked(std::string_view jti) const {
  std::shared_lock lock(mu_);
  return exp_by_jti_.find(jti) != exp_by_jti_.end();
}

std::size_t RevocationSet::Prune(UnixSeconds now) {
  std::unique_lock lock(mu_);
  // A token is accepted while now - leeway < exp; keep its entry exactly that long.
  return static_cast<std::size_t>(std::erase_if(
      exp_by_jti_, [&](const auto& entry) { return entry.second <= now - leeway_s_; }));
}

std::size_t RevocationSet::size() const {
  std::shared_lock lock(mu_);
  return exp_by_jti_.size();
}

}  // namespace portcullis::token
