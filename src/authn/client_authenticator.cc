#include "authn/client_authenticator.h"

#include "base/log.h"
#include "crypto/constant_time.h"
#include "crypto/sha256.h"

namespace portcullis::authn {
namespace {

// Compared against when the client does not exist, so both paths hash and compare.
constexpr std::string_view kDummySecretHash =
    "0000000000000000000000000000000000000000000000000000000000000000";

}  // namespace

std::string_view ToString(ClientAuthError error) {
  switch (error) {
    case ClientAuthError::kOk:
      return "ok";
    case ClientAuthError::kUnknownClient:
      return "unknown_client";
    case ClientAuthError::kBadSecret:
      return "bad_secret";
    case ClientAuthError::kMultipleMethods:
      return "multiple_methods";
    case ClientAuthError::kMalformed:
      return "malformed";
    case ClientAuthError::kStoreUnavailable:
      return "store_unavailable";
  }
  return "unknown";
}

std::string HashClientSecret(std::string_view secret) { return crypto::Sha256Hex(secret); }

ClientAuthenticator::ClientAuthenticator(store::ClientStore& store) : store_(store) {}

ClientAuthOutcome ClientAuthenticator::Authenticate(std::string_view client_id,
                                                    std::string_view secret) {
  ClientAuthOutcome out;
  std::string presented = HashClientSecret(secret);
  Result<store::Client> client = store_.FindClient(client_id);
  if (!client.ok()) {
    (void)crypto::ConstantTimeEqual(presented, kDummySecretHash);
    if (client.status().code() == StatusCode::kNotFound) {
      out.error = ClientAuthError::kUnknownClient;
    } else {
      log::Error("authn.client_store_error", {{"error", client.status().ToString()}});
      out.error = ClientAuthError::kStoreUnavailable;
    }
    return out;
  }
  if (!crypto::ConstantTimeEqual(presented, client->secret_hash)) {
    out.error = ClientAuthError::kBadSecret;
    return out;
  }
  out.client = std::move(*client);
  return out;
}

}  // namespace portcullis::authn
