#include "api/credentials.h"

#include "api/auth_response.h"
#include "api/authz.h"
#include "api/throttle_events.h"
#include "authn/basic_credentials.h"
#include "authz/permission.h"
#include "base/ascii.h"
#include "base/log.h"
#include "http/offload.h"

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

std::variant<Principal, http::Response> AuthenticateBearer(ApiContext& ctx,
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

namespace portcullis::api {

namespace {

namespace bhttp = boost::beast::http;

http::Response BasicUnauthenticated() {
  http::Response res = http::ProblemResponse(bhttp::status::unauthorized, "Unauthorized",
                                             "the credentials are invalid or expired");
  res.set(bhttp::field::www_authenticate, "Basic realm=\"portcullis\", charset=\"UTF-8\"");
  return res;
}

Principal FromCached(const authn::CachedBasicUser& user) {
  Principal p;
  p.kind = Principal::Kind::kUser;
  p.id = user.id;
  p.username = user.username;
  p.client_id = "default";
  p.roles = user.roles;
  p.permissions = user.permissions;
  p.auth_method = "basic";
  return p;
}

struct BasicOutcome {
  authn::AuthnError error = authn::AuthnError::kOk;
  std::int64_t retry_after_s = 0;
  authn::CachedBasicUser user;
};

}  // namespace

boost::asio::awaitable<std::variant<Principal, http::Response>> AuthenticateRequest(
    ApiContext& ctx, const http::Request& req) {
  std::string_view authorization = req.Header("Authorization");
  if (!authn::IsBasicScheme(authorization)) co_return AuthenticateBearer(ctx, req);
  if (!ctx.config->basic.enabled || ctx.basic_cache == nullptr) {
    co_return Unauthenticated(authn::AuthnError::kMalformedCredentials);
  }
  std::optional<authn::BasicCredentials> parsed =
      authn::ParseBasicCredentials(authorization, /*form_urlencoded=*/false);
  if (!parsed) co_return BasicUnauthenticated();
  auto credentials = std::make_shared<authn::BasicCredentials>(std::move(*parsed));

  // A cached verification counts only while the user's credential version is unchanged.
  if (std::optional<authn::CachedBasicUser> hit =
          ctx.basic_cache->Find(credentials->user, credentials->password.reveal())) {
    if (ctx.user_states->Check(hit->id, hit->credential_version) == jose::VerifyError::kOk) {
      co_return FromCached(*hit);
    }
    ctx.basic_cache->Erase(credentials->user, credentials->password.reveal());
  }

  auto audit_context = std::make_shared<audit::AuditContext>(AuditContextOf(req, ""));
  ApiContext* c = &ctx;
  auto job = [c, credentials, audit_context] {
    BasicOutcome out;
    authn::Admission admission = c->throttle->Admit(credentials->user, audit_context->client_ip);
    if (!admission.allowed) {
      RecordRefusal(*c, admission, *audit_context, credentials->user);
      out.error = authn::AuthnError::kLocked;
      out.retry_after_s = admission.retry_after_s;
      return out;
    }
    authn::PasswordLogin login =
        c->passwords->Authenticate(credentials->user, credentials->password.reveal());
    if (login.error == authn::AuthnError::kStoreUnavailable ||
        login.error == authn::AuthnError::kBadStoredHash) {
      c->throttle->Abandon(admission.ticket);
    } else {
      RecordThrottleOutcome(
          *c, c->throttle->Complete(admission.ticket, login.error == authn::AuthnError::kOk),
          *audit_context, credentials->user);
    }
    out.error = login.error;
    if (login.error != authn::AuthnError::kOk) {
      c->audit->Record("login.failed", *audit_context, "",
                       {{"username", credentials->user},
                        {"reason", authn::ToString(login.error)},
                        {"method", "basic"}});
      return out;
    }
    c->user_states->Set(login.user.id, login.user.credential_version, login.user.disabled);
    out.user = authn::CachedBasicUser{login.user.id, login.user.username, login.user.roles,
                                      login.permissions, login.user.credential_version};
    return out;
  };
  std::optional<BasicOutcome> outcome = co_await http::RunOn(*ctx.hash_pool, job);
  if (!outcome) {
    http::Response res =
        http::ProblemResponse(bhttp::status::service_unavailable, "Service Unavailable",
                              "the server is busy verifying passwords");
    res.set(bhttp::field::retry_after, "1");
    co_return res;
  }
  if (outcome->error == authn::AuthnError::kLocked) {
    http::Response res =
        http::ProblemResponse(bhttp::status::too_many_requests, "Too Many Requests",
                              "too many failed attempts; retry later");
    res.set(bhttp::field::retry_after,
            std::to_string(outcome->retry_after_s < 1 ? 1 : outcome->retry_after_s));
    co_return res;
  }
  if (outcome->error != authn::AuthnError::kOk) co_return BasicUnauthenticated();
  ctx.basic_cache->Put(credentials->user, credentials->password.reveal(), outcome->user);
  co_return FromCached(outcome->user);
}

}  // namespace portcullis::api
