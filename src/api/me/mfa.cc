#include "api/me/mfa.h"

#include <boost/json.hpp>
#include <memory>

#include "api/authz.h"
#include "api/credentials.h"
#include "api/handler_common.h"
#include "api/throttle_events.h"
#include "http/offload.h"
#include "http/parse.h"

namespace portcullis::api {

namespace bhttp = boost::beast::http;

namespace {

constexpr std::size_t kMaxCodeBytes = 64;

// The authenticated user (not a client), or the response to send.
boost::asio::awaitable<std::variant<Principal, http::Response>> User(ApiContext& ctx,
                                                                     http::Request& req) {
  auto principal = co_await AuthenticateRequest(ctx, req);
  if (auto* p = std::get_if<Principal>(&principal)) {
    if (p->kind != Principal::Kind::kUser || !p->username) {
      co_return http::ProblemResponse(bhttp::status::forbidden, "Forbidden",
                                      "only users can enrol a second factor");
    }
  }
  co_return principal;
}

// {"code": "..."} from the body, or a 400.
std::variant<std::string, http::Response> CodeOf(const http::Request& req) {
  Result<boost::json::object> body = http::ParseJsonBody(req);
  if (!body.ok()) return BadRequestProblem(body.status().message());
  if (auto res = RejectUnknownFields(*body, {"code"})) return std::move(*res);
  const boost::json::value* code = body->if_contains("code");
  if (code == nullptr || !code->is_string() || code->as_string().empty()) {
    return BadRequestProblem("code is required");
  }
  if (code->as_string().size() > kMaxCodeBytes) return BadRequestProblem("code is too long");
  return std::string(code->as_string());
}

struct CodeOutcome {
  Status status;
  std::vector<std::string> recovery_codes;
  std::int64_t retry_after_s = 0;
};

http::Response Throttled(std::int64_t retry_after_s) {
  http::Response res = http::ProblemResponse(bhttp::status::too_many_requests, "Too Many Requests",
                                             "too many failed attempts; retry later");
  res.set(bhttp::field::retry_after, std::to_string(retry_after_s < 1 ? 1 : retry_after_s));
  return res;
}

// Runs `check` (which verifies a code) under the user's brute-force throttle and audits a failure.
template <typename Check>
CodeOutcome Throttled(ApiContext& c, const std::string& username,
                      const audit::AuditContext& audit_context, const std::string& user_id,
                      std::string_view action, Check check) {
  CodeOutcome out;
  authn::Admission admission = c.throttle->Admit(username, audit_context.client_ip);
  if (!admission.allowed) {
    RecordRefusal(c, admission, audit_context, username);
    out.retry_after_s = admission.retry_after_s;
    out.status = ResourceExhaustedError("throttled");
    return out;
  }
  out = check();
  const StatusCode code = out.status.code();
  if (code == StatusCode::kUnavailable || code == StatusCode::kInternal) {
    c.throttle->Abandon(admission.ticket);
    return out;
  }
  const bool wrong = code == StatusCode::kInvalidArgument;
  RecordThrottleOutcome(c, c.throttle->Complete(admission.ticket, !wrong), audit_context, username);
  if (wrong) c.audit->Record("mfa.failed", audit_context, user_id, {{"action", action}});
  return out;
}

}  // namespace

boost::asio::awaitable<http::Response> HandleStartTotp(ApiContext& ctx, http::Request& req) {
  auto principal = co_await User(ctx, req);
  if (auto* res = std::get_if<http::Response>(&principal)) co_return std::move(*res);
  const Principal& p = std::get<Principal>(principal);
  auto user_id = std::make_shared<std::string>(p.id);
  ApiContext* c = &ctx;
  auto job = [c, user_id]() -> Result<authn::TotpEnrollmentStart> {
    Result<store::User> user = c->store->FindUserById(*user_id);
    if (!user.ok()) return user.status();
    return c->mfa->Begin(*user);
  };
  std::optional<Result<authn::TotpEnrollmentStart>> started =
      co_await http::RunOn(*ctx.db_pool, job);
  if (!started) co_return UnavailableProblem();
  if (!started->ok()) {
    if (started->status().code() == StatusCode::kAlreadyExists) {
      co_return http::ProblemResponse(bhttp::status::conflict, "Conflict",
                                      "TOTP is already active; remove it first");
    }
    co_return ProblemFromStatus(started->status());
  }
  http::Response res = http::JsonResponse(
      bhttp::status::created, boost::json::object{{"secret", (*started)->secret},
                                                  {"otpauth_uri", (*started)->otpauth_uri},
                                                  {"qr_svg", (*started)->qr_svg}});
  res.set(bhttp::field::cache_control, "no-store");
  co_return res;
}

boost::asio::awaitable<http::Response> HandleConfirmTotp(ApiContext& ctx, http::Request& req) {
  auto principal = co_await User(ctx, req);
  if (auto* res = std::get_if<http::Response>(&principal)) co_return std::move(*res);
  const Principal& p = std::get<Principal>(principal);
  auto parsed = CodeOf(req);
  if (auto* res = std::get_if<http::Response>(&parsed)) co_return std::move(*res);
  auto code = std::make_shared<std::string>(std::get<std::string>(std::move(parsed)));
  auto user_id = std::make_shared<std::string>(p.id);
  auto username = std::make_shared<std::string>(*p.username);
  auto audit_context = std::make_shared<audit::AuditContext>(AuditContextOf(req, p.id));
  ApiContext* c = &ctx;
  auto job = [c, code, user_id, username, audit_context] {
    CodeOutcome out = Throttled(*c, *username, *audit_context, *user_id, "confirm", [&] {
      CodeOutcome o;
      Result<std::vector<std::string>> codes = c->mfa->Confirm(*user_id, *code);
      if (codes.ok()) {
        o.recovery_codes = std::move(*codes);
      } else {
        o.status = codes.status();
      }
      return o;
    });
    if (out.status.ok()) c->audit->Record("mfa.enabled", *audit_context, *user_id, {});
    return out;
  };
  std::optional<CodeOutcome> outcome = co_await http::RunOn(*ctx.db_pool, job);
  if (!outcome) co_return UnavailableProblem();
  switch (outcome->status.code()) {
    case StatusCode::kOk:
      break;
    case StatusCode::kResourceExhausted:
      co_return Throttled(outcome->retry_after_s);
    case StatusCode::kInvalidArgument:
      co_return BadRequestProblem("the code is not valid");
    case StatusCode::kNotFound:
      co_return http::ProblemResponse(
          bhttp::status::conflict, "Conflict",
          "no TOTP enrolment is pending; start with POST /v1/me/mfa/totp");
    case StatusCode::kAlreadyExists:
      co_return http::ProblemResponse(bhttp::status::conflict, "Conflict",
                                      "TOTP is already active");
    default:
      co_return UnavailableProblem();
  }
  http::Response res = http::JsonResponse(
      bhttp::status::ok,
      boost::json::object{{"recovery_codes", ToJsonArray(outcome->recovery_codes)}});
  res.set(bhttp::field::cache_control, "no-store");
  co_return res;
}

boost::asio::awaitable<http::Response> HandleDeleteTotp(ApiContext& ctx, http::Request& req) {
  auto principal = co_await User(ctx, req);
  if (auto* res = std::get_if<http::Response>(&principal)) co_return std::move(*res);
  const Principal& p = std::get<Principal>(principal);
  auto parsed = CodeOf(req);
  if (auto* res = std::get_if<http::Response>(&parsed)) co_return std::move(*res);
  auto code = std::make_shared<std::string>(std::get<std::string>(std::move(parsed)));
  auto user_id = std::make_shared<std::string>(p.id);
  auto username = std::make_shared<std::string>(*p.username);
  auto audit_context = std::make_shared<audit::AuditContext>(AuditContextOf(req, p.id));
  ApiContext* c = &ctx;
  auto job = [c, code, user_id, username, audit_context] {
    CodeOutcome out = Throttled(*c, *username, *audit_context, *user_id, "remove", [&] {
      CodeOutcome o;
      o.status = c->mfa->Remove(*user_id, *code);
      return o;
    });
    if (out.status.ok()) c->audit->Record("mfa.disabled", *audit_context, *user_id, {});
    return out;
  };
  std::optional<CodeOutcome> outcome = co_await http::RunOn(*ctx.db_pool, job);
  if (!outcome) co_return UnavailableProblem();
  switch (outcome->status.code()) {
    case StatusCode::kOk:
      break;
    case StatusCode::kResourceExhausted:
      co_return Throttled(outcome->retry_after_s);
    case StatusCode::kInvalidArgument:
      co_return BadRequestProblem("the code is not valid");
    case StatusCode::kNotFound:
      co_return NotFoundProblem("TOTP is not active");
    default:
      co_return UnavailableProblem();
  }
  http::Response res{bhttp::status::no_content, 11};
  res.set(bhttp::field::cache_control, "no-store");
  co_return res;
}

}  // namespace portcullis::api
