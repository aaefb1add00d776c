#include "api/apikeys/apikeys.h"

#include <algorithm>
#include <memory>
#include <utility>

#include "api/authz.h"
#include "api/credentials.h"
#include "api/handler_common.h"
#include "authn/api_key.h"
#include "authz/permission.h"
#include "base/log.h"
#include "base/time_format.h"
#include "http/offload.h"
#include "http/parse.h"

namespace portcullis::api {

namespace bhttp = boost::beast::http;

namespace {

constexpr std::int64_t kSecondsPerDay = 86400;
// Generated ids are 12 characters of [a-z0-9] (62 bits): a clash is practically impossible, but
// one retry makes it harmless.
constexpr int kCreateAttempts = 2;

boost::json::value OptionalTime(const std::optional<UnixSeconds>& t) {
  return t ? boost::json::value(FormatRfc3339(*t)) : boost::json::value(nullptr);
}

bool HasControlCharacter(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u < 0x20 || u == 0x7f;
  });
}

// The caller's own keys are theirs; anything else about other owners needs `permission`.
bool IsOwnKey(const Principal& principal, std::string_view owner_id) {
  return principal.kind == Principal::Kind::kUser && principal.id == owner_id;
}

}  // namespace

Status ValidateApiKeyRequest(const ApiKeyRequest& request) {
  if (request.name.empty() || request.name.size() > kMaxApiKeyNameBytes ||
      HasControlCharacter(request.name)) {
    return InvalidArgumentError("name must be 1 to 128 characters without control characters");
  }
  if (request.scopes.size() > kMaxApiKeyScopes) {
    return InvalidArgumentError("at most 64 scopes");
  }
  for (const std::string& scope : request.scopes) {
    if (!authz::IsValidPermission(scope)) {
      return InvalidArgumentError("invalid scope \"" + scope + "\"");
    }
  }
  if (request.expires_in_days &&
      (*request.expires_in_days < 1 || *request.expires_in_days > kMaxApiKeyLifetimeDays)) {
    return InvalidArgumentError("expires_in_days must be between 1 and 3650");
  }
  return Status::Ok();
}

Result<IssuedApiKey> IssueApiKey(store::Store& store, audit::AuditLog& audit,
                                 const audit::AuditContext& context, const ApiKeyRequest& request,
                                 UnixSeconds now, crypto::Random& random) {
  if (Status s = ValidateApiKeyRequest(request); !s.ok()) return s;
  Result<store::User> owner = store.FindUserById(request.owner_id);
  if (!owner.ok()) {
    if (owner.status().code() == StatusCode::kNotFound) return NotFoundError("no such user");
    return owner.status();
  }
  Result<std::vector<std::string>> held = store.PermissionsOfUser(owner->id);
  if (!held.ok()) return held.status();
  for (const std::string& scope : request.scopes) {
    if (!authz::AnyGrants(*held, scope)) {
      return Status(StatusCode::kPermissionDenied,
                    "the owner does not hold the permission " + scope);
    }
  }
  IssuedApiKey issued;
  issued.record.user_id = owner->id;
  issued.record.name = request.name;
  issued.record.scopes = request.scopes;
  std::sort(issued.record.scopes.begin(), issued.record.scopes.end());
  issued.record.scopes.erase(std::unique(issued.record.scopes.begin(), issued.record.scopes.end()),
                             issued.record.scopes.end());
  issued.record.created_at = now;
  if (request.expires_in_days) {
    issued.record.expires_at =
        now + static_cast<std::int64_t>(*request.expires_in_days) * kSecondsPerDay;
  }
  Status created = InternalError("api key not created");
  for (int attempt = 0; attempt < kCreateAttempts; ++attempt) {
    authn::GeneratedApiKey generated = authn::GenerateApiKey(random);
    issued.record.id = std::move(generated.id);
    issued.record.secret_hash = std::move(generated.secret_hash);
    issued.key = std::move(generated.key);
    created = store.CreateApiKey(issued.record);
    if (created.code() != StatusCode::kAlreadyExists) break;
  }
  if (!created.ok()) return created;
  audit.Record("apikey.created", context, issued.record.id,
               {{"name", issued.record.name},
                {"owner", issued.record.user_id},
                {"scopes", ToJsonArray(issued.record.scopes)},
                {"expires_at", OptionalTime(issued.record.expires_at)}});
  return issued;
}

boost::json::object ApiKeyToJson(const store::ApiKey& key) {
  return {{"id", key.id},
          {"name", key.name},
          {"user_id", key.user_id},
          {"scopes", ToJsonArray(key.scopes)},
          {"expires_at", OptionalTime(key.expires_at)},
          {"created_at", FormatRfc3339(key.created_at)},
          {"last_used_at", OptionalTime(key.last_used_at)}};
}

