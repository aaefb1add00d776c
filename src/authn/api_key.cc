#include "authn/api_key.h"

#include <utility>

#include "authz/permission.h"
#include "crypto/constant_time.h"
#include "crypto/sha256.h"

namespace portcullis::authn {
namespace {

bool IsLowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

bool IsAlnum(char c) { return IsLowerAlnum(c) || (c >= 'A' && c <= 'Z'); }

}  // namespace

std::string_view ToString(ApiKeyError error) {
  switch (error) {
    case ApiKeyError::kOk:
      return "ok";
    case ApiKeyError::kMalformed:
      return "malformed";
    case ApiKeyError::kUnknownKey:
      return "unknown_key";
    case ApiKeyError::kWrongSecret:
      return "wrong_secret";
    case ApiKeyError::kExpired:
      return "expired";
    case ApiKeyError::kOwnerUnknown:
      return "owner_unknown";
    case ApiKeyError::kOwnerDisabled:
      return "owner_disabled";
    case ApiKeyError::kStoreUnavailable:
      return "store_unavailable";
  }
  return "unknown";
}

std::optional<ParsedApiKey> ParseApiKey(std::string_view key) {
  if (key.size() != kApiKeyLength || !key.starts_with(kApiKeyPrefix)) return std::nullopt;
  std::string_view id = key.substr(kApiKeyPrefix.size(), kApiKeyIdLength);
  const std::size_t separator = kApiKeyPrefix.size() + kApiKeyIdLength;
  if (key[separator] != '_') return std::nullopt;
  std::string_view secret = key.substr(separator + 1);
  for (char c : id) {
    if (!IsLowerAlnum(c)) return std::nullopt;
  }
  for (char c : secret) {
    if (!IsAlnum(c)) return std::nullopt;
  }
  return ParsedApiKey{id, secret};
}

std::string HashApiKeySecret(std::string_view secret) { return crypto::Sha256Hex(secret); }

GeneratedApiKey GenerateApiKey(crypto::Random& random) {
  GeneratedApiKey out;
  out.id = crypto::RandomLowerAlphanumeric(random, kApiKeyIdLength);
  SecretString secret(crypto::RandomAlphanumeric(random, kApiKeySecretLength));
  out.secret_hash = HashApiKeySecret(secret.reveal());
  std::string key;
  key.reserve(kApiKeyLength);
  key.append(kApiKeyPrefix).append(out.id).append("_").append(secret.reveal());
  out.key = SecretString(std::move(key));
  return out;
}

ApiKeyError CheckApiKeySecret(std::string_view secret_hash, std::optional<UnixSeconds> expires_at,
                              std::string_view secret, UnixSeconds now) {
  // Both sides are 64 hex characters, so the compare's length shortcut reveals nothing.
  if (!crypto::ConstantTimeEqual(HashApiKeySecret(secret), secret_hash)) {
    return ApiKeyError::kWrongSecret;
  }
  if (expires_at.has_value() && *expires_at <= now) return ApiKeyError::kExpired;
  return ApiKeyError::kOk;
}

std::vector<std::string> EffectiveApiKeyPermissions(
    const std::vector<std::string>& scopes, const std::vector<std::string>& owner_permissions) {
  std::vector<std::string> effective;
  for (const std::string& scope : scopes) {
    if (authz::AnyGrants(owner_permissions, scope)) effective.push_back(scope);
  }
  return effective;
}

ApiKeyVerification VerifyApiKeyWithStore(store::Store& store, const ParsedApiKey& key,
                                         UnixSeconds now) {
  ApiKeyVerification out;
  Result<store::ApiKey> stored = store.FindApiKey(key.id);
  if (!stored.ok()) {
    out.error = stored.status().code() == StatusCode::kNotFound ? ApiKeyError::kUnknownKey
                                                                : ApiKeyError::kStoreUnavailable;
    return out;
  }
  out.error = CheckApiKeySecret(stored->secret_hash, stored->expires_at, key.secret, now);
  if (out.error != ApiKeyError::kOk) return out;

  Result<store::User> owner = store.FindUserById(stored->user_id);
  if (!owner.ok()) {
    out.error = owner.status().code() == StatusCode::kNotFound ? ApiKeyError::kOwnerUnknown
                                                               : ApiKeyError::kStoreUnavailable;
    return out;
  }
  out.owner_state = store::UserState{owner->id, owner->credential_version, owner->disabled};
  if (owner->disabled) {
    out.error = ApiKeyError::kOwnerDisabled;
    return out;
  }
  Result<std::vector<std::string>> permissions = store.PermissionsOfUser(owner->id);
  if (!permissions.ok()) {
    out.error = ApiKeyError::kStoreUnavailable;
    return out;
  }
  out.key.key_id = std::move(stored->id);
  out.key.secret_hash = std::move(stored->secret_hash);
  out.key.expires_at = stored->expires_at;
  out.key.user_id = std::move(owner->id);
  out.key.username = std::move(owner->username);
  out.key.roles = std::move(owner->roles);
  out.key.permissions = EffectiveApiKeyPermissions(stored->scopes, *permissions);
  out.key.credential_version = owner->credential_version;
  return out;
}

}  // namespace portcullis::authn
