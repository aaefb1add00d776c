#include "authn/authorize_request.h"

#include <algorithm>
#include <array>
#include <charconv>

#include "authz/permission.h"
#include "crypto/base64.h"
#include "crypto/constant_time.h"
#include "crypto/sha256.h"

namespace portcullis::authn {
namespace {

constexpr std::size_t kChallengeLength = 43;  // base64url of 32 bytes, no padding
constexpr std::size_t kMinVerifier = 43;
constexpr std::size_t kMaxVerifier = 128;

bool IsBase64UrlChar(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_';
}

bool Contains(const std::vector<std::string>& v, std::string_view s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

AuthorizeCheck Page(std::string description) {
  AuthorizeCheck check;
  check.outcome = AuthorizeOutcome::kErrorPage;
  check.description = std::move(description);
  return check;
}

}  // namespace

bool IsOidcScope(std::string_view scope) {
  return scope == kScopeOpenId || scope == kScopeProfile || scope == kScopeEmail ||
         scope == kScopeOfflineAccess;
}

bool IsValidCodeChallenge(std::string_view challenge) {
  return challenge.size() == kChallengeLength &&
         std::all_of(challenge.begin(), challenge.end(), IsBase64UrlChar);
}

bool IsValidCodeVerifier(std::string_view verifier) {
  if (verifier.size() < kMinVerifier || verifier.size() > kMaxVerifier) return false;
  return std::all_of(verifier.begin(), verifier.end(),
                     [](char c) { return IsBase64UrlChar(c) || c == '.' || c == '~'; });
}

bool VerifyPkceS256(std::string_view verifier, std::string_view challenge) {
  if (!IsValidCodeVerifier(verifier) || !IsValidCodeChallenge(challenge)) return false;
  const std::array<std::uint8_t, 32> digest = crypto::Sha256(verifier);
  const std::string computed = crypto::Base64UrlEncode(
      std::string_view(reinterpret_cast<const char*>(digest.data()), digest.size()));
  return crypto::ConstantTimeEqual(computed, challenge);
}

AuthorizeCheck CheckAuthorizeRequest(const AuthorizeParams& params, const store::Client* client) {
  // 1. Errors shown to the user: nothing here may send the browser to an unverified place.
  if (!params.client_id) return Page("The request names no client (client_id is missing).");
  if (client == nullptr) return Page("The application that sent you here is not registered.");
  if (!params.redirect_uri) return Page("The request has no redirect_uri.");
  if (!Contains(client->redirect_uris, *params.redirect_uri)) {
    return Page("The redirect_uri is not registered for this application.");
  }
  if (params.state && params.state->size() > kMaxStateBytes) {
    return Page("The state parameter is too long.");
  }

  // 2. Errors returned to the (now trusted) redirect URI.
  AuthorizeCheck check;
  check.request.client_id = client->client_id;
  check.request.redirect_uri = *params.redirect_uri;
  check.request.state = params.state;
  auto redirect = [&check](std::string_view error, std::string_view description) {
    check.outcome = AuthorizeOutcome::kRedirect;
    check.error = std::string(error);
    check.description = std::string(description);
    return check;
  };
  if (params.request) return redirect("request_not_supported", "request objects are not supported");
  if (params.request_uri) {
    return redirect("request_uri_not_supported", "request_uri is not supported");
  }
  if (params.response_mode && *params.response_mode != "query") {
    return redirect("invalid_request", "only response_mode=query is supported");
  }
  if (!params.response_type) return redirect("invalid_request", "response_type is missing");
  if (*params.response_type != "code") {
    return redirect("unsupported_response_type", "only response_type=code is supported");
  }
  if (!Contains(client->grant_types, "authorization_code")) {
    return redirect("unauthorized_client", "this client may not use the authorization code flow");
  }
  if (!params.code_challenge) {
    return redirect("invalid_request", "code_challenge is required (PKCE with S256)");
  }
  if (!params.code_challenge_method || *params.code_challenge_method != "S256") {
    return redirect("invalid_request", "code_challenge_method must be S256");
  }
  if (!IsValidCodeChallenge(*params.code_challenge)) {
    return redirect("invalid_request", "code_challenge must be 43 base64url characters");
  }
  check.request.code_challenge = *params.code_challenge;
  if (params.dpop_jkt) {
    // An RFC 7638 SHA-256 thumbprint has the shape of an S256 challenge: 43 base64url characters.
    if (!IsValidCodeChallenge(*params.dpop_jkt)) {
      return redirect("invalid_request",
                      "dpop_jkt must be a JWK SHA-256 thumbprint (43 base64url)");
    }
    check.request.dpop_jkt = *params.dpop_jkt;
  }

  if (params.scope) {
    if (params.scope->size() > kMaxScopeBytes)
      return redirect("invalid_scope", "scope is too long");
    for (std::string& s : authz::SplitScope(*params.scope)) {
      if (IsOidcScope(s)) {
        if (!Contains(check.request.oidc_scopes, s)) check.request.oidc_scopes.push_back(s);
      } else if (authz::IsValidPermission(s)) {
        check.request.permissions_requested = true;
        if (!Contains(check.request.permission_scopes, s)) {
          check.request.permission_scopes.push_back(std::move(s));
        }
      } else {
        return redirect("invalid_scope", "unknown scope value");
      }
    }
  }
  if (params.nonce) {
    if (params.nonce->size() > kMaxNonceBytes)
      return redirect("invalid_request", "nonce is too long");
    check.request.nonce = params.nonce;
  }
  if (params.prompt) {
    for (const std::string& p : authz::SplitScope(*params.prompt)) {
      if (p == "login") {
        check.request.prompt_login = true;
      } else if (p == "none") {
        check.request.prompt_none = true;
      } else if (p == "consent" || p == "select_account") {
        // Nothing to consent to (first-party sign-in) and one account per session: accepted.
      } else {
        return redirect("invalid_request", "prompt must be login or none");
      }
    }
    if (check.request.prompt_none && check.request.prompt_login) {
      return redirect("invalid_request", "prompt=none cannot be combined with other values");
    }
  }
  if (params.max_age) {
    std::int64_t v = -1;
    const std::string& s = *params.max_age;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || end != s.data() + s.size() || v < 0 || s.size() > 12 ||
        !std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      return redirect("invalid_request", "max_age must be a non-negative integer");
    }
    check.request.max_age = std::min(v, kMaxMaxAgeS);
  }
  check.outcome = AuthorizeOutcome::kOk;
  return check;
}

}  // namespace portcullis::authn