boost::asio::awaitable<http::Response> HandleListApiKeys(ApiContext& ctx, http::Request& req) {
  std::variant<Principal, http::Response> auth = co_await AuthenticateRequest(ctx, req);
  if (auto* res = std::get_if<http::Response>(&auth)) co_return std::move(*res);
  const Principal& principal = std::get<Principal>(auth);
  Result<http::FormFields> query = http::ParseQuery(req.query);
  if (!query.ok()) co_return BadRequestProblem(query.status().message());
  auto limit = ParseLimit(*query);
  if (auto* res = std::get_if<http::Response>(&limit)) co_return std::move(*res);

  bool all = false;
  if (const std::string* v = query->Get("all")) {
    if (*v == "true") {
      all = true;
    } else if (*v != "false" && !v->empty()) {
      co_return BadRequestProblem("all must be true or false");
    }
  }
  const std::string* user_param = query->Get("user_id");
  std::optional<std::string> owner;
  if (all) {
    if (user_param != nullptr) co_return BadRequestProblem("use either all or user_id");
  } else if (user_param != nullptr) {
    owner = *user_param;
  } else if (principal.kind == Principal::Kind::kUser) {
    owner = principal.id;
  }
  // Client principals own no keys: without a filter they list every key, like ?all=true.
  if (!owner || !IsOwnKey(principal, *owner)) {
    if (auto denied = RequirePermission(ctx, principal, "apikeys:read")) co_return *denied;
  }

  const std::string* cursor_param = query->Get("cursor");
  auto cursor = std::make_shared<std::string>(cursor_param ? *cursor_param : "");
  // The cursor is a key id (authn::kApiKeyIdLength of [a-z0-9]); anything else was never handed
  // out.
  if (!cursor->empty() && (cursor->size() != authn::kApiKeyIdLength ||
                           !std::all_of(cursor->begin(), cursor->end(), [](char c) {
                             return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
                           }))) {
    co_return BadRequestProblem("invalid cursor");
  }
  auto filter = std::make_shared<std::optional<std::string>>(std::move(owner));
  const std::size_t n = std::get<std::size_t>(limit);
  store::Store* store = ctx.store;
  auto job = [store, cursor, filter, n] { return store->ListApiKeys(*filter, *cursor, n); };
  std::optional<Result<store::ApiKeyPage>> page = co_await http::RunOn(*ctx.db_pool, job);
  if (!page || !page->ok()) co_return UnavailableProblem();
  // The store has the uses up to the last flush; this instance's newer ones are in memory.
  if (ctx.api_key_usage != nullptr) {
    (*page)->items = ctx.api_key_usage->WithRecordedUses(std::move((*page)->items));
  }
  boost::json::array items;
  for (const store::ApiKey& key : (*page)->items) items.push_back(ApiKeyToJson(key));
  const std::optional<std::string>& next = (*page)->next_cursor;
  co_return http::JsonResponse(
      bhttp::status::ok,
      boost::json::object{{"items", std::move(items)},
                          {"next_cursor", next ? boost::json::value(*next) : nullptr}});
}

