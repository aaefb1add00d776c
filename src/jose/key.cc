#include "jose/key.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <sodium.h>

#include <array>
#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include "base/secret.h"
#include "crypto/base64.h"
#include "crypto/openssl_ptr.h"
#include "crypto/sha256.h"

namespace portcullis::jose {

// The OpenSSL key and, for Ed25519, its raw bytes: EdDSA signing and verification go through
// libsodium (crypto_sign_detached, crypto_sign_verify_detached), which skips OpenSSL 3's per-call
// provider set-up (EVP_DigestVerifyInit cost about twice the signature check itself, and
// EVP_DigestSignInit a third of a client_credentials grant). Ed25519 is deterministic (RFC 8032):
// both libraries produce the same signature.
struct KeyMaterial {
  crypto::EvpPkeyPtr pkey;
  std::optional<std::array<unsigned char, crypto_sign_PUBLICKEYBYTES>> ed25519_public;
  SecretBytes ed25519_secret;  // private keys only: libsodium's 64-byte seed || public key
};

namespace {

using crypto::Base64UrlDecode;
using crypto::Base64UrlEncode;
using crypto::BignumPtr;
using crypto::ClearOpenSslErrors;
using crypto::EcdsaSigPtr;
using crypto::EvpMdCtxPtr;
using crypto::EvpPkeyCtxPtr;
using crypto::EvpPkeyPtr;

// RFC 7518 §3.4: ES256 signatures are R||S, each a 32-byte big-endian integer.
constexpr int kEs256CoordinateBytes = 32;
constexpr std::size_t kEs256SignatureBytes = 2 * kEs256CoordinateBytes;
constexpr std::size_t kEd25519KeyBytes = 32;
constexpr std::size_t kEd25519SignatureBytes = 64;
// RFC 7518 §3.3 requires at least 2048 bits; the upper bound keeps verification cheap.
constexpr int kMinRsaBits = 2048;
constexpr int kMaxRsaBits = 8192;
constexpr int kGeneratedRsaBits = 2048;
constexpr char kP256GroupName[] = "prime256v1";

const unsigned char* Bytes(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

std::string_view View(const std::vector<unsigned char>& v) {
  return {reinterpret_cast<const char*>(v.data()), v.size()};
}

// The message digest for EVP_DigestSign/Verify: none for EdDSA (it hashes internally).
const EVP_MD* DigestFor(Algorithm alg) {
  switch (alg) {
    case Algorithm::kEdDsa:
      return nullptr;
    case Algorithm::kEs256:
    case Algorithm::kRs256:
      return EVP_sha256();
  }
  return nullptr;
}

// Public key material for `pkey`, with the raw Ed25519 key extracted once when it is one. Null if
// the raw key cannot be read (never expected for a valid Ed25519 key).
std::shared_ptr<KeyMaterial> MakePublicMaterial(EvpPkeyPtr pkey) {
  auto material = std::make_shared<KeyMaterial>();
  if (EVP_PKEY_is_a(pkey.get(), "ED25519") == 1) {
    // Idempotent and thread-safe; libsodium wants it before first use.
    if (sodium_init() < 0) return nullptr;
    std::array<unsigned char, crypto_sign_PUBLICKEYBYTES> raw{};
    std::size_t length = raw.size();
    if (EVP_PKEY_get_raw_public_key(pkey.get(), raw.data(), &length) != 1 || length != raw.size()) {
      ClearOpenSslErrors();
      return nullptr;
    }
    material->ed25519_public = raw;
  }
  material->pkey = std::move(pkey);
  return material;
}

// OK when `pkey` is the kind of key `alg` needs.
Status CheckKeyFitsAlgorithm(Algorithm alg, EVP_PKEY* pkey) {
  switch (alg) {
    case Algorithm::kEdDsa:
      if (EVP_PKEY_is_a(pkey, "ED25519") != 1) {
        return InvalidArgumentError("EdDSA needs an Ed25519 key");
      }
      return Status::Ok();
    case Algorithm::kEs256: {
      std::array<char, 64> group{};
      std::size_t length = 0;
      if (EVP_PKEY_is_a(pkey, "EC") != 1 ||
          EVP_PKEY_get_group_name(pkey, group.data(), group.size(), &length) != 1 ||
          std::string_view(group.data(), length) != kP256GroupName) {
        ClearOpenSslErrors();
        return InvalidArgumentError("ES256 needs a P-256 key");
      }
      return Status::Ok();
    }
    case Algorithm::kRs256: {
      if (EVP_PKEY_is_a(pkey, "RSA") != 1) return InvalidArgumentError("RS256 needs an RSA key");
      const int bits = EVP_PKEY_get_bits(pkey);
      if (bits < kMinRsaBits || bits > kMaxRsaBits) {
        return InvalidArgumentError("RS256 needs an RSA key of 2048 to 8192 bits, got " +
                                    std::to_string(bits));
      }
      return Status::Ok();
    }
  }
  return InternalError("unknown algorithm");
}

// A public-only copy of `pkey`, via its DER SubjectPublicKeyInfo.
EvpPkeyPtr PublicOnlyCopy(EVP_PKEY* pkey) {
  const int length = i2d_PUBKEY(pkey, nullptr);
  if (length <= 0) return nullptr;
  std::vector<unsigned char> der(static_cast<std::size_t>(length));
  unsigned char* out = der.data();
  if (i2d_PUBKEY(pkey, &out) != length) return nullptr;
  const unsigned char* in = der.data();
  return EvpPkeyPtr(d2i_PUBKEY(nullptr, &in, length));
}

// A big-endian integer parameter of `pkey`, left-padded to `pad_to` bytes when non-zero, else
// minimal (RFC 7518 §6.3.1.1).
std::optional<std::string> BigEndianParam(EVP_PKEY* pkey, const char* name, int pad_to) {
  BIGNUM* raw = nullptr;
  if (EVP_PKEY_get_bn_param(pkey, name, &raw) != 1) return std::nullopt;
  BignumPtr bn(raw);
  const int size = pad_to > 0 ? pad_to : BN_num_bytes(bn.get());
  std::vector<unsigned char> out(static_cast<std::size_t>(size));
  if (BN_bn2binpad(bn.get(), out.data(), size) != size) return std::nullopt;
  return std::string(View(out));
}

// A base64url JWK member decoded strictly; nullopt if absent, not a string, or not canonical.
std::optional<std::string> DecodedMember(const boost::json::object& jwk, std::string_view name) {
  const boost::json::value* v = jwk.if_contains(name);
  if (v == nullptr || !v->is_string()) return std::nullopt;
  return Base64UrlDecode(std::string_view(v->as_string()));
}

Result<EvpPkeyPtr> PkeyFromParams(const char* type, const OSSL_PARAM* params) {
  EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
  EVP_PKEY* raw = nullptr;
  if (!ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, const_cast<OSSL_PARAM*>(params)) !=
          1) {
    ClearOpenSslErrors();
    return InvalidArgumentError(std::string("JWK is not a valid ") + type + " public key");
  }
  return EvpPkeyPtr(raw);
}

Result<EvpPkeyPtr> Ed25519FromJwk(const boost::json::object& jwk) {
  const boost::json::value* crv = jwk.if_contains("crv");
  if (crv == nullptr || !crv->is_string() || crv->as_string() != "Ed25519") {
    return InvalidArgumentError("JWK for EdDSA needs \"crv\":\"Ed25519\"");
  }
  std::optional<std::string> x = DecodedMember(jwk, "x");
  if (!x || x->size() != kEd25519KeyBytes) {
    return InvalidArgumentError("JWK \"x\" must be 32 bytes of base64url");
  }
  EvpPkeyPtr pkey(
      EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, Bytes(*x), kEd25519KeyBytes));
  if (!pkey) {
    ClearOpenSslErrors();
    return InvalidArgumentError("JWK is not a valid Ed25519 public key");
  }
  return pkey;
}

Result<EvpPkeyPtr> P256FromJwk(const boost::json::object& jwk) {
  const boost::json::value* crv = jwk.if_contains("crv");
  if (crv == nullptr || !crv->is_string() || crv->as_string() != "P-256") {
    return InvalidArgumentError("JWK for ES256 needs \"crv\":\"P-256\"");
  }
  std::optional<std::string> x = DecodedMember(jwk, "x");
  std::optional<std::string> y = DecodedMember(jwk, "y");
  // RFC 7518 §6.2.1.2: coordinates are the full 32 bytes, leading zeros kept.
  if (!x || !y || x->size() != kEs256CoordinateBytes || y->size() != kEs256CoordinateBytes) {
    return InvalidArgumentError("JWK \"x\" and \"y\" must be 32 bytes of base64url each");
  }
  const std::string point = "\x04" + *x + *y;  // SEC 1 uncompressed point.
  crypto::OsslParamBldPtr builder(OSSL_PARAM_BLD_new());
  if (!builder ||
      OSSL_PARAM_BLD_push_utf8_string(builder.get(), OSSL_PKEY_PARAM_GROUP_NAME, kP256GroupName,
                                      0) != 1 ||
      OSSL_PARAM_BLD_push_octet_string(builder.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(),
                                       point.size()) != 1) {
    ClearOpenSslErrors();
    return InternalError("cannot build EC parameters");
  }
  crypto::OsslParamPtr params(OSSL_PARAM_BLD_to_param(builder.get()));
  if (!params) {
    ClearOpenSslErrors();
    return InternalError("cannot build EC parameters");
  }
  Result<EvpPkeyPtr> pkey = PkeyFromParams("EC", params.get());
  if (!pkey.ok()) return pkey;
  // Reject points not on the curve (invalid-curve attacks).
  EvpPkeyCtxPtr check(EVP_PKEY_CTX_new_from_pkey(nullptr, pkey->get(), nullptr));
  if (!check || EVP_PKEY_public_check(check.get()) != 1) {
    ClearOpenSslErrors();
    return InvalidArgumentError("JWK is not a valid P-256 public key");
  }
  return pkey;
}

Result<EvpPkeyPtr> RsaFromJwk(const boost::json::object& jwk) {
  std::optional<std::string> n = DecodedMember(jwk, "n");
  std::optional<std::string> e = DecodedMember(jwk, "e");
  if (!n || !e || n->empty() || e->empty()) {
    return InvalidArgumentError("JWK \"n\" and \"e\" must be non-empty base64url");
  }
  BignumPtr n_bn(BN_bin2bn(Bytes(*n), static_cast<int>(n->size()), nullptr));
  BignumPtr e_bn(BN_bin2bn(Bytes(*e), static_cast<int>(e->size()), nullptr));
  crypto::OsslParamBldPtr builder(OSSL_PARAM_BLD_new());
  if (!n_bn || !e_bn || !builder ||
      OSSL_PARAM_BLD_push_BN(builder.get(), OSSL_PKEY_PARAM_RSA_N, n_bn.get()) != 1 ||
      OSSL_PARAM_BLD_push_BN(builder.get(), OSSL_PKEY_PARAM_RSA_E, e_bn.get()) != 1) {
    ClearOpenSslErrors();
    return InternalError("cannot build RSA parameters");
  }
  crypto::OsslParamPtr params(OSSL_PARAM_BLD_to_param(builder.get()));
  if (!params) {
    ClearOpenSslErrors();
    return InternalError("cannot build RSA parameters");
  }
  return PkeyFromParams("RSA", params.get());
}

}  // namespace

