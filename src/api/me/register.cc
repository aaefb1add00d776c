#include "api/me/register.h"

#include "api/authz.h"
#include "api/handler_common.h"
#include "api/throttle_events.h"
#include "api/user_json.h"
#include "http/offload.h"
#include "http/parse.h"

namespace portcullis::api {

namespace bhttp = boost::beast::http;

boost::asio::awaitable<http::Response> HandleRegister(ApiContext& ctx, http::Request& req) {
  if (!ctx.config->registration.open) {
    co_return http::ProblemResponse(bhttp::status::forbidden, "Forbidden",
                                    "registration is closed");
  }
  Result<boost::json::object> body = http::ParseJsonBody(req);
  if (!body.ok()) co_return BadRequestProblem(body.status().message());
  // Only these three are read; anything else in the body is ignored on purpose.
  const boost::json::value* username = body->if_contains("username");
  const boost::json::value* password = body->if_contains("password");
  const boost::json::value* email = body->if_contains("email");
  if (username == nullptr || !username->is_string()) {
    co_return BadRequestProblem("username must be a string");
  }
  if (password == nullptr || !password->is_string()) {
    co_return BadRequestProblem("password must be a string");
  }
  admin::NewUserInput input;
  input.username = std::string(username->as_string());
  input.password = SecretString(std::string(password->as_string()));
  if (email != nullptr && !email->is_null()) {
    if (!email->is_string()) co_return BadRequestProblem("email must be a string");
    input.email = std::string(email->as_string());
  }
  audit::AuditContext context = AuditContextOf(req, "");
  // Threat-model F3: each registration that gets as far as the hash (201, and 409 for a taken
  // name) counts toward a per-source budget with the limits of DESIGN §5's ip dimension, kept
  // apart from it so sign-ups never lock a source's logins; a source over that budget is refused
  // before any hashing or store work. Rejected input (400) counts nothing.
  struct Outcome {
    std::int64_t retry_after_s = 0;
    std::optional<Result<store::User>> user;
  };
  ApiContext* c = &ctx;
  const std::vector<std::string>& default_roles = ctx.config->registration.default_roles;
  auto register_user = [c, &input, &default_roles, &context] {
    Outcome out;
    if (c->throttle != nullptr) {
      out.retry_after_s =
          c->throttle->SourceRetryAfter(context.client_ip, authn::SourceBudget::kRegistrations);
      if (out.retry_after_s > 0) return out;
    }
    out.user = c->directory->RegisterUser(input, default_roles, context);
    const bool counted = out.user->ok() || out.user->status().code() == StatusCode::kAlreadyExists;
    if (counted && c->throttle != nullptr) {
      RecordThrottleOutcome(
          *c,
          c->throttle->RecordSourceFailure(context.client_ip, authn::SourceBudget::kRegistrations),
          context, "");
    }
    return out;
  };
  std::optional<Outcome> outcome = co_await http::RunOn(*ctx.hash_pool, register_user);
  if (!outcome) co_return UnavailableProblem();
  if (outcome->retry_after_s > 0) {
    http::Response res =
        http::ProblemResponse(bhttp::status::too_many_requests, "Too Many Requests",
                              "too many attempts from this address; retry later");
    res.set(bhttp::field::retry_after, std::to_string(outcome->retry_after_s));
    co_return res;
  }
  std::optional<Result<store::User>>& user = outcome->user;
  if (!user->ok()) co_return ProblemFromStatus(user->status());
  co_return http::JsonResponse(bhttp::status::created,
                               UserToJson(**user, ctx.throttle->LockedUntil((*user)->username)));
}

}  // namespace portcullis::api
