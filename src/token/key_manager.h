// KeyManager: the signing keys of this deployment — loaded from the store, decrypted with the
// master key, created on first start, rotated — and the public KeyRing that verifies tokens.
//
// Private keys live in the store only as MasterKey::Seal(PKCS#8 DER) with the associated data
// "portcullis/signing-key/v1/<kid>", so a sealed key cannot be swapped onto another kid.
// The algorithm is bound to the key when it is created (DESIGN §4: never read from a token).
//
// One active key per algorithm (DESIGN §4, §8): the deployment keeps exactly one active key of
// each algorithm of the closed set jose::kAllAlgorithms (EdDSA, ES256, RS256 with 2048-bit RSA).
// The configured `tokens.signing_alg` picks the one that signs access tokens (Sign, active_kid,
// active_alg); ID tokens are signed with the active key of the client's
// `id_token_signed_response_alg` (SignIdToken). Changing signing_alg therefore demotes nothing:
// the previous algorithm's key stays active and keeps signing ID tokens.
//
// Key lifecycle (DESIGN §4, issue #3 point 5), per algorithm: active -> verify_only -> retired.
//   - exactly one key of each algorithm is active: it signs that algorithm's new tokens and is in
//     the ring;
//   - Rotate() makes a new active key of every algorithm and demotes each previous one to
//     verify_only, stamping deactivated_at; a verify_only key no longer signs but stays in the
//     ring (and the JWKS) so the tokens it signed keep verifying;
//   - RetireExpired() retires a verify_only key once every token it can have signed has expired
//     (deactivated_at + max_token_lifetime_s <= now); it then leaves the ring for good.
// The ring (the JWKS) holds every active and every verify_only key.
//
// Thread-safety: Sign(), SignIdToken(), key_ring(), the active_* accessors and RotationDue() may
// be called from any thread concurrently with everything; they read an immutable snapshot that
// Rotate(), RetireExpired() and Reload() replace atomically. Those three serialize among
// themselves. The store, master key, clock and random passed to Create() must outlive the
// KeyManager.
//
//   auto km = KeyManager::Create(store, master_key, jose::Algorithm::kEdDsa, clock, random);
//   Result<std::string> jwt = (*km)->Sign(claims);                  // EdDSA access token
//   Result<std::string> id = (*km)->SignIdToken(jose::Algorithm::kRs256, id_claims);
//   if ((*km)->RotationDue(clock.Now(), 90)) auto rotated = (*km)->Rotate();
//   Result<int> retired = (*km)->RetireExpired(clock.Now(), access_ttl_s + leeway_s);
#pragma once

#include <array>
#include <atomic>
#include <boost/json/object.hpp>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/status.h"
#include "crypto/master_key.h"
#include "crypto/random.h"
#include "jose/claims.h"
#include "jose/key.h"
#include "jose/key_ring.h"
#include "store/store.h"

namespace portcullis::token {

// One algorithm's active key, as the accessors report it.
struct ActiveKeyInfo {
  jose::Algorithm alg = jose::Algorithm::kEdDsa;
  std::string kid;
  UnixSeconds created_at = 0;
};

// One key replaced by Rotate(): `previous_kid` became verify_only, `kid` is the new active key.
struct RotatedKey {
  jose::Algorithm alg = jose::Algorithm::kEdDsa;
  std::string kid;
  std::string previous_kid;
};

class KeyManager {
 public:
  // Loads every key that is not retired and, for each algorithm of jose::kAllAlgorithms that has
  // no active key (first start, or a database from before the per-algorithm key set), generates
  // one, stores it sealed, and makes it active. `access_token_alg` only chooses which active key
  // Sign() uses. If several active keys of one algorithm are stored (an interrupted Rotate), the
  // newest signs and the older ones become verify-only (deactivated_at = now). A verify_only
  // record without deactivated_at is stamped with now. Fails with kFailedPrecondition when a
  // stored key cannot be decrypted (wrong master key), or with the store's error.
  static Result<std::unique_ptr<KeyManager>> Create(store::SigningKeyStore& store,
                                                    const crypto::MasterKey& master_key,
                                                    jose::Algorithm access_token_alg,
                                                    const Clock& clock, crypto::Random& random);

  // Master-key rotation: re-seals every stored key (retired ones included) under `master_key`,
  // opening each with it or with its previous key (MasterKey::SetPrevious), all written in one
  // transaction. Returns how many keys were re-sealed. kFailedPrecondition naming the kid when a
  // key opens with neither (nothing is written), or the store's error.
  static Result<int> ResealAll(store::SigningKeyStore& store, const crypto::MasterKey& master_key);

  // Signs an access token with the active key of the configured algorithm (sets nothing in
  // `claims`).
  Result<std::string> Sign(const jose::AccessTokenClaims& claims) const;