bool PublicKey::VerifySignature(std::string_view signing_input, std::string_view signature) const {
  EVP_PKEY* pkey = material_->pkey.get();
  std::string der;  // ES256 only: the DER form OpenSSL verifies.
  switch (alg_) {
    case Algorithm::kEdDsa:
      if (signature.size() != kEd25519SignatureBytes) return false;
      if (material_->ed25519_public) {
        // Strict RFC 8032 verification: rejects non-canonical S and small-order or non-canonical
        // points (R and A), which OpenSSL would accept for A. No OpenSSL error queue involved.
        return crypto_sign_verify_detached(Bytes(signature), Bytes(signing_input),
                                           signing_input.size(),
                                           material_->ed25519_public->data()) == 0;
      }
      break;
    case Algorithm::kEs256: {
      if (signature.size() != kEs256SignatureBytes) return false;
      EcdsaSigPtr sig(ECDSA_SIG_new());
      BignumPtr r(BN_bin2bn(Bytes(signature), kEs256CoordinateBytes, nullptr));
      BignumPtr s(BN_bin2bn(Bytes(signature.substr(kEs256CoordinateBytes)), kEs256CoordinateBytes,
                            nullptr));
      if (!sig || !r || !s || ECDSA_SIG_set0(sig.get(), r.get(), s.get()) != 1) {
        ClearOpenSslErrors();
        return false;
      }
      r.release();  // Now owned by sig.
      s.release();
      const int length = i2d_ECDSA_SIG(sig.get(), nullptr);
      if (length <= 0) {
        ClearOpenSslErrors();
        return false;
      }
      der.resize(static_cast<std::size_t>(length));
      auto* out = reinterpret_cast<unsigned char*>(der.data());
      if (i2d_ECDSA_SIG(sig.get(), &out) != length) {
        ClearOpenSslErrors();
        return false;
      }
      signature = der;
      break;
    }
    case Algorithm::kRs256:
      if (signature.size() != static_cast<std::size_t>(EVP_PKEY_get_size(pkey))) return false;
      break;
  }
  EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  const bool ok = ctx &&
                  EVP_DigestVerifyInit(ctx.get(), nullptr, DigestFor(alg_), nullptr, pkey) == 1 &&
                  EVP_DigestVerify(ctx.get(), Bytes(signature), signature.size(),
                                   Bytes(signing_input), signing_input.size()) == 1;
  if (!ok) ClearOpenSslErrors();
  return ok;
}

