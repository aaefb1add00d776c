#include "api/me/register.h"

#include "api/authz.h"
#include "api/handler_common.h"
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
  admin::Directory* directory = ctx.directory;
  const std::vector<std::string>& default_roles = ctx.config->registration.default_roles;
  auto register_user = [directory, &input, &default_roles, &context] {
    return directory->RegisterUser(input, default_roles, context);
  };
  std::optional<Result<store::User>> user = co_await http::RunOn(*ctx.hash_pool, register_user);
  if (!user) co_return UnavailableProblem();
  if (!user->ok()) co_return ProblemFromStatus(user->status());
  co_return http::JsonResponse(bhttp::status::created,
                               UserToJson(**user, ctx.throttle->LockedUntil((*user)->username)));
}

}  // namespace portcullis::api
