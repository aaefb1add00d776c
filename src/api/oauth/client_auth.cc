#include "api/oauth/client_auth.h"

#include <algorithm>
#include <memory>

#include "api/authz.h"
#include "api/oauth/oauth_error.h"
#include "api/throttle_events.h"
#include "authn/basic_credentials.h"
#include "authn/client_authenticator.h"
#include "authn/client_metadata.h"
#include "base/log.h"
#include "http/offload.h"

namespace portcullis::api {

namespace bhttp = boost::beast::http;

namespace {

const std::string* NonEmpty(const http::FormFields& form, std::string_view name) {
  const std::string* v = form.Get(name);
  return (v != nullptr && !v->empty()) ? v : nullptr;
}

ResolvedClient PublicClient() {
  return ResolvedClient{
      std::string(authn::kPublicClientId), false, {"password", "refresh_token"}, {}};
}

}  // namespace

http::Response InvalidClient() {
  http::Response res = http::OAuthErrorResponse(bhttp::status::unauthorized, "invalid_client",
                                                "client authentication failed");
  res.set(bhttp::field::www_authenticate, "Basic realm=\"portcullis\", charset=\"UTF-8\"");
  return res;
}

void AllowBrowserOrigin(const http::Request& req, const ResolvedClient& client,
                        http::Response& res) {
  std::string_view origin = req.Header("Origin");
  if (origin.empty() || origin == "null") return;
  for (const std::string& uri : client.redirect_uris) {
    // The origin of an absolute URI: scheme "://" authority (registered URIs have no userinfo).
    const std::size_t scheme_end = uri.find("://");
    if (scheme_end == std::string::npos) continue;
    const std::size_t end = uri.find_first_of("/?#", scheme_end + 3);
    if (std::string_view(uri).substr(0, end) == origin) {
      res.set(bhttp::field::access_control_allow_origin, origin);
      res.set(bhttp::field::vary, "Origin");
      return;
    }
  }
}

bool ClientAllowsGrant(const ResolvedClient& client, std::string_view grant_type) {
  return std::find(client.grant_types.begin(), client.grant_types.end(), grant_type) !=
         client.grant_types.end();
}

boost::asio::awaitable<std::variant<ResolvedClient, http::Response>> ResolveClient(
    ApiContext& ctx, const http::Request& req, const http::FormFields& form, bool allow_public) {
  std::string_view authorization = req.Header("Authorization");
  const std::string* post_id = NonEmpty(form, "client_id");
  const std::string* post_secret = NonEmpty(form, "client_secret");

  std::string client_id;
  auto secret = std::make_shared<SecretString>();
  authn::ClientSecretMethod method = authn::ClientSecretMethod::kBasic;
  if (!authorization.empty()) {
    if (post_secret != nullptr) {
      co_return InvalidRequest("use one client authentication method, not Basic and client_secret");
    }
    std::optional<authn::BasicCredentials> basic =
        authn::ParseBasicCredentials(authorization, /*form_urlencoded=*/true);
    if (!basic) co_return InvalidClient();
    if (post_id != nullptr && *post_id != basic->user) {
      co_return InvalidRequest("client_id does not match the authenticated client");
    }
    client_id = std::move(basic->user);
    *secret = std::move(basic->password);
  } else if (post_secret != nullptr) {
    if (post_id == nullptr) co_return InvalidRequest("client_secret without client_id");
    client_id = *post_id;
    *secret = SecretString(std::string_view(*post_secret));
    method = authn::ClientSecretMethod::kPost;
  } else if (post_id == nullptr || *post_id == authn::kPublicClientId) {
    if (allow_public) co_return PublicClient();
    co_return InvalidClient();
  } else if (allow_public) {
    // client_id alone: a registered public client (token_endpoint_auth_method "none", DESIGN
    // §8); a confidential client without its secret fails.
    auto id = std::make_shared<std::string>(*post_id);
    ApiContext* c = &ctx;
    auto lookup = [c, id] { return c->store->FindClient(*id); };
    std::optional<Result<store::Client>> found = co_await http::RunOn(*ctx.db_pool, lookup);
    if (!found) co_return HashPoolFull();
    if (!found->ok()) {
      if (found->status().code() != StatusCode::kNotFound) {
        co_return PasswordGrantFailure(authn::AuthnError::kStoreUnavailable);
      }
      co_return InvalidClient();
    }
    if ((*found)->token_endpoint_auth_method != authn::kAuthMethodNone) co_return InvalidClient();
    co_return ResolvedClient{(*found)->client_id,     false,
                             (*found)->grant_types,   (*found)->scopes,
                             (*found)->redirect_uris, (*found)->require_dpop};
  } else {
    co_return InvalidClient();  // a confidential client without its secret
  }
  if (client_id == authn::kPublicClientId) {
    // The public client has no secret; presenting one is a failed authentication.
    if (!secret->empty() || !allow_public) co_return InvalidClient();
    co_return PublicClient();
  }

  // Client secrets get the same brute-force defence as passwords (DESIGN §5), under their own
  // namespace so a client id can never collide with a username.
  struct Checked {
    authn::ClientAuthOutcome outcome;
    std::int64_t retry_after_s = 0;
  };
  ApiContext* c = &ctx;
  // The fast path: the secret matches the cached client and a success changes no throttle
  // record. Anything else (a miss, a wrong secret, a lock, a pair to reset) takes the full path
  // below. Local mode decides from memory, here on the network thread; shared mode reads the
  // throttle records, on the db pool.
  auto quick = [c, method](const std::string& id, const SecretString& presented,
                           const std::string& client_ip) -> std::optional<store::Client> {
    std::optional<store::Client> client =
        c->client_authenticator->AuthenticateCached(id, presented.reveal(), method);
    if (!client || !c->throttle->QuietSuccess("client:" + id, client_ip)) return std::nullopt;
    return client;
  };
  auto resolved = [](const store::Client& client) {
    return ResolvedClient{client.client_id,     true,
                          client.grant_types,   client.scopes,
                          client.redirect_uris, client.require_dpop};
  };
  if (!ctx.throttle->shared()) {
    if (std::optional<store::Client> client = quick(client_id, *secret, req.client_ip)) {
      co_return resolved(*client);
    }
  }
  auto id = std::make_shared<std::string>(client_id);
  auto audit_context = std::make_shared<audit::AuditContext>(AuditContextOf(req, ""));
  auto job = [c, id, secret, audit_context, quick, method] {
    Checked out;
    if (c->throttle->shared()) {
      if (std::optional<store::Client> client = quick(*id, *secret, audit_context->client_ip)) {
        out.outcome.client = std::move(*client);
        return out;
      }
    }
    std::string throttle_key = "client:" + *id;
    authn::Admission admission = c->throttle->Admit(throttle_key, audit_context->client_ip);
    if (!admission.allowed) {
      out.retry_after_s = admission.retry_after_s;
      RecordRefusal(*c, admission, *audit_context, throttle_key);
      return out;
    }
    out.outcome = c->client_authenticator->Authenticate(*id, secret->reveal(), method);
    if (out.outcome.error == authn::ClientAuthError::kStoreUnavailable) {
      c->throttle->Abandon(admission.ticket);
    } else {
      RecordThrottleOutcome(
          *c,
          c->throttle->Complete(admission.ticket, out.outcome.error == authn::ClientAuthError::kOk),
          *audit_context, throttle_key);
    }
    return out;
  };
  std::optional<Checked> checked = co_await http::RunOn(*ctx.db_pool, job);
  if (!checked) co_return HashPoolFull();
  if (checked->retry_after_s > 0) {
    co_return PasswordGrantFailure(authn::AuthnError::kLocked, checked->retry_after_s);
  }
  const authn::ClientAuthOutcome* outcome = &checked->outcome;
  if (outcome->error != authn::ClientAuthError::kOk) {
    log::Info("client_auth.failed", {{"client_id", client_id},
                                     {"reason", authn::ToString(outcome->error)},
                                     {"client_ip", req.client_ip},
                                     {"request_id", req.request_id}});
    if (outcome->error == authn::ClientAuthError::kStoreUnavailable) {
      co_return PasswordGrantFailure(authn::AuthnError::kStoreUnavailable);
    }
    co_return InvalidClient();
  }
  co_return resolved(outcome->client);
}

}  // namespace portcullis::api
