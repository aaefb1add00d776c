// KeyManager: the signing keys of this deployment — loaded from the store, decrypted with the
// master key, created on first start — and the public KeyRing that verifies tokens.
//
// Private keys live in the store only as MasterKey::Seal(PKCS#8 DER) with the associated data
// "portcullis/signing-key/v1/<kid>", so a sealed key cannot be swapped onto another kid.
// The algorithm is bound to the key when it is created (DESIGN §4: never read from a token).
//
// Thread-safety: Sign() and key_ring() may be called from any thread; the key ring is an
// immutable snapshot replaced atomically.
//
//   auto km = KeyManager::Create(store, master_key, jose::Algorithm::kEdDsa, clock, random);
//   Result<std::string> jwt = (*km)->Sign(claims);
#pragma once

#include <atomic>
#include <memory>
#include <string>

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
  // active key of another algorithm stays verify-only so its tokens keep working until expiry.
  // Fails with kFailedPrecondition when a stored key cannot be decrypted (wrong master key).
  static Result<std::unique_ptr<KeyManager>> Create(store::SigningKeyStore& store,
                                                    const crypto::MasterKey& master_key,
                                                    jose::Algorithm alg, const Clock& clock,
                                                    crypto::Random& random);

  // Signs an access token with the active key (sets nothing in `claims`).
  Result<std::string> Sign(const jose::AccessTokenClaims& claims) const;

  // The public keys that verify tokens: active and verify-only.
  std::shared_ptr<const jose::KeyRing> key_ring() const { return state_.load()->ring; }
  std::string active_kid() const { return state_.load()->active.kid(); }
  jose::Algorithm active_alg() const { return state_.load()->active.alg(); }

 private:
  struct State {
    jose::PrivateKey active;
    std::shared_ptr<const jose::KeyRing> ring;
  };
  explicit KeyManager(std::shared_ptr<const State> state) : state_(std::move(state)) {}

  std::atomic<std::shared_ptr<const State>> state_;
};

// The associated data binding a sealed private key to its kid.
std::string SigningKeyAssociatedData(std::string_view kid);

}  // namespace portcullis::token
