#include "token/key_manager.h"

#include <algorithm>
#include <array>
#include <boost/json/serialize.hpp>
#include <optional>
#include <utility>
#include <vector>

#include "base/log.h"
#include "crypto/random.h"
#include "jose/jws.h"

namespace portcullis::token {
namespace {

constexpr std::size_t kKidLength = 16;
constexpr std::int64_t kSecondsPerDay = 86'400;
// Larger rotation periods are treated as "never" (and would overflow the arithmetic).
constexpr std::int64_t kMaxRotationDays = 1'000'000;
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

// Generates a key of `alg`, stores it sealed in state "active" and returns it.
Result<jose::PrivateKey> GenerateAndStore(store::SigningKeyStore& store,
                                          const crypto::MasterKey& master_key, jose::Algorithm alg,
                                          UnixSeconds now, crypto::Random& random) {
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
  record.created_at = now;
  Status s = store.InsertSigningKey(record);
  if (!s.ok()) return s;
  log::Info("keys.created", {{"kid", kid}, {"alg", jose::ToString(alg)}});
  return key;
}

}  // namespace

std::string SigningKeyAssociatedData(std::string_view kid) {
  std::string ad = "portcullis/signing-key/v1/";
  ad += kid;
  return ad;
}

KeyManager::KeyManager(store::SigningKeyStore& store, const crypto::MasterKey& master_key,
                       jose::Algorithm access_token_alg, const Clock& clock, crypto::Random& random,
                       std::shared_ptr<const State> state)
    : store_(store),
      master_key_(master_key),
      access_token_alg_(access_token_alg),
      clock_(clock),
      random_(random),
      state_(std::move(state)) {}

std::shared_ptr<const jose::KeyRing> KeyManager::BuildRing(const State& state) {
  auto ring = std::make_shared<jose::KeyRing>();
  for (const VerifyOnlyKey& k : state.verify_only) ring->Add(k.key);
  for (const ActiveKey& a : state.active) ring->Add(a.key->public_key());
  return ring;
}

Result<std::unique_ptr<KeyManager>> KeyManager::Create(store::SigningKeyStore& store,
                                                       const crypto::MasterKey& master_key,
                                                       jose::Algorithm access_token_alg,
                                                       const Clock& clock, crypto::Random& random) {
  Result<std::vector<store::SigningKey>> records = store.ListSigningKeys();
  if (!records.ok()) return records.status();
  const UnixSeconds now = clock.Now();

  struct Loaded {
    std::shared_ptr<const jose::PrivateKey> key;
    UnixSeconds created_at = 0;
    UnixSeconds deactivated_at = 0;  // meaningful for verify-only keys only
  };
  std::vector<Loaded> loaded;
  // Per algorithm, the index in `loaded` of the active key that signs.
  std::array<std::optional<std::size_t>, jose::kAllAlgorithms.size()> active_index;
  // Demotes loaded[i] (stored as active) to verify_only as of now.
  auto demote = [&](std::size_t i, std::string_view reason) -> Status {
    Status s = store.UpdateSigningKeyState(loaded[i].key->kid(), kVerifyOnly, now);
    if (!s.ok()) return s;
    loaded[i].deactivated_at = now;
    log::Warn("keys.demoted", {{"kid", loaded[i].key->kid()},
                               {"alg", jose::ToString(loaded[i].key->alg())},
                               {"reason", reason}});
    return Status::Ok();
  };

  for (const store::SigningKey& record : *records) {
    if (record.state == kRetired) continue;
    Result<jose::PrivateKey> key = Unseal(record, master_key);
    if (!key.ok()) return key.status();
    const std::size_t alg_index = static_cast<std::size_t>(key->alg());
    loaded.push_back(Loaded{std::make_shared<const jose::PrivateKey>(std::move(*key)),
                            record.created_at, record.deactivated_at.value_or(now)});
    const std::size_t index = loaded.size() - 1;
    if (record.state == kActive) {
      // Records come oldest first: the newest active key of each algorithm wins; an older one is
      // left over from an interrupted Rotate().
      if (active_index[alg_index]) {
        if (Status s = demote(*active_index[alg_index], "superseded"); !s.ok()) return s;
      }
      active_index[alg_index] = index;
    } else if (!record.deactivated_at) {
      // A verify-only key must carry the start of its retirement clock.
      Status s = store.UpdateSigningKeyState(record.kid, kVerifyOnly, now);
      if (!s.ok()) return s;
    }
  }

  auto state = std::make_shared<State>();
  for (jose::Algorithm alg : jose::kAllAlgorithms) {
    const std::size_t i = static_cast<std::size_t>(alg);
    if (active_index[i]) {
      state->active[i] =
          ActiveKey{loaded[*active_index[i]].key, loaded[*active_index[i]].created_at};
      continue;
    }
    Result<jose::PrivateKey> key = GenerateAndStore(store, master_key, alg, now, random);
    if (!key.ok()) return key.status();
    state->active[i] = ActiveKey{std::make_shared<const jose::PrivateKey>(std::move(*key)), now};
  }
  for (std::size_t i = 0; i < loaded.size(); ++i) {
    const std::optional<std::size_t>& signer =
        active_index[static_cast<std::size_t>(loaded[i].key->alg())];
    if (signer && *signer == i) continue;
    state->verify_only.push_back(
        VerifyOnlyKey{loaded[i].key->public_key(), loaded[i].deactivated_at});
  }
  state->ring = BuildRing(*state);
  return std::unique_ptr<KeyManager>(
      new KeyManager(store, master_key, access_token_alg, clock, random, std::move(state)));
}

Result<std::string> KeyManager::Sign(const jose::AccessTokenClaims& claims) const {
  std::shared_ptr<const State> state = state_.load();
  return jose::SignAccessToken(claims, *Active(*state, access_token_alg_).key);
}

Result<std::string> KeyManager::SignIdToken(jose::Algorithm alg,
                                            const boost::json::object& claims) const {
  std::shared_ptr<const State> state = state_.load();
  return jose::SignIdToken(claims, *Active(*state, alg).key);
}

Result<std::vector<RotatedKey>> KeyManager::Rotate() {
  std::lock_guard lock(write_mu_);
  std::shared_ptr<const State> old = state_.load();
  const UnixSeconds now = clock_.Now();
  // Insert every new key first, demote second: a failure in between leaves two active keys of an
  // algorithm, which Create() repairs, rather than none.
  auto next = std::make_shared<State>();
  for (jose::Algorithm alg : jose::kAllAlgorithms) {
    Result<jose::PrivateKey> key = GenerateAndStore(store_, master_key_, alg, now, random_);
    if (!key.ok()) return key.status();
    next->active[static_cast<std::size_t>(alg)] =
        ActiveKey{std::make_shared<const jose::PrivateKey>(std::move(*key)), now};
  }
  for (const ActiveKey& previous : old->active) {
    Status s = store_.UpdateSigningKeyState(previous.key->kid(), kVerifyOnly, now);
    if (!s.ok()) return s;
  }

  next->verify_only = old->verify_only;
  std::vector<RotatedKey> rotated;
  for (jose::Algorithm alg : jose::kAllAlgorithms) {
    const jose::PrivateKey& previous = *Active(*old, alg).key;
    const jose::PrivateKey& current = *Active(*next, alg).key;
    next->verify_only.push_back(VerifyOnlyKey{previous.public_key(), now});
    rotated.push_back(RotatedKey{alg, current.kid(), previous.kid()});
    log::Info(
        "keys.rotated",
        {{"kid", current.kid()}, {"alg", jose::ToString(alg)}, {"previous_kid", previous.kid()}});
  }
  next->ring = BuildRing(*next);
  state_.store(std::move(next));
  return rotated;
}

Result<int> KeyManager::RetireExpired(UnixSeconds now, std::int64_t max_token_lifetime_s) {
  std::lock_guard lock(write_mu_);
  std::shared_ptr<const State> old = state_.load();
  std::vector<VerifyOnlyKey> kept;
  int retired = 0;
  Status failure = Status::Ok();
  for (const VerifyOnlyKey& k : old->verify_only) {
    // Every token this key signed had exp <= deactivated_at + lifetime; written as a difference
    // so large lifetimes cannot overflow.
    if (failure.ok() && now - k.deactivated_at >= max_token_lifetime_s) {
      Status s = store_.UpdateSigningKeyState(k.key.kid(), kRetired, k.deactivated_at);
      if (s.ok()) {
        ++retired;
        log::Info("keys.retired", {{"kid", k.key.kid()}, {"alg", jose::ToString(k.key.alg())}});
        continue;
      }
      failure = s;
    }
    kept.push_back(k);
  }
  if (retired > 0) {
    auto next = std::make_shared<State>();
    next->active = old->active;
    next->verify_only = std::move(kept);
    next->ring = BuildRing(*next);
    state_.store(std::move(next));
  }
  if (!failure.ok()) return failure;
  return retired;
}

Result<int> KeyManager::ResealAll(store::SigningKeyStore& store,
                                  const crypto::MasterKey& master_key) {
  Result<std::vector<store::SigningKey>> records = store.ListSigningKeys();
  if (!records.ok()) return records.status();
  std::vector<std::pair<std::string, std::string>> sealed;
  for (const store::SigningKey& record : *records) {
    const std::string associated = SigningKeyAssociatedData(record.kid);
    Result<SecretBytes> der = master_key.Open(record.sealed_private_key, associated);
    if (!der.ok()) {
      return FailedPreconditionError("cannot decrypt signing key " + record.kid +
                                     " with the master key or the previous master key");
    }
    sealed.emplace_back(record.kid, master_key.Seal(der->view(), associated));
  }
  if (Status s = store.ReplaceSealedPrivateKeys(sealed); !s.ok()) return s;
  return static_cast<int>(sealed.size());
}

Status KeyManager::Reload() {
  std::lock_guard lock(write_mu_);
  Result<std::vector<store::SigningKey>> records = store_.ListSigningKeys();
  if (!records.ok()) return records.status();
  std::shared_ptr<const State> old = state_.load();
  const UnixSeconds now = clock_.Now();

  // Records come oldest first: per algorithm, the last active one signs.
  std::array<const store::SigningKey*, jose::kAllAlgorithms.size()> active_record{};
  for (const store::SigningKey& record : *records) {
    if (record.state != kActive) continue;
    std::optional<jose::Algorithm> alg = jose::ParseAlgorithm(record.alg);
    if (!alg)
      return FailedPreconditionError("signing key " + record.kid + " has unknown algorithm");
    active_record[static_cast<std::size_t>(*alg)] = &record;
  }
  auto next = std::make_shared<State>();
  std::vector<std::string> changed;  // kids of the algorithms whose signer changed
  for (jose::Algorithm alg : jose::kAllAlgorithms) {
    const std::size_t i = static_cast<std::size_t>(alg);
    const ActiveKey& current = old->active[i];
    if (active_record[i] == nullptr || active_record[i]->kid == current.key->kid()) {
      next->active[i] = current;
      continue;
    }
    Result<jose::PrivateKey> key = Unseal(*active_record[i], master_key_);
    if (!key.ok()) return key.status();
    if (key->alg() != alg) {
      return FailedPreconditionError("signing key " + active_record[i]->kid +
                                     " does not match its algorithm");
    }
    next->active[i] = ActiveKey{std::make_shared<const jose::PrivateKey>(std::move(*key)),
                                active_record[i]->created_at};
    changed.push_back(next->active[i].key->kid());
  }
  auto is_active = [&](std::string_view kid) {
    for (const ActiveKey& a : next->active) {
      if (a.key->kid() == kid) return true;
    }
    return false;
  };
  for (const store::SigningKey& record : *records) {
    if (record.state == kRetired || is_active(record.kid)) continue;
    Result<jose::PrivateKey> key = Unseal(record, master_key_);
    if (!key.ok()) return key.status();
    next->verify_only.push_back(
        VerifyOnlyKey{key->public_key(), record.deactivated_at.value_or(now)});
  }
  next->ring = BuildRing(*next);
  state_.store(std::move(next));
  for (const std::string& kid : changed) log::Info("keys.reloaded", {{"kid", kid}});
  return Status::Ok();
}

bool KeyManager::RotationDue(UnixSeconds now, std::int64_t rotation_days) const {
  if (rotation_days <= 0 || rotation_days > kMaxRotationDays) return false;
  std::shared_ptr<const State> state = state_.load();
  UnixSeconds oldest = state->active[0].created_at;
  for (const ActiveKey& a : state->active) oldest = std::min(oldest, a.created_at);
  return now - oldest >= rotation_days * kSecondsPerDay;
}

std::vector<ActiveKeyInfo> KeyManager::active_keys() const {
  std::shared_ptr<const State> state = state_.load();
  std::vector<ActiveKeyInfo> keys;
  for (jose::Algorithm alg : jose::kAllAlgorithms) {
    const ActiveKey& a = Active(*state, alg);
    keys.push_back(ActiveKeyInfo{alg, a.key->kid(), a.created_at});
  }
  return keys;
}

std::vector<std::string> KeyManager::verify_only_kids() const {
  std::shared_ptr<const State> state = state_.load();
  std::vector<std::string> kids;
  for (const VerifyOnlyKey& k : state->verify_only) kids.push_back(k.key.kid());
  return kids;
}

}  // namespace portcullis::token
