#include "api/admin/admin.h"

#include <algorithm>
#include <boost/json.hpp>
#include <charconv>
#include <memory>

#include "api/authz.h"
#include "api/credentials.h"
#include "api/handler_common.h"
#include "api/user_json.h"
#include "authn/client_authenticator.h"
#include "authn/client_metadata.h"
#include "authz/permission.h"
#include "base/log.h"
#include "base/time_format.h"
#include "crypto/random.h"
#include "http/offload.h"
#include "http/parse.h"

namespace portcullis::api {

namespace bhttp = boost::beast::http;

namespace {

constexpr std::size_t kClientIdLength = 20;
constexpr std::size_t kClientSecretBytes = 32;
constexpr std::size_t kMaxNameBytes = 128;

}  // namespace

boost::json::object ClientToJson(const store::Client& client) {
  return {{"client_id", client.client_id},
          {"name", client.name},
          {"grant_types", ToJsonArray(client.grant_types)},
          {"scopes", ToJsonArray(client.scopes)},
          {"redirect_uris", ToJsonArray(client.redirect_uris)},
          {"token_endpoint_auth_method", client.token_endpoint_auth_method},
          {"post_logout_redirect_uris", ToJsonArray(client.post_logout_redirect_uris)},
          {"id_token_signed_response_alg", client.id_token_signed_response_alg},
          {"require_dpop", client.require_dpop},
          {"created_at", FormatRfc3339(client.created_at)}};
}

boost::json::object SigningKeyToJson(const store::SigningKey& key) {
  return {
      {"kid", key.kid},
      {"alg", key.alg},
      {"state", key.state},
      {"created_at", FormatRfc3339(key.created_at)},
      {"deactivated_at", key.deactivated_at ? boost::json::value(FormatRfc3339(*key.deactivated_at))
                                            : boost::json::value(nullptr)}};
}

boost::json::object KeyRotationToJson(const std::vector<token::RotatedKey>& rotated,
                                      jose::Algorithm access_token_alg) {
  boost::json::object out;
  boost::json::array keys;
  for (const token::RotatedKey& k : rotated) {
    if (k.alg == access_token_alg) {
      out["kid"] = k.kid;
      out["alg"] = jose::ToString(k.alg);
      out["previous_kid"] = k.previous_kid;
    }
    keys.push_back(boost::json::object{
        {"alg", jose::ToString(k.alg)}, {"kid", k.kid}, {"previous_kid", k.previous_kid}});
  }
  out["keys"] = std::move(keys);
  return out;
}

void RecordKeyRotation(audit::AuditLog& audit, const audit::AuditContext& context,
                       const std::vector<token::RotatedKey>& rotated,
                       jose::Algorithm access_token_alg, std::string_view trigger) {
  boost::json::object details = KeyRotationToJson(rotated, access_token_alg);
  const std::string subject(details["kid"].as_string());
  details.erase("kid");
  details.erase("alg");
  details["trigger"] = trigger;
  audit.Record("key.rotated", context, subject, details);
}

// ---------------------------------------------------------------- clients

boost::asio::awaitable<http::Response> HandleListClients(ApiContext& ctx, http::Request& req) {
  auto auth = co_await Authorize(ctx, req, "clients:read");
  if (auto* res = std::get_if<http::Response>(&auth)) co_return std::move(*res);
  Result<http::FormFields> query = http::ParseQuery(req.query);
  if (!query.ok()) co_return BadRequestProblem(query.status().message());
  auto limit = ParseLimit(*query);
  if (auto* res = std::get_if<http::Response>(&limit)) co_return std::move(*res);
  const std::string* cursor_param = query->Get("cursor");
  auto cursor = std::make_shared<std::string>(cursor_param ? *cursor_param : "");
  std::size_t n = std::get<std::size_t>(limit);
  store::Store* store = ctx.store;
  auto job = [store, cursor, n] { return store->ListClients(*cursor, n); };
  std::optional<Result<store::ClientPage>> page = co_await http::RunOn(*ctx.db_pool, job);
  if (!page || !page->ok()) co_return UnavailableProblem();
  boost::json::array items;
  for (const store::Client& c : (*page)->items) items.push_back(ClientToJson(c));
  const std::optional<std::string>& next = (*page)->next_cursor;
  co_return http::JsonResponse(
      bhttp::status::ok,
      boost::json::object{{"items", std::move(items)},
                          {"next_cursor", next ? boost::json::value(*next) : nullptr}});
}

boost::asio::awaitable<http::Response> HandleCreateClient(ApiContext& ctx, http::Request& req) {
  auto auth = co_await Authorize(ctx, req, "clients:write");
  if (auto* res = std::get_if<http::Response>(&auth)) co_return std::move(*res);
  const Principal& principal = std::get<Principal>(auth);
  Result<boost::json::object> body = http::ParseJsonBody(req);
  if (!body.ok()) co_return BadRequestProblem(body.status().message());
  for (const auto& member : *body) {
    const std::string_view key = member.key();
    if (key != "name" && key != "grant_types" && key != "scopes" && key != "redirect_uris" &&
        key != "token_endpoint_auth_method" && key != "post_logout_redirect_uris" &&
        key != "id_token_signed_response_alg" && key != "require_dpop") {
      co_return BadRequestProblem("unknown field \"" + std::string(key) + "\"");
    }
  }
  store::Client client;
  const boost::json::value* name = body->if_contains("name");
  if (name == nullptr || !name->is_string() || name->as_string().empty() ||
      name->as_string().size() > kMaxNameBytes) {
    co_return BadRequestProblem("name must be a string of 1 to 128 characters");
  }
  client.name = std::string(name->as_string());
  if (const boost::json::value* dpop = body->if_contains("require_dpop")) {
    if (!dpop->is_bool()) co_return BadRequestProblem("require_dpop must be true or false");
    client.require_dpop = dpop->as_bool();
  }
  // Browser sign-in metadata (DESIGN §8); the rules live in authn::ValidateClientMetadata.
  authn::ClientMetadata metadata;
  for (const char* field : {"token_endpoint_auth_method", "id_token_signed_response_alg"}) {
    if (const boost::json::value* v = body->if_contains(field)) {
      if (!v->is_string()) co_return BadRequestProblem(std::string(field) + " must be a string");
      (std::string_view(field) == "token_endpoint_auth_method"
           ? metadata.token_endpoint_auth_method
           : metadata.id_token_signed_response_alg) = std::string(v->as_string());
    }
  }
  for (const char* field : {"redirect_uris", "post_logout_redirect_uris"}) {
    if (const boost::json::value* v = body->if_contains(field)) {
      std::optional<std::vector<std::string>> uris = StringArray(*v);
      if (!uris) co_return BadRequestProblem(std::string(field) + " must be an array of strings");
      (std::string_view(field) == "redirect_uris" ? metadata.redirect_uris
                                                  : metadata.post_logout_redirect_uris) =
          std::move(*uris);
    }
  }
  std::optional<std::vector<std::string>> grants =
      body->contains("grant_types") ? StringArray(body->at("grant_types"))
                                    : authn::DefaultGrantTypes(metadata.token_endpoint_auth_method);
  if (!grants || grants->empty())
    co_return BadRequestProblem("grant_types must be an array of strings");
  metadata.grant_types = std::move(*grants);
  if (authn::ClientMetadataCheck check = authn::ValidateClientMetadata(metadata);
      check.error != authn::ClientMetadataError::kOk) {
    co_return BadRequestProblem(check.detail);
  }
  std::optional<std::vector<std::string>> scopes =
      body->contains("scopes") ? StringArray(body->at("scopes")) : std::vector<std::string>{};
  if (!scopes) co_return BadRequestProblem("scopes must be an array of permission strings");
  for (const std::string& s : *scopes) {
    if (!authz::IsValidPermission(s)) co_return BadRequestProblem("invalid scope \"" + s + "\"");
    // Nobody hands out more than they hold (DESIGN §4).
    if (!authz::AnyGrants(principal.permissions, s)) {
      co_return http::ProblemResponse(bhttp::status::forbidden, "Forbidden",
                                      "you cannot grant a scope you do not hold: " + s);
    }
  }
  client.grant_types = std::move(metadata.grant_types);
  client.scopes = std::move(*scopes);
  client.redirect_uris = std::move(metadata.redirect_uris);
  client.token_endpoint_auth_method = std::move(metadata.token_endpoint_auth_method);
  client.post_logout_redirect_uris = std::move(metadata.post_logout_redirect_uris);
  client.id_token_signed_response_alg = std::move(metadata.id_token_signed_response_alg);
  client.client_id = crypto::RandomLowerAlphanumeric(crypto::OsRandomInstance(), kClientIdLength);
  // A public client has no secret: none is generated, none stored (secret_hash "").
  const bool is_public = client.token_endpoint_auth_method == authn::kAuthMethodNone;
  auto secret = std::make_shared<SecretString>();
  if (!is_public) {
    *secret = SecretString(crypto::RandomBase64Url(crypto::OsRandomInstance(), kClientSecretBytes));
    client.secret_hash = authn::HashClientSecret(secret->reveal());
  }
  client.created_at = ctx.clock->Now();

  auto record = std::make_shared<store::Client>(client);
  auto audit_context = std::make_shared<audit::AuditContext>(AuditContextOf(req, principal.id));
  ApiContext* c = &ctx;
  auto job = [c, record, audit_context] {
    Status s = c->store->CreateClient(*record);
    if (s.ok()) {
      c->audit->Record("client.created", *audit_context, record->client_id,
                       {{"name", record->name},
                        {"grant_types", ToJsonArray(record->grant_types)},
                        {"scopes", ToJsonArray(record->scopes)},
                        {"token_endpoint_auth_method", record->token_endpoint_auth_method},
                        {"redirect_uris", ToJsonArray(record->redirect_uris)}});
    }
    return s.ok();
  };
  std::optional<bool> created = co_await http::RunOn(*ctx.db_pool, job);
  if (!created || !*created) co_return UnavailableProblem();
  boost::json::object out = ClientToJson(client);
  if (!is_public) out["client_secret"] = secret->reveal();  // shown once, here only
  http::Response res = http::JsonResponse(bhttp::status::created, out);
  res.set(bhttp::field::cache_control, "no-store");
  co_return res;
}

boost::asio::awaitable<http::Response> HandleDeleteClient(ApiContext& ctx, http::Request& req) {
  auto auth = co_await Authorize(ctx, req, "clients:write");
  if (auto* res = std::get_if<http::Response>(&auth)) co_return std::move(*res);
  auto id = std::make_shared<std::string>(req.path_params["id"]);
  auto audit_context =
      std::make_shared<audit::AuditContext>(AuditContextOf(req, std::get<Principal>(auth).id));
  ApiContext* c = &ctx;
  auto job = [c, id, audit_context] {
    const UnixSeconds now = c->clock->Now();
    Status s = c->store->DeleteClient(*id, now);
    if (s.ok()) {
      // Here at once; other instances via the feed.
      c->tokens->ClientDeleted(*id, now);
      c->client_authenticator->Forget(*id);
      c->audit->Record("client.deleted", *audit_context, *id, {});
    }
    return s;
  };
  std::optional<Status> deleted = co_await http::RunOn(*ctx.db_pool, job);
  if (!deleted) co_return UnavailableProblem();
  if (deleted->code() == StatusCode::kNotFound) co_return NotFoundProblem("no such client");
  if (!deleted->ok()) co_return UnavailableProblem();
  co_return http::Response{bhttp::status::no_content, 11};
}

// ---------------------------------------------------------------- keys

boost::asio::awaitable<http::Response> HandleListKeys(ApiContext& ctx, http::Request& req) {
  auto auth = co_await Authorize(ctx, req, "keys:read");
  if (auto* res = std::get_if<http::Response>(&auth)) co_return std::move(*res);
  Result<http::FormFields> query = http::ParseQuery(req.query);
  if (!query.ok()) co_return BadRequestProblem(query.status().message());
  auto limit = ParseLimit(*query);
  if (auto* res = std::get_if<http::Response>(&limit)) co_return std::move(*res);
  const std::string* cursor_param = query->Get("cursor");
  const std::string cursor = cursor_param ? *cursor_param : "";
  store::Store* store = ctx.store;
  auto job = [store] { return store->ListSigningKeys(); };
  std::optional<Result<std::vector<store::SigningKey>>> keys =
      co_await http::RunOn(*ctx.db_pool, job);
  if (!keys || !keys->ok()) co_return UnavailableProblem();
  // Oldest first (keys are never deleted, only retired); the cursor is the kid of the previous
  // page's last key, and a kid we don't have is not a cursor we handed out.
  bool seen_cursor = cursor.empty();
  if (!seen_cursor && std::none_of((*keys)->begin(), (*keys)->end(),
                                   [&](const store::SigningKey& k) { return k.kid == cursor; })) {
    co_return BadRequestProblem("invalid cursor");
  }
  auto [page, next] = PageOfList(
      std::move(**keys), std::get<std::size_t>(limit),
      [&](const store::SigningKey& k) {
        const bool after = seen_cursor;
        if (k.kid == cursor) seen_cursor = true;
        return after;
      },
      [](const store::SigningKey& k) { return k.kid; });
  boost::json::array items;
  for (const store::SigningKey& k : page) items.push_back(SigningKeyToJson(k));
  co_return http::JsonResponse(
      bhttp::status::ok,
      boost::json::object{{"items", std::move(items)},
                          {"next_cursor", next ? boost::json::value(*next) : nullptr}});
}

boost::asio::awaitable<http::Response> HandleRotateKeys(ApiContext& ctx, http::Request& req) {
  auto auth = co_await Authorize(ctx, req, "keys:rotate");
  if (auto* res = std::get_if<http::Response>(&auth)) co_return std::move(*res);
  auto audit_context =
      std::make_shared<audit::AuditContext>(AuditContextOf(req, std::get<Principal>(auth).id));
  ApiContext* c = &ctx;
  auto job = [c, audit_context]() -> std::optional<boost::json::object> {
    Result<std::vector<token::RotatedKey>> rotated = c->keys->Rotate();
    if (!rotated.ok()) {
      log::Error("keys.rotate_failed", {{"error", rotated.status().ToString()}});
      return std::nullopt;
    }
    RecordKeyRotation(*c->audit, *audit_context, *rotated, c->keys->active_alg(), "api");
    return KeyRotationToJson(*rotated, c->keys->active_alg());
  };
  std::optional<std::optional<boost::json::object>> answer =
      co_await http::RunOn(*ctx.db_pool, job);
  if (!answer || !*answer) co_return UnavailableProblem();
  co_return http::JsonResponse(bhttp::status::created, std::move(**answer));
}

// ---------------------------------------------------------------- users

boost::asio::awaitable<http::Response> HandleUnlockUser(ApiContext& ctx, http::Request& req) {
  auto auth = co_await Authorize(ctx, req, "users:write");
  if (auto* res = std::get_if<http::Response>(&auth)) co_return std::move(*res);
  auto id = std::make_shared<std::string>(req.path_params["id"]);
  auto audit_context =
      std::make_shared<audit::AuditContext>(AuditContextOf(req, std::get<Principal>(auth).id));
  ApiContext* c = &ctx;
  auto job = [c, id, audit_context]() -> int {
    Result<store::User> user = c->store->FindUserById(*id);
    if (!user.ok()) return user.status().code() == StatusCode::kNotFound ? 404 : 503;
    const bool was = !c->throttle->LockedUntilOf({user->username}).empty();
    if (!c->throttle->Unlock(user->username).ok()) return 503;
    c->audit->Record("user.unlocked", *audit_context, user->id,
                     {{"username", user->username}, {"was_locked", was}});
    return 204;
  };
  std::optional<int> status = co_await http::RunOn(*ctx.db_pool, job);
  if (!status || *status == 503) co_return UnavailableProblem();
  if (*status == 404) co_return NotFoundProblem("no such user");
  co_return http::Response{bhttp::status::no_content, 11};
}

// ---------------------------------------------------------------- audit

boost::asio::awaitable<http::Response> HandleListAudit(ApiContext& ctx, http::Request& req) {
  auto auth = co_await Authorize(ctx, req, "audit:read");
  if (auto* res = std::get_if<http::Response>(&auth)) co_return std::move(*res);
  Result<http::FormFields> query = http::ParseQuery(req.query);
  if (!query.ok()) co_return BadRequestProblem(query.status().message());
  auto limit = ParseLimit(*query);
  if (auto* res = std::get_if<http::Response>(&limit)) co_return std::move(*res);
  auto filter = std::make_shared<store::AuditFilter>();
  filter->limit = std::get<std::size_t>(limit);
  if (const std::string* since = query->Get("since"); since && !since->empty()) {
    std::int64_t t = 0;
    auto [p, ec] = std::from_chars(since->data(), since->data() + since->size(), t);
    if (ec != std::errc() || p != since->data() + since->size()) {
      co_return BadRequestProblem("since must be a Unix time in seconds");
    }
    filter->since = t;
  }
  if (const std::string* type = query->Get("type"); type && !type->empty()) filter->type = *type;
  if (const std::string* user = query->Get("user"); user && !user->empty()) filter->user = *user;
  if (const std::string* cursor = query->Get("cursor"); cursor && !cursor->empty()) {
    std::int64_t id = 0;
    auto [p, ec] = std::from_chars(cursor->data(), cursor->data() + cursor->size(), id);
    if (ec != std::errc() || p != cursor->data() + cursor->size()) {
      co_return BadRequestProblem("invalid cursor");
    }
    filter->before_id = id;
  }
  store::Store* store = ctx.store;
  auto job = [store, filter] { return store->ListAudit(*filter); };
  std::optional<Result<store::AuditPage>> page = co_await http::RunOn(*ctx.db_pool, job);
  if (!page || !page->ok()) co_return UnavailableProblem();
  boost::json::array items;
  for (const store::AuditEvent& e : (*page)->items) items.push_back(audit::AuditEventToJson(e));
  const std::optional<std::string>& next = (*page)->next_cursor;
  co_return http::JsonResponse(
      bhttp::status::ok,
      boost::json::object{{"items", std::move(items)},
                          {"next_cursor", next ? boost::json::value(*next) : nullptr}});
}

}  // namespace portcullis::api
