#include "app/change_follower.h"

#include <string_view>
#include <utility>
#include <vector>

#include "base/log.h"

namespace portcullis::app {

ChangeFollower::ChangeFollower(store::Store& store, Targets targets, const Clock& clock,
                               std::chrono::milliseconds poll_interval)
    : store_(store), targets_(targets), clock_(clock), poll_interval_(poll_interval) {}

ChangeFollower::~ChangeFollower() { Stop(); }

void ChangeFollower::ClientDeleted(const store::ChangeEvent& event) {
  if (targets_.tokens != nullptr) targets_.tokens->ClientDeleted(event.subject, event.at);
  if (targets_.clients != nullptr) targets_.clients->Forget(event.subject);
}

Status ChangeFollower::Init() {
  Result<std::int64_t> users = store_.LatestUserChange();
  if (!users.ok()) return users.status();
  Result<std::int64_t> changes = store_.LatestChange();
  if (!changes.ok()) return changes.status();
  user_seq_ = *users;
  change_seq_ = *changes;
  // Client deletions are not state a cache could load: replay the feed for them.
  constexpr std::size_t kBatch = 1000;
  for (std::int64_t seq = 0; seq < change_seq_;) {
    Result<std::vector<store::ChangeEvent>> events = store_.ChangesSince(seq, kBatch);
    if (!events.ok()) return events.status();
    if (events->empty()) break;
    for (const store::ChangeEvent& event : *events) {
      if (event.seq > change_seq_) break;
      if (event.kind == store::kChangeClientDeleted) ClientDeleted(event);
    }
    seq = events->back().seq;
  }
  return Status::Ok();
}

void ChangeFollower::Start() {
  listener_ = store_.ListenForChanges();
  thread_ = std::thread([this] { Run(); });
}

void ChangeFollower::Stop() {
  stop_ = true;
  if (listener_ != nullptr) listener_->Interrupt();
  if (thread_.joinable()) thread_.join();
}

void ChangeFollower::Run() {
  while (!stop_) {
    listener_->Wait(poll_interval_);
    if (stop_) break;
    if (Status s = PollOnce(); !s.ok()) {
      log::Warn("changes.poll_failed", {{"error", s.ToString()}});
    }
  }
}

Status ChangeFollower::PollOnce() {
  // Users: credential versions, disabled flags, deletions; a changed user also loses their
  // cached API-key verifications (a key revoked elsewhere appears here as its owner).
  while (true) {
    Result<std::int64_t> next =
        targets_.users->ApplyChanges(store_, user_seq_, [this](std::string_view user_id) {
          if (targets_.api_keys != nullptr) targets_.api_keys->EraseOwner(user_id);
        });
    if (!next.ok()) return next.status();
    if (*next == user_seq_) break;
    user_seq_ = *next;
  }
  // Revoked access tokens and signing keys.
  constexpr std::size_t kBatch = 1000;
  while (true) {
    Result<std::vector<store::ChangeEvent>> events = store_.ChangesSince(change_seq_, kBatch);
    if (!events.ok()) return events.status();
    if (events->empty()) break;
    bool jtis = false;
    bool keys = false;
    for (const store::ChangeEvent& event : *events) {
      jtis = jtis || event.kind == store::kChangeRevokedJti;
      keys = keys || event.kind == store::kChangeSigningKeys;
      if (event.kind == store::kChangeClientDeleted) ClientDeleted(event);
    }
    if (jtis) {
      // Merged, never replaced: an entry this instance just added stays even if the read
      // raced with its write.
      Result<std::vector<store::RevokedJti>> revoked = store_.ListRevokedJtis(clock_.Now());
      if (!revoked.ok()) return revoked.status();
      for (const store::RevokedJti& entry : *revoked) {
        targets_.revocations->Add(entry.jti, entry.expires_at);
      }
    }
    if (keys) {
      if (Status s = targets_.keys->Reload(); !s.ok()) return s;
    }
    change_seq_ = events->back().seq;
    if (events->size() < kBatch) break;
  }
  return Status::Ok();
}

}  // namespace portcullis::app
