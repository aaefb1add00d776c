#include "authn/client_authenticator.h"

#include <iterator>
#include <utility>

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
    case ClientAuthError::kMethodNotAllowed:
      return "method_not_allowed";
  }
  return "unknown";
}

std::string_view ToString(ClientSecretMethod method) {
  switch (method) {
    case ClientSecretMethod::kBasic:
      return "client_secret_basic";
    case ClientSecretMethod::kPost:
      return "client_secret_post";
  }
  return "unknown";
}

bool SecretMethodAllowed(std::string_view registered, ClientSecretMethod /*method*/) {
  // DESIGN §4: a confidential client authenticates "by Basic or client_secret_post", whichever
  // of the two it registered; only a public client ("none") has no secret to present.
  return registered == "client_secret_basic" || registered == "client_secret_post";
}

std::string HashClientSecret(std::string_view secret) { return crypto::Sha256Hex(secret); }

ClientAuthenticator::ClientAuthenticator(store::ClientStore& store, const Clock& clock,
                                         CacheLimits limits)
    : store_(store), clock_(clock), limits_(limits) {}

std::size_t ClientAuthenticator::EntryBytes(const store::Client& client) {
  // The map's key is a copy of client_id, hence twice.
  return kCacheNodeBytes + sizeof(Cached) + 2 * EstimatedBytes(client.client_id) +
         EstimatedBytes(client.name) + EstimatedBytes(client.secret_hash) +
         EstimatedBytes(client.grant_types) + EstimatedBytes(client.scopes) +
         EstimatedBytes(client.redirect_uris) + EstimatedBytes(client.token_endpoint_auth_method) +
         EstimatedBytes(client.post_logout_redirect_uris) +
         EstimatedBytes(client.id_token_signed_response_alg);
}

void ClientAuthenticator::EraseLocked(Map::iterator it) {
  bytes_ -= EntryBytes(it->second.client);
  cache_.erase(it);
}

void ClientAuthenticator::CacheLocked(store::Client client, UnixSeconds now) {
  const std::size_t bytes = EntryBytes(client);
  if (bytes > limits_.max_bytes) return;
  if (auto it = cache_.find(client.client_id); it != cache_.end()) EraseLocked(it);
  const auto full = [&] {
    return cache_.size() >= limits_.max_entries || bytes_ + bytes > limits_.max_bytes;
  };
  if (full()) {
    for (auto it = cache_.begin(); it != cache_.end();) {
      auto next = std::next(it);
      if (now - it->second.cached_at >= kCacheTtlS) EraseLocked(it);
      it = next;
    }
    if (full()) {
      cache_.clear();
      bytes_ = 0;
    }
  }
  std::string id = client.client_id;
  cache_.emplace(std::move(id), Cached{.client = std::move(client), .cached_at = now});
  bytes_ += bytes;
}

std::size_t ClientAuthenticator::CacheSizeForTesting() {
  std::lock_guard lock(mu_);
  return cache_.size();
}

std::size_t ClientAuthenticator::CacheBytesForTesting() {
  std::lock_guard lock(mu_);
  return bytes_;
}

std::optional<store::Client> ClientAuthenticator::AuthenticateCached(std::string_view client_id,
                                                                     std::string_view secret,
                                                                     ClientSecretMethod method) {
  const std::string presented = HashClientSecret(secret);
  std::lock_guard lock(mu_);
  auto it = cache_.find(std::string(client_id));
  if (it == cache_.end()) return std::nullopt;
  if (clock_.Now() - it->second.cached_at >= kCacheTtlS) {
    EraseLocked(it);
    return std::nullopt;
  }
  if (!SecretMethodAllowed(it->second.client.token_endpoint_auth_method, method)) {
    return std::nullopt;
  }
  if (!crypto::ConstantTimeEqual(presented, it->second.client.secret_hash)) return std::nullopt;
  return it->second.client;
}

void ClientAuthenticator::Forget(std::string_view client_id) {
  std::lock_guard lock(mu_);
  if (auto it = cache_.find(std::string(client_id)); it != cache_.end()) EraseLocked(it);
  ++forgotten_;
}

ClientAuthOutcome ClientAuthenticator::Authenticate(std::string_view client_id,
                                                    std::string_view secret,
                                                    ClientSecretMethod method) {
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
  if (!SecretMethodAllowed(client->token_endpoint_auth_method, method)) {
    // A public client has no secret (secret_hash ""); spend the same comparison either way.
    (void)crypto::ConstantTimeEqual(presented, kDummySecretHash);
    out.error = ClientAuthError::kMethodNotAllowed;
    return out;
  }
  if (!crypto::ConstantTimeEqual(presented, client->secret_hash)) {
    out.error = ClientAuthError::kBadSecret;
    return out;
  }
  {
    std::lock_guard lock(mu_);
    if (forgotten_ == forgotten_before) CacheLocked(*client, clock_.Now());
  }
  out.client = std::move(*client);
  return out;
}

}  // namespace portcullis::authn
