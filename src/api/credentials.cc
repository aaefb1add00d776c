#include "api/credentials.h"

#include "api/auth_response.h"
#include "authz/permission.h"
#include "base/ascii.h"
#include "base/log.h"

namespace portcullis::api {

namespace {

bool IsB64TokenChar(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~' || c == '+' || c == '/' || c == '=';
}

}  // namespace

std::optional<std::string_view> ParseBearer(std::string_view authorization) {
  std::size_t space = authorization.find(' ');
  if (space == std::string_view::npos) return std::nullopt;
  if (!EqualsIgnoreAsciiCase(authorization.substr(0, space), "bearer")) return std::nullopt;
  std::string_view token = authorization.substr(space + 1);
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
  if (token.empty()) return std::nullopt;
  for (char c : token) {
    if (!IsB64TokenChar(c)) return std::nullopt;
  }
  return token;
}

std::variant<Principal, http::Response> AuthenticateRequest(ApiContext& ctx,
                                                            const http::Request& req) {
  std::string_view authorization = req.Header("Authorization");
  if (authorization.empty()) return Unauthenticated(authn::AuthnError::kNoCredentials);
  std::optional<std::string_view> token = ParseBearer(authorization);
  if (!token) {
    ctx.counters.token_verifications->Inc({"malformed_header"});
    return Unauthenticated(authn::AuthnError::kMalformedCredentials);
  }
  jose::VerifyResult verified = ctx.tokens->Validate(*token);
  if (verified.error != jose::VerifyError::kOk) {
    ctx.counters.token_verifications->Inc({std::string(jose::ToString(verified.error))});
    log::Info("authn.token_rejected", {{"reason", jose::ToString(verified.error)},
                                       {"client_ip", req.client_ip},
                                       {"request_id", req.request_id}});
    return Unauthenticated(authn::AuthnError::kTokenInvalid);
  }
  ctx.counters.token_verifications->Inc({"ok"});
  jose::AccessTokenClaims& claims = verified.claims;
  Principal p;
  p.kind = claims.username.has_value() ? Principal::Kind::kUser : Principal::Kind::kClient;
  p.id = std::move(claims.sub);
  p.username = std::move(claims.username);
  p.client_id = std::move(claims.client_id);
  p.roles = std::move(claims.roles);
  p.permissions = authz::SplitScope(claims.scope);
  p.auth_method = "bearer";
  return p;
}

}  // namespace portcullis::api