boost::asio::awaitable<http::Response> HandleCreateApiKey(ApiContext& ctx, http::Request& req) {
  std::variant<Principal, http::Response> auth = co_await AuthenticateRequest(ctx, req);
  if (auto* res = std::get_if<http::Response>(&auth)) co_return std::move(*res);
  const Principal& principal = std::get<Principal>(auth);
  Result<boost::json::object> body = http::ParseJsonBody(req);
  if (!body.ok()) co_return BadRequestProblem(body.status().message());
  if (auto res = RejectUnknownFields(*body, {"name", "scopes", "expires_in_days", "user_id"})) {
    co_return std::move(*res);
  }

  auto request = std::make_shared<ApiKeyRequest>();
  const boost::json::value* name = body->if_contains("name");
  if (name == nullptr || !name->is_string()) co_return BadRequestProblem("name must be a string");
  request->name = std::string(name->as_string());
  const boost::json::value* scopes = body->if_contains("scopes");
  std::optional<std::vector<std::string>> scope_list = scopes ? StringArray(*scopes) : std::nullopt;
  if (!scope_list) co_return BadRequestProblem("scopes must be an array of permission strings");
  request->scopes = std::move(*scope_list);
  if (const boost::json::value* days = body->if_contains("expires_in_days");
      days != nullptr && !days->is_null()) {
    if (!days->is_int64() || days->as_int64() < 1 || days->as_int64() > kMaxApiKeyLifetimeDays) {
      co_return BadRequestProblem("expires_in_days must be an integer between 1 and 3650");
    }
    request->expires_in_days = static_cast<int>(days->as_int64());
  } else if (ctx.config->apikeys.default_ttl_days > 0) {
    request->expires_in_days = ctx.config->apikeys.default_ttl_days;
  }
  if (const boost::json::value* user = body->if_contains("user_id")) {
    if (!user->is_string() || user->as_string().empty()) {
      co_return BadRequestProblem("user_id must be a non-empty string");
    }
    request->owner_id = std::string(user->as_string());
  } else if (principal.kind == Principal::Kind::kUser) {
    request->owner_id = principal.id;
  } else {
    co_return BadRequestProblem("user_id is required: a client owns no keys");
  }
  if (Status s = ValidateApiKeyRequest(*request); !s.ok()) co_return BadRequestProblem(s.message());
  if (!IsOwnKey(principal, request->owner_id)) {
    if (auto denied = RequirePermission(ctx, principal, "apikeys:write")) co_return *denied;
  }
  // Nobody hands out more than they hold (DESIGN §4); the owner's side is checked in IssueApiKey.
  for (const std::string& scope : request->scopes) {
    if (!authz::AnyGrants(principal.permissions, scope)) {
      co_return http::ProblemResponse(bhttp::status::forbidden, "Forbidden",
                                      "you cannot grant a scope you do not hold: " + scope);
    }
  }

  auto audit_context = std::make_shared<audit::AuditContext>(AuditContextOf(req, principal.id));
  ApiContext* c = &ctx;
  auto job = [c, request, audit_context] {
    return IssueApiKey(*c->store, *c->audit, *audit_context, *request, c->clock->Now(),
                       crypto::OsRandomInstance());
  };
  std::optional<Result<IssuedApiKey>> issued = co_await http::RunOn(*ctx.db_pool, job);
  if (!issued) co_return UnavailableProblem();
  if (!issued->ok()) {
    const Status& s = issued->status();
    if (s.code() == StatusCode::kInvalidArgument || s.code() == StatusCode::kNotFound ||
        s.code() == StatusCode::kPermissionDenied) {
      co_return ProblemFromStatus(s);
    }
    log::Error("apikeys.create_failed", {{"error", s.ToString()}});
    co_return UnavailableProblem();
  }
  const store::ApiKey& record = (*issued)->record;
  boost::json::object out{{"id", record.id},
                          {"key", (*issued)->key.reveal()},  // shown once, here only
                          {"name", record.name},
                          {"scopes", ToJsonArray(record.scopes)},
                          {"expires_at", OptionalTime(record.expires_at)},
                          {"created_at", FormatRfc3339(record.created_at)},
                          {"user_id", record.user_id}};
  http::Response res = http::JsonResponse(bhttp::status::created, out);
  res.set(bhttp::field::cache_control, "no-store");
  co_return res;
}

boost::asio::awaitable<http::Response> HandleDeleteApiKey(ApiContext& ctx, http::Request& req) {
  std::variant<Principal, http::Response> auth = co_await AuthenticateRequest(ctx, req);
  if (auto* res = std::get_if<http::Response>(&auth)) co_return std::move(*res);
  const Principal& principal = std::get<Principal>(auth);
  auto id = std::make_shared<std::string>(req.path_params["id"]);
  auto caller = std::make_shared<Principal>(principal);
  const bool may_write_others = authz::AnyGrants(principal.permissions, "apikeys:write");
  auto audit_context = std::make_shared<audit::AuditContext>(AuditContextOf(req, principal.id));
  ApiContext* c = &ctx;

  struct Outcome {
    Status status;
    bool others = false;  // the key was someone else's (apikeys:write was used)
  };
  auto job = [c, id, caller, may_write_others, audit_context]() -> Outcome {
    Result<store::ApiKey> key = c->store->FindApiKey(*id);
    if (!key.ok()) return {key.status()};
    const bool own = IsOwnKey(*caller, key->user_id);
    // Someone else's key without the permission looks exactly like an unknown one.
    if (!own && !may_write_others) return {NotFoundError("no such api key")};
    Status s = c->store->DeleteApiKey(*id);
    // Dropped at once, before the response: no request after the 204 uses a cached entry.
    if (s.ok() && c->api_keys != nullptr) c->api_keys->Erase(*id);
    if (s.ok()) {
      c->audit->Record("apikey.revoked", *audit_context, *id,
                       {{"name", key->name}, {"owner", key->user_id}});
    }
    return {s, !own};
  };
  std::optional<Outcome> outcome = co_await http::RunOn(*ctx.db_pool, job);
  if (!outcome) co_return UnavailableProblem();
  if (outcome->status.code() == StatusCode::kNotFound) co_return NotFoundProblem("no such api key");
  if (!outcome->status.ok()) co_return UnavailableProblem();
  // Note the use of apikeys:write for the access review (the check above passed).
  if (outcome->others) (void)RequirePermission(ctx, principal, "apikeys:write");
  co_return http::Response{bhttp::status::no_content, 11};
}

}  // namespace portcullis::api
