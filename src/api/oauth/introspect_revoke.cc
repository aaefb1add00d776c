#include "api/oauth/introspect_revoke.h"

#include <boost/json.hpp>
#include <memory>

#include "api/authz.h"
#include "api/credentials.h"
#include "api/oauth/client_auth.h"
#include "api/oauth/oauth_error.h"
#include "authz/permission.h"
#include "base/log.h"
#include "crypto/sha256.h"
#include "http/offload.h"
#include "http/parse.h"

namespace portcullis::api {

namespace bhttp = boost::beast::http;

namespace {

constexpr std::size_t kMaxPresentedTokenBytes = 8 * 1024;

http::Response NoStoreJson(boost::json::object body) {
  http::Response res = http::JsonResponse(bhttp::status::ok, body);
  res.set(bhttp::field::cache_control, "no-store");
  res.set(bhttp::field::pragma, "no-cache");
  return res;
}

http::Response Inactive() { return NoStoreJson({{"active", false}}); }

boost::json::array ToArray(const std::vector<std::string>& v, boost::json::storage_ptr sp = {}) {
  boost::json::array out(std::move(sp));
  out.reserve(v.size());
  for (const std::string& s : v) out.emplace_back(s);
  return out;
}

// The answer for a valid access token (RFC 7662 §2.2), built in an arena on this (ordinary, not
// coroutine) stack frame: as heap objects its members cost ~35 allocations per introspection.
http::Response ActiveAccessToken(const jose::AccessTokenClaims& c) {
  unsigned char buffer[4096];
  boost::json::monotonic_resource arena(buffer, sizeof buffer);
  boost::json::storage_ptr sp(&arena);
  boost::json::object body(sp);
  body.reserve(13);
  body["active"] = true;
  // RFC 9449 §6.2: a bound token is of type DPoP and its cnf names the key.
  body["token_type"] = c.cnf_jkt ? "DPoP" : "Bearer";
  body["scope"] = c.scope;
  body["client_id"] = c.client_id;
  body["sub"] = c.sub;
  body["aud"] = ToArray(c.aud, sp);
  body["iss"] = c.iss;
  body["exp"] = c.exp;
  body["iat"] = c.iat;
  body["nbf"] = c.nbf;
  body["jti"] = c.jti;
  if (c.username) body["username"] = *c.username;
  if (c.cnf_jkt) {
    boost::json::object cnf(sp);
    cnf["jkt"] = *c.cnf_jkt;
    body["cnf"] = std::move(cnf);
  }
  return NoStoreJson(std::move(body));
}

// The state of a presented refresh token, read on the database pool.
struct RefreshLookup {
  std::optional<store::RefreshToken> record;
  bool active = false;
};

}  // namespace

boost::asio::awaitable<http::Response> HandleIntrospect(ApiContext& ctx, http::Request& req) {
  Result<http::FormFields> form = http::ParseForm(req);
  if (!form.ok()) co_return InvalidRequest(form.status().message());

  // Caller: a Bearer token with tokens:introspect, else a confidential client.
  std::string_view authorization = req.Header("Authorization");
  if (ParseBearer(authorization) || ParseDpopAuthorization(authorization)) {
    std::variant<Principal, http::Response> auth = co_await AuthenticateRequest(ctx, req);
    if (std::get_if<http::Response>(&auth) != nullptr) co_return InvalidClient();
    if (!authz::AnyGrants(std::get<Principal>(auth).permissions, "tokens:introspect")) {
      co_return http::OAuthErrorResponse(bhttp::status::forbidden, "insufficient_scope",
                                         "introspection requires tokens:introspect");
    }
  } else {
    std::variant<ResolvedClient, http::Response> client =
        co_await ResolveClient(ctx, req, *form, /*allow_public=*/false);
    if (auto* res = std::get_if<http::Response>(&client)) co_return std::move(*res);
  }

  const std::string* token = form->Get("token");
  if (token == nullptr || token->empty()) {
    co_return InvalidRequest("missing required parameter: token");
  }
  if (token->size() > kMaxPresentedTokenBytes) co_return Inactive();

  // An access token? (no database read)
  jose::VerifyResult verified = ctx.tokens->Validate(*token);
  if (verified.error == jose::VerifyError::kOk) {
    co_return ActiveAccessToken(verified.claims);
  }

  // A refresh token?
  auto hash = std::make_shared<std::string>(crypto::Sha256Hex(*token));
  store::Store* store = ctx.store;
  UnixSeconds now = ctx.clock->Now();
  auto job = [store, hash, now] {
    RefreshLookup out;
    Result<store::RefreshToken> r = store->FindRefreshToken(*hash);
    if (!r.ok()) return out;
    out.active = !r->used_at && !r->revoked_at && now < r->expires_at && now < r->family_expires_at;
    out.record = std::move(*r);
    return out;
  };
  std::optional<RefreshLookup> lookup = co_await http::RunOn(*ctx.db_pool, job);
  if (!lookup || !lookup->active || !lookup->record) co_return Inactive();
  const store::RefreshToken& r = *lookup->record;
  co_return NoStoreJson({{"active", true},
                         {"token_type", "refresh_token"},
                         {"scope", r.scope},
                         {"client_id", r.client_id},
                         {"sub", r.user_id},
                         {"iss", ctx.config->tokens.issuer},
                         {"exp", std::min(r.expires_at, r.family_expires_at)},
                         {"iat", r.issued_at}});
}

boost::asio::awaitable<http::Response> HandleRevoke(ApiContext& ctx, http::Request& req) {
  Result<http::FormFields> form = http::ParseForm(req);
  if (!form.ok()) co_return InvalidRequest(form.status().message());
  std::variant<ResolvedClient, http::Response> resolved =
      co_await ResolveClient(ctx, req, *form, /*allow_public=*/true);
  if (auto* res = std::get_if<http::Response>(&resolved)) co_return std::move(*res);
  const ResolvedClient& client = std::get<ResolvedClient>(resolved);

  const std::string* token = form->Get("token");
  if (token == nullptr || token->empty()) {
    co_return InvalidRequest("missing required parameter: token");
  }
  if (const std::string* hint = form->Get("token_type_hint");
      hint != nullptr && !hint->empty() && *hint != "access_token" && *hint != "refresh_token") {
    co_return http::OAuthErrorResponse(bhttp::status::bad_request, "unsupported_token_type",
                                       "token_type_hint must be access_token or refresh_token");
  }
  if (token->size() > kMaxPresentedTokenBytes) co_return NoStoreJson({});

  ApiContext* c = &ctx;
  auto audit_context = std::make_shared<audit::AuditContext>(AuditContextOf(req, client.client_id));
  std::string client_id = client.client_id;

  jose::VerifyResult verified = ctx.tokens->Validate(*token);
  if (verified.error == jose::VerifyError::kOk) {
    if (verified.claims.client_id != client_id) co_return NoStoreJson({});  // not the caller's
    auto claims = std::make_shared<jose::AccessTokenClaims>(std::move(verified.claims));
    auto job = [c, claims, audit_context] {
      Status s = c->store->AddRevokedJti(claims->jti, claims->exp);
      if (s.ok()) {
        c->revocations->Add(claims->jti, claims->exp);
        c->audit->Record("token.revoked", *audit_context, claims->sub,
                         {{"token_type", "access_token"}, {"jti", claims->jti}});
      }
      return s.ok();
    };
    std::optional<bool> done = co_await http::RunOn(*ctx.db_pool, job);
    if (!done || !*done) co_return PasswordGrantFailure(authn::AuthnError::kStoreUnavailable);
    co_return NoStoreJson({});
  }

  auto presented = std::make_shared<SecretString>(std::string_view(*token));
  auto job = [c, presented, audit_context, client_id] {
    Result<store::RefreshToken> r =
        c->store->FindRefreshToken(crypto::Sha256Hex(presented->reveal()));
    if (!r.ok()) return r.status().code() == StatusCode::kNotFound;
    if (r->client_id != client_id) return true;  // not the caller's: answer 200, change nothing
    Result<int> revoked = c->store->RevokeRefreshFamily(r->family_id, c->clock->Now());
    if (!revoked.ok()) return false;
    c->audit->Record(
        "token.revoked", *audit_context, r->user_id,
        {{"token_type", "refresh_token"}, {"family_id", r->family_id}, {"revoked", *revoked}});
    return true;
  };
  std::optional<bool> done = co_await http::RunOn(*ctx.db_pool, job);
  if (!done || !*done) co_return PasswordGrantFailure(authn::AuthnError::kStoreUnavailable);
  co_return NoStoreJson({});
}

}  // namespace portcullis::api