boost::json::object PublicKey::ToJwk() const {
  EVP_PKEY* pkey = material_->pkey.get();
  boost::json::object jwk;
  switch (alg_) {
    case Algorithm::kEdDsa: {
      std::array<unsigned char, kEd25519KeyBytes> x{};
      std::size_t length = x.size();
      EVP_PKEY_get_raw_public_key(pkey, x.data(), &length);
      jwk["kty"] = "OKP";
      jwk["crv"] = "Ed25519";
      jwk["x"] = Base64UrlEncode({reinterpret_cast<const char*>(x.data()), length});
      break;
    }
    case Algorithm::kEs256:
      jwk["kty"] = "EC";
      jwk["crv"] = "P-256";
      jwk["x"] = Base64UrlEncode(
          BigEndianParam(pkey, OSSL_PKEY_PARAM_EC_PUB_X, kEs256CoordinateBytes).value_or(""));
      jwk["y"] = Base64UrlEncode(
          BigEndianParam(pkey, OSSL_PKEY_PARAM_EC_PUB_Y, kEs256CoordinateBytes).value_or(""));
      break;
    case Algorithm::kRs256:
      jwk["kty"] = "RSA";
      jwk["n"] = Base64UrlEncode(BigEndianParam(pkey, OSSL_PKEY_PARAM_RSA_N, 0).value_or(""));
      jwk["e"] = Base64UrlEncode(BigEndianParam(pkey, OSSL_PKEY_PARAM_RSA_E, 0).value_or(""));
      break;
  }
  ClearOpenSslErrors();
  jwk["kid"] = kid_;
  jwk["alg"] = ToString(alg_);
  jwk["use"] = "sig";
  return jwk;
}

