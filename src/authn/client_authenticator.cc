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

ClientAuthenticator::ClientAuthenticator(store::ClientStore& store, const Clock& clock)
    : store_(store), clock_(clock) {}

std::optional<store::Client> ClientAuthenticator::AuthenticateCached(std::string_view client_id,
                                                                     std::string_view secret) {
  const std::string presented = HashClientSecret(secret);
  std::lock_guard lock(mu_);
  auto it = cache_.find(std::string(client_id));
  if (it == cache_.end()) return std::nullopt;
  if (clock_.Now() - it->second.cached_at >= kCacheTtlS) {
    cache_.erase(it);
    return std::nullopt;
  }
  if (!crypto::ConstantTimeEqual(presented, it->second.client.secret_hash)) return std::nullopt;
  return it->second.client;
}

void ClientAuthenticator::Forget(std::string_view client_id) {
  std::lock_guard lock(mu_);
  cache_.erase(std::string(client_id));
  ++forgotten_;
}

ClientAuthOutcome ClientAuthenticator::Authenticate(std::string_view client_id,
                                                    std::string_view secret) {
  ClientAuthOutcome out;
  std::string presented = HashClientSecret(secret);
  std::uint64_t forgotten_before = 0;
  {
    std::lock_guard lock(mu_);
    forgotten_before = forgotten_;
  }
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
  {
    std::lock_guard lock(mu_);
    if (forgotten_ == forgotten_before) {
      const UnixSeconds now = clock_.Now();
      if (cache_.size() >= kMaxCached) {
        std::erase_if(cache_,
                      [&](const auto& item) { return now - item.second.cached_at >= kCacheTtlS; });
        if (cache_.size() >= kMaxCached) cache_.clear();
      }
      cache_[client->client_id] = Cached{.client = *client, .cached_at = now};
    }
  }
  out.client = std::move(*client);
  return out;
}

}  // namespace portcullis::authn
