// KeyRing: the set of public keys a verifier trusts, looked up by "kid".
//
// The token layer builds a new KeyRing on every rotation and swaps it in whole; a KeyRing itself
// is never modified while verifiers read it.
//
// Thread-safety: const methods may run concurrently; Add must not race with anything.
//
//   KeyRing ring;
//   ring.Add(signing_key.public_key());
//   boost::json::object jwks = ring.ToJwks();  // served at /.well-known/jwks.json
#pragma once

#include <boost/json/object.hpp>
#include <cstddef>
#include <string_view>
#include <vector>

#include "jose/key.h"

namespace portcullis::jose {

class KeyRing {
 public:
  // Adds `key`, replacing any key with the same kid (kids are unique within a ring).
  void Add(PublicKey key);

  // The key whose kid equals `kid` exactly, or nullptr. The pointer is valid until the next Add.
  const PublicKey* Find(std::string_view kid) const;

  // The JWK Set {"keys":[...]} (RFC 7517 §5), keys in the order they were added.
  boost::json::object ToJwks() const;

  // How many keys the ring holds.
  std::size_t size() const { return keys_.size(); }

 private:
  std::vector<PublicKey> keys_;
};

}  // namespace portcullis::jose
