#include "token/key_manager.h"

#include <boost/json/serialize.hpp>
#include <optional>
#include <vector>

#include "base/log.h"
#include "crypto/random.h"
#include "jose/jws.h"

namespace portcullis::token {
namespace {

constexpr std::size_t kKidLength = 16;
constexpr std::string_view kActive = "active";
constexpr std::string_view kVerifyOnly = "verify_only";
constexpr std::string_view kRetired = "retired";

Result<jose::PrivateKey> Unseal(const store::SigningKey& record,
                                const crypto::MasterKey& master_key) {
  std::optional<jose::Algorithm> alg = jose::ParseAlgorithm(record.alg);
  if (!alg) return FailedPreconditionError("signing key " + record.kid + " has unknown algorithm");
  Result<SecretBytes> der =
      master_key.Open(record.sealed_private_key, SigningKeyAssociatedData(record.kid));
  if (!der.ok()) {
    return FailedPreconditionError("cannot decrypt signing key " + record.kid +
                                   " (is PORTCULLIS_MASTER_KEY / the master key file the one "
                                   "that created this database?)");
  }
  return jose::PrivateKey::FromPkcs8Der(*alg, record.kid, der->view());
}

}  // namespace

std::string SigningKeyAssociatedData(std::string_view kid) {
  std::string ad = "portcullis/signing-key/v1/";
  ad += kid;
  return ad;
}

Result<std::unique_ptr<KeyManager>> KeyManager::Create(store::SigningKeyStore& store,
                                                       const crypto::MasterKey& master_key,
                                                       jose::Algorithm alg, const Clock& clock,
                                                       crypto::Random& random) {
  Result<std::vector<store::SigningKey>> records = store.ListSigningKeys();
  if (!records.ok()) return records.status();

  std::vector<jose::PrivateKey> loaded;
  std::optional<std::size_t> active_index;
  for (const store::SigningKey& record : *records) {
    if (record.state == kRetired) continue;
    Result<jose::PrivateKey> key = Unseal(record, master_key);
    if (!key.ok()) return key.status();
    if (record.state == kActive) {
      if (key->alg() == alg) {
        active_index = loaded.size();  // the newest active key of the configured alg wins
      } else {
        // signing_alg changed: keep verifying the old key's tokens, stop signing with it.
        Status s = store.UpdateSigningKeyState(record.kid, kVerifyOnly, clock.Now());
        if (!s.ok()) return s;
        log::Warn("keys.demoted", {{"kid", record.kid}, {"alg", record.alg}});
      }
    }
    loaded.push_back(std::move(*key));
  }

  if (!active_index) {
    std::string kid = crypto::RandomLowerAlphanumeric(random, kKidLength);
    Result<jose::PrivateKey> key = jose::PrivateKey::Generate(alg, kid);
    if (!key.ok()) return key.status();
    SecretBytes der = key->ToPkcs8Der();
    store::SigningKey record;
    record.kid = kid;
    record.alg = std::string(jose::ToString(alg));
    record.state = std::string(kActive);
    record.sealed_private_key = master_key.Seal(der.view(), SigningKeyAssociatedData(kid));
    record.public_jwk = boost::json::serialize(key->public_key().ToJwk());
    record.created_at = clock.Now();
    Status s = store.InsertSigningKey(record);
    if (!s.ok()) return s;
    log::Info("keys.created", {{"kid", kid}, {"alg", jose::ToString(alg)}});
    active_index = loaded.size();
    loaded.push_back(std::move(*key));
  }

  auto ring = std::make_shared<jose::KeyRing>();
  for (const jose::PrivateKey& key : loaded) ring->Add(key.public_key());
  auto state = std::make_shared<const State>(
      State{std::move(loaded[*active_index]), std::shared_ptr<const jose::KeyRing>(ring)});
  return std::unique_ptr<KeyManager>(new KeyManager(std::move(state)));
}

Result<std::string> KeyManager::Sign(const jose::AccessTokenClaims& claims) const {
  std::shared_ptr<const State> state = state_.load();
  return jose::SignAccessToken(claims, state->active);
}

}  // namespace portcullis::token
