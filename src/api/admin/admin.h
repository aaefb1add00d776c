// Administration endpoints of issue #3 (DESIGN §4 "Administration"). Each needs the named
// permission (role `admin` has `*`); unknown JSON fields on writes are rejected with 400.
//
//   GET    /v1/clients            clients:read   {"items":[...],"next_cursor"}
//   POST   /v1/clients            clients:write  {"name","grant_types","scopes"} -> 201 with the
//                                                client_secret shown once
//   DELETE /v1/clients/{id}       clients:write  204; its refresh tokens are revoked
//   GET    /v1/keys               keys:read      signing keys with state (no private material)
//   POST   /v1/keys/rotate        keys:rotate    201 {"kid","alg"}
//   GET    /v1/audit              audit:read     ?since=&type=&user=&limit=&cursor=
#pragma once

#include <boost/asio/awaitable.hpp>

#include "api/api_context.h"
#include "http/request.h"
#include "http/response.h"

namespace portcullis::api {

boost::asio::awaitable<http::Response> HandleListClients(ApiContext& ctx, http::Request& req);
boost::asio::awaitable<http::Response> HandleCreateClient(ApiContext& ctx, http::Request& req);
boost::asio::awaitable<http::Response> HandleDeleteClient(ApiContext& ctx, http::Request& req);
boost::asio::awaitable<http::Response> HandleListKeys(ApiContext& ctx, http::Request& req);
boost::asio::awaitable<http::Response> HandleRotateKeys(ApiContext& ctx, http::Request& req);
boost::asio::awaitable<http::Response> HandleListAudit(ApiContext& ctx, http::Request& req);
// POST /v1/users/{id}/unlock (users:write): clears every lock and counter of the user (all
// sources and the account-wide back-off); audited as user.unlocked. 204, or 404.
boost::asio::awaitable<http::Response> HandleUnlockUser(ApiContext& ctx, http::Request& req);
// Shapes shared with the CLI.
boost::json::object ClientToJson(const store::Client& client);
boost::json::object SigningKeyToJson(const store::SigningKey& key);
// The answer to a rotation (POST /v1/keys/rotate, `portcullis keys rotate`) and the details of
// its `key.rotated` audit event: {"kid","alg","previous_kid"} of the access-token key (the one of
// `access_token_alg`), and "keys": [{"alg","kid","previous_kid"}] for every algorithm rotated.
boost::json::object KeyRotationToJson(const std::vector<token::RotatedKey>& rotated,
                                      jose::Algorithm access_token_alg);
// Audits a rotation as one `key.rotated` event: subject the new access-token kid, details
// {"previous_kid","keys","trigger"} (KeyRotationToJson's). `trigger`: "api", "cli" or "schedule".
void RecordKeyRotation(audit::AuditLog& audit, const audit::AuditContext& context,
                       const std::vector<token::RotatedKey>& rotated,
                       jose::Algorithm access_token_alg, std::string_view trigger);

}  // namespace portcullis::api
