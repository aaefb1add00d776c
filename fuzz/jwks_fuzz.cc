// Fuzzes JWK/JWKS handling (jose/key.h): the document is parsed with the strict JSON parser
// (base/json.h); a {"keys": [...]} set has each member, and any other object is itself, built with
// PublicKey::FromJwk. Invariants for an accepted key: its JWK (ToJwk) holds no private member and
// builds the same key again (same kid, algorithm and JWK), it verifies no garbage signature, and
// its RFC 7638 thumbprint is the same when the JWK is read as a DPoP proof key (FromProofJwk).
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "base/json.h"
#include "jose/key.h"

namespace {

using portcullis::jose::PublicKey;

void CheckKey(const boost::json::value& jwk) {
  if (!jwk.is_object()) return;
  // Any object is also tried as a proof's "jwk" for both proof algorithms.
  for (auto alg : {portcullis::jose::Algorithm::kEdDsa, portcullis::jose::Algorithm::kEs256}) {
    portcullis::Result<PublicKey> proof_key = PublicKey::FromProofJwk(jwk.as_object(), alg);
    if (proof_key.ok() && proof_key->Thumbprint().size() != 43) std::abort();
  }
  portcullis::Result<PublicKey> key = PublicKey::FromJwk(jwk.as_object());
  if (!key.ok()) return;
  const boost::json::object out = key->ToJwk();
  for (const char* member : {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}) {
    if (out.contains(member)) std::abort();
  }
  portcullis::Result<PublicKey> again = PublicKey::FromJwk(out);
  if (!again.ok() || again->kid() != key->kid() || again->alg() != key->alg() ||
      again->ToJwk() != out) {
    std::abort();
  }
  if (key->VerifySignature("header.payload", std::string(64, '\0'))) std::abort();
  // RFC 7638 thumbprint: base64url of a SHA-256, the same for the key as a DPoP proof carries it.
  const std::string jkt = key->Thumbprint();
  if (jkt.size() != 43) std::abort();
  if (key->alg() != portcullis::jose::Algorithm::kRs256) {
    portcullis::Result<PublicKey> proof_key = PublicKey::FromProofJwk(out, key->alg());
    if (!proof_key.ok() || proof_key->Thumbprint() != jkt) std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  portcullis::Result<boost::json::value> doc =
      portcullis::ParseJson(std::string_view(reinterpret_cast<const char*>(data), size));
  if (!doc.ok() || !doc->is_object()) return 0;
  const boost::json::object& obj = doc->as_object();
  if (const boost::json::value* keys = obj.if_contains("keys"); keys && keys->is_array()) {
    for (const boost::json::value& jwk : keys->as_array()) CheckKey(jwk);
  } else {
    CheckKey(*doc);
  }
  return 0;
}
