#include "api/credentials.h"

#include <array>

#include "api/auth_response.h"
#include "api/authz.h"
#include "api/throttle_events.h"
#include "authn/api_key.h"
#include "authn/basic_credentials.h"
#include "authz/permission.h"
#include "base/ascii.h"
#include "base/log.h"
#include "crypto/constant_time.h"
#include "http/offload.h"

namespace portcullis::api {

namespace {

// RFC 6750 §2.1 b64token: 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=".
// A table, because every Bearer request runs each of a token's ~450 characters through it.
constexpr std::array<bool, 256> kB64TokenChars = [] {
  std::array<bool, 256> table{};
  for (unsigned char c = 'A'; c <= 'Z'; ++c) table[c] = true;
  for (unsigned char c = 'a'; c <= 'z'; ++c) table[c] = true;
  for (unsigned char c = '0'; c <= '9'; ++c) table[c] = true;
  for (unsigned char c : std::string_view("-._~+/")) table[c] = true;
  return table;
}();

bool IsB64Token(std::string_view token) {
  while (!token.empty() && token.back() == '=') token.remove_suffix(1);
  if (token.empty()) return false;
  for (char c : token) {
    if (!kB64TokenChars[static_cast<unsigned char>(c)]) return false;
  }
  return true;
}

// `<scheme> <b64token>` (scheme case-insensitive, spaces around the token ignored).
std::optional<std::string_view> ParseTokenCredential(std::string_view authorization,
                                                     std::string_view scheme) {
  std::size_t space = authorization.find(' ');
  if (space == std::string_view::npos) return std::nullopt;
  if (!EqualsIgnoreAsciiCase(authorization.substr(0, space), scheme)) return std::nullopt;
  std::string_view token = authorization.substr(space + 1);
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
  if (!IsB64Token(token)) return std::nullopt;
  return token;
}

}  // namespace

std::optional<std::string_view> ParseBearer(std::string_view authorization) {
  return ParseTokenCredential(authorization, "bearer");
}

std::optional<std::string_view> ParseApiKeyAuthorization(std::string_view authorization) {
  std::size_t space = authorization.find(' ');
  if (space == std::string_view::npos) {
    if (EqualsIgnoreAsciiCase(authorization, "apikey")) return std::string_view();
    return std::nullopt;
  }
  if (!EqualsIgnoreAsciiCase(authorization.substr(0, space), "apikey")) return std::nullopt;
  std::string_view key = authorization.substr(space + 1);
  while (!key.empty() && key.front() == ' ') key.remove_prefix(1);
  while (!key.empty() && key.back() == ' ') key.remove_suffix(1);
  return key;
}

namespace {

// Counts and logs a refused access token (never the token).
void NoteRejectedToken(ApiContext& ctx, const http::Request& req, std::string_view reason) {
  ctx.counters.token_verifications->IncOne(reason);
  log::Info("authn.token_rejected",
            {{"reason", reason}, {"client_ip", req.client_ip}, {"request_id", req.request_id}});
}

Principal FromClaims(jose::AccessTokenClaims& claims, std::string_view auth_method) {
  Principal p;
  p.kind = claims.username.has_value() ? Principal::Kind::kUser : Principal::Kind::kClient;
  p.id = std::move(claims.sub);
  p.username = std::move(claims.username);
  p.client_id = std::move(claims.client_id);
  p.roles = std::move(claims.roles);
  p.permissions = authz::SplitScope(claims.scope);
  p.auth_method = std::string(auth_method);
  return p;
}

}  // namespace

std::optional<std::string_view> ParseDpopAuthorization(std::string_view authorization) {
  return ParseTokenCredential(authorization, "dpop");
}

std::variant<Principal, http::Response> AuthenticateBearer(ApiContext& ctx,
                                                           const http::Request& req) {
  std::string_view authorization = req.Header("Authorization");
  if (authorization.empty()) return Unauthenticated(authn::AuthnError::kNoCredentials);
  std::optional<std::string_view> token = ParseBearer(authorization);
  if (!token) {
    ctx.counters.token_verifications->IncOne("malformed_header");
    return Unauthenticated(authn::AuthnError::kMalformedCredentials);
  }
  jose::VerifyResult verified = ctx.tokens->Validate(*token);
  if (verified.error != jose::VerifyError::kOk) {
    NoteRejectedToken(ctx, req, jose::ToString(verified.error));
    return Unauthenticated(authn::AuthnError::kTokenInvalid);
  }
  if (verified.claims.cnf_jkt) {
    // RFC 9449 §7.2: a DPoP-bound token is no Bearer token; whoever sends it so lacks the key
    // (or the client is broken). Cached or not, it never gets past here without its proof.
    NoteRejectedToken(ctx, req, "dpop_bound_as_bearer");
    return DpopUnauthorized(ctx, "invalid_token");
  }
  ctx.counters.token_verifications->IncOne("ok");
  return FromClaims(verified.claims, "bearer");
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

// ---------------------------------------------------------------- DPoP (DESIGN §9)

// `Authorization: DPoP <token>` with its proof: the token as for Bearer (cache, revocation,
// user state), then it must be bound (cnf.jkt) and the request's proof — for this method and
// URL, carrying the token's hash, not replayed — must be signed by that very key.
boost::asio::awaitable<std::variant<Principal, http::Response>> AuthenticateDpop(
    ApiContext& ctx, const http::Request& req, std::string_view token, const DpopTarget* target) {
  jose::VerifyResult verified = ctx.tokens->Validate(token);
  if (verified.error != jose::VerifyError::kOk) {
    NoteRejectedToken(ctx, req, jose::ToString(verified.error));
    co_return DpopUnauthorized(ctx, "invalid_token");
  }
  if (!verified.claims.cnf_jkt) {
    // A Bearer token sent under the DPoP scheme proves nothing about its sender: refuse.
    NoteRejectedToken(ctx, req, "not_dpop_bound");
    co_return DpopUnauthorized(ctx, "invalid_token");
  }
  const DpopTarget own = target == nullptr ? RequestTarget(req) : DpopTarget{};
  DpopCheck check = co_await CheckDpop(ctx, req, target == nullptr ? own : *target, token);
  if (!check.present) {
    ctx.counters.dpop_proofs->IncOne("missing");
    co_return DpopUnauthorized(ctx, "invalid_dpop_proof");
  }
  if (check.error != jose::DpopError::kOk || check.unavailable) {
    co_return DpopResourceError(ctx, check);
  }
  if (!crypto::ConstantTimeEqual(check.jkt, *verified.claims.cnf_jkt)) {
    ctx.counters.dpop_proofs->IncOne(jose::ToString(jose::DpopError::kKeyMismatch));
    log::Info("authn.dpop_rejected", {{"reason", jose::ToString(jose::DpopError::kKeyMismatch)},
                                      {"client_ip", req.client_ip},
                                      {"request_id", req.request_id}});
    co_return DpopUnauthorized(ctx, "invalid_dpop_proof");
  }
  ctx.counters.token_verifications->IncOne("ok");
  co_return FromClaims(verified.claims, "dpop");
}

// ---------------------------------------------------------------- API keys

// RFC 6750 §3.1 (invalid_request) in spirit: which credential counts would be a guess.
http::Response ConflictingCredentials() {
  return http::ProblemResponse(bhttp::status::bad_request, "Bad Request",
                               "send exactly one credential");
}

Principal FromVerifiedKey(const authn::VerifiedApiKey& key) {
  Principal p;
  p.kind = Principal::Kind::kUser;
  p.id = key.user_id;
  p.username = key.username;
  p.roles = key.roles;
  p.permissions = key.permissions;
  p.auth_method = "api_key";
  return p;
}

void CountApiKey(ApiContext& ctx, authn::ApiKeyError error) {
  if (ctx.counters.api_key_verifications != nullptr) {
    ctx.counters.api_key_verifications->IncOne(authn::ToString(error));
  }
}

// Logs the refusal (never the key) and answers 401. A failed secret check counts toward the
// source's failure budget (DESIGN §5); the throttle writes the store, so it runs on the db pool.
boost::asio::awaitable<http::Response> RefuseApiKey(ApiContext& ctx, const http::Request& req,
                                                    authn::ApiKeyError error,
                                                    std::string_view key_id) {
  CountApiKey(ctx, error);
  log::Info("authn.api_key_rejected", {{"reason", authn::ToString(error)},
                                       {"key_id", key_id},
                                       {"client_ip", req.client_ip},
                                       {"request_id", req.request_id}});
  const bool guessing = error == authn::ApiKeyError::kMalformed ||
                        error == authn::ApiKeyError::kUnknownKey ||
                        error == authn::ApiKeyError::kWrongSecret;
  if (guessing && ctx.throttle != nullptr && ctx.db_pool != nullptr) {
    auto audit_context = std::make_shared<audit::AuditContext>(AuditContextOf(req, ""));
    ApiContext* c = &ctx;
    auto job = [c, audit_context] {
      RecordThrottleOutcome(*c, c->throttle->RecordSourceFailure(audit_context->client_ip),
                            *audit_context, "");
      return true;
    };
    (void)co_await http::RunOn(*ctx.db_pool, job);
  }
  co_return Unauthenticated(error == authn::ApiKeyError::kMalformed
                                ? authn::AuthnError::kMalformedCredentials
                                : authn::AuthnError::kTokenInvalid);
}

// The ApiKey branch: strict parse; a cache hit is re-checked (secret in constant time, expiry,
// owner's credential version) without touching the database; a miss is verified on the db pool.
boost::asio::awaitable<std::variant<Principal, http::Response>> AuthenticateApiKey(
    ApiContext& ctx, const http::Request& req, std::string_view presented) {
  if (ctx.api_keys == nullptr || ctx.db_pool == nullptr) {
    co_return Unauthenticated(authn::AuthnError::kMalformedCredentials);
  }
  std::optional<authn::ParsedApiKey> parsed = authn::ParseApiKey(presented);
  if (!parsed) co_return co_await RefuseApiKey(ctx, req, authn::ApiKeyError::kMalformed, "");
  const std::string key_id(parsed->id);
  const UnixSeconds now = ctx.clock->Now();

  if (std::optional<authn::VerifiedApiKey> hit = ctx.api_keys->Find(key_id)) {
    authn::ApiKeyError error =
        authn::CheckApiKeySecret(hit->secret_hash, hit->expires_at, parsed->secret, now);
    if (error != authn::ApiKeyError::kOk) co_return co_await RefuseApiKey(ctx, req, error, key_id);
    if (ctx.user_states->Check(hit->user_id, hit->credential_version) == jose::VerifyError::kOk) {
      CountApiKey(ctx, authn::ApiKeyError::kOk);
      if (ctx.api_key_usage != nullptr) ctx.api_key_usage->Record(key_id, now);
      co_return FromVerifiedKey(*hit);
    }
    // The owner changed (disabled, password, roles): verify again against the store.
    ctx.api_keys->Erase(key_id);
  }

  // Copied for the job (another thread) as a SecretString: wiped when the last copy dies.
  auto key = std::make_shared<SecretString>(presented);
  const std::uint64_t epoch = ctx.api_keys->Epoch();
  ApiContext* c = &ctx;
  auto job = [c, key] {
    std::optional<authn::ParsedApiKey> p = authn::ParseApiKey(key->reveal());
    authn::ApiKeyVerification v = authn::VerifyApiKeyWithStore(*c->store, *p, c->clock->Now());
    if (v.owner_state) {
      c->user_states->Set(v.owner_state->id, v.owner_state->credential_version,
                          v.owner_state->disabled);
    }
    return v;
  };
  std::optional<authn::ApiKeyVerification> verified = co_await http::RunOn(*ctx.db_pool, job);
  if (!verified || verified->error == authn::ApiKeyError::kStoreUnavailable) {
    // The database is down (or the pool full): a key verified before still works from memory,
    // under the same checks as a cache hit.
    if (std::optional<authn::VerifiedApiKey> stale = ctx.api_keys->FindStale(key_id)) {
      const UnixSeconds at = ctx.clock->Now();
      if (authn::CheckApiKeySecret(stale->secret_hash, stale->expires_at, parsed->secret, at) ==
              authn::ApiKeyError::kOk &&
          ctx.user_states->Check(stale->user_id, stale->credential_version) ==
              jose::VerifyError::kOk) {
        CountApiKey(ctx, authn::ApiKeyError::kOk);
        if (ctx.api_key_usage != nullptr) ctx.api_key_usage->Record(key_id, at);
        co_return FromVerifiedKey(*stale);
      }
    }
    CountApiKey(ctx, authn::ApiKeyError::kStoreUnavailable);
    http::Response res = http::ProblemResponse(bhttp::status::service_unavailable,
                                               "Service Unavailable", "retry shortly");
    res.set(bhttp::field::retry_after, "1");
    co_return res;
  }
  if (verified->error != authn::ApiKeyError::kOk) {
    co_return co_await RefuseApiKey(ctx, req, verified->error, key_id);
  }
  CountApiKey(ctx, authn::ApiKeyError::kOk);
  if (ctx.api_key_usage != nullptr) ctx.api_key_usage->Record(key_id, now);
  Principal principal = FromVerifiedKey(verified->key);
  ctx.api_keys->Put(std::move(verified->key), epoch);
  co_return principal;
}

}  // namespace

boost::asio::awaitable<std::variant<Principal, http::Response>> AuthenticateRequest(
    ApiContext& ctx, const http::Request& req, const DpopTarget* dpop_target) {
  // Exactly one credential: two Authorization headers, or Authorization and X-API-Key, or two
  // X-API-Key headers are refused rather than picking one.
  const std::size_t authorization_count = req.message.count(bhttp::field::authorization);
  const std::size_t api_key_count = req.message.count("X-API-Key");
  if (authorization_count + api_key_count > 1) co_return ConflictingCredentials();
  if (api_key_count == 1) co_return co_await AuthenticateApiKey(ctx, req, req.Header("X-API-Key"));
  std::string_view authorization = req.Header("Authorization");
  if (std::optional<std::string_view> key = ParseApiKeyAuthorization(authorization)) {
    co_return co_await AuthenticateApiKey(ctx, req, *key);
  }
  if (!authn::IsBasicScheme(authorization)) {
    if (std::optional<std::string_view> token = ParseDpopAuthorization(authorization)) {
      co_return co_await AuthenticateDpop(ctx, req, *token, dpop_target);
    }
    co_return AuthenticateBearer(ctx, req);
  }
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
    if (login.error == authn::AuthnError::kOk) {
      // A TOTP user cannot give the code over Basic, so Basic is refused (DESIGN §8) — and
      // counted like a failure: the password alone is not this user's credential.
      Result<bool> totp = c->mfa->HasTotp(login.user.id);
      if (!totp.ok()) {
        login.error = authn::AuthnError::kStoreUnavailable;
      } else if (*totp) {
        login.error = authn::AuthnError::kMfaRequired;
      }
    }
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
    if (!login.rehashed_from.empty()) {
      // An imported bcrypt hash (or older Argon2 parameters) was just upgraded to Argon2id.
      audit::AuditContext actor = *audit_context;
      actor.actor = login.user.id;
      c->audit->Record("password.rehashed", actor, login.user.id,
                       {{"from", login.rehashed_from}, {"method", "basic"}});
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
  if (outcome->error == authn::AuthnError::kStoreUnavailable) {
    // The credentials could not be checked: "retry later", as at the token endpoint — a 401
    // would tell clients and forward-auth proxies the password is wrong.
    http::Response res = http::ProblemResponse(bhttp::status::service_unavailable,
                                               "Service Unavailable", "retry shortly");
    res.set(bhttp::field::retry_after, "1");
    co_return res;
  }
  if (outcome->error != authn::AuthnError::kOk) co_return BasicUnauthenticated();
  ctx.basic_cache->Put(credentials->user, credentials->password.reveal(), outcome->user);
  co_return FromCached(outcome->user);
}

}  // namespace portcullis::api
