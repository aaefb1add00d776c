#include "jose/key_ring.h"

#include <boost/json/array.hpp>

namespace portcullis::jose {

void KeyRing::Add(PublicKey key) {
  for (PublicKey& existing : keys_) {
    if (existing.kid() == key.kid()) {
      existing = std::move(key);
      return;
    }
  }
  keys_.push_back(std::move(key));
}

const PublicKey* KeyRing::Find(std::string_view kid) const {
  // A ring holds a handful of keys; a linear scan beats a map here.
  for (const PublicKey& key : keys_) {
    if (key.kid() == kid) return &key;
  }
  return nullptr;
}

boost::json::object KeyRing::ToJwks() const {
  boost::json::array keys;
  for (const PublicKey& key : keys_) keys.push_back(key.ToJwk());
  boost::json::object jwks;
  jwks["keys"] = std::move(keys);
  return jwks;
}

}  // namespace portcullis::jose
