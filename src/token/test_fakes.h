// In-memory fakes of the store ports used by the token tests. Test-only: not part of any library
// target. Each fake guards its state with a mutex, so concurrency tests can share one.
#pragma once

#include <algorithm>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "store/store.h"

namespace portcullis::token::testing {

// A SigningKeyStore in a vector; fail_updates_ makes UpdateSigningKeyState fail with kUnavailable.
class FakeSigningKeyStore final : public store::SigningKeyStore {
 public:
  Status InsertSigningKey(const store::SigningKey& key) override {
    std::lock_guard lock(mu_);
    for (const auto& k : keys_) {
      if (k.kid == key.kid) return AlreadyExistsError("kid");
    }
    keys_.push_back(key);
    return Status::Ok();
  }
  Result<std::vector<store::SigningKey>> ListSigningKeys() override {
    std::lock_guard lock(mu_);
    return keys_;
  }
  Status UpdateSigningKeyState(std::string_view kid, std::string_view state,
                               std::optional<UnixSeconds> at) override {
    std::lock_guard lock(mu_);
    if (fail_updates_) return UnavailableError("database is locked");
    for (auto& k : keys_) {
      if (k.kid == kid) {
        k.state = std::string(state);
        k.deactivated_at = at;
        return Status::Ok();
      }
    }
    return NotFoundError("kid");
  }
  Status ReplaceSealedPrivateKeys(
      const std::vector<std::pair<std::string, std::string>>& sealed_by_kid) override {
    std::lock_guard lock(mu_);
    if (fail_updates_) return UnavailableError("database is locked");
    std::vector<store::SigningKey> next = keys_;
    for (const auto& [kid, sealed] : sealed_by_kid) {
      auto it = std::find_if(next.begin(), next.end(), [&](const auto& k) { return k.kid == kid; });
      if (it == next.end()) return NotFoundError("kid");
      it->sealed_private_key = sealed;
    }
    keys_ = std::move(next);
    return Status::Ok();
  }
  // The stored record with this kid (a copy); fails the test's expectations if absent.
  std::optional<store::SigningKey> Get(std::string_view kid) {
    std::lock_guard lock(mu_);
    for (const auto& k : keys_) {
      if (k.kid == kid) return k;
    }
    return std::nullopt;
  }