Result<PublicKey> PublicKey::FromJwk(const boost::json::object& jwk) {
  const boost::json::value* kty = jwk.if_contains("kty");
  const boost::json::value* alg_value = jwk.if_contains("alg");
  const boost::json::value* kid = jwk.if_contains("kid");
  const boost::json::value* use = jwk.if_contains("use");
  if (kty == nullptr || !kty->is_string()) return InvalidArgumentError("JWK has no \"kty\"");
  if (alg_value == nullptr || !alg_value->is_string()) {
    return InvalidArgumentError("JWK has no \"alg\"");
  }
  std::optional<Algorithm> alg = ParseAlgorithm(std::string_view(alg_value->as_string()));
  if (!alg) return InvalidArgumentError("JWK \"alg\" is not EdDSA, ES256 or RS256");
  if (kid == nullptr || !kid->is_string() || kid->as_string().empty()) {
    return InvalidArgumentError("JWK has no \"kid\"");
  }
  if (use != nullptr && (!use->is_string() || use->as_string() != "sig")) {
    return InvalidArgumentError("JWK \"use\" must be \"sig\"");
  }
  for (std::string_view private_member : {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}) {
    if (jwk.contains(private_member)) {
      return InvalidArgumentError("JWK holds private key material");
    }
  }
  const std::string_view type = kty->as_string();
  Result<EvpPkeyPtr> pkey = InvalidArgumentError("JWK \"kty\" does not match \"alg\"");
  if (*alg == Algorithm::kEdDsa && type == "OKP") {
    pkey = Ed25519FromJwk(jwk);
  } else if (*alg == Algorithm::kEs256 && type == "EC") {
    pkey = P256FromJwk(jwk);
  } else if (*alg == Algorithm::kRs256 && type == "RSA") {
    pkey = RsaFromJwk(jwk);
  }
  if (!pkey.ok()) return pkey.status();
  if (Status fits = CheckKeyFitsAlgorithm(*alg, pkey->get()); !fits.ok()) return fits;
  std::shared_ptr<KeyMaterial> material = MakePublicMaterial(std::move(*pkey));
  if (!material) return InvalidArgumentError("JWK is not a valid Ed25519 public key");
  return PublicKey(*alg, std::string(kid->as_string()), std::move(material));
}

