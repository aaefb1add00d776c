#include "token/user_state_cache.h"

#include <algorithm>
#include <mutex>

namespace portcullis::token {

void UserStateCache::Load(const std::vector<store::UserState>& states) {
  std::unordered_map<std::string, Entry, Hash, std::equal_to<>> loaded;
  loaded.reserve(states.size());
  for (const store::UserState& s : states) {
    loaded[s.id] = Entry{s.credential_version, s.disabled};
  }
  std::unique_lock lock(mu_);
  users_ = std::move(loaded);
}

Status UserStateCache::LoadFrom(store::UserStore& store) {
  Result<std::vector<store::UserState>> states = store.ListUserStates();
  if (!states.ok()) return states.status();
  Load(*states);
  return Status::Ok();
}

Result<std::int64_t> UserStateCache::ApplyChanges(
    store::UserStore& store, std::int64_t after_seq,
    const std::function<void(std::string_view user_id)>& on_change) {
  constexpr std::size_t kBatch = 1000;
  Result<std::vector<store::UserChange>> changes = store.UserChangesSince(after_seq, kBatch);
  if (!changes.ok()) return changes.status();
  std::int64_t seq = after_seq;
  for (const store::UserChange& change : *changes) {
    Result<store::User> user = store.FindUserById(change.user_id);
    if (user.ok()) {
      Set(user->id, user->credential_version, user->disabled);
    } else if (user.status().code() == StatusCode::kNotFound) {
      Remove(change.user_id);
    } else {
      return user.status();  // retry from `seq` next time; nothing is skipped
    }
    if (on_change) on_change(change.user_id);
    seq = change.seq;
  }
  return seq;
}

void UserStateCache::Set(std::string_view user_id, std::int64_t credential_version, bool disabled) {
  std::unique_lock lock(mu_);
  auto it = users_.find(user_id);
  if (it == users_.end()) {
    users_.emplace(std::string(user_id), Entry{credential_version, disabled});
    return;
  }
  it->second.credential_version = std::max(it->second.credential_version, credential_version);
  it->second.disabled = disabled;
}

void UserStateCache::Remove(std::string_view user_id) {
  std::unique_lock lock(mu_);
  auto it = users_.find(user_id);
  if (it != users_.end()) users_.erase(it);
}

jose::VerifyError UserStateCache::Check(std::string_view user_id, std::int64_t uv) const {
  std::shared_lock lock(mu_);
  auto it = users_.find(user_id);
  if (it == users_.end()) return jose::VerifyError::kUnknownSubject;
  if (it->second.disabled) return jose::VerifyError::kSubjectDisabled;
  if (uv < it->second.credential_version) return jose::VerifyError::kStaleCredentials;
  return jose::VerifyError::kOk;
}

std::size_t UserStateCache::size() const {
  std::shared_lock lock(mu_);
  return users_.size();
}

}  // namespace portcullis::token
