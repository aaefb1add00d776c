#include "api/admin/users.h"

#include <charconv>
#include <map>
#include <memory>

#include "api/authz.h"
#include "api/handler_common.h"
#include "api/user_json.h"
#include "base/time_format.h"
#include "http/offload.h"
#include "http/parse.h"

namespace portcullis::api {

namespace bhttp = boost::beast::http;

namespace {

constexpr int kDefaultUnusedDays = 90;
constexpr int kMaxUnusedDays = 3650;

// A user with the end of its lock, read on the pool with it (LockedUntilOf: in shared mode the
// deployment's throttle records, not only the locks this instance has seen).
struct LockedUser {
  store::User user;
  std::optional<UnixSeconds> locked_until;
};

// Wraps a pool job returning Result<store::User> so that the same job also reads the lock.
template <typename Fn>
auto AndLock(ApiContext& ctx, Fn fn) {
  authn::Throttle* throttle = ctx.throttle;
  return [throttle, fn = std::move(fn)]() -> Result<LockedUser> {
    Result<store::User> user = fn();
    if (!user.ok()) return user.status();
    std::map<std::string, UnixSeconds> locks = throttle->LockedUntilOf({user->username});
    auto it = locks.find(user->username);
    std::optional<UnixSeconds> until;
    if (it != locks.end()) until = it->second;
    return LockedUser{std::move(*user), until};
  };
}

http::Response NoContent() { return http::Response{bhttp::status::no_content, 11}; }

// The outcome of a service call that ran on a pool: nullopt = the pool was full.
template <typename T>
http::Response Render(const std::optional<Result<T>>& out, bhttp::status status) {
  if (!out) return UnavailableProblem();
  if (!out->ok()) return ProblemFromStatus(out->status());
  if constexpr (std::is_same_v<T, LockedUser>) {
    return http::JsonResponse(status, UserToJson((*out)->user, (*out)->locked_until));
  } else {
    return http::JsonResponse(status, RoleToJson(**out));
  }
}

http::Response RenderStatus(const std::optional<Status>& out) {
  if (!out) return UnavailableProblem();
  if (!out->ok()) return ProblemFromStatus(*out);
  return NoContent();
}

// "email": a string, or null (= none). nullopt + response on a wrong type.
std::variant<std::optional<std::string>, http::Response> EmailField(const boost::json::value& v) {
  if (v.is_null()) return std::optional<std::string>();
  if (!v.is_string()) return BadRequestProblem("email must be a string or null");
  return std::optional<std::string>(std::string(v.as_string()));
}

}  // namespace

boost::json::object RoleToJson(const store::Role& role) {
  return {{"name", role.name},
          {"description", role.description},
          {"permissions", ToJsonArray(role.permissions)},
          {"created_at", FormatRfc3339(role.created_at)}};
}

// ---------------------------------------------------------------- users

boost::asio::awaitable<http::Response> HandleListUsers(ApiContext& ctx, http::Request& req) {
  auto auth = co_await Authorize(ctx, req, "users:read");
  if (auto* res = std::get_if<http::Response>(&auth)) co_return std::move(*res);
  Result<http::FormFields> query = http::ParseQuery(req.query);
  if (!query.ok()) co_return BadRequestProblem(query.status().message());
  auto limit = ParseLimit(*query);
  if (auto* res = std::get_if<http::Response>(&limit)) co_return std::move(*res);
  store::UserQuery q;
  q.limit = std::get<std::size_t>(limit);
  if (const std::string* v = query->Get("cursor")) q.cursor = *v;
  if (const std::string* v = query->Get("username"); v && !v->empty()) q.username_prefix = *v;
  if (const std::string* v = query->Get("role"); v && !v->empty()) q.role = *v;
  if (const std::string* v = query->Get("disabled"); v && !v->empty()) {
    if (*v != "true" && *v != "false")
      co_return BadRequestProblem("disabled must be true or false");
    q.disabled = *v == "true";
  }
  admin::Directory* directory = ctx.directory;
  authn::Throttle* throttle = ctx.throttle;
  struct Listed {
    store::UserPage page;
    std::map<std::string, UnixSeconds> locks;  // by username
  };
  auto list_users = [directory, throttle, &q]() -> Result<Listed> {
    Result<store::UserPage> page = directory->ListUsers(q);
    if (!page.ok()) return page.status();
    std::vector<std::string> names;
    for (const store::User& u : page->items) names.push_back(u.username);
    std::map<std::string, UnixSeconds> locks = throttle->LockedUntilOf(names);
    return Listed{std::move(*page), std::move(locks)};
  };
  std::optional<Result<Listed>> listed = co_await http::RunOn(*ctx.db_pool, list_users);
  if (!listed) co_return UnavailableProblem();
  if (!listed->ok()) co_return ProblemFromStatus(listed->status());
  boost::json::array items;
  for (const store::User& u : (*listed)->page.items) {
    auto lock = (*listed)->locks.find(u.username);
    items.push_back(UserToJson(u, lock != (*listed)->locks.end()
                                      ? std::optional<UnixSeconds>(lock->second)
                                      : std::nullopt));
  }
  const std::optional<std::string>& next = (*listed)->page.next_cursor;
  co_return http::JsonResponse(
      bhttp::status::ok,
      boost::json::object{{"items", std::move(items)},
                          {"next_cursor", next ? boost::json::value(*next) : nullptr}});
}

boost::asio::awaitable<http::Response> HandleCreateUser(ApiContext& ctx, http::Request& req) {
  auto auth = co_await Authorize(ctx, req, "users:write");
  if (auto* res = std::get_if<http::Response>(&auth)) co_return std::move(*res);
  const Principal& principal = std::get<Principal>(auth);
  Result<boost::json::object> body = http::ParseJsonBody(req);
  if (!body.ok()) co_return BadRequestProblem(body.status().message());
  if (auto bad = RejectUnknownFields(*body, {"username", "password", "email", "roles"})) {
    co_return std::move(*bad);
  }
  admin::NewUserInput input;
  const boost::json::value* username = body->if_contains("username");
  const boost::json::value* password = body->if_contains("password");
  if (username == nullptr || !username->is_string()) {
    co_return BadRequestProblem("username must be a string");
  }
  if (password == nullptr || !password->is_string()) {
    co_return BadRequestProblem("password must be a string");
  }
  input.username = std::string(username->as_string());
  input.password = SecretString(std::string(password->as_string()));
  if (const boost::json::value* email = body->if_contains("email")) {
    auto parsed = EmailField(*email);
    if (auto* res = std::get_if<http::Response>(&parsed)) co_return std::move(*res);
    input.email = std::get<std::optional<std::string>>(std::move(parsed));
  }
  if (const boost::json::value* roles = body->if_contains("roles")) {
    input.roles = StringArray(*roles);
    if (!input.roles) co_return BadRequestProblem("roles must be an array of role names");
  }
  admin::Actor actor = ActorOf(principal);
  audit::AuditContext context = AuditContextOf(req, principal.id);
  admin::Directory* directory = ctx.directory;
  auto create_user = [directory, &actor, &input, &context] {
    return directory->CreateUser(actor, input, context);
  };
  // Hashing the password: the hash pool (bounded; full -> 503).
  std::optional<Result<LockedUser>> created =
      co_await http::RunOn(*ctx.hash_pool, AndLock(ctx, create_user));
  co_return Render(created, bhttp::status::created);
}

boost::asio::awaitable<http::Response> HandleGetUser(ApiContext& ctx, http::Request& req) {
  auto auth = co_await Authorize(ctx, req, "users:read");
  if (auto* res = std::get_if<http::Response>(&auth)) co_return std::move(*res);
  const std::string& id = req.path_params["id"];
  admin::Directory* directory = ctx.directory;
  auto get_user = [directory, &id] { return directory->GetUser(id); };
  std::optional<Result<LockedUser>> user =
      co_await http::RunOn(*ctx.db_pool, AndLock(ctx, get_user));
  co_return Render(user, bhttp::status::ok);
}

boost::asio::awaitable<http::Response> HandlePatchUser(ApiContext& ctx, http::Request& req) {
  auto auth = co_await Authorize(ctx, req, "users:write");
  if (auto* res = std::get_if<http::Response>(&auth)) co_return std::move(*res);
  const Principal& principal = std::get<Principal>(auth);
  Result<boost::json::object> body = http::ParseJsonBody(req);
  if (!body.ok()) co_return BadRequestProblem(body.status().message());
  if (auto bad = RejectUnknownFields(*body, {"disabled", "email"})) co_return std::move(*bad);
  admin::UserPatch patch;
  if (const boost::json::value* disabled = body->if_contains("disabled")) {
    if (!disabled->is_bool()) co_return BadRequestProblem("disabled must be a boolean");
    patch.disabled = disabled->as_bool();
  }
  if (const boost::json::value* email = body->if_contains("email")) {
    auto parsed = EmailField(*email);
    if (auto* res = std::get_if<http::Response>(&parsed)) co_return std::move(*res);
    patch.email = std::get<std::optional<std::string>>(std::move(parsed));
  }
  admin::Actor actor = ActorOf(principal);
  audit::AuditContext context = AuditContextOf(req, principal.id);
  const std::string& id = req.path_params["id"];
  admin::Directory* directory = ctx.directory;
  auto update_user = [directory, &actor, &id, &patch, &context] {
    return directory->UpdateUser(actor, id, patch, context);
  };
  std::optional<Result<LockedUser>> user =
      co_await http::RunOn(*ctx.db_pool, AndLock(ctx, update_user));
  co_return Render(user, bhttp::status::ok);
}

boost::asio::awaitable<http::Response> HandleDeleteUser(ApiContext& ctx, http::Request& req) {
  auto auth = co_await Authorize(ctx, req, "users:write");
  if (auto* res = std::get_if<http::Response>(&auth)) co_return std::move(*res);
  const Principal& principal = std::get<Principal>(auth);
  admin::Actor actor = ActorOf(principal);
  audit::AuditContext context = AuditContextOf(req, principal.id);
  const std::string& id = req.path_params["id"];
  admin::Directory* directory = ctx.directory;
  auto delete_user = [directory, &actor, &id, &context] {
    return directory->DeleteUser(actor, id, context);
  };
  std::optional<Status> deleted = co_await http::RunOn(*ctx.db_pool, delete_user);
  co_return RenderStatus(deleted);
}

boost::asio::awaitable<http::Response> HandleSetUserRoles(ApiContext& ctx, http::Request& req) {
  auto auth = co_await Authorize(ctx, req, "users:write");
  if (auto* res = std::get_if<http::Response>(&auth)) co_return std::move(*res);
  const Principal& principal = std::get<Principal>(auth);
  Result<boost::json::object> body = http::ParseJsonBody(req);
  if (!body.ok()) co_return BadRequestProblem(body.status().message());
  if (auto bad = RejectUnknownFields(*body, {"roles"})) co_return std::move(*bad);
  const boost::json::value* roles_field = body->if_contains("roles");
  std::optional<std::vector<std::string>> roles =
      roles_field ? StringArray(*roles_field) : std::nullopt;
  if (!roles) co_return BadRequestProblem("roles must be an array of role names");
  admin::Actor actor = ActorOf(principal);
  audit::AuditContext context = AuditContextOf(req, principal.id);
  const std::string& id = req.path_params["id"];
  admin::Directory* directory = ctx.directory;
  auto set_roles = [directory, &actor, &id, &roles, &context] {
    return directory->SetUserRoles(actor, id, *roles, context);
  };
  std::optional<Result<LockedUser>> user =
      co_await http::RunOn(*ctx.db_pool, AndLock(ctx, set_roles));
  co_return Render(user, bhttp::status::ok);
}

// ---------------------------------------------------------------- roles

boost::asio::awaitable<http::Response> HandleListRoles(ApiContext& ctx, http::Request& req) {
  auto auth = co_await Authorize(ctx, req, "roles:read");
  if (auto* res = std::get_if<http::Response>(&auth)) co_return std::move(*res);
  Result<http::FormFields> query = http::ParseQuery(req.query);
  if (!query.ok()) co_return BadRequestProblem(query.status().message());
  auto limit = ParseLimit(*query);
  if (auto* res = std::get_if<http::Response>(&limit)) co_return std::move(*res);
  const std::size_t n = std::get<std::size_t>(limit);
  const std::string* cursor_param = query->Get("cursor");
  const std::string cursor = cursor_param ? *cursor_param : "";
  admin::Directory* directory = ctx.directory;
  auto list_roles = [directory, &cursor, n] { return directory->ListRolesPage(cursor, n); };
  std::optional<Result<store::RolePage>> page = co_await http::RunOn(*ctx.db_pool, list_roles);
  if (!page) co_return UnavailableProblem();
  if (!page->ok()) co_return ProblemFromStatus(page->status());
  boost::json::array items;
  for (const store::Role& r : (*page)->items) items.push_back(RoleToJson(r));
  const std::optional<std::string>& next = (*page)->next_cursor;
  co_return http::JsonResponse(
      bhttp::status::ok,
      boost::json::object{{"items", std::move(items)},
                          {"next_cursor", next ? boost::json::value(*next) : nullptr}});
}

boost::asio::awaitable<http::Response> HandleCreateRole(ApiContext& ctx, http::Request& req) {
  auto auth = co_await Authorize(ctx, req, "roles:write");
  if (auto* res = std::get_if<http::Response>(&auth)) co_return std::move(*res);
  const Principal& principal = std::get<Principal>(auth);
  Result<boost::json::object> body = http::ParseJsonBody(req);
  if (!body.ok()) co_return BadRequestProblem(body.status().message());
  if (auto bad = RejectUnknownFields(*body, {"name", "permissions", "description"})) {
    co_return std::move(*bad);
  }
  admin::RoleInput input;
  const boost::json::value* name = body->if_contains("name");
  if (name == nullptr || !name->is_string()) co_return BadRequestProblem("name must be a string");
  input.name = std::string(name->as_string());
  if (const boost::json::value* description = body->if_contains("description")) {
    if (!description->is_string()) co_return BadRequestProblem("description must be a string");
    input.description = std::string(description->as_string());
  }
  if (const boost::json::value* permissions = body->if_contains("permissions")) {
    std::optional<std::vector<std::string>> list = StringArray(*permissions);
    if (!list) co_return BadRequestProblem("permissions must be an array of strings");
    input.permissions = std::move(*list);
  }
  admin::Actor actor = ActorOf(principal);
  audit::AuditContext context = AuditContextOf(req, principal.id);
  admin::Directory* directory = ctx.directory;
  auto create_role = [directory, &actor, &input, &context] {
    return directory->CreateRole(actor, input, context);
  };
  std::optional<Result<store::Role>> role = co_await http::RunOn(*ctx.db_pool, create_role);
  co_return Render(role, bhttp::status::created);
}

boost::asio::awaitable<http::Response> HandleGetRole(ApiContext& ctx, http::Request& req) {
  auto auth = co_await Authorize(ctx, req, "roles:read");
  if (auto* res = std::get_if<http::Response>(&auth)) co_return std::move(*res);
  const std::string& name = req.path_params["name"];
  admin::Directory* directory = ctx.directory;
  auto get_role = [directory, &name] { return directory->GetRole(name); };
  std::optional<Result<store::Role>> role = co_await http::RunOn(*ctx.db_pool, get_role);
  co_return Render(role, bhttp::status::ok);
}

boost::asio::awaitable<http::Response> HandlePatchRole(ApiContext& ctx, http::Request& req) {
  auto auth = co_await Authorize(ctx, req, "roles:write");
  if (auto* res = std::get_if<http::Response>(&auth)) co_return std::move(*res);
  const Principal& principal = std::get<Principal>(auth);
  Result<boost::json::object> body = http::ParseJsonBody(req);
  if (!body.ok()) co_return BadRequestProblem(body.status().message());
  if (auto bad = RejectUnknownFields(*body, {"description", "permissions"})) {
    co_return std::move(*bad);
  }
  admin::RolePatch patch;
  if (const boost::json::value* description = body->if_contains("description")) {
    if (!description->is_string()) co_return BadRequestProblem("description must be a string");
    patch.description = std::string(description->as_string());
  }
  if (const boost::json::value* permissions = body->if_contains("permissions")) {
    patch.permissions = StringArray(*permissions);
    if (!patch.permissions) co_return BadRequestProblem("permissions must be an array of strings");
  }
  admin::Actor actor = ActorOf(principal);
  audit::AuditContext context = AuditContextOf(req, principal.id);
  const std::string& name = req.path_params["name"];
  admin::Directory* directory = ctx.directory;
  auto update_role = [directory, &actor, &name, &patch, &context] {
    return directory->UpdateRole(actor, name, patch, context);
  };
  std::optional<Result<store::Role>> role = co_await http::RunOn(*ctx.db_pool, update_role);
  co_return Render(role, bhttp::status::ok);
}

boost::asio::awaitable<http::Response> HandleDeleteRole(ApiContext& ctx, http::Request& req) {
  auto auth = co_await Authorize(ctx, req, "roles:write");
  if (auto* res = std::get_if<http::Response>(&auth)) co_return std::move(*res);
  const Principal& principal = std::get<Principal>(auth);
  admin::Actor actor = ActorOf(principal);
  audit::AuditContext context = AuditContextOf(req, principal.id);
  const std::string& name = req.path_params["name"];
  admin::Directory* directory = ctx.directory;
  auto delete_role = [directory, &actor, &name, &context] {
    return directory->DeleteRole(actor, name, context);
  };
  std::optional<Status> deleted = co_await http::RunOn(*ctx.db_pool, delete_role);
  co_return RenderStatus(deleted);
}

// ---------------------------------------------------------------- access review

boost::asio::awaitable<http::Response> HandleAccessReview(ApiContext& ctx, http::Request& req) {
  auto auth = co_await Authorize(ctx, req, "users:read");
  if (auto* res = std::get_if<http::Response>(&auth)) co_return std::move(*res);
  Result<http::FormFields> query = http::ParseQuery(req.query);
  if (!query.ok()) co_return BadRequestProblem(query.status().message());
  int unused_days = kDefaultUnusedDays;
  if (const std::string* v = query->Get("unused_days"); v && !v->empty()) {
    auto [ptr, ec] = std::from_chars(v->data(), v->data() + v->size(), unused_days);
    if (ec != std::errc() || ptr != v->data() + v->size() || unused_days < 0 ||
        unused_days > kMaxUnusedDays) {
      co_return BadRequestProblem("unused_days must be an integer from 0 to 3650");
    }
  }
  ApiContext* c = &ctx;
  auto build_review = [c, unused_days] {
    // The review reads what was used up to now: write the pending uses first.
    if (c->permission_usage != nullptr) (void)c->permission_usage->Flush(*c->store);
    return admin::BuildAccessReview(
        *c->store, c->clock->Now(), unused_days,
        [c](const store::User& u) -> std::optional<UnixSeconds> {
          std::map<std::string, UnixSeconds> locks = c->throttle->LockedUntilOf({u.username});
          if (locks.empty()) return std::nullopt;
          return locks.begin()->second;
        },
        c->api_key_usage);
  };
  std::optional<Result<admin::AccessReview>> review =
      co_await http::RunOn(*ctx.db_pool, build_review);
  if (!review) co_return UnavailableProblem();
  if (!review->ok()) co_return ProblemFromStatus(review->status());
  co_return http::JsonResponse(bhttp::status::ok, admin::AccessReviewToJson(**review));
}

}  // namespace portcullis::api
