// API keys (DESIGN §4 "API key format"): generation, strict parsing, hashing, and the checks that
// decide whether a presented key authenticates its owner.
//
// A key is exactly "pcs_" + 12 characters [a-z0-9] (the id, not secret, used for lookup) + "_" +
// 43 characters [A-Za-z0-9] (the secret: 43 * log2(62) = 256.1 bits). Anything else is not an
// API key. Only the id and the lower-case hex SHA-256 of the secret are stored; a presented
// secret is hashed and compared with crypto::ConstantTimeEqual.
//
// A key's effective permissions are its scopes ∩ its owner's CURRENT permissions (a scope is
// effective while authz::AnyGrants(owner_permissions, scope)), evaluated at every verification.
//
// Thread-safety: pure functions, except VerifyApiKeyWithStore which is as thread-safe as the
// store (every store is).
//
//   std::optional<ParsedApiKey> parsed = ParseApiKey(header_value);
//   if (!parsed) return Unauthenticated(...);
//   ApiKeyVerification v = VerifyApiKeyWithStore(store, *parsed, clock.Now());
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/clock.h"
#include "base/secret.h"
#include "crypto/random.h"
#include "store/store.h"

namespace portcullis::authn {

inline constexpr std::string_view kApiKeyPrefix = "pcs_";
inline constexpr std::size_t kApiKeyIdLength = 12;
inline constexpr std::size_t kApiKeySecretLength = 43;
inline constexpr std::size_t kApiKeyLength =
    kApiKeyPrefix.size() + kApiKeyIdLength + 1 + kApiKeySecretLength;  // 60

// Every reason a presented API key is refused, one closed enum (STYLE point 5). The numbers are
// stable: they key log fields and metric labels. Clients never learn which one happened.
enum class ApiKeyError : std::uint16_t {
  kOk = 0,
  // Format
  kMalformed = 1,  // not "pcs_" + 12 [a-z0-9] + "_" + 43 [A-Za-z0-9]
  // Lookup and secret
  kUnknownKey = 10,   // no key has this id (never created, or revoked)
  kWrongSecret = 11,  // the id exists but the secret's hash differs
  // Lifetime
  kExpired = 20,  // expires_at <= now
  // Owner
  kOwnerUnknown = 30,   // the owner no longer exists
  kOwnerDisabled = 31,  // the owner is disabled
  // Infrastructure
  kStoreUnavailable = 40,  // the database failed; the client may retry
};

// "ok", "malformed", "unknown_key", ... (snake_case of the enumerator).
std::string_view ToString(ApiKeyError error);

// A syntactically valid key split into its parts; views into the parsed string.
struct ParsedApiKey {
  std::string_view id;
  std::string_view secret;
};

// Splits `key` if it has exactly the format above, else nullopt. No trimming, no case folding.
std::optional<ParsedApiKey> ParseApiKey(std::string_view key);

// The stored form of a secret: lower-case hex SHA-256 (64 characters).
std::string HashApiKeySecret(std::string_view secret);

// A freshly generated key: show `key` once to its owner, store `id` and `secret_hash`.
struct GeneratedApiKey {
  std::string id;
  SecretString key;  // the whole "pcs_<id>_<secret>"
  std::string secret_hash;
};

// Draws a new key from `random` (rejection sampling: every character uniform).
GeneratedApiKey GenerateApiKey(crypto::Random& random);

// The secret and lifetime checks of a key whose stored hash and expiry are known, in this order:
// kWrongSecret unless HashApiKeySecret(secret) equals `secret_hash` (constant time), kExpired if
// expires_at <= now, else kOk. Does not check the owner.
ApiKeyError CheckApiKeySecret(std::string_view secret_hash, std::optional<UnixSeconds> expires_at,
                              std::string_view secret, UnixSeconds now);

// The scopes of a key that the owner's permissions still grant, in scope order.
std::vector<std::string> EffectiveApiKeyPermissions(
    const std::vector<std::string>& scopes, const std::vector<std::string>& owner_permissions);

// A successful verification: what a cache entry and a Principal are built from.
struct VerifiedApiKey {
  std::string key_id;
  std::string secret_hash;
  std::optional<UnixSeconds> expires_at;
  std::string user_id;
  std::string username;
  std::vector<std::string> roles;
  std::vector<std::string> permissions;  // effective (scopes ∩ owner permissions)
  std::int64_t credential_version = 0;   // the owner's, at verification
};

struct ApiKeyVerification {
  ApiKeyError error = ApiKeyError::kOk;
  VerifiedApiKey key;  // meaningful when error == kOk
  // The owner's state when it was read (also for kOwnerDisabled), for the UserStateCache.
  std::optional<store::UserState> owner_state;
};

// The whole verification against the store (blocking; run it off the network thread): FindApiKey,
// CheckApiKeySecret, FindUserById, PermissionsOfUser. kUnknownKey, kWrongSecret, kExpired,
// kOwnerUnknown, kOwnerDisabled, kStoreUnavailable, or kOk with the verified key.
ApiKeyVerification VerifyApiKeyWithStore(store::Store& store, const ParsedApiKey& key,
                                         UnixSeconds now);

}  // namespace portcullis::authn