Result<PublicKey> PublicKey::FromProofJwk(const boost::json::object& jwk, Algorithm alg) {
  const boost::json::value* kty = jwk.if_contains("kty");
  const boost::json::value* alg_value = jwk.if_contains("alg");
  const boost::json::value* use = jwk.if_contains("use");
  if (kty == nullptr || !kty->is_string()) return InvalidArgumentError("JWK has no \"kty\"");
  if (alg == Algorithm::kRs256) return InvalidArgumentError("proof keys are EdDSA or ES256");
  if (alg_value != nullptr &&
      (!alg_value->is_string() || std::string_view(alg_value->as_string()) != ToString(alg))) {
    return InvalidArgumentError("JWK \"alg\" differs from the proof's");
  }
  if (use != nullptr && (!use->is_string() || use->as_string() != "sig")) {
    return InvalidArgumentError("JWK \"use\" must be \"sig\"");
  }
  for (std::string_view private_member : {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}) {
    if (jwk.contains(private_member)) {
      return InvalidArgumentError("JWK holds private key material");
    }
  }
  const std::string_view type = kty->as_string();
  Result<EvpPkeyPtr> pkey = InvalidArgumentError("JWK \"kty\" does not match \"alg\"");
  if (alg == Algorithm::kEdDsa && type == "OKP") {
    pkey = Ed25519FromJwk(jwk);
  } else if (alg == Algorithm::kEs256 && type == "EC") {
    pkey = P256FromJwk(jwk);
  }
  if (!pkey.ok()) return pkey.status();
  if (Status fits = CheckKeyFitsAlgorithm(alg, pkey->get()); !fits.ok()) return fits;
  std::shared_ptr<KeyMaterial> material = MakePublicMaterial(std::move(*pkey));
  if (!material) return InvalidArgumentError("JWK is not a valid public key");
  return PublicKey(alg, std::string(), std::move(material));
}

