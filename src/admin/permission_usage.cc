// PermissionUsage: permission-check bookkeeping for the access review, cheap on the request path.
#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "admin/directory.h"

namespace portcullis::admin {
namespace {

std::string UseKey(std::string_view user_id, std::string_view permission) {
  std::string key;
  key.reserve(user_id.size() + 1 + permission.size());
  key.append(user_id).push_back('\n');
  key.append(permission);
  return key;
}

}  // namespace

void PermissionUsage::Record(std::string_view user_id, std::string_view permission,
                             UnixSeconds at) {
  std::string key = UseKey(user_id, permission);
  std::lock_guard<std::mutex> lock(mu_);
  auto [it, inserted] = uses_.try_emplace(std::move(key), at, false);
  if (inserted) return;
  std::pair<UnixSeconds, bool>& entry = it->second;
  // An older or nearly-as-recent time adds nothing the store doesn't already (or soon) have.
  if (at - entry.first < resolution_s_) return;
  entry = {at, false};
}

Result<std::size_t> PermissionUsage::Flush(store::UserStore& store) {
  std::vector<store::PermissionUse> batch;
  {
    std::lock_guard<std::mutex> lock(mu_);
    // Written by an earlier flush and not used since: the store has it.
    std::erase_if(uses_, [](const auto& item) { return item.second.second; });
    for (auto& [key, entry] : uses_) {
      const std::size_t newline = key.rfind('\n');
      batch.push_back({key.substr(0, newline), key.substr(newline + 1), entry.first});
      entry.second = true;
    }
  }
  if (batch.empty()) return std::size_t{0};
  if (Status s = store.RecordPermissionUses(batch); !s.ok()) {
    std::lock_guard<std::mutex> lock(mu_);
    for (const store::PermissionUse& use : batch) {
      auto it = uses_.find(UseKey(use.user_id, use.permission));
      // Unless a newer use replaced it meanwhile (that one is unflushed already).
      if (it != uses_.end() && it->second.first == use.at) it->second.second = false;
    }
    return s;
  }
  return batch.size();
}

std::size_t PermissionUsage::SizeForTesting() {
  std::lock_guard<std::mutex> lock(mu_);
  return uses_.size();
}

}  // namespace portcullis::admin
