#include "api/oauth/token_endpoint.h"

#include <algorithm>
#include <boost/json.hpp>
#include <memory>

#include "api/authz.h"
#include "api/dpop.h"
#include "api/oauth/client_auth.h"
#include "api/oauth/oauth_error.h"
#include "api/password_login.h"
#include "api/throttle_events.h"
#include "authn/authorize_request.h"
#include "authz/permission.h"
#include "base/log.h"
#include "base/secret.h"
#include "crypto/constant_time.h"
#include "crypto/sha256.h"
#include "http/offload.h"
#include "jose/algorithm.h"
#include "token/id_token.h"

namespace portcullis::api {

namespace bhttp = boost::beast::http;

namespace {

constexpr std::size_t kMaxUsernameBytes = 256;
constexpr std::size_t kMaxRefreshTokenBytes = 512;

// FastAPI's OAuth2PasswordRequestForm sends every field, empty ones as "": treat them as absent.
const std::string* NonEmpty(const http::FormFields& form, std::string_view name) {
  const std::string* v = form.Get(name);
  return (v != nullptr && !v->empty()) ? v : nullptr;
}

http::Response OAuthError(bhttp::status status, std::string_view error,
                          std::string_view description) {
  return http::OAuthErrorResponse(status, error, description);
}

http::Response InvalidScope(std::string_view description) {
  return OAuthError(bhttp::status::bad_request, "invalid_scope", description);
}

http::Response InvalidGrant(std::string_view description) {
  return OAuthError(bhttp::status::bad_request, "invalid_grant", description);
}

// Parses the optional `scope` parameter: nullopt when absent or empty; an error response when a
// value is not a permission string.
std::variant<std::optional<std::vector<std::string>>, http::Response> RequestedScope(
    const http::FormFields& form) {
  const std::string* scope = NonEmpty(form, "scope");
  if (scope == nullptr) return std::optional<std::vector<std::string>>();
  std::vector<std::string> requested = authz::SplitScope(*scope);
  for (const std::string& s : requested) {
    if (!authz::IsValidPermission(s)) {
      return InvalidScope("scope values must be permission strings like resource:action");
    }
  }
  if (requested.empty()) return std::optional<std::vector<std::string>>();
  return std::optional<std::vector<std::string>>(std::move(requested));
}

// RFC 9449 §5: a token bound to a DPoP key is of type "DPoP".
std::string_view TokenType(std::string_view dpop_jkt) {
  return dpop_jkt.empty() ? "Bearer" : "DPoP";
}

// The refresh-token binding of a new family (RFC 9449 §5): a public client's family is bound to
// its DPoP key; a confidential client's is not (its authentication already constrains it).
std::optional<std::string> FamilyBinding(const ResolvedClient& client, std::string_view dpop_jkt) {
  if (client.confidential || dpop_jkt.empty()) return std::nullopt;
  return std::string(dpop_jkt);
}

http::Response TokenResponse(const token::IssuedAccessToken& access,
                             const std::string* refresh_token, std::string_view dpop_jkt) {
  boost::json::object body{{"access_token", access.access_token},
                           {"token_type", TokenType(dpop_jkt)},
                           {"expires_in", access.expires_in}};
  if (refresh_token != nullptr) body["refresh_token"] = *refresh_token;
  body["scope"] = access.scope;
  http::Response res = http::JsonResponse(bhttp::status::ok, body);
  // RFC 6749 §5.1: token responses must not be cached.
  res.set(bhttp::field::cache_control, "no-store");
  res.set(bhttp::field::pragma, "no-cache");
  return res;
}

// mfa.required_roles (DESIGN §8): a user holding one of them without active TOTP gets a token
// that carries only the permission to enrol (kMfaEnrollScope) until they enrol.
constexpr std::string_view kMfaEnrollScope = "mfa:enroll";

std::optional<std::vector<std::string>> MfaGate(ApiContext& ctx, const store::User& user,
                                                std::optional<std::vector<std::string>> scopes) {
  if (!scopes || ctx.config->mfa.required_roles.empty()) return scopes;
  bool required = false;
  for (const std::string& role : user.roles) {
    const auto& req = ctx.config->mfa.required_roles;
    if (std::find(req.begin(), req.end(), role) != req.end()) required = true;
  }
  if (!required) return scopes;
  Result<bool> enrolled = ctx.mfa->HasTotp(user.id);
  if (enrolled.ok() && *enrolled) return scopes;
  std::vector<std::string> gated;
  for (std::string& s : *scopes) {
    if (authn::IsOidcScope(s)) gated.push_back(std::move(s));
  }
  gated.emplace_back(kMfaEnrollScope);
  return gated;
}

// ---------------------------------------------------------------- password grant

struct PasswordGrantOutcome {
  authn::PasswordLogin login;
  std::int64_t retry_after_s = 0;                  // refused by the throttle (no hash computed)
  std::optional<std::vector<std::string>> scopes;  // nullopt: invalid_scope
  std::string refresh_token;                       // empty when issuing failed
  bool store_failed = false;
};

boost::asio::awaitable<http::Response> PasswordGrant(ApiContext& ctx, http::Request& req,
                                                     const http::FormFields& form,
                                                     const ResolvedClient& client,
                                                     std::string dpop_jkt) {
  if (!ctx.config->oauth2.password_grant) {
    co_return OAuthError(bhttp::status::bad_request, "unsupported_grant_type",
                         "the password grant is disabled on this server");
  }
  const std::string* username = NonEmpty(form, "username");
  const std::string* password = NonEmpty(form, "password");
  if (username == nullptr) co_return InvalidRequest("missing required parameter: username");
  if (password == nullptr) co_return InvalidRequest("missing required parameter: password");
  if (username->size() > kMaxUsernameBytes) co_return InvalidRequest("username is too long");
  auto scope = RequestedScope(form);
  if (auto* res = std::get_if<http::Response>(&scope)) co_return std::move(*res);
  auto requested = std::get<std::optional<std::vector<std::string>>>(std::move(scope));

  // Argon2id, the user lookup, the refresh token and the audit record run on the bounded hash
  // pool, never on this network thread.
  auto secret = std::make_shared<SecretString>(std::string_view(*password));
  const std::string* totp_field = form.Get("totp");
  auto totp = std::make_shared<SecretString>(totp_field != nullptr ? std::string_view(*totp_field)
                                                                   : std::string_view());
  auto name = std::make_shared<std::string>(*username);
  auto wanted = std::make_shared<std::optional<std::vector<std::string>>>(std::move(requested));
  auto audit_context = std::make_shared<audit::AuditContext>(AuditContextOf(req, ""));
  std::string client_id = client.client_id;
  std::optional<std::string> binding = FamilyBinding(client, dpop_jkt);
  ApiContext* c = &ctx;
  auto job = [c, secret, totp, name, wanted, audit_context, client_id, binding] {
    PasswordGrantOutcome out;
    // A TOTP user must add the current code as form field `totp` (DESIGN §8); a missing or wrong
    // code counts as a failed attempt.
    auto second_factor = [c, totp, audit_context](const store::User& user) {
      authn::AuthnError e = c->mfa->Verify(user.id, totp->reveal());
      if (e == authn::AuthnError::kBadOtp) {
        audit::AuditContext actor = *audit_context;
        actor.actor = user.id;
        c->audit->Record("mfa.failed", actor, user.id, {{"method", "password_grant"}});
      }
      return e;
    };
    PasswordCheck check =
        CheckPassword(*c, *name, secret->reveal(), *audit_context, client_id, second_factor);
    out.login = std::move(check.login);
    out.retry_after_s = check.retry_after_s;
    if (out.login.error != authn::AuthnError::kOk) return out;
    out.scopes = MfaGate(*c, out.login.user, authz::GrantScopes(out.login.permissions, *wanted));
    if (!out.scopes) return out;
    Result<token::IssuedRefresh> refresh = c->refresh->IssueFamily(
        out.login.user.id, client_id, authz::JoinScope(*out.scopes), {}, binding);
    if (!refresh.ok()) {
      log::Error("token.refresh_issue_failed", {{"error", refresh.status().ToString()}});
      out.store_failed = true;
      return out;
    }
    out.refresh_token = refresh->refresh_token;
    audit::AuditContext actor = *audit_context;
    actor.actor = out.login.user.id;
    c->audit->Record("login.succeeded", actor, out.login.user.id,
                     {{"client_id", client_id}, {"family_id", refresh->record.family_id}});
    return out;
  };
  std::optional<PasswordGrantOutcome> outcome = co_await http::RunOn(*ctx.hash_pool, job);
  if (!outcome.has_value()) {
    ctx.counters.login_attempts->Inc({"busy"});
    log::Warn("login.rejected_busy",
              {{"client_ip", req.client_ip}, {"request_id", req.request_id}});
    co_return HashPoolFull();
  }
  const authn::PasswordLogin& login = outcome->login;
  if (login.error != authn::AuthnError::kOk) {
    ctx.counters.login_attempts->Inc({std::string(authn::ToString(login.error))});
    co_return PasswordGrantFailure(login.error, outcome->retry_after_s);
  }
  if (!outcome->scopes) {
    ctx.counters.login_attempts->Inc({"invalid_scope"});
    co_return InvalidScope("the requested scope exceeds the permissions of the user");
  }
  if (outcome->store_failed) co_return PasswordGrantFailure(authn::AuthnError::kStoreUnavailable);

  token::Subject subject{login.user.id, login.user.username, login.user.roles,
                         login.user.credential_version};
  Result<token::IssuedAccessToken> issued =
      ctx.tokens->Issue(subject, *outcome->scopes, client.client_id, {}, dpop_jkt);
  if (!issued.ok()) {
    log::Error("token.issue_failed", {{"error", issued.status().ToString()}});
    co_return PasswordGrantFailure(authn::AuthnError::kStoreUnavailable);
  }
  ctx.counters.login_attempts->Inc({"success"});
  co_return TokenResponse(*issued, &outcome->refresh_token, dpop_jkt);
}

// ---------------------------------------------------------------- refresh_token grant

struct RefreshOutcome {
  token::RotateResult rotation;
  std::optional<store::User> user;
  std::vector<std::string> permissions;
  bool user_unusable = false;  // deleted or disabled: the family was revoked
  bool store_failed = false;
};

boost::asio::awaitable<http::Response> RefreshGrant(ApiContext& ctx, http::Request& req,
                                                    const http::FormFields& form,
                                                    const ResolvedClient& client,
                                                    std::string dpop_jkt) {
  const std::string* presented = NonEmpty(form, "refresh_token");
  if (presented == nullptr) co_return InvalidRequest("missing required parameter: refresh_token");
  if (presented->size() > kMaxRefreshTokenBytes) co_return InvalidGrant("invalid refresh token");
  auto scope = RequestedScope(form);
  if (auto* res = std::get_if<http::Response>(&scope)) co_return std::move(*res);
  auto requested = std::make_shared<std::optional<std::vector<std::string>>>(
      std::get<std::optional<std::vector<std::string>>>(std::move(scope)));

  auto token = std::make_shared<SecretString>(std::string_view(*presented));
  auto audit_context = std::make_shared<audit::AuditContext>(AuditContextOf(req, client.client_id));
  std::string client_id = client.client_id;
  ApiContext* c = &ctx;
  auto job = [c, token, requested, audit_context, client_id, dpop_jkt] {
    RefreshOutcome out;
    // The user is read before anything is written: a token of a deleted or disabled user ends
    // its family instead of rotating. The "token.refreshed" row is written in the rotation's
    // own transaction (group-committed with the concurrent ones).
    store::AuditEvent refreshed;
    token::RotateHooks hooks;
    hooks.audit = &refreshed;
    hooks.vet = [&](const store::RefreshToken& record) {
      // RFC 9449 §5: a bound family rotates only with a proof by its key; refused before
      // anything is written, so the token stays usable by its holder.
      if (record.dpop_jkt &&
          (dpop_jkt.empty() || !crypto::ConstantTimeEqual(*record.dpop_jkt, dpop_jkt))) {
        return token::RefreshError::kDpopKeyMismatch;
      }
      Result<store::User> user = c->store->FindUserById(record.user_id);
      if (!user.ok() && user.status().code() != StatusCode::kNotFound) {
        out.store_failed = true;
        return token::RefreshError::kStoreUnavailable;
      }
      if (!user.ok() || user->disabled) {
        out.user_unusable = true;
        return token::RefreshError::kRevoked;
      }
      Result<std::vector<std::string>> permissions = c->store->PermissionsOfUser(user->id);
      if (!permissions.ok()) {
        out.store_failed = true;
        return token::RefreshError::kStoreUnavailable;
      }
      out.permissions = std::move(*permissions);
      c->user_states->Set(user->id, user->credential_version, user->disabled);
      refreshed = c->audit->Event("token.refreshed", *audit_context, user->id,
                                  {{"family_id", record.family_id}, {"client_id", client_id}});
      out.user = std::move(*user);
      return token::RefreshError::kOk;
    };
    out.rotation = c->refresh->Rotate(token->reveal(), client_id, *requested, hooks);
    const token::RotateResult& r = out.rotation;
    if (r.error == token::RefreshError::kReuseDetected) {
      c->audit->Record("token.refresh_reuse_detected", *audit_context, r.record.user_id,
                       {{"family_id", r.family_id}, {"client_id", client_id}});
      return out;
    }
    if (out.user_unusable) {
      (void)c->store->RevokeRefreshFamily(r.family_id, c->clock->Now());
      return out;
    }
    if (r.error != token::RefreshError::kOk) return out;
    if (r.audit_written) {
      c->audit->Logged(refreshed, Status::Ok());
    } else {  // a grace replacement: the row on its own
      c->audit->Record("token.refreshed", *audit_context, out.user->id,
                       {{"family_id", r.family_id}, {"client_id", client_id}});
    }
    return out;
  };
  std::optional<RefreshOutcome> outcome = co_await http::RunOn(*ctx.db_pool, job);
  if (!outcome.has_value()) co_return HashPoolFull();
  const token::RotateResult& r = outcome->rotation;
  if (outcome->store_failed) co_return PasswordGrantFailure(authn::AuthnError::kStoreUnavailable);
  switch (r.error) {
    case token::RefreshError::kOk:
      break;
    case token::RefreshError::kScopeExceeded:
      co_return InvalidScope("the requested scope exceeds the scope of the refresh token");
    case token::RefreshError::kStoreUnavailable:
      co_return PasswordGrantFailure(authn::AuthnError::kStoreUnavailable);
    case token::RefreshError::kDpopKeyMismatch:
      log::Info("token.refresh_rejected", {{"reason", token::ToString(r.error)},
                                           {"client_ip", req.client_ip},
                                           {"request_id", req.request_id}});
      co_return OAuthError(bhttp::status::bad_request, "invalid_dpop_proof",
                           "the refresh token is bound to another DPoP key");
    case token::RefreshError::kUnknown:
    case token::RefreshError::kExpired:
    case token::RefreshError::kRevoked:
    case token::RefreshError::kReuseDetected:
    case token::RefreshError::kClientMismatch:
      log::Info("token.refresh_rejected", {{"reason", token::ToString(r.error)},
                                           {"client_ip", req.client_ip},
                                           {"request_id", req.request_id}});
      co_return InvalidGrant("the refresh token is invalid, expired or revoked");
  }
  if (outcome->store_failed) co_return PasswordGrantFailure(authn::AuthnError::kStoreUnavailable);
  if (outcome->user_unusable || !outcome->user) {
    co_return InvalidGrant("the refresh token is invalid, expired or revoked");
  }
  // The new access token carries the refresh token's scope, minus anything the user no longer
  // holds (a removed role takes effect at the next refresh at the latest).
  std::vector<std::string> scopes;
  for (const std::string& s : authz::SplitScope(r.record.scope)) {
    // OpenID scopes (from the code flow) stay; permissions only while the user holds them.
    if (authn::IsOidcScope(s) || authz::AnyGrants(outcome->permissions, s)) scopes.push_back(s);
  }
  const store::User& user = *outcome->user;
  token::Subject subject{user.id, user.username, user.roles, user.credential_version};
  Result<token::IssuedAccessToken> issued =
      ctx.tokens->Issue(subject, scopes, client.client_id, {}, dpop_jkt);
  if (!issued.ok()) co_return PasswordGrantFailure(authn::AuthnError::kStoreUnavailable);
  co_return TokenResponse(*issued, &r.refresh_token, dpop_jkt);
}

// ---------------------------------------------------------------- authorization_code grant

constexpr std::size_t kMaxCodeBytes = 256;
// The failure of a code bound to another DPoP key (or redeemed without a proof).
constexpr std::string_view kDpopCodeMismatch = "dpop_key_mismatch";

struct CodeOutcome {
  std::string failure;  // "" = ok; else the reason for the log (the client sees invalid_grant)
  bool store_failed = false;
  bool invalid_scope = false;
  store::AuthorizationCode code;
  store::User user;
  std::vector<std::string> scopes;  // OpenID scopes, then the granted permissions
  std::string refresh_token;        // when the client may refresh
  std::string id_token_alg = "RS256";
};

boost::asio::awaitable<http::Response> AuthorizationCodeGrant(ApiContext& ctx, http::Request& req,
                                                              const http::FormFields& form,
                                                              const ResolvedClient& client,
                                                              std::string dpop_jkt) {
  const std::string* code_param = NonEmpty(form, "code");
  const std::string* redirect_uri = NonEmpty(form, "redirect_uri");
  const std::string* verifier = NonEmpty(form, "code_verifier");
  if (code_param == nullptr) co_return InvalidRequest("missing required parameter: code");
  if (redirect_uri == nullptr) co_return InvalidRequest("missing required parameter: redirect_uri");
  if (verifier == nullptr) co_return InvalidRequest("missing required parameter: code_verifier");
  if (code_param->size() > kMaxCodeBytes) co_return InvalidGrant("invalid authorization code");

  auto presented = std::make_shared<SecretString>(std::string_view(*code_param));
  auto redirect = std::make_shared<std::string>(*redirect_uri);
  auto code_verifier = std::make_shared<std::string>(*verifier);
  auto audit_context = std::make_shared<audit::AuditContext>(AuditContextOf(req, client.client_id));
  auto resolved = std::make_shared<ResolvedClient>(client);
  // The ids of what this redemption will issue are chosen first and written with the redemption
  // itself, so that a replay of the code finds and revokes them (DESIGN §8).
  const bool refreshable = ClientAllowsGrant(client, "refresh_token");
  auto issue = std::make_shared<store::CodeIssue>();
  issue->access_jti = ctx.tokens->NewJti();
  issue->access_expires_at =
      ctx.clock->Now() + ctx.tokens->policy().access_ttl_s + ctx.tokens->policy().leeway_s;
  if (refreshable) issue->refresh_family_id = ctx.refresh->NewFamilyId();
  std::optional<std::string> binding = FamilyBinding(client, dpop_jkt);
  ApiContext* c = &ctx;
  auto job = [c, presented, redirect, code_verifier, audit_context, resolved, issue, binding,
              dpop_jkt] {
    CodeOutcome out;
    const UnixSeconds now = c->clock->Now();
    Result<store::ConsumedCode> consumed =
        c->store->ConsumeAuthorizationCode(crypto::Sha256Hex(presented->reveal()), *issue, now);
    if (!consumed.ok()) {
      if (consumed.status().code() == StatusCode::kNotFound) {
        out.failure = "unknown_code";
      } else {
        out.store_failed = true;
      }
      return out;
    }
    const store::AuthorizationCode& code = consumed->code;
    if (!consumed->first_use) {
      // A replayed code: everything issued from it is revoked (RFC 6749 §4.1.2, DESIGN §8).
      if (code.access_jti && code.access_expires_at) {
        (void)c->store->AddRevokedJti(*code.access_jti, *code.access_expires_at);
        jose::AccessTokenClaims claims;
        claims.jti = *code.access_jti;
        claims.exp = *code.access_expires_at;
        c->tokens->Revoke(claims);
      }
      if (code.refresh_family_id) (void)c->store->RevokeRefreshFamily(*code.refresh_family_id, now);
      audit::AuditContext actor = *audit_context;
      c->audit->Record(
          "code.reuse_detected", actor, code.user_id,
          {{"client_id", code.client_id}, {"family_id", code.refresh_family_id.value_or("")}});
      out.failure = "code_reused";
      return out;
    }
    if (now >= code.expires_at) {
      out.failure = "code_expired";
    } else if (code.client_id != resolved->client_id) {
      out.failure = "client_mismatch";
    } else if (code.redirect_uri != *redirect) {
      out.failure = "redirect_uri_mismatch";
    } else if (!authn::VerifyPkceS256(*code_verifier, code.code_challenge)) {
      out.failure = "pkce_mismatch";
    } else if (code.dpop_jkt &&
               (dpop_jkt.empty() || !crypto::ConstantTimeEqual(*code.dpop_jkt, dpop_jkt))) {
      // RFC 9449 §10: a code requested with dpop_jkt is redeemed only with a proof by that key.
      out.failure = std::string(kDpopCodeMismatch);
    }
    if (!out.failure.empty()) return out;
    Result<store::User> user = c->store->FindUserById(code.user_id);
    if (!user.ok() || user->disabled) {
      if (!user.ok() && user.status().code() != StatusCode::kNotFound) {
        out.store_failed = true;
      } else {
        out.failure = "user_unusable";
      }
      return out;
    }
    Result<std::vector<std::string>> permissions = c->store->PermissionsOfUser(user->id);
    Result<store::Client> registered = c->store->FindClient(code.client_id);
    if (!permissions.ok() || !registered.ok()) {
      out.store_failed = true;
      return out;
    }
    out.id_token_alg = registered->id_token_signed_response_alg;
    std::vector<std::string> oidc, wanted;
    for (std::string& s : authz::SplitScope(code.scope)) {
      (authn::IsOidcScope(s) ? oidc : wanted).push_back(std::move(s));
    }
    std::optional<std::vector<std::string>> granted = MfaGate(
        *c, *user,
        authz::GrantScopes(*permissions, wanted.empty()
                                             ? std::nullopt
                                             : std::optional<std::vector<std::string>>(wanted)));
    if (!granted) {
      out.invalid_scope = true;
      return out;
    }
    out.scopes = std::move(oidc);
    out.scopes.insert(out.scopes.end(), granted->begin(), granted->end());
    c->user_states->Set(user->id, user->credential_version, user->disabled);
    if (issue->refresh_family_id) {
      Result<token::IssuedRefresh> refresh =
          c->refresh->IssueFamily(user->id, code.client_id, authz::JoinScope(out.scopes),
                                  *issue->refresh_family_id, binding);
      if (!refresh.ok()) {
        out.store_failed = true;
        return out;
      }
      out.refresh_token = std::move(refresh->refresh_token);
    }
    out.code = code;
    out.user = std::move(*user);
    return out;
  };
  std::optional<CodeOutcome> outcome = co_await http::RunOn(*ctx.db_pool, job);
  if (!outcome) co_return HashPoolFull();
  if (outcome->store_failed) co_return PasswordGrantFailure(authn::AuthnError::kStoreUnavailable);
  if (!outcome->failure.empty()) {
    log::Info("token.code_rejected", {{"reason", outcome->failure},
                                      {"client_id", client.client_id},
                                      {"client_ip", req.client_ip},
                                      {"request_id", req.request_id}});
    if (outcome->failure == kDpopCodeMismatch) {
      co_return OAuthError(bhttp::status::bad_request, "invalid_dpop_proof",
                           "the authorization code is bound to another DPoP key");
    }
    co_return InvalidGrant("the authorization code is invalid, expired or already used");
  }
  if (outcome->invalid_scope) {
    co_return InvalidScope("the requested scope exceeds the permissions of the user");
  }
  const store::User& user = outcome->user;
  token::Subject subject{user.id, user.username, user.roles, user.credential_version};
  Result<token::IssuedAccessToken> issued =
      ctx.tokens->Issue(subject, outcome->scopes, client.client_id, issue->access_jti, dpop_jkt);
  if (!issued.ok()) co_return PasswordGrantFailure(authn::AuthnError::kStoreUnavailable);

  boost::json::object body{{"access_token", issued->access_token},
                           {"token_type", TokenType(dpop_jkt)},
                           {"expires_in", issued->expires_in}};
  if (!outcome->refresh_token.empty()) body["refresh_token"] = outcome->refresh_token;
  body["scope"] = issued->scope;
  const auto has = [&](std::string_view s) {
    return std::find(outcome->scopes.begin(), outcome->scopes.end(), s) != outcome->scopes.end();
  };
  if (has(authn::kScopeOpenId)) {
    const store::AuthorizationCode& code = outcome->code;
    token::IdTokenClaims claims;
    claims.iss = ctx.config->tokens.issuer;
    claims.sub = user.id;
    claims.aud = client.client_id;
    claims.iat = ctx.clock->Now();
    claims.exp = claims.iat + ctx.tokens->policy().access_ttl_s;
    claims.auth_time = code.auth_time;
    claims.nonce = code.nonce;
    claims.azp = client.client_id;
    claims.amr = authz::SplitScope(code.amr);
    if (has(authn::kScopeProfile)) claims.preferred_username = user.username;
    if (has(authn::kScopeEmail)) claims.email = user.email;
    claims.sid = code.session_id;
    std::optional<jose::Algorithm> alg = jose::ParseAlgorithm(outcome->id_token_alg);
    Result<std::string> id_token =
        ctx.keys->SignIdToken(alg.value_or(jose::Algorithm::kRs256), token::IdTokenPayload(claims));
    if (!id_token.ok()) {
      log::Error("token.id_token_failed", {{"error", id_token.status().ToString()}});
      co_return PasswordGrantFailure(authn::AuthnError::kStoreUnavailable);
    }
    body["id_token"] = *id_token;
  }
  http::Response res = http::JsonResponse(bhttp::status::ok, body);
  res.set(bhttp::field::cache_control, "no-store");
  res.set(bhttp::field::pragma, "no-cache");
  co_return res;
}

// ---------------------------------------------------------------- client_credentials grant

boost::asio::awaitable<http::Response> ClientCredentialsGrant(ApiContext& ctx, http::Request& req,
                                                              const http::FormFields& form,
                                                              const ResolvedClient& client,
                                                              std::string dpop_jkt) {
  if (!client.confidential) co_return InvalidClient();
  auto scope = RequestedScope(form);
  if (auto* res = std::get_if<http::Response>(&scope)) co_return std::move(*res);
  std::optional<std::vector<std::string>> scopes =
      authz::GrantScopes(client.scopes, std::get<std::optional<std::vector<std::string>>>(scope));
  if (!scopes) co_return InvalidScope("the requested scope exceeds the scopes of the client");
  // RFC 6749 §4.4.3: no refresh token for client_credentials. sub = client_id, no username.
  token::Subject subject{client.client_id, std::nullopt, {}, 0};
  Result<token::IssuedAccessToken> issued =
      ctx.tokens->Issue(subject, *scopes, client.client_id, {}, dpop_jkt);
  if (!issued.ok()) co_return PasswordGrantFailure(authn::AuthnError::kStoreUnavailable);
  log::Info("token.client_credentials", {{"client_id", client.client_id},
                                         {"client_ip", req.client_ip},
                                         {"request_id", req.request_id}});
  co_return TokenResponse(*issued, nullptr, dpop_jkt);
}

}  // namespace

boost::asio::awaitable<http::Response> HandleToken(ApiContext& ctx, http::Request& req) {
  Result<http::FormFields> form = http::ParseForm(req);
  if (!form.ok()) co_return InvalidRequest(form.status().message());
  const std::string* grant_type = NonEmpty(*form, "grant_type");
  if (grant_type == nullptr) co_return InvalidRequest("missing required parameter: grant_type");
  const std::string grant = *grant_type;
  if (grant != "password" && grant != "refresh_token" && grant != "client_credentials" &&
      grant != "authorization_code") {
    co_return OAuthError(bhttp::status::bad_request, "unsupported_grant_type",
                         "supported grant types: authorization_code, password, refresh_token, "
                         "client_credentials");
  }
  std::variant<ResolvedClient, http::Response> resolved =
      co_await ResolveClient(ctx, req, *form, /*allow_public=*/grant != "client_credentials");
  if (auto* res = std::get_if<http::Response>(&resolved)) co_return std::move(*res);
  const ResolvedClient& client = std::get<ResolvedClient>(resolved);
  if (!ClientAllowsGrant(client, grant)) {
    co_return OAuthError(bhttp::status::bad_request, "unauthorized_client",
                         "this client may not use grant type " + grant);
  }
  // DPoP (DESIGN §9): a valid proof binds what this request issues to the proof's key; checked
  // before any password is hashed. A client registered with require_dpop must send one.
  DpopCheck dpop = co_await CheckDpop(ctx, req, RequestTarget(req), {}, /*record=*/false);
  if ((dpop.present && (dpop.error != jose::DpopError::kOk || dpop.unavailable)) ||
      (!dpop.present && client.require_dpop)) {
    http::Response res = DpopTokenEndpointError(ctx, dpop);
    AllowBrowserOrigin(req, client, res);
    co_return res;
  }
  http::Response res;
  if (grant == "password") {
    res = co_await PasswordGrant(ctx, req, *form, client, dpop.jkt);
  } else if (grant == "refresh_token") {
    res = co_await RefreshGrant(ctx, req, *form, client, dpop.jkt);
  } else if (grant == "authorization_code") {
    res = co_await AuthorizationCodeGrant(ctx, req, *form, client, dpop.jkt);
  } else {
    res = co_await ClientCredentialsGrant(ctx, req, *form, client, dpop.jkt);
  }
  if (dpop.present && res.result() == bhttp::status::ok) {
    // The proof is recorded against replay only now (see RecordDpopProof); a replay found here
    // (the same proof in two concurrent requests) gets nothing, its tokens are dropped.
    co_await RecordDpopProof(ctx, req, dpop);
    if (dpop.error != jose::DpopError::kOk || dpop.unavailable) {
      res = DpopTokenEndpointError(ctx, dpop);
    } else {
      ctx.counters.dpop_proofs->IncOne("ok");
    }
  }
  // The grants a browser app (SPA) uses: its registered origins may read the answer.
  if (grant == "refresh_token" || grant == "authorization_code")
    AllowBrowserOrigin(req, client, res);
  AddDpopNonce(ctx, res);
  co_return res;
}

}  // namespace portcullis::api
