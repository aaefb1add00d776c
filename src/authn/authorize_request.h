// The authorization request of the code flow (RFC 6749 §4.1, OAuth 2.1, OpenID Connect Core
// §3.1.2, DESIGN.md §8) and PKCE (RFC 7636): every check on what a client asks for at
// /oauth2/authorize, as pure functions so each rule is unit-tested and the handler only renders.
//
// Order matters (RFC 6749 §4.1.2.1): until the client and its redirect URI are known to be good,
// an error is shown to the user (kErrorPage) and the browser is never sent anywhere; after that,
// every error goes back to the client's redirect URI (kRedirect) with `error` and `state`.
//
// Thread-safety: stateless.
//
//   AuthorizeParams p{.response_type = "code", .client_id = "app", ...};
//   AuthorizeCheck check = CheckAuthorizeRequest(p, client);  // client: nullptr if unknown
//   switch (check.outcome) { case AuthorizeOutcome::kErrorPage: ... }
//   bool ok = VerifyPkceS256(code_verifier, stored_challenge);
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "store/store.h"

namespace portcullis::authn {

// The request parameters as sent (nullopt = absent; an empty value counts as absent).
struct AuthorizeParams {
  std::optional<std::string> response_type, client_id, redirect_uri, scope, state, nonce,
      code_challenge, code_challenge_method, prompt, max_age, request, request_uri, response_mode,
      dpop_jkt;
};

enum class AuthorizeOutcome : std::uint8_t {
  kOk = 0,
  kErrorPage = 1,  // 400 HTML page; never redirect (unknown client, unregistered redirect URI)
  kRedirect = 2,   // redirect to the client with `error` (+ state, iss)
};

// OpenID Connect scope values, granted beside permission scopes.
inline constexpr std::string_view kScopeOpenId = "openid";
inline constexpr std::string_view kScopeProfile = "profile";
inline constexpr std::string_view kScopeEmail = "email";
inline constexpr std::string_view kScopeOfflineAccess = "offline_access";
bool IsOidcScope(std::string_view scope);

inline constexpr std::size_t kMaxStateBytes = 1024;
inline constexpr std::size_t kMaxNonceBytes = 512;
inline constexpr std::size_t kMaxScopeBytes = 2048;
inline constexpr std::int64_t kMaxMaxAgeS = 10LL * 365 * 86'400;

// A request that passed every check.
struct AuthorizeRequest {
  std::string client_id;
  std::string redirect_uri;
  std::vector<std::string> oidc_scopes;        // openid, profile, email, offline_access
  std::vector<std::string> permission_scopes;  // resource:action; empty = none requested
  bool permissions_requested = false;          // a permission scope was named
  std::optional<std::string> state;
  std::optional<std::string> nonce;
  std::string code_challenge;
  // RFC 9449 §10: the thumbprint of the DPoP key the code is bound to (the token request must
  // carry a proof by that key); nullopt = not bound.
  std::optional<std::string> dpop_jkt;
  bool prompt_login = false;
  bool prompt_none = false;
  std::optional<std::int64_t> max_age;
};

struct AuthorizeCheck {
  AuthorizeOutcome outcome = AuthorizeOutcome::kOk;
  std::string error;         // kRedirect: the RFC 6749 §4.1.2.1 error code
  std::string description;   // for the page or error_description; generic, no secrets
  AuthorizeRequest request;  // kOk: everything; kRedirect: redirect_uri and state are set
};

// Checks `params` against `client` (nullptr: no such client). In order:
//   kErrorPage: client_id missing or unknown; redirect_uri missing or not registered for the
//               client (exact string comparison); redirect_uri or state too long;
//   kRedirect:  request/request_uri given (request_not_supported / request_uri_not_supported);
//               response_mode other than "query" (invalid_request); response_type not "code"
//               (unsupported_response_type); the client may not use authorization_code
//               (unauthorized_client); code_challenge missing or malformed, or
//               code_challenge_method not S256 (invalid_request: PKCE S256 is required for every
//               client, "plain" is refused); scope malformed or unknown (invalid_scope);
//               nonce too long, prompt not one of login/none (or both), max_age not a
//               non-negative integer, dpop_jkt not a JWK SHA-256 thumbprint (invalid_request).
AuthorizeCheck CheckAuthorizeRequest(const AuthorizeParams& params, const store::Client* client);

// True if `challenge` is a well-formed S256 code_challenge: 43 base64url characters.
bool IsValidCodeChallenge(std::string_view challenge);

// True if `verifier` is a well-formed code_verifier (RFC 7636 §4.1): 43 to 128 characters from
// [A-Za-z0-9-._~].
bool IsValidCodeVerifier(std::string_view verifier);

// True if BASE64URL(SHA-256(verifier)) equals `challenge` (compared in constant time) and the
// verifier is well formed.
bool VerifyPkceS256(std::string_view verifier, std::string_view challenge);

}  // namespace portcullis::authn
