// Client metadata rules for browser sign-in (DESIGN.md §8, issue #12): which redirect URIs,
// token endpoint auth methods, ID-token algorithms and grant types a client may be registered
// with. Pure functions over strings: the admin API and the CLI both call ValidateClientMetadata
// before anything is stored, so a client in the store always satisfies these rules.
//
// Redirect URIs are kept verbatim (they are matched later by exact string comparison, RFC 9700
// §4.1.3): nothing here normalizes them; it only refuses what may not be registered.
//
// Usage:
//   ClientMetadata m{.grant_types = {"authorization_code"},
//                    .redirect_uris = {"https://app.example/cb"},
//                    .token_endpoint_auth_method = "none"};
//   ClientMetadataCheck check = ValidateClientMetadata(m);
//   if (check.error != ClientMetadataError::kOk) -> 400 with check.detail
// Thread-safety: stateless.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace portcullis::authn {

// Why one redirect (or post-logout redirect) URI may not be registered.
enum class RedirectUriError : std::uint16_t {
  kOk = 0,
  kEmpty = 1,             // ""
  kTooLong = 2,           // more than kMaxRedirectUriBytes
  kNotAbsoluteUri = 3,    // not an RFC 3986 absolute URI (relative, bad syntax, spaces, controls)
  kSchemeNotAllowed = 4,  // neither https nor http
  kHttpNotLoopback = 5,   // http to a host other than localhost, 127.0.0.0/8 or [::1]
  kFragment = 6,          // has a fragment (RFC 6749 §3.1.2)
  kUserinfo = 7,          // has user[:password]@ in the authority
  kNoHost = 8,            // no authority or an empty host
};
std::string_view ToString(RedirectUriError error);

// Why a client's metadata as a whole may not be registered.
enum class ClientMetadataError : std::uint16_t {
  kOk = 0,
  kBadRedirectUri = 1,            // a redirect_uris entry fails CheckRedirectUri
  kBadPostLogoutRedirectUri = 2,  // a post_logout_redirect_uris entry fails CheckRedirectUri
  kTooManyUris = 3,               // more than kMaxRedirectUris in one list
  kDuplicateUri = 4,              // the same URI twice in one list
  kUnknownAuthMethod = 5,         // not client_secret_basic, client_secret_post or none
  kUnknownIdTokenAlg = 6,         // not RS256, EdDSA or ES256
  kNoGrantTypes = 7,              // grant_types empty
  kUnknownGrantType = 8,  // not client_credentials/password/refresh_token/authorization_code
  kAuthorizationCodeNeedsRedirectUri = 9,    // authorization_code without any redirect URI
  kPublicClientGrantNotAllowed = 10,         // "none" with client_credentials or password
  kPublicClientNeedsAuthorizationCode = 11,  // "none" without authorization_code
};
std::string_view ToString(ClientMetadataError error);

inline constexpr std::size_t kMaxRedirectUriBytes = 2048;
inline constexpr std::size_t kMaxRedirectUris = 20;  // per list

inline constexpr std::string_view kAuthMethodBasic = "client_secret_basic";
inline constexpr std::string_view kAuthMethodPost = "client_secret_post";
inline constexpr std::string_view kAuthMethodNone = "none";

// The metadata of a client being registered, as given (defaults already applied by the caller:
// DefaultGrantTypes, kAuthMethodBasic, "RS256").
struct ClientMetadata {
  std::vector<std::string> grant_types{};
  std::vector<std::string> redirect_uris{};
  std::string token_endpoint_auth_method = std::string(kAuthMethodBasic);
  std::vector<std::string> post_logout_redirect_uris{};
  std::string id_token_signed_response_alg = "RS256";
};

struct ClientMetadataCheck {
  ClientMetadataError error = ClientMetadataError::kOk;
  std::string detail;  // a message for the caller naming the offending value; "" when kOk
};

// kOk if `uri` may be registered as a redirect or post-logout redirect URI: an absolute URI
// with scheme https, or http when the host is localhost (any case), an IPv4 address in
// 127.0.0.0/8 or [::1] (RFC 8252 §7.3, §8.3); a non-empty host; no userinfo; no fragment; at
// most kMaxRedirectUriBytes. Schemes compare case-insensitively (RFC 3986 §3.1); private-use
// schemes (RFC 8252 §7.1) are not supported.
RedirectUriError CheckRedirectUri(std::string_view uri);

// Every rule of DESIGN §8 for a new client; the first violation found, with a message.
// Grant types: client_credentials, password, refresh_token, authorization_code (which needs at
// least one redirect URI). A public client ("none") may have only authorization_code and
// refresh_token, and must have authorization_code.
ClientMetadataCheck ValidateClientMetadata(const ClientMetadata& metadata);

// The grant types of a client registered without any: {"authorization_code"} for a public
// client, {"client_credentials"} otherwise.
std::vector<std::string> DefaultGrantTypes(std::string_view token_endpoint_auth_method);

}  // namespace portcullis::authn
