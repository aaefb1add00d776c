// User and role administration and the access review (issue #5; DESIGN §4 "Administration").
// Every handler authorizes with the route's permission, rejects unknown JSON fields (400, no mass
// assignment), and calls admin::Directory off the network threads; the authority rules (never
// grant what you don't hold, no change of your own roles, admin keeps a holder, built-in roles
// stay) live there.
//
//   GET    /v1/users                 users:read   ?limit=&cursor=&username=<prefix>&role=&disabled=
//   POST   /v1/users                 users:write  {"username","password","email"?,"roles"?} -> 201
//   GET    /v1/users/{id}            users:read
//   PATCH  /v1/users/{id}            users:write  {"disabled"?, "email"? (string | null)}
//   DELETE /v1/users/{id}            users:write  204
//   PUT    /v1/users/{id}/roles      users:write  {"roles":[...]}
//   GET    /v1/roles                 roles:read   ?limit=&cursor= → {"items":[role],"next_cursor"}
//   POST   /v1/roles                 roles:write  {"name","permissions","description"?} -> 201
//   GET    /v1/roles/{name}          roles:read
//   PATCH  /v1/roles/{name}          roles:write  {"description"?, "permissions"?}
//   DELETE /v1/roles/{name}          roles:write  204 (409 for the built-in roles)
//   GET    /v1/access-review         users:read   ?unused_days= (default 90)
// role = {"name","description","permissions","created_at"}; user: see api/user_json.h.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>

#include "api/api_context.h"
#include "http/request.h"
#include "http/response.h"

namespace portcullis::api {

boost::asio::awaitable<http::Response> HandleListUsers(ApiContext& ctx, http::Request& req);
boost::asio::awaitable<http::Response> HandleCreateUser(ApiContext& ctx, http::Request& req);
boost::asio::awaitable<http::Response> HandleGetUser(ApiContext& ctx, http::Request& req);
boost::asio::awaitable<http::Response> HandlePatchUser(ApiContext& ctx, http::Request& req);
boost::asio::awaitable<http::Response> HandleDeleteUser(ApiContext& ctx, http::Request& req);
boost::asio::awaitable<http::Response> HandleSetUserRoles(ApiContext& ctx, http::Request& req);

boost::asio::awaitable<http::Response> HandleListRoles(ApiContext& ctx, http::Request& req);
boost::asio::awaitable<http::Response> HandleCreateRole(ApiContext& ctx, http::Request& req);
boost::asio::awaitable<http::Response> HandleGetRole(ApiContext& ctx, http::Request& req);
boost::asio::awaitable<http::Response> HandlePatchRole(ApiContext& ctx, http::Request& req);
boost::asio::awaitable<http::Response> HandleDeleteRole(ApiContext& ctx, http::Request& req);

boost::asio::awaitable<http::Response> HandleAccessReview(ApiContext& ctx, http::Request& req);

// {"name","description","permissions","created_at"}; shared with the CLI.
boost::json::object RoleToJson(const store::Role& role);

}  // namespace portcullis::api
