#include "api/me/session.h"

#include <boost/json.hpp>
#include <memory>

#include "api/authz.h"
#include "api/credentials.h"
#include "api/handler_common.h"
#include "api/throttle_events.h"
#include "base/log.h"
#include "crypto/sha256.h"
#include "http/offload.h"
#include "http/parse.h"

namespace portcullis::api {

namespace bhttp = boost::beast::http;

namespace {

http::Response NoContent() {
  http::Response res{bhttp::status::no_content, 11};
  res.set(bhttp::field::cache_control, "no-store");
  return res;
}

}  // namespace

boost::asio::awaitable<http::Response> HandleLogout(ApiContext& ctx, http::Request& req) {
  // An access token (Bearer, or DPoP with its proof checked by AuthenticateRequest).
  std::optional<std::string_view> bearer = ParseBearer(req.Header("Authorization"));
  if (!bearer) bearer = ParseDpopAuthorization(req.Header("Authorization"));
  std::variant<Principal, http::Response> auth = co_await AuthenticateRequest(ctx, req);
  if (auto* res = std::get_if<http::Response>(&auth)) co_return std::move(*res);
  const Principal& principal = std::get<Principal>(auth);
  if (!bearer || (principal.auth_method != "bearer" && principal.auth_method != "dpop")) {
    co_return BadRequestProblem(
        "logout needs a Bearer access token: Basic and API-key callers have "
        "no session");
  }

  std::optional<std::string> refresh_token;
  bool all = false;
  if (!req.message.body().empty()) {
    Result<boost::json::object> body = http::ParseJsonBody(req);
    if (!body.ok()) co_return BadRequestProblem(body.status().message());
    if (auto res = RejectUnknownFields(*body, {"refresh_token", "all"})) co_return std::move(*res);
    if (const boost::json::value* v = body->if_contains("refresh_token")) {
      if (!v->is_string() || v->as_string().empty()) {
        co_return BadRequestProblem("refresh_token must be a non-empty string");
      }
      refresh_token = std::string(v->as_string());
    }
    if (const boost::json::value* v = body->if_contains("all")) {
      if (!v->is_bool()) co_return BadRequestProblem("all must be a boolean");
      all = v->as_bool();
    }
  }

  jose::VerifyResult verified = ctx.tokens->Validate(*bearer);
  if (verified.error != jose::VerifyError::kOk) {
    co_return http::ProblemResponse(bhttp::status::unauthorized, "Unauthorized",
                                    "the credentials are invalid or expired");
  }
  auto claims = std::make_shared<jose::AccessTokenClaims>(std::move(verified.claims));
  auto refresh = std::make_shared<std::optional<SecretString>>();
  if (refresh_token) *refresh = SecretString(std::move(*refresh_token));
  auto audit_context = std::make_shared<audit::AuditContext>(AuditContextOf(req, principal.id));
  ApiContext* c = &ctx;
  auto job = [c, claims, refresh, all, audit_context]() -> int {
    UnixSeconds now = c->clock->Now();
    if (!c->store->AddRevokedJti(claims->jti, claims->exp).ok()) return 503;
    c->revocations->Add(claims->jti, claims->exp);
    int refresh_revoked = 0;
    int sessions_ended = 0;
    if (refresh->has_value()) {
      Result<store::RefreshToken> r =
          c->store->FindRefreshToken(crypto::Sha256Hex((*refresh)->reveal()));
      // Only the caller's own tokens; anything else is ignored without saying so.
      if (r.ok() && r->user_id == claims->sub) {
        Result<int> n = c->store->RevokeRefreshFamily(r->family_id, now);
        if (n.ok()) refresh_revoked += *n;
      }
    }
    bool is_user = claims->username.has_value();
    if (all && is_user) {
      Result<std::int64_t> version = c->store->BumpCredentialVersion(claims->sub);
      if (!version.ok()) return 503;
      c->user_states->Set(claims->sub, *version, false);
      Result<int> n = c->store->RevokeUserRefreshTokens(claims->sub, now);
      if (n.ok()) refresh_revoked += *n;
      // Every browser session ends as well (DESIGN §8); the bumped version already refuses them.
      Result<int> ended = c->store->DeleteUserBrowserSessions(claims->sub);
      if (ended.ok()) sessions_ended = *ended;
    }
    c->audit->Record("session.logout", *audit_context, claims->sub,
                     {{"all", all && is_user},
                      {"refresh_tokens_revoked", refresh_revoked},
                      {"sessions_ended", sessions_ended}});
    return 204;
  };
  std::optional<int> status = co_await http::RunOn(*ctx.db_pool, job);
  if (!status || *status != 204) co_return UnavailableProblem();
  co_return NoContent();
}

struct PasswordChangeOutcome {
  int status = 204;  // 204, 400 (wrong current password / policy), 429, 503
  std::string detail;
  std::int64_t retry_after_s = 0;
};

boost::asio::awaitable<http::Response> HandleChangePassword(ApiContext& ctx, http::Request& req) {
  std::variant<Principal, http::Response> auth = co_await AuthenticateRequest(ctx, req);
  if (auto* res = std::get_if<http::Response>(&auth)) co_return std::move(*res);
  const Principal& principal = std::get<Principal>(auth);
  if (principal.kind != Principal::Kind::kUser || !principal.username) {
    co_return http::ProblemResponse(bhttp::status::forbidden, "Forbidden",
                                    "only users have passwords");
  }
  Result<boost::json::object> body = http::ParseJsonBody(req);
  if (!body.ok()) co_return BadRequestProblem(body.status().message());
  if (auto res = RejectUnknownFields(*body, {"current_password", "new_password"})) {
    co_return std::move(*res);
  }
  const boost::json::value* current = body->if_contains("current_password");
  const boost::json::value* next = body->if_contains("new_password");
  if (current == nullptr || !current->is_string() || next == nullptr || !next->is_string()) {
    co_return BadRequestProblem("current_password and new_password are required strings");
  }
  auto current_pw = std::make_shared<SecretString>(std::string_view(current->as_string()));
  auto new_pw = std::make_shared<SecretString>(std::string_view(next->as_string()));
  password::PolicyError policy =
      password::CheckPassword(*principal.username, new_pw->reveal(), ctx.password_policy);
  if (policy != password::PolicyError::kOk) {
    co_return BadRequestProblem(password::DescribePolicyError(policy, ctx.password_policy));
  }

  auto username = std::make_shared<std::string>(*principal.username);
  auto user_id = std::make_shared<std::string>(principal.id);
  auto audit_context = std::make_shared<audit::AuditContext>(AuditContextOf(req, principal.id));
  ApiContext* c = &ctx;
  auto job = [c, username, user_id, current_pw, new_pw, audit_context] {
    PasswordChangeOutcome out;
    authn::Admission admission = c->throttle->Admit(*username, audit_context->client_ip);
    if (!admission.allowed) {
      RecordRefusal(*c, admission, *audit_context, *username);
      out.status = 429;
      out.retry_after_s = admission.retry_after_s;
      return out;
    }
    authn::PasswordLogin login = c->passwords->Authenticate(*username, current_pw->reveal());
    if (login.error == authn::AuthnError::kStoreUnavailable ||
        login.error == authn::AuthnError::kBadStoredHash) {
      c->throttle->Abandon(admission.ticket);
    } else {
      RecordThrottleOutcome(
          *c, c->throttle->Complete(admission.ticket, login.error == authn::AuthnError::kOk),
          *audit_context, *username);
    }
    if (login.error != authn::AuthnError::kOk || login.user.id != *user_id) {
      out.status = login.error == authn::AuthnError::kStoreUnavailable ? 503 : 400;
      out.detail = "the current password is not correct";
      return out;
    }
    Result<std::string> hash = c->hasher->Hash(new_pw->reveal());
    if (!hash.ok() || !c->store->UpdatePasswordHash(*user_id, *hash).ok()) {
      out.status = 503;
      return out;
    }
    Result<std::int64_t> version = c->store->BumpCredentialVersion(*user_id);
    if (!version.ok()) {
      out.status = 503;
      return out;
    }
    c->user_states->Set(*user_id, *version, false);
    Result<int> revoked = c->store->RevokeUserRefreshTokens(*user_id, c->clock->Now());
    Result<int> ended = c->store->DeleteUserBrowserSessions(*user_id);
    c->audit->Record("password.changed", *audit_context, *user_id,
                     {{"refresh_tokens_revoked", revoked.ok() ? *revoked : 0},
                      {"sessions_ended", ended.ok() ? *ended : 0}});
    return out;
  };
  std::optional<PasswordChangeOutcome> outcome = co_await http::RunOn(*ctx.hash_pool, job);
  if (!outcome || outcome->status == 503) co_return UnavailableProblem();
  if (outcome->status == 400) co_return BadRequestProblem(outcome->detail);
  if (outcome->status == 429) {
    http::Response res =
        http::ProblemResponse(bhttp::status::too_many_requests, "Too Many Requests",
                              "too many failed attempts; retry later");
    res.set(bhttp::field::retry_after,
            std::to_string(std::max<std::int64_t>(1, outcome->retry_after_s)));
    co_return res;
  }
  co_return NoContent();
}

}  // namespace portcullis::api