  std::mutex mu_;
  std::vector<store::SigningKey> keys_;
  bool fail_updates_ = false;
};

// A TokenStore in maps, with the atomic semantics the port promises (one mutex around each call).
// fail_all_ makes every call fail with kUnavailable.
class FakeTokenStore final : public store::TokenStore {
 public:
  Status InsertRefreshToken(const store::RefreshToken& token) override {
    std::lock_guard lock(mu_);
    if (fail_all_) return UnavailableError("database is locked");
    return InsertLocked(token);
  }
  Result<store::RefreshToken> FindRefreshToken(std::string_view token_hash) override {
    std::lock_guard lock(mu_);
    if (fail_all_) return UnavailableError("database is locked");
    auto it = refresh_.find(std::string(token_hash));
    if (it == refresh_.end()) return NotFoundError("refresh token");
    return it->second;
  }
  Result<std::optional<store::RefreshToken>> FindSuccessor(std::string_view parent_hash) override {
    std::lock_guard lock(mu_);
    if (fail_all_) return UnavailableError("database is locked");
    // Like the SQLite store: the newest child when a grace replacement made several.
    std::optional<store::RefreshToken> newest;
    std::uint64_t newest_seq = 0;
    for (const auto& [hash, t] : refresh_) {
      if (t.parent_hash && *t.parent_hash == parent_hash && seq_[hash] >= newest_seq) {
        newest = t;
        newest_seq = seq_[hash];
      }
    }
    return newest;
  }
  Status RotateRefreshToken(std::string_view old_hash, const store::RefreshToken& next,
                            UnixSeconds now, store::AuditEvent* audit = nullptr) override {
    std::lock_guard lock(mu_);
    if (fail_all_) return UnavailableError("database is locked");
    auto it = refresh_.find(std::string(old_hash));
    if (it == refresh_.end()) return NotFoundError("refresh token");
    if (it->second.revoked_at) return FailedPreconditionError("refresh token revoked");
    if (it->second.used_at) return AbortedError("refresh token already used");
    if (refresh_.count(next.token_hash) != 0) return AlreadyExistsError("refresh token");
    it->second.used_at = now;
    Status inserted = InsertLocked(next);
    if (inserted.ok() && audit != nullptr) {
      audit->id = static_cast<std::int64_t>(audited_.size()) + 1;
      audited_.push_back(*audit);
    }
    return inserted;
  }
  // Audit events written with rotations, in order.
  std::vector<store::AuditEvent> audited() const {
    std::lock_guard lock(mu_);
    return audited_;
  }
  Status ReplaceUnusedSuccessor(std::string_view successor_hash, const store::RefreshToken& next,
                                UnixSeconds now) override {
    std::lock_guard lock(mu_);
    if (fail_all_) return UnavailableError("database is locked");
    auto it = refresh_.find(std::string(successor_hash));
    if (it == refresh_.end() || it->second.used_at || it->second.revoked_at) {
      return AbortedError("successor not replaceable");
    }
    if (refresh_.count(next.token_hash) != 0) return AlreadyExistsError("refresh token");
    it->second.revoked_at = now;
    return InsertLocked(next);
  }
  Result<int> RevokeRefreshFamily(std::string_view family_id, UnixSeconds now) override {
    std::lock_guard lock(mu_);
    if (fail_all_) return UnavailableError("database is locked");
    int n = 0;
    for (auto& [hash, t] : refresh_) {
      if (t.family_id == family_id && !t.revoked_at) {
        t.revoked_at = now;
        ++n;
      }
    }
    return n;
  }
  Result<int> RevokeUserRefreshTokens(std::string_view user_id, UnixSeconds now) override {
    std::lock_guard lock(mu_);
    if (fail_all_) return UnavailableError("database is locked");
    int n = 0;
    for (auto& [hash, t] : refresh_) {
      if (t.user_id == user_id && !t.revoked_at) {
        t.revoked_at = now;
        ++n;
      }
    }
    return n;
  }
  Result<int> PruneRefreshTokens(UnixSeconds now) override {
    std::lock_guard lock(mu_);
    if (fail_all_) return UnavailableError("database is locked");
    return static_cast<int>(
        std::erase_if(refresh_, [&](const auto& e) { return e.second.family_expires_at <= now; }));
  }
  Status AddRevokedJti(std::string_view jti, UnixSeconds expires_at) override {
    std::lock_guard lock(mu_);
    if (fail_all_) return UnavailableError("database is locked");
    jtis_.emplace(std::string(jti), expires_at);
    return Status::Ok();
  }
  Result<std::vector<store::RevokedJti>> ListRevokedJtis(UnixSeconds now) override {
    std::lock_guard lock(mu_);
    if (fail_all_) return UnavailableError("database is locked");
    std::vector<store::RevokedJti> out;
    for (const auto& [jti, exp] : jtis_) {
      if (exp > now) out.push_back({jti, exp});
    }
    return out;
  }
  Result<int> PruneRevokedJtis(UnixSeconds now) override {
    std::lock_guard lock(mu_);
    if (fail_all_) return UnavailableError("database is locked");
    return static_cast<int>(std::erase_if(jtis_, [&](const auto& e) { return e.second <= now; }));
  }

  // Test access: a copy of every refresh token, and of one by hash.
  std::vector<store::RefreshToken> AllRefreshTokens() {
    std::lock_guard lock(mu_);
    std::vector<store::RefreshToken> out;
    for (const auto& [hash, t] : refresh_) out.push_back(t);
    return out;
  }

  mutable std::mutex mu_;
  std::map<std::string, store::RefreshToken> refresh_;
  std::vector<store::AuditEvent> audited_;
  std::map<std::string, UnixSeconds> jtis_;
  bool fail_all_ = false;

 private:
  std::map<std::string, std::uint64_t> seq_;  // insertion order of refresh tokens
  std::uint64_t next_seq_ = 0;

  Status InsertLocked(const store::RefreshToken& token) {
    if (!refresh_.emplace(token.token_hash, token).second) {
      return AlreadyExistsError("refresh token");
    }
    seq_[token.token_hash] = ++next_seq_;
    return Status::Ok();
  }
};

}  // namespace portcullis::token::testing
