#include "api/oauth/token_endpoint.h"

#include <algorithm>
#include <boost/json.hpp>
#include <memory>

#include "api/oauth/oauth_error.h"
#include "authz/permission.h"
#include "base/log.h"
#include "base/secret.h"
#include "http/offload.h"

namespace portcullis::api {

namespace bhttp = boost::beast::http;

namespace {

constexpr std::string_view kPublicClientId = "default";
constexpr std::size_t kMaxUsernameBytes = 256;

// FastAPI's OAuth2PasswordRequestForm sends every field, empty ones as "": treat them as absent.
const std::string* NonEmpty(const http::FormFields& form, std::string_view name) {
  const std::string* v = form.Get(name);
  return (v != nullptr && !v->empty()) ? v : nullptr;
}

http::Response OAuthError(bhttp::status status, std::string_view error,
                          std::string_view description) {
  return http::OAuthErrorResponse(status, error, description);
}

http::Response InvalidClient() {
  http::Response res =
      OAuthError(bhttp::status::unauthorized, "invalid_client", "client authentication failed");
  res.set(bhttp::field::www_authenticate, "Basic realm=\"portcullis\", charset=\"UTF-8\"");
  return res;
}

// RFC 6749 §3.3: the granted scope. No requested scope = everything the user holds; otherwise
// every requested scope must be granted by a held permission, and the token carries exactly the
// requested ones (a narrower token).
std::optional<std::vector<std::string>> GrantScopes(const std::vector<std::string>& held,
                                                    const std::vector<std::string>& requested) {
  if (requested.empty()) return held;
  std::vector<std::string> granted;
  for (const std::string& s : requested) {
    if (!authz::AnyGrants(held, s)) return std::nullopt;
    if (std::find(granted.begin(), granted.end(), s) == granted.end()) granted.push_back(s);
  }
  return granted;
}

boost::asio::awaitable<http::Response> PasswordGrant(ApiContext& ctx, http::Request& req,
                                                     const http::FormFields& form) {
  if (!ctx.config->oauth2.password_grant) {
    co_return OAuthError(bhttp::status::bad_request, "unsupported_grant_type",
                         "the password grant is disabled on this server");
  }
  // Client authentication (RFC 6749 §2.3). Only the public client exists so far: any attempt to
  // authenticate as a confidential client fails as invalid_client.
  const std::string* client_id = NonEmpty(form, "client_id");
  if (!req.Header("Authorization").empty() || NonEmpty(form, "client_secret") != nullptr ||
      (client_id != nullptr && *client_id != kPublicClientId)) {
    co_return InvalidClient();
  }

  const std::string* username = NonEmpty(form, "username");
  const std::string* password = NonEmpty(form, "password");
  if (username == nullptr) co_return InvalidRequest("missing required parameter: username");
  if (password == nullptr) co_return InvalidRequest("missing required parameter: password");
  if (username->size() > kMaxUsernameBytes) {
    co_return InvalidRequest("username is too long");
  }
  std::vector<std::string> requested;
  if (const std::string* scope = form.Get("scope"); scope != nullptr) {
    requested = authz::SplitScope(*scope);
    for (const std::string& s : requested) {
      if (!authz::IsValidPermission(s)) {
        co_return OAuthError(bhttp::status::bad_request, "invalid_scope",
                             "scope values must be permission strings like resource:action");
      }
    }
  }

  // Argon2id and the user lookup run on the bounded hash pool, never on this network thread.
  auto secret = std::make_shared<SecretString>(std::string_view(*password));
  auto name = std::make_shared<std::string>(*username);
  authn::PasswordAuthenticator* authenticator = ctx.passwords;
  auto job = [authenticator, secret, name] {
    return authenticator->Authenticate(*name, secret->reveal());
  };
  std::optional<authn::PasswordLogin> login = co_await http::RunOn(*ctx.hash_pool, job);
  if (!login.has_value()) {
    ctx.counters.login_attempts->Inc({"busy"});
    log::Warn("login.rejected_busy",
              {{"client_ip", req.client_ip}, {"request_id", req.request_id}});
    co_return HashPoolFull();
  }
  if (login->error != authn::AuthnError::kOk) {
    ctx.counters.login_attempts->Inc({std::string(authn::ToString(login->error))});
    log::Info("login.failed", {{"username", *username},
                               {"reason", authn::ToString(login->error)},
                               {"client_ip", req.client_ip},
                               {"request_id", req.request_id}});
    co_return PasswordGrantFailure(login->error);
  }

  std::optional<std::vector<std::string>> scopes = GrantScopes(login->permissions, requested);
  if (!scopes) {
    ctx.counters.login_attempts->Inc({"invalid_scope"});
    co_return OAuthError(bhttp::status::bad_request, "invalid_scope",
                         "the requested scope exceeds the permissions of the user");
  }
  token::Subject subject{login->user.id, login->user.username, login->user.roles,
                         login->user.credential_version};
  Result<token::IssuedAccessToken> issued = ctx.tokens->Issue(subject, *scopes, kPublicClientId);
  if (!issued.ok()) {
    log::Error("token.issue_failed", {{"error", issued.status().ToString()}});
    co_return PasswordGrantFailure(authn::AuthnError::kStoreUnavailable);
  }
  ctx.counters.login_attempts->Inc({"success"});
  log::Info("login.succeeded", {{"user_id", login->user.id},
                                {"client_id", kPublicClientId},
                                {"client_ip", req.client_ip},
                                {"request_id", req.request_id}});

  boost::json::object body{{"access_token", issued->access_token},
                           {"token_type", "Bearer"},
                           {"expires_in", issued->expires_in},
                           {"scope", issued->scope}};
  http::Response res = http::JsonResponse(bhttp::status::ok, body);
  // RFC 6749 §5.1: token responses must not be cached.
  res.set(bhttp::field::cache_control, "no-store");
  res.set(bhttp::field::pragma, "no-cache");
  co_return res;
}

}  // namespace

boost::asio::awaitable<http::Response> HandleToken(ApiContext& ctx, http::Request& req) {
  Result<http::FormFields> form = http::ParseForm(req);
  if (!form.ok()) co_return InvalidRequest(form.status().message());
  const std::string* grant_type = NonEmpty(*form, "grant_type");
  if (grant_type == nullptr) co_return InvalidRequest("missing required parameter: grant_type");
  if (*grant_type == "password") co_return co_await PasswordGrant(ctx, req, *form);
  co_return OAuthError(bhttp::status::bad_request, "unsupported_grant_type",
                       "supported grant types: password");
}

}  // namespace portcullis::api