std::string PublicKey::Thumbprint() const {
  const boost::json::object jwk = ToJwk();
  // RFC 7638 §3.2: the required members only, lexicographic order, no whitespace. Their values
  // are base64url or fixed names, so no JSON escaping is ever needed.
  auto member = [&](std::string_view name) {
    std::string out = "\"";
    out += name;
    out += "\":\"";
    out += std::string_view(jwk.at(name).as_string());
    out += '"';
    return out;
  };
  std::string canonical;
  switch (alg_) {
    case Algorithm::kEdDsa:
      canonical = "{" + member("crv") + "," + member("kty") + "," + member("x") + "}";
      break;
    case Algorithm::kEs256:
      canonical =
          "{" + member("crv") + "," + member("kty") + "," + member("x") + "," + member("y") + "}";
      break;
    case Algorithm::kRs256:
      canonical = "{" + member("e") + "," + member("kty") + "," + member("n") + "}";
      break;
  }
  const std::array<std::uint8_t, 32> digest = crypto::Sha256(canonical);
  return Base64UrlEncode({reinterpret_cast<const char*>(digest.data()), digest.size()});
}

PrivateKey::PrivateKey(std::unique_ptr<KeyMaterial> material, PublicKey public_key)
    : material_(std::move(material)), public_key_(std::move(public_key)) {}
PrivateKey::~PrivateKey() = default;
PrivateKey::PrivateKey(PrivateKey&&) noexcept = default;
PrivateKey& PrivateKey::operator=(PrivateKey&&) noexcept = default;

namespace {

// Wraps a private EVP_PKEY already checked against `alg` into a PrivateKey's parts.
Result<std::pair<std::unique_ptr<KeyMaterial>, std::shared_ptr<KeyMaterial>>> SplitKey(
    EvpPkeyPtr pkey) {
  EvpPkeyPtr public_only = PublicOnlyCopy(pkey.get());
  if (!public_only) {
    ClearOpenSslErrors();
    return InternalError("cannot derive the public key");
  }
  std::shared_ptr<KeyMaterial> public_material = MakePublicMaterial(std::move(public_only));
  if (!public_material) return InternalError("cannot derive the public key");
  auto private_material = std::make_unique<KeyMaterial>();
  if (EVP_PKEY_is_a(pkey.get(), "ED25519") == 1) {
    SecretBytes seed(crypto_sign_SEEDBYTES);
    std::size_t length = seed.size();
    if (EVP_PKEY_get_raw_private_key(pkey.get(), seed.data(), &length) != 1 ||
        length != seed.size()) {
      ClearOpenSslErrors();
      return InternalError("cannot read the Ed25519 private key");
    }
    std::array<unsigned char, crypto_sign_PUBLICKEYBYTES> derived_public{};
    SecretBytes secret(crypto_sign_SECRETKEYBYTES);
    if (crypto_sign_seed_keypair(derived_public.data(), secret.data(), seed.data()) != 0 ||
        !public_material->ed25519_public || derived_public != *public_material->ed25519_public) {
      return InternalError("cannot derive the Ed25519 signing key");
    }
    private_material->ed25519_secret = std::move(secret);
  }
  private_material->pkey = std::move(pkey);
  return std::make_pair(std::move(private_material), std::move(public_material));
}

}  // namespace

