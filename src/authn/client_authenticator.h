// ClientAuthenticator: OAuth2 client authentication (RFC 6749 §2.3) against the client store.
// Secrets are compared as SHA-256 in constant time; an unknown client costs the same hash and
// comparison as a known one. The public client "default" has no secret and never authenticates
// here: requests without client credentials use it (DESIGN §4 "Clients").
//
// Blocking (a database read): call it off the network threads.
// Thread-safety: Authenticate may run concurrently.
#pragma once

#include <string>
#include <string_view>

#include "store/store.h"

namespace portcullis::authn {

enum class ClientAuthError : std::uint16_t {
  kOk = 0,
  kUnknownClient = 1,     // no client with this id (a dummy comparison was spent)
  kBadSecret = 2,         // the secret does not match
  kMultipleMethods = 3,   // Basic and client_secret_post in one request (RFC 6749 §2.3)
  kMalformed = 4,         // an Authorization header or form fields we cannot parse
  kStoreUnavailable = 5,  // the database failed
};
std::string_view ToString(ClientAuthError error);

struct ClientAuthOutcome {
  ClientAuthError error = ClientAuthError::kOk;
  store::Client client;  // set when error is kOk
};

// The public client's id: password and refresh grants without client credentials.
inline constexpr std::string_view kPublicClientId = "default";

class ClientAuthenticator {
 public:
  explicit ClientAuthenticator(store::ClientStore& store);

  ClientAuthOutcome Authenticate(std::string_view client_id, std::string_view secret);

 private:
  store::ClientStore& store_;
};

// "<secret hash>" as stored: lower-case hex SHA-256 of the secret.
std::string HashClientSecret(std::string_view secret);

}  // namespace portcullis::authn
