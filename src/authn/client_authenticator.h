// ClientAuthenticator: OAuth2 client authentication (RFC 6749 §2.3) against the client store.
// Secrets are compared as SHA-256 in constant time; an unknown client costs the same hash and
// comparison as a known one. The public client "default" has no secret and never authenticates
// here: requests without client credentials use it (DESIGN §4 "Clients").
//
// A confidential client (token_endpoint_auth_method client_secret_basic or client_secret_post)
// may present its secret either way: DESIGN §4 promises client_credentials "by Basic or
// client_secret_post" for every client, and clients created before the field existed rely on it;
// the registered method is what the client is told to use (listings, discovery). A public client
// ("none") has no secret, so any secret it presents is refused (kMethodNotAllowed). Failures cost
// the same hash and comparison as a wrong secret.
//
// Clients are immutable once created, so a successful Authenticate caches the client record
// (for kCacheTtlS; bounded by count and bytes, CacheLimits: a full cache drops its expired
// entries, then everything if still full): AuthenticateCached then checks a secret with no
// database.
// A deletion drops the entry at once on this instance (Forget, from the admin handler) and on
// the others through the change feed (app::ChangeFollower).
//
// Authenticate blocks (a database read): call it off the network threads. AuthenticateCached
// and Forget do not block.
// Thread-safety: every method may run concurrently.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "base/cache_limits.h"
#include "base/clock.h"
#include "store/store.h"

namespace portcullis::authn {

enum class ClientAuthError : std::uint16_t {
  kOk = 0,
  kUnknownClient = 1,     // no client with this id (a dummy comparison was spent)
  kBadSecret = 2,         // the secret does not match
  kMultipleMethods = 3,   // Basic and client_secret_post in one request (RFC 6749 §2.3)
  kMalformed = 4,         // an Authorization header or form fields we cannot parse
  kStoreUnavailable = 5,  // the database failed
  kMethodNotAllowed = 6,  // a secret presented for a public client (method "none")
};

// How a client presented its secret at the token endpoint (RFC 6749 §2.3.1).
enum class ClientSecretMethod : std::uint8_t {
  kBasic = 0,  // Authorization: Basic (token_endpoint_auth_method client_secret_basic)
  kPost = 1,   // client_id + client_secret form fields (client_secret_post)
};
std::string_view ToString(ClientSecretMethod method);
std::string_view ToString(ClientAuthError error);

struct ClientAuthOutcome {
  ClientAuthError error = ClientAuthError::kOk;
  store::Client client;  // set when error is kOk
};

// The public client's id: password and refresh grants without client credentials.
inline constexpr std::string_view kPublicClientId = "default";

class ClientAuthenticator {
 public:
  // A client with one grant type and two scopes estimates at about 0.65 KiB: 10,000 such
  // clients (6.5 MiB) fit; larger entries reach the byte cap first.
  static constexpr CacheLimits kDefaultLimits{.max_entries = 10'000, .max_bytes = 8 << 20};
  static constexpr std::int64_t kCacheTtlS = 300;

  ClientAuthenticator(store::ClientStore& store, const Clock& clock,
                      CacheLimits limits = kDefaultLimits);

  // Reads the client from the store, compares the secret and checks that `method` is the
  // client's registered one; caches the client on success.
  ClientAuthOutcome Authenticate(std::string_view client_id, std::string_view secret,
                                 ClientSecretMethod method);

  // The cached client when `secret` matches its cached hash (constant-time comparison); nullopt
  // on a miss, an expired entry or a mismatch — the caller then takes Authenticate (under the
  // brute-force defence), so a wrong secret is never judged here.
  // A cached client registered for another method is also a miss.
  std::optional<store::Client> AuthenticateCached(std::string_view client_id,
                                                  std::string_view secret,
                                                  ClientSecretMethod method);

  // The client was deleted: drop its cached record (also one being read right now).
  void Forget(std::string_view client_id);

  std::size_t CacheSizeForTesting();
  // The EstimatedBytes of every cached client, keys included (what max_bytes bounds).
  std::size_t CacheBytesForTesting();

 private:
  struct Cached {
    store::Client client;
    UnixSeconds cached_at = 0;
  };
  using Map = std::unordered_map<std::string, Cached>;

  static std::size_t EntryBytes(const store::Client& client);
  void EraseLocked(Map::iterator it);                       // caller holds mu_
  void CacheLocked(store::Client client, UnixSeconds now);  // caller holds mu_

  store::ClientStore& store_;
  const Clock& clock_;
  const CacheLimits limits_;
  std::mutex mu_;
  Map cache_;                    // guarded by mu_
  std::size_t bytes_ = 0;        // guarded by mu_; EntryBytes of every entry
  std::uint64_t forgotten_ = 0;  // guarded by mu_; bumped by Forget, so a read that began
                                 // before a deletion never caches the deleted client
};

// True if a client registered with `registered` (token_endpoint_auth_method) may authenticate
// with a secret presented by `method`: either way for client_secret_basic and client_secret_post,
// never for "none" or an unknown value.
bool SecretMethodAllowed(std::string_view registered, ClientSecretMethod method);

// "<secret hash>" as stored: lower-case hex SHA-256 of the secret.
std::string HashClientSecret(std::string_view secret);

}  // namespace portcullis::authn
