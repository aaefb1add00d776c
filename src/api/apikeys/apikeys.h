// API-key endpoints (issue #6, DESIGN §4 "Administration"), and the issuing service they share
// with `portcullis apikey create`.
//
//   GET    /v1/api-keys        the caller's own keys; ?user_id=X for another user and ?all=true
//                              need apikeys:read (client principals have no own keys: they always
//                              need it); ?limit= (50, max 500) &cursor=
//   POST   /v1/api-keys        {"name","scopes":[...],"expires_in_days"?,"user_id"?} -> 201 with
//                              the key shown once (Cache-Control: no-store); another owner needs
//                              apikeys:write; every scope must be held by the caller AND the owner
//   DELETE /v1/api-keys/{id}   own key, or anyone's with apikeys:write -> 204; someone else's key
//                              without apikeys:write, or an unknown id -> 404 (existence hidden)
//
// Items never carry the key or its hash. Creation and deletion are audited (apikey.created,
// apikey.revoked; subject = key id; never the key). A deleted key stops working at once here (the
// cache entry is dropped) and within about a second on other instances (user change feed).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "api/api_context.h"
#include "audit/audit_log.h"
#include "base/secret.h"
#include "base/status.h"
#include "crypto/random.h"
#include "http/request.h"
#include "http/response.h"
#include "store/store.h"

namespace portcullis::api {

inline constexpr std::size_t kMaxApiKeyNameBytes = 128;
inline constexpr std::size_t kMaxApiKeyScopes = 64;
inline constexpr int kMaxApiKeyLifetimeDays = 3650;

// What a new key should be.
struct ApiKeyRequest {
  std::string owner_id;
  std::string name;
  std::vector<std::string> scopes;
  std::optional<int> expires_in_days;  // nullopt = never expires
};

// A stored key and the full key string, to be shown once.
struct IssuedApiKey {
  store::ApiKey record;
  SecretString key;
};

// kInvalidArgument (message for the client) unless: name is 1..128 bytes without control
// characters; at most 64 scopes, each a valid permission; expires_in_days in 1..3650.
Status ValidateApiKeyRequest(const ApiKeyRequest& request);

// Validates, checks that the owner exists (kNotFound "no such user") and holds every scope
// (kPermissionDenied "the owner does not hold the permission X"), generates and stores the key and
// audits apikey.created. Blocking (store writes): call off the network thread. Does NOT check what
// the caller holds: that is the caller's rule (never grant what you don't hold).
Result<IssuedApiKey> IssueApiKey(store::Store& store, audit::AuditLog& audit,
                                 const audit::AuditContext& context, const ApiKeyRequest& request,
                                 UnixSeconds now, crypto::Random& random);

// {"id","name","user_id","scopes","expires_at","created_at","last_used_at"} (times RFC 3339 or
// null). Shared with the CLI.
boost::json::object ApiKeyToJson(const store::ApiKey& key);

boost::asio::awaitable<http::Response> HandleListApiKeys(ApiContext& ctx, http::Request& req);
boost::asio::awaitable<http::Response> HandleCreateApiKey(ApiContext& ctx, http::Request& req);
boost::asio::awaitable<http::Response> HandleDeleteApiKey(ApiContext& ctx, http::Request& req);

}  // namespace portcullis::api
