// KeyManager: the signing keys of this deployment — loaded from the store, decrypted with the
// master key, created on first start, rotated — and the public KeyRing that verifies tokens.
//
// Private keys live in the store only as MasterKey::Seal(PKCS#8 DER) with the associated data
// "portcullis/signing-key/v1/<kid>", so a sealed key cannot be swapped onto another kid.
// The algorithm is bound to the key when it is created (DESIGN §4: never read from a token).
//
// Key lifecycle (DESIGN §4, issue #3 point 5): active -> verify_only -> retired.
//   - exactly one key is active: it signs every new token and is in the ring;
//   - Rotate() makes a new active key and demotes the previous one to verify_only, stamping
//     deactivated_at; a verify_only key no longer signs but stays in the ring (and the JWKS) so
//     the tokens it signed keep verifying;
//   - RetireExpired() retires a verify_only key once every token it can have signed has expired
//     (deactivated_at + max_token_lifetime_s <= now); it then leaves the ring for good.
//
// Thread-safety: Sign(), key_ring(), active_kid(), active_alg() and RotationDue() may be called
// from any thread concurrently with everything; they read an immutable snapshot that Rotate() and
// RetireExpired() replace atomically. Rotate() and RetireExpired() serialize among themselves.
// The store, master key, clock and random passed to Create() must outlive the KeyManager.
//
//   auto km = KeyManager::Create(store, master_key, jose::Algorithm::kEdDsa, clock, random);
//   Result<std::string> jwt = (*km)->Sign(claims);
//   if ((*km)->RotationDue(clock.Now(), 90)) Status s = (*km)->Rotate();
//   Result<int> retired = (*km)->RetireExpired(clock.Now(), access_ttl_s + leeway_s);
#pragma once

#include <atomic>
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

class KeyManager {
 public:
  // Loads every key that is not retired. When no active key with `alg` exists (first start, or
  // signing_alg changed), generates one, stores it sealed, and makes it active; a previously
  // active key of another algorithm becomes verify-only (deactivated_at = now) so its tokens keep
  // working until expiry. If several active keys of `alg` are stored (an interrupted Rotate), the
  // newest signs and the older ones are demoted likewise. A verify_only record without
  // deactivated_at is stamped with now. Fails with kFailedPrecondition when a stored key cannot
  // be decrypted (wrong master key), or with the store's error.
  static Result<std::unique_ptr<KeyManager>> Create(store::SigningKeyStore& store,
                                                    const crypto::MasterKey& master_key,
                                                    jose::Algorithm alg, const Clock& clock,
                                                    crypto::Random& random);

  // Master-key rotation: re-seals every stored key (retired ones included) under `master_key`,
  // opening each with it or with its previous key (MasterKey::SetPrevious), all written in one
  // transaction. Returns how many keys were re-sealed. kFailedPrecondition naming the kid when a
  // key opens with neither (nothing is written), or the store's error.
  static Result<int> ResealAll(store::SigningKeyStore& store, const crypto::MasterKey& master_key);

  // Signs an access token with the active key (sets nothing in `claims`).
  Result<std::string> Sign(const jose::AccessTokenClaims& claims) const;

  // Generates a new key with the configured algorithm, stores it active, marks the previous
  // active key verify_only with deactivated_at = clock.Now(), then swaps the in-memory ring in
  // one step (new tokens get the new kid; old tokens still verify). On a store error nothing
  // changes in memory; if the demotion write failed after the insert, the store briefly holds two
  // active keys and the next Create() demotes the older one.
  Status Rotate();

  // Retires every verify_only key with deactivated_at + max_token_lifetime_s <= now: marks it
  // retired in the store and drops it from the ring. Pass the longest time a token stays
  // acceptable after signing (access_ttl_s + leeway_s). Returns how many keys were retired; on a
  // store error, the keys retired before it are already gone from the ring.
  Result<int> RetireExpired(UnixSeconds now, std::int64_t max_token_lifetime_s);

  // Re-reads the keys from the store after another instance (or the CLI) changed them: the
  // newest active key of the configured algorithm signs (the current one if the store has none),
  // every other key that is not retired verifies. Writes nothing and generates nothing, so any
  // number of instances may reload at once. The store's error (or kFailedPrecondition for a key
  // that cannot be decrypted) leaves the current keys in place.
  Status Reload();

  // True when the active key was created at least `rotation_days` days ago
  // (now >= created_at + rotation_days * 86400). Always false when rotation_days <= 0 (disabled).
  bool RotationDue(UnixSeconds now, std::int64_t rotation_days) const;

  // The public keys that verify tokens: active and verify-only.
  std::shared_ptr<const jose::KeyRing> key_ring() const { return state_.load()->ring; }
  std::string active_kid() const { return state_.load()->active->kid(); }
  jose::Algorithm active_alg() const { return state_.load()->active->alg(); }
  // When the active key was created.
  UnixSeconds active_created_at() const { return state_.load()->active_created_at; }
  // The kids of the verify_only keys still in the ring, oldest first.
  std::vector<std::string> verify_only_kids() const;

 private:
  struct VerifyOnlyKey {
    jose::PublicKey key;
    UnixSeconds deactivated_at = 0;
  };
  struct State {
    std::shared_ptr<const jose::PrivateKey> active;  // shared by successive snapshots
    UnixSeconds active_created_at = 0;
    std::vector<VerifyOnlyKey> verify_only;  // oldest first
    std::shared_ptr<const jose::KeyRing> ring;
  };

  KeyManager(store::SigningKeyStore& store, const crypto::MasterKey& master_key,
             jose::Algorithm alg, const Clock& clock, crypto::Random& random,
             std::shared_ptr<const State> state);

  // The ring of `active` plus every key of `verify_only`.
  static std::shared_ptr<const jose::KeyRing> BuildRing(
      const jose::PrivateKey& active, const std::vector<VerifyOnlyKey>& verify_only);

  store::SigningKeyStore& store_;
  const crypto::MasterKey& master_key_;
  const jose::Algorithm alg_;
  const Clock& clock_;
  crypto::Random& random_;
  std::mutex write_mu_;  // serializes Rotate and RetireExpired
  std::atomic<std::shared_ptr<const State>> state_;
};

// The associated data binding a sealed private key to its kid.
std::string SigningKeyAssociatedData(std::string_view kid);

}  // namespace portcullis::token