Result<PrivateKey> PrivateKey::Generate(Algorithm alg, std::string kid) {
  EvpPkeyPtr pkey;
  switch (alg) {
    case Algorithm::kEdDsa:
      pkey.reset(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
      break;
    case Algorithm::kEs256:
      pkey.reset(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
      break;
    case Algorithm::kRs256:
      pkey.reset(
          EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<std::size_t>(kGeneratedRsaBits)));
      break;
  }
  if (!pkey) {
    ClearOpenSslErrors();
    return InternalError("key generation failed for " + std::string(ToString(alg)));
  }
  auto parts = SplitKey(std::move(pkey));
  if (!parts.ok()) return parts.status();
  PublicKey public_key(alg, std::move(kid), std::move(parts->second));
  return PrivateKey(std::move(parts->first), std::move(public_key));
}

Result<PrivateKey> PrivateKey::FromPkcs8Der(Algorithm alg, std::string kid, std::string_view der) {
  const unsigned char* in = Bytes(der);
  crypto::Pkcs8PrivKeyInfoPtr info(
      d2i_PKCS8_PRIV_KEY_INFO(nullptr, &in, static_cast<long>(der.size())));
  if (!info || in != Bytes(der) + der.size()) {
    ClearOpenSslErrors();
    return InvalidArgumentError("not a PKCS#8 private key");
  }
  EvpPkeyPtr pkey(EVP_PKCS82PKEY(info.get()));
  if (!pkey) {
    ClearOpenSslErrors();
    return InvalidArgumentError("PKCS#8 holds an unsupported or invalid key");
  }
  if (Status fits = CheckKeyFitsAlgorithm(alg, pkey.get()); !fits.ok()) return fits;
  auto parts = SplitKey(std::move(pkey));
  if (!parts.ok()) return parts.status();
  PublicKey public_key(alg, std::move(kid), std::move(parts->second));
  return PrivateKey(std::move(parts->first), std::move(public_key));
}

SecretBytes PrivateKey::ToPkcs8Der() const {
  crypto::Pkcs8PrivKeyInfoPtr info(EVP_PKEY2PKCS8(material_->pkey.get()));
  const int length = info ? i2d_PKCS8_PRIV_KEY_INFO(info.get(), nullptr) : 0;
  if (length <= 0) {
    ClearOpenSslErrors();
    return SecretBytes();
  }
  SecretBytes der(static_cast<std::size_t>(length));
  unsigned char* out = der.data();
  if (i2d_PKCS8_PRIV_KEY_INFO(info.get(), &out) != length) {
    ClearOpenSslErrors();
    return SecretBytes();
  }
  return der;
}

Result<std::string> PrivateKey::Sign(std::string_view signing_input) const {
  if (material_->ed25519_secret.size() == crypto_sign_SECRETKEYBYTES) {
    std::string signature(crypto_sign_BYTES, '\0');
    if (crypto_sign_detached(reinterpret_cast<unsigned char*>(signature.data()), nullptr,
                             Bytes(signing_input), signing_input.size(),
                             material_->ed25519_secret.data()) != 0) {
      return InternalError("signing failed");
    }
    return signature;
  }
  EVP_PKEY* pkey = material_->pkey.get();
  EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  std::size_t length = 0;
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, DigestFor(alg()), nullptr, pkey) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &length, Bytes(signing_input), signing_input.size()) !=
          1) {
    ClearOpenSslErrors();
    return InternalError("signing failed");
  }
  std::vector<unsigned char> signature(length);
  if (EVP_DigestSign(ctx.get(), signature.data(), &length, Bytes(signing_input),
                     signing_input.size()) != 1) {
    ClearOpenSslErrors();
    return InternalError("signing failed");
  }
  signature.resize(length);
  if (alg() != Algorithm::kEs256) return std::string(View(signature));

  // RFC 7518 §3.4: convert OpenSSL's DER ECDSA-Sig-Value to fixed-width R||S.
  const unsigned char* in = signature.data();
  EcdsaSigPtr sig(d2i_ECDSA_SIG(nullptr, &in, static_cast<long>(signature.size())));
  if (!sig) {
    ClearOpenSslErrors();
    return InternalError("signing produced an unreadable ECDSA signature");
  }
  std::string raw(kEs256SignatureBytes, '\0');
  auto* out = reinterpret_cast<unsigned char*>(raw.data());
  if (BN_bn2binpad(ECDSA_SIG_get0_r(sig.get()), out, kEs256CoordinateBytes) !=
          kEs256CoordinateBytes ||
      BN_bn2binpad(ECDSA_SIG_get0_s(sig.get()), out + kEs256CoordinateBytes,
                   kEs256CoordinateBytes) != kEs256CoordinateBytes) {
    ClearOpenSslErrors();
    return InternalError("ECDSA signature does not fit 64 bytes");
  }
  return raw;
}

}  // namespace portcullis::jose
