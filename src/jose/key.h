// Signing keys for JWS: PublicKey (verify, publish as JWK) and PrivateKey (sign, store as PKCS#8).
//
// Every key carries its Algorithm and its "kid"; verification uses the key's algorithm, never the
// token's (RFC 8725 §3.1). Supported: Ed25519 ("EdDSA", RFC 8037), P-256 ("ES256") and RSA of
// 2048 to 8192 bits ("RS256"), RFC 7518 §3.3-3.4.
//
// Thread-safety: PublicKey and PrivateKey are immutable after construction; const methods may run
// concurrently from any thread. PublicKey is cheap to copy (the OpenSSL key is shared);
// PrivateKey is move-only and its private key never leaves except through ToPkcs8Der().
//
//   Result<PrivateKey> key = PrivateKey::Generate(Algorithm::kEdDsa, "2024-01-k1");
//   Result<std::string> sig = key->Sign(signing_input);
//   bool ok = key->public_key().VerifySignature(signing_input, *sig);
#pragma once

#include <boost/json/object.hpp>
#include <memory>
#include <string>
#include <string_view>

#include "base/secret.h"
#include "base/status.h"
#include "jose/algorithm.h"

namespace portcullis::jose {

// Owns an OpenSSL EVP_PKEY; defined in key.cc so OpenSSL types stay out of this header.
struct KeyMaterial;

class PublicKey {
 public:
  // The key identifier, matched against a token's "kid" header.
  const std::string& kid() const { return kid_; }
  // The one algorithm this key verifies.
  Algorithm alg() const { return alg_; }

  // True when `signature` (raw bytes, already base64url-decoded) is a valid signature of
  // `signing_input` under this key with alg(). ES256 signatures must be the 64-byte JOSE R||S
  // form and RS256 ones exactly the modulus length; any other length is simply false.
  // Leaves the OpenSSL error queue empty.
  bool VerifySignature(std::string_view signing_input, std::string_view signature) const;

  // The public JWK (RFC 7517 §4, RFC 7518 §6, RFC 8037 §2) with members in the order
  // kty, crv?, x?, y?, n?, e?, kid, alg, use ("sig").
  boost::json::object ToJwk() const;

  // Builds a key from a public JWK. "kty", "kid" and "alg" are required and must agree (EdDSA:
  // OKP/Ed25519; ES256: EC/P-256 with 32-byte x and y; RS256: RSA, 2048 to 8192 bits); "use",
  // when present, must be "sig". A JWK holding private members ("d", "p", ...) is rejected.
  // Returns kInvalidArgument naming the first problem.
  static Result<PublicKey> FromJwk(const boost::json::object& jwk);

  // Builds the key a DPoP proof carries in its "jwk" header (RFC 9449 §4.2) for `alg`, which the
  // proof's "alg" header chose: only EdDSA (OKP/Ed25519) and ES256 (EC/P-256); no "kid" needed
  // (the key gets the empty kid); an "alg" member, when present, must equal `alg`; "use", when
  // present, must be "sig"; private members ("d", ...) and RS256 are rejected (kInvalidArgument).
  static Result<PublicKey> FromProofJwk(const boost::json::object& jwk, Algorithm alg);

  // The RFC 7638 JWK thumbprint: base64url(SHA-256 of the required members in lexicographic
  // order, no whitespace) — OKP {crv,kty,x}, EC {crv,kty,x,y}, RSA {e,kty,n}. The "jkt" of a
  // DPoP-bound token (RFC 9449 §6.1).
  std::string Thumbprint() const;

 private:
  friend class PrivateKey;
  PublicKey(Algorithm alg, std::string kid, std::shared_ptr<const KeyMaterial> material)
      : alg_(alg), kid_(std::move(kid)), material_(std::move(material)) {}

  Algorithm alg_;
  std::string kid_;
  std::shared_ptr<const KeyMaterial> material_;
};

class PrivateKey {
 public:
  ~PrivateKey();
  PrivateKey(PrivateKey&&) noexcept;
  PrivateKey& operator=(PrivateKey&&) noexcept;
  PrivateKey(const PrivateKey&) = delete;
  PrivateKey& operator=(const PrivateKey&) = delete;

  // A fresh key pair for `alg` (RS256: 2048 bits). kInternal if OpenSSL fails.
  static Result<PrivateKey> Generate(Algorithm alg, std::string kid);

  // Loads an unencrypted PKCS#8 PrivateKeyInfo (DER). kInvalidArgument when the DER is malformed,
  // has trailing bytes, or holds a key that does not fit `alg` (wrong type, curve or RSA size).
  static Result<PrivateKey> FromPkcs8Der(Algorithm alg, std::string kid, std::string_view der);

  // The private key as unencrypted PKCS#8 DER, to be sealed with the master key before storage.
  SecretBytes ToPkcs8Der() const;

  const std::string& kid() const { return public_key_.kid(); }
  Algorithm alg() const { return public_key_.alg(); }
  // The matching public key (holding no private material).
  PublicKey public_key() const { return public_key_; }

  // The raw JWS signature of `signing_input` (ES256: 64-byte R||S; not base64url-encoded).
  // kInternal if OpenSSL fails.
  Result<std::string> Sign(std::string_view signing_input) const;

 private:
  PrivateKey(std::unique_ptr<KeyMaterial> material, PublicKey public_key);

  std::unique_ptr<KeyMaterial> material_;
  PublicKey public_key_;
};

}  // namespace portcullis::jose
