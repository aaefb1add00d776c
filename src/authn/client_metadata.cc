#include "authn/client_metadata.h"

#include <algorithm>
#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>

namespace portcullis::authn {
namespace {

bool EqualsIgnoringAsciiCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           auto lower = [](char c) { return (c >= 'A' && c <= 'Z') ? char(c - 'A' + 'a') : c; };
           return lower(x) == lower(y);
         });
}

bool Contains(const std::vector<std::string>& list, std::string_view value) {
  return std::find(list.begin(), list.end(), value) != list.end();
}

bool IsLoopbackHost(const boost::urls::url_view& url) {
  switch (url.host_type()) {
    case boost::urls::host_type::ipv4:
      return (url.host_ipv4_address().to_uint() >> 24) == 127;  // 127.0.0.0/8
    case boost::urls::host_type::ipv6:
      return url.host_ipv6_address().is_loopback();  // ::1 only
    case boost::urls::host_type::name:
      return EqualsIgnoringAsciiCase(url.encoded_host(), "localhost");
    case boost::urls::host_type::ipvfuture:
    case boost::urls::host_type::none:
      return false;
  }
  return false;
}

ClientMetadataCheck Fail(ClientMetadataError error, std::string detail) {
  return ClientMetadataCheck{.error = error, .detail = std::move(detail)};
}

// Checks one list (redirect_uris or post_logout_redirect_uris).
ClientMetadataCheck CheckUriList(const std::vector<std::string>& uris, std::string_view field,
                                 ClientMetadataError bad_uri) {
  if (uris.size() > kMaxRedirectUris) {
    return Fail(ClientMetadataError::kTooManyUris, std::string(field) + " may hold at most " +
                                                       std::to_string(kMaxRedirectUris) + " URIs");
  }
  for (std::size_t i = 0; i < uris.size(); ++i) {
    RedirectUriError error = CheckRedirectUri(uris[i]);
    if (error != RedirectUriError::kOk) {
      // The URI itself is not echoed: it may be long or hold anything; its position is enough.
      return Fail(bad_uri, std::string(field) + "[" + std::to_string(i) +
                               "] is not allowed: " + std::string(ToString(error)));
    }
    if (std::find(uris.begin(), uris.begin() + static_cast<std::ptrdiff_t>(i), uris[i]) !=
        uris.begin() + static_cast<std::ptrdiff_t>(i)) {
      return Fail(ClientMetadataError::kDuplicateUri,
                  std::string(field) + "[" + std::to_string(i) + "] is a duplicate");
    }
  }
  return {};
}

}  // namespace

std::string_view ToString(RedirectUriError error) {
  switch (error) {
    case RedirectUriError::kOk:
      return "ok";
    case RedirectUriError::kEmpty:
      return "empty";
    case RedirectUriError::kTooLong:
      return "longer than 2048 bytes";
    case RedirectUriError::kNotAbsoluteUri:
      return "not an absolute URI";
    case RedirectUriError::kSchemeNotAllowed:
      return "scheme must be https (or http on a loopback host)";
    case RedirectUriError::kHttpNotLoopback:
      return "http is allowed only for localhost, 127.0.0.0/8 and [::1]";
    case RedirectUriError::kFragment:
      return "must not have a fragment";
    case RedirectUriError::kUserinfo:
      return "must not have userinfo";
    case RedirectUriError::kNoHost:
      return "must have a host";
  }
  return "unknown";
}

std::string_view ToString(ClientMetadataError error) {
  switch (error) {
    case ClientMetadataError::kOk:
      return "ok";
    case ClientMetadataError::kBadRedirectUri:
      return "bad_redirect_uri";
    case ClientMetadataError::kBadPostLogoutRedirectUri:
      return "bad_post_logout_redirect_uri";
    case ClientMetadataError::kTooManyUris:
      return "too_many_uris";
    case ClientMetadataError::kDuplicateUri:
      return "duplicate_uri";
    case ClientMetadataError::kUnknownAuthMethod:
      return "unknown_auth_method";
    case ClientMetadataError::kUnknownIdTokenAlg:
      return "unknown_id_token_alg";
    case ClientMetadataError::kNoGrantTypes:
      return "no_grant_types";
    case ClientMetadataError::kUnknownGrantType:
      return "unknown_grant_type";
    case ClientMetadataError::kAuthorizationCodeNeedsRedirectUri:
      return "authorization_code_needs_redirect_uri";
    case ClientMetadataError::kPublicClientGrantNotAllowed:
      return "public_client_grant_not_allowed";
    case ClientMetadataError::kPublicClientNeedsAuthorizationCode:
      return "public_client_needs_authorization_code";
  }
  return "unknown";
}