  // Signs an OpenID Connect ID token with the active key of `alg` (the client's
  // id_token_signed_response_alg): jose::SignIdToken, header {"alg","kid","typ":"JWT"}. Sets and
  // checks nothing in `claims`. kInternal if signing fails.
  Result<std::string> SignIdToken(jose::Algorithm alg, const boost::json::object& claims) const;

  // Generates a new key of every algorithm, stores them active, marks each previous active key
  // verify_only with deactivated_at = clock.Now(), then swaps the in-memory ring in one step (new
  // tokens get the new kids; old tokens still verify). Returns one RotatedKey per algorithm, in
  // jose::kAllAlgorithms order. All inserts happen before any demotion; on a store error nothing
  // changes in memory, and if it struck after an insert the store briefly holds two active keys
  // of some algorithm, which the next Create() repairs (Reload() already signs with the newer).
  Result<std::vector<RotatedKey>> Rotate();

  // Retires every verify_only key, of any algorithm, with deactivated_at + max_token_lifetime_s
  // <= now: marks it retired in the store and drops it from the ring. Pass the longest time a
  // token stays acceptable after signing (access_ttl_s + leeway_s). Active keys never retire.
  // Returns how many keys were retired; on a store error, the keys retired before it are
  // already gone from the ring.
  Result<int> RetireExpired(UnixSeconds now, std::int64_t max_token_lifetime_s);

  // Re-reads the keys from the store after another instance (or the CLI) changed them: for each
  // algorithm the newest active key signs (the current one if the store has none), every other
  // key that is not retired verifies. Writes nothing and generates nothing, so any number of
  // instances may reload at once. The store's error (or kFailedPrecondition for a key that
  // cannot be decrypted) leaves the current keys in place.
  Status Reload();

  // True when the OLDEST active key (of any algorithm) was created at least `rotation_days` days
  // ago (now >= created_at + rotation_days * 86400), so no key signs for longer than the period;
  // as Rotate() renews every algorithm at once, the keys normally share one creation time.
  // Always false when rotation_days <= 0 (disabled).
  bool RotationDue(UnixSeconds now, std::int64_t rotation_days) const;

  // The public keys that verify tokens: every active and every verify-only key.
  std::shared_ptr<const jose::KeyRing> key_ring() const { return state_.load()->ring; }
  // The key that signs access tokens (the configured algorithm's active key).
  std::string active_kid() const { return Active(*state_.load(), access_token_alg_).key->kid(); }
  jose::Algorithm active_alg() const { return access_token_alg_; }
  // When the access-token key was created.
  UnixSeconds active_created_at() const {
    return Active(*state_.load(), access_token_alg_).created_at;
  }
  // The active key of `alg`.
  std::string active_kid(jose::Algorithm alg) const {
    return Active(*state_.load(), alg).key->kid();
  }
  // Every active key, one per algorithm, in jose::kAllAlgorithms order (from one snapshot).
  std::vector<ActiveKeyInfo> active_keys() const;
  // The kids of the verify_only keys still in the ring, oldest first.
  std::vector<std::string> verify_only_kids() const;

 private:
  struct VerifyOnlyKey {
    jose::PublicKey key;
    UnixSeconds deactivated_at = 0;
  };
  struct ActiveKey {
    std::shared_ptr<const jose::PrivateKey> key;  // shared by successive snapshots
    UnixSeconds created_at = 0;
  };
  struct State {
    // Indexed by the algorithm's underlying value (see jose::kAllAlgorithms); never null.
    std::array<ActiveKey, jose::kAllAlgorithms.size()> active;
    std::vector<VerifyOnlyKey> verify_only;  // oldest first
    std::shared_ptr<const jose::KeyRing> ring;
  };

  KeyManager(store::SigningKeyStore& store, const crypto::MasterKey& master_key,
             jose::Algorithm access_token_alg, const Clock& clock, crypto::Random& random,
             std::shared_ptr<const State> state);

  static const ActiveKey& Active(const State& state, jose::Algorithm alg) {
    return state.active[static_cast<std::size_t>(alg)];
  }
  // The ring of every key of `verify_only` (oldest first) plus the active keys.
  static std::shared_ptr<const jose::KeyRing> BuildRing(const State& state);

  store::SigningKeyStore& store_;
  const crypto::MasterKey& master_key_;
  const jose::Algorithm access_token_alg_;
  const Clock& clock_;
  crypto::Random& random_;
  std::mutex write_mu_;  // serializes Rotate, RetireExpired and Reload
  std::atomic<std::shared_ptr<const State>> state_;
};

// The associated data binding a sealed private key to its kid.
std::string SigningKeyAssociatedData(std::string_view kid);

}  // namespace portcullis::token
