// Client authentication for /oauth2 endpoints (RFC 6749 §2.3): HTTP Basic or client_secret_post,
// never both; requests without client credentials use the public client "default" where the
// endpoint allows it (DESIGN §4 "Clients").
#pragma once

#include <boost/asio/awaitable.hpp>
#include <string>
#include <variant>
#include <vector>

#include "api/api_context.h"
#include "http/parse.h"
#include "http/request.h"
#include "http/response.h"

namespace portcullis::api {

struct ResolvedClient {
  std::string client_id;
  bool confidential = false;                 // authenticated with a secret
  std::vector<std::string> grant_types;      // what it may use
  std::vector<std::string> scopes;           // client_credentials: the most it may get
  std::vector<std::string> redirect_uris{};  // browser clients: their origins may call us (CORS)
  bool require_dpop = false;                 // every token request needs a DPoP proof (§9)
};

// CORS for a browser client calling the token endpoint (a form POST is a "simple" request, so no
// preflight): when the request's Origin is the origin of one of the client's registered redirect
// URIs, `res` gets Access-Control-Allow-Origin: <that origin> (and Vary: Origin). Nothing for
// any other origin, so other sites still cannot read the answer.
void AllowBrowserOrigin(const http::Request& req, const ResolvedClient& client,
                        http::Response& res);

// The calling client, or the response to send (400 invalid_request for two methods at once,
// 401 invalid_client + WWW-Authenticate: Basic for failed authentication). The store lookup runs
// on the database pool.
boost::asio::awaitable<std::variant<ResolvedClient, http::Response>> ResolveClient(
    ApiContext& ctx, const http::Request& req, const http::FormFields& form, bool allow_public);

// 401 invalid_client with `WWW-Authenticate: Basic` (RFC 6749 §5.2).
http::Response InvalidClient();

// True if `client` may use `grant_type` (the public client: password and refresh_token).
bool ClientAllowsGrant(const ResolvedClient& client, std::string_view grant_type);

}  // namespace portcullis::api
