// RevocationSet: the in-memory access-token revocation list (DESIGN §4, issue #3 point 4), so a
// Bearer check never reads the database: revoked "jti" -> the token's "exp".
//
// The durable copy is the store's revoked_jtis table (store::TokenStore). Usage:
//   - at start-up: set.LoadFrom(token_store, clock.Now());
//   - to revoke: token_store.AddRevokedJti(jti, exp) first (durable), then set.Add(jti, exp);
//   - periodically: set.Prune(now) and token_store.PruneRevokedJtis(now - leeway_s).
//
// Entries are kept while the token could still be accepted: the verifier accepts a token until
// now - leeway_s >= exp (RFC 7519 §4.1.4 with clock skew), so an entry is dropped only once
// exp <= now - leeway_s. Pass the verifier's leeway (TokenPolicy::leeway_s) to the constructor.
//
// Bounded by design, so there is no count or byte cap (issue #11): every entry is the jti and exp
// of an access token that passed verification (RFC 7009 revoke, logout, or another instance's
// revocation through the store), so exp <= iat + access_ttl_s, and Prune (housekeeping, every
// 60 s) drops it within access_ttl_s + leeway_s + 60 s of its revocation (16.5 min by default).
// The set therefore holds at most the tokens revoked in that window, one entry per jti, each
// about 100-130 bytes (a 22-character jti, its exp, the map node). Capping or evicting it would
// bring revoked tokens back to life.
//
// Thread-safety: all methods may be called concurrently from any thread. IsRevoked() is on the
// hot path of every Bearer request and takes a shared lock only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/clock.h"
#include "base/status.h"
#include "store/store.h"

namespace portcullis::token {

class RevocationSet {
 public:
  // `leeway_s`: the clock skew the access-token verifier allows after "exp" (>= 0).
  explicit RevocationSet(std::int64_t leeway_s);

  RevocationSet(const RevocationSet&) = delete;
  RevocationSet& operator=(const RevocationSet&) = delete;

  // Replaces the whole set with `entries` (e.g. the result of ListRevokedJtis).
  void Load(const std::vector<store::RevokedJti>& entries);

  // Loads from the store every entry still relevant at `now` (expires_at > now - leeway_s).
  // Returns the store's error and leaves the set unchanged on failure.
  Status LoadFrom(store::TokenStore& store, UnixSeconds now);

  // Refuses `jti` until `exp` (+ leeway). Adding a jti twice keeps the later exp.
  // Does not write to the store.
  void Add(std::string_view jti, UnixSeconds exp);

  // True when `jti` is on the list. An entry past its exp that Prune() has not dropped yet still
  // answers true; the token is expired anyway.
  bool IsRevoked(std::string_view jti) const;

  // Drops every entry with exp <= now - leeway_s and returns how many were dropped.
  std::size_t Prune(UnixSeconds now);

  // How many entries the set holds.
  std::size_t size() const;

 private:
  // Lets IsRevoked(string_view) look up without building a std::string.
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };

  const std::int64_t leeway_s_;
  mutable std::shared_mutex mu_;
  std::unordered_map<std::string, UnixSeconds, Hash, std::equal_to<>> exp_by_jti_;  // mu_
};

}  // namespace portcullis::token