RedirectUriError CheckRedirectUri(std::string_view uri) {
  if (uri.empty()) return RedirectUriError::kEmpty;
  if (uri.size() > kMaxRedirectUriBytes) return RedirectUriError::kTooLong;
  // parse_uri: RFC 3986 "URI" (absolute, fragment allowed so it can be named below). It refuses
  // relative references, spaces, controls and non-ASCII bytes.
  boost::system::result<boost::urls::url_view> parsed = boost::urls::parse_uri(uri);
  if (!parsed) return RedirectUriError::kNotAbsoluteUri;
  const boost::urls::url_view& url = *parsed;
  if (url.has_fragment()) return RedirectUriError::kFragment;
  const bool https = EqualsIgnoringAsciiCase(url.scheme(), "https");
  const bool http = EqualsIgnoringAsciiCase(url.scheme(), "http");
  if (!https && !http) return RedirectUriError::kSchemeNotAllowed;
  if (!url.has_authority() || url.encoded_host().empty()) return RedirectUriError::kNoHost;
  if (url.has_userinfo()) return RedirectUriError::kUserinfo;
  if (http && !IsLoopbackHost(url)) return RedirectUriError::kHttpNotLoopback;
  return RedirectUriError::kOk;
}

std::vector<std::string> DefaultGrantTypes(std::string_view token_endpoint_auth_method) {
  if (token_endpoint_auth_method == kAuthMethodNone) return {"authorization_code"};
  return {"client_credentials"};
}

ClientMetadataCheck ValidateClientMetadata(const ClientMetadata& m) {
  const std::string& method = m.token_endpoint_auth_method;
  if (method != kAuthMethodBasic && method != kAuthMethodPost && method != kAuthMethodNone) {
    return Fail(ClientMetadataError::kUnknownAuthMethod,
                "token_endpoint_auth_method must be client_secret_basic, client_secret_post or "
                "none");
  }
  const std::string& alg = m.id_token_signed_response_alg;
  if (alg != "RS256" && alg != "EdDSA" && alg != "ES256") {
    return Fail(ClientMetadataError::kUnknownIdTokenAlg,
                "id_token_signed_response_alg must be RS256, EdDSA or ES256");
  }
  if (m.grant_types.empty()) {
    return Fail(ClientMetadataError::kNoGrantTypes, "grant_types must not be empty");
  }
  for (const std::string& g : m.grant_types) {
    if (g != "client_credentials" && g != "password" && g != "refresh_token" &&
        g != "authorization_code") {
      return Fail(ClientMetadataError::kUnknownGrantType,
                  "unsupported grant type \"" + g +
                      "\" (client_credentials, password, refresh_token, authorization_code)");
    }
  }
  if (ClientMetadataCheck c =
          CheckUriList(m.redirect_uris, "redirect_uris", ClientMetadataError::kBadRedirectUri);
      c.error != ClientMetadataError::kOk) {
    return c;
  }
  if (ClientMetadataCheck c = CheckUriList(m.post_logout_redirect_uris, "post_logout_redirect_uris",
                                           ClientMetadataError::kBadPostLogoutRedirectUri);
      c.error != ClientMetadataError::kOk) {
    return c;
  }
  const bool code = Contains(m.grant_types, "authorization_code");
  if (code && m.redirect_uris.empty()) {
    return Fail(ClientMetadataError::kAuthorizationCodeNeedsRedirectUri,
                "the authorization_code grant needs at least one redirect URI");
  }
  if (method == kAuthMethodNone) {
    // A public client cannot keep a secret, so it has no grant that rests on one
    // (client_credentials) nor the password grant (RFC 9700 §2.4).
    for (const std::string& g : m.grant_types) {
      if (g != "authorization_code" && g != "refresh_token") {
        return Fail(ClientMetadataError::kPublicClientGrantNotAllowed,
                    "a public client (token_endpoint_auth_method none) may not use the \"" + g +
                        "\" grant");
      }
    }
    if (!code) {
      return Fail(ClientMetadataError::kPublicClientNeedsAuthorizationCode,
                  "a public client needs the authorization_code grant");
    }
  }
  return {};
}

}  // namespace portcullis::authn
