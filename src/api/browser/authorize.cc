#include "api/browser/authorize.h"

#include <algorithm>
#include <boost/json.hpp>
#include <charconv>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "api/authz.h"
#include "api/browser/html.h"
#include "api/credentials.h"
#include "api/dpop.h"
#include "api/handler_common.h"
#include "api/password_login.h"
#include "api/throttle_events.h"
#include "authn/authorize_request.h"
#include "authn/browser_sessions.h"
#include "authz/permission.h"
#include "base/json.h"
#include "base/log.h"
#include "crypto/base64.h"
#include "crypto/constant_time.h"
#include "crypto/random.h"
#include "crypto/sha256.h"
#include "http/offload.h"
#include "http/parse.h"
#include "token/id_token.h"

namespace portcullis::api {

namespace bhttp = boost::beast::http;

namespace {

constexpr std::string_view kCsrfCookie = "__Host-portcullis_csrf";
constexpr std::size_t kCsrfBytes = 32;
constexpr std::size_t kCodeBytes = 32;
constexpr std::int64_t kCodeTtlS = 60;  // DESIGN §8
constexpr std::size_t kMaxUsernameBytes = 256;
constexpr std::size_t kMaxPasswordBytes = 4096;
constexpr std::string_view kLoginFailed = "Invalid username or password.";

// ------------------------------------------------------------------ small helpers

std::optional<std::string> Param(const http::FormFields& f, std::string_view name) {
  const std::string* v = f.Get(name);
  if (v == nullptr || v->empty()) return std::nullopt;
  return *v;
}

authn::AuthorizeParams ParamsOf(const http::FormFields& f) {
  authn::AuthorizeParams p;
  p.response_type = Param(f, "response_type");
  p.client_id = Param(f, "client_id");
  p.redirect_uri = Param(f, "redirect_uri");
  p.scope = Param(f, "scope");
  p.state = Param(f, "state");
  p.nonce = Param(f, "nonce");
  p.code_challenge = Param(f, "code_challenge");
  p.code_challenge_method = Param(f, "code_challenge_method");
  p.dpop_jkt = Param(f, "dpop_jkt");
  p.prompt = Param(f, "prompt");
  p.max_age = Param(f, "max_age");
  p.request = Param(f, "request");
  p.request_uri = Param(f, "request_uri");
  p.response_mode = Param(f, "response_mode");
  return p;
}

// The value of cookie `name` in the Cookie header(s), or "" (RFC 6265 §5.4: "a=b; c=d").
std::string CookieValue(const http::Request& req, std::string_view name) {
  for (const auto& field : req.message) {
    if (field.name() != bhttp::field::cookie) continue;
    std::string_view rest = field.value();
    while (!rest.empty()) {
      std::size_t semi = rest.find(';');
      std::string_view pair = rest.substr(0, semi);
      rest = semi == std::string_view::npos ? std::string_view() : rest.substr(semi + 1);
      while (!pair.empty() && pair.front() == ' ') pair.remove_prefix(1);
      std::size_t eq = pair.find('=');
      if (eq == std::string_view::npos) continue;
      if (pair.substr(0, eq) == name) return std::string(pair.substr(eq + 1));
    }
  }
  return "";
}

// Cookies are Secure when the browser reaches us over TLS (here or at a proxy in front).
bool SecureCookies(const ApiContext& ctx, const http::Request& req) {
  return req.tls || ctx.config->server.behind_tls_proxy ||
         ctx.config->tokens.issuer.starts_with("https://");
}

std::string Cookie(std::string_view name, std::string_view value, std::string_view same_site,
                   bool secure, std::optional<std::int64_t> max_age) {
  std::string c(name);
  c += '=';
  c += value;
  c += "; Path=/; HttpOnly; SameSite=";
  c += same_site;
  if (secure) c += "; Secure";
  if (max_age) c += "; Max-Age=" + std::to_string(*max_age);
  return c;
}

std::string PercentEncode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '.' || c == '_' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

// redirect_uri + the response parameters (RFC 6749 §4.1.2, RFC 9207 iss), keeping any query the
// registered URI has.
std::string RedirectTo(std::string_view redirect_uri,
                       const std::vector<std::pair<std::string_view, std::string>>& params) {
  std::string url(redirect_uri);
  char sep = url.find('?') == std::string::npos ? '?' : '&';
  for (const auto& [name, value] : params) {
    url += sep;
    url += name;
    url += '=';
    url += PercentEncode(value);
    sep = '&';
  }
  return url;
}

// The origin of a registered redirect URI, for the CSP form-action; "" when it has characters a
// CSP source may not carry.
std::string OriginOf(std::string_view uri) {
  std::size_t scheme_end = uri.find("://");
  if (scheme_end == std::string_view::npos) return "";
  std::size_t end = uri.find_first_of("/?#", scheme_end + 3);
  std::string_view origin = uri.substr(0, end);
  for (char c : origin) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '-' || c == ':' || c == '/' || c == '[' || c == ']';
    if (!ok) return "";
  }
  return std::string(origin);
}

http::Response Redirect(bhttp::status status, const std::string& location) {
  http::Response res{status, 11};
  res.set(bhttp::field::location, location);
  res.set(bhttp::field::cache_control, "no-store");
  res.set("Referrer-Policy", "no-referrer");
  res.prepare_payload();
  return res;
}

http::Response ErrorPage(const ApiContext& ctx, bhttp::status status, std::string_view message) {
  return browser::HtmlResponse(
      status, browser::RenderMessagePage(ctx.config->ui, "Sign-in error", message));
}

http::Response RedirectError(const ApiContext& ctx, const authn::AuthorizeRequest& r,
                             std::string_view error, std::string_view description,
                             bhttp::status status = bhttp::status::found) {
  std::vector<std::pair<std::string_view, std::string>> params{{"error", std::string(error)}};
  if (!description.empty()) params.emplace_back("error_description", std::string(description));
  if (r.state) params.emplace_back("state", *r.state);
  params.emplace_back("iss", ctx.config->tokens.issuer);
  return Redirect(status, RedirectTo(r.redirect_uri, params));
}

// The scope string stored with a code: the OpenID scopes, then the permission scopes asked for.
std::string RequestedScope(const authn::AuthorizeRequest& r) {
  std::vector<std::string> all = r.oidc_scopes;
  all.insert(all.end(), r.permission_scopes.begin(), r.permission_scopes.end());
  return authz::JoinScope(all);
}

// Stores a new authorization code for `session` (blocking). The code, or the store's error.
Result<std::string> IssueCode(ApiContext& ctx, const authn::AuthorizeRequest& r,
                              const store::BrowserSession& session) {
  const UnixSeconds now = ctx.clock->Now();
  std::string code = crypto::RandomBase64Url(*ctx.random, kCodeBytes);
  store::AuthorizationCode record;
  record.code_hash = crypto::Sha256Hex(code);
  record.client_id = r.client_id;
  record.user_id = session.user_id;
  record.redirect_uri = r.redirect_uri;
  record.code_challenge = r.code_challenge;
  record.dpop_jkt = r.dpop_jkt;
  record.scope = RequestedScope(r);
  record.nonce = r.nonce;
  record.auth_time = session.auth_time;
  record.amr = session.amr;
  record.session_id = session.id;
  record.created_at = now;
  record.expires_at = now + kCodeTtlS;
  if (Status s = ctx.store->InsertAuthorizationCode(record); !s.ok()) return s;
  return code;
}

http::Response CodeRedirect(const ApiContext& ctx, const authn::AuthorizeRequest& r,
                            const std::string& code, bhttp::status status) {
  std::vector<std::pair<std::string_view, std::string>> params{{"code", code}};
  if (r.state) params.emplace_back("state", *r.state);
  params.emplace_back("iss", ctx.config->tokens.issuer);
  return Redirect(status, RedirectTo(r.redirect_uri, params));
}

// Hidden fields that carry the authorization request through the login form.
std::vector<std::pair<std::string, std::string>> HiddenFields(const authn::AuthorizeParams& p) {
  std::vector<std::pair<std::string, std::string>> h;
  auto add = [&h](std::string_view name, const std::optional<std::string>& v) {
    if (v) h.emplace_back(std::string(name), *v);
  };
  add("response_type", p.response_type);
  add("client_id", p.client_id);
  add("redirect_uri", p.redirect_uri);
  add("scope", p.scope);
  add("state", p.state);
  add("nonce", p.nonce);
  add("code_challenge", p.code_challenge);
  add("code_challenge_method", p.code_challenge_method);
  add("dpop_jkt", p.dpop_jkt);
  return h;
}

// The login page, with the CSRF cookie (kept when the browser already has a well-formed one, so
// two tabs can sign in).
http::Response LoginPageResponse(ApiContext& ctx, const http::Request& req,
                                 const authn::AuthorizeParams& params,
                                 const authn::AuthorizeRequest& r, const store::Client& client,
                                 bhttp::status status, std::string_view error,
                                 std::string_view username) {
  std::string csrf = CookieValue(req, kCsrfCookie);
  const bool reuse = authn::BrowserSessions::IsWellFormed(csrf);
  if (!reuse) csrf = crypto::RandomBase64Url(*ctx.random, kCsrfBytes);
  browser::LoginPage page;
  page.hidden = HiddenFields(params);
  page.csrf_token = csrf;
  page.username = std::string(username);
  page.error = std::string(error);
  page.client_name = client.name.empty() ? client.client_id : client.name;
  http::Response res = browser::HtmlResponse(status, browser::RenderLoginPage(ctx.config->ui, page),
                                             OriginOf(r.redirect_uri));
  if (!reuse) {
    res.set(bhttp::field::set_cookie,
            Cookie(kCsrfCookie, csrf, "Strict", SecureCookies(ctx, req), std::nullopt));
  }
  return res;
}

// The second step: the TOTP code (the CSRF cookie is already set by the first).
http::Response TotpPageResponse(ApiContext& ctx, const http::Request& req,
                                const authn::AuthorizeParams& params,
                                const authn::AuthorizeRequest& r, const store::Client& client,
                                bhttp::status status, std::string_view error,
                                std::string_view ticket) {
  browser::LoginPage page;
  page.hidden = HiddenFields(params);
  page.csrf_token = CookieValue(req, kCsrfCookie);
  page.error = std::string(error);
  page.client_name = client.name.empty() ? client.client_id : client.name;
  page.totp_step = true;
  page.mfa_ticket = std::string(ticket);
  return browser::HtmlResponse(status, browser::RenderLoginPage(ctx.config->ui, page),
                               OriginOf(r.redirect_uri));
}

// ------------------------------------------------------------------ the login form

struct LoginOutcome {
  PasswordCheck check;
  std::string code;    // set on success
  std::string cookie;  // the new session's cookie value
  bool store_failed = false;
  std::string mfa_ticket;  // the password was right and the user has TOTP: ask for the code
};

// The proof that the first step (the password) succeeded, carried by the TOTP page: sealed with
// the master key, bound to the user, their credential version, the client, and 5 minutes.
constexpr std::string_view kTicketAd = "portcullis/mfa-ticket/v1";
constexpr std::int64_t kTicketTtlS = 300;
constexpr std::size_t kMaxTicketBytes = 2048;

struct MfaTicket {
  std::string user_id;
  std::string username;
  std::int64_t credential_version = 0;
  std::string client_id;
  UnixSeconds expires_at = 0;
};

std::string SealTicket(const ApiContext& ctx, const MfaTicket& t) {
  boost::json::object o{{"u", t.user_id},
                        {"n", t.username},
                        {"v", t.credential_version},
                        {"c", t.client_id},
                        {"e", t.expires_at}};
  return crypto::Base64UrlEncode(ctx.master_key->Seal(boost::json::serialize(o), kTicketAd));
}

std::optional<MfaTicket> OpenTicket(const ApiContext& ctx, std::string_view text) {
  if (text.size() > kMaxTicketBytes) return std::nullopt;
  std::optional<std::string> sealed = crypto::Base64UrlDecode(text);
  if (!sealed) return std::nullopt;
  Result<SecretBytes> plain = ctx.master_key->Open(*sealed, kTicketAd);
  if (!plain.ok()) return std::nullopt;
  Result<boost::json::value> v = ParseJson(plain->view());
  if (!v.ok() || !v->is_object()) return std::nullopt;
  const boost::json::object& o = v->as_object();
  const boost::json::value* u = o.if_contains("u");
  const boost::json::value* n = o.if_contains("n");
  const boost::json::value* ver = o.if_contains("v");
  const boost::json::value* c = o.if_contains("c");
  const boost::json::value* e = o.if_contains("e");
  if (!u || !u->is_string() || !n || !n->is_string() || !ver || !ver->is_int64() || !c ||
      !c->is_string() || !e || !e->is_int64()) {
    return std::nullopt;
  }
  return MfaTicket{std::string(u->as_string()), std::string(n->as_string()), ver->as_int64(),
                   std::string(c->as_string()), e->as_int64()};
}

// Starts the browser session of a user who passed every step, and issues the code (blocking).
void FinishSignIn(ApiContext& c, const store::User& user, std::string_view amr,
                  const authn::AuthorizeRequest& request, const audit::AuditContext& context,
                  const std::string& previous_cookie, const std::string& user_agent,
                  LoginOutcome& out) {
  // A new sign-in replaces the browser's previous session.
  if (!previous_cookie.empty()) (void)c.sessions->End(previous_cookie);
  Result<authn::NewBrowserSession> session =
      c.sessions->Start(user, amr, context.client_ip, user_agent);
  if (!session.ok()) {
    log::Error("session.start_failed", {{"error", session.status().ToString()}});
    out.store_failed = true;
    return;
  }
  audit::AuditContext actor = context;
  actor.actor = user.id;
  c.audit->Record("login.succeeded", actor, user.id,
                  {{"client_id", request.client_id}, {"method", "login_page"}, {"amr", amr}});
  c.audit->Record("session.started", actor, user.id,
                  {{"session_id", session->record.id}, {"client_id", request.client_id}});
  Result<std::string> code = IssueCode(c, request, session->record);
  if (!code.ok()) {
    log::Error("code.issue_failed", {{"error", code.status().ToString()}});
    out.store_failed = true;
    return;
  }
  out.code = std::move(*code);
  out.cookie = std::move(session->cookie_value);
}

// Redirects with the code and sets the session cookie: the end of every successful sign-in.
http::Response SignedIn(ApiContext& ctx, const http::Request& req, const authn::AuthorizeRequest& r,
                        const LoginOutcome& outcome) {
  ctx.counters.login_attempts->Inc({"success"});
  // 303: the browser follows with a GET (RFC 9110 §15.4.4).
  http::Response res = CodeRedirect(ctx, r, outcome.code, bhttp::status::see_other);
  res.set(bhttp::field::set_cookie, Cookie(authn::kSessionCookie, outcome.cookie, "Lax",
                                           SecureCookies(ctx, req), ctx.config->sessions.ttl_s));
  return res;
}

http::Response Unavailable(const ApiContext& ctx) {
  http::Response res = ErrorPage(ctx, bhttp::status::service_unavailable,
                                 "Sign-in is unavailable right now. Please try again shortly.");
  res.set(bhttp::field::retry_after, "1");
  return res;
}

// The TOTP step: the sealed ticket from the password step, and a code (or a recovery code).
boost::asio::awaitable<http::Response> SubmitTotp(ApiContext& ctx, http::Request& req,
                                                  const http::FormFields& form,
                                                  const authn::AuthorizeParams& params,
                                                  const authn::AuthorizeRequest& r,
                                                  const store::Client& client,
                                                  const std::string& ticket_text) {
  std::optional<MfaTicket> ticket = OpenTicket(ctx, ticket_text);
  if (!ticket || ticket->client_id != r.client_id || ctx.clock->Now() >= ticket->expires_at) {
    co_return LoginPageResponse(ctx, req, params, r, client, bhttp::status::bad_request,
                                "Your sign-in expired. Please sign in again.", "");
  }
  const std::string* code = form.Get("code");
  if (code == nullptr || code->empty() || code->size() > 64) {
    co_return TotpPageResponse(ctx, req, params, r, client, bhttp::status::ok,
                               "Enter the code from your authenticator app.", ticket_text);
  }
  auto t = std::make_shared<MfaTicket>(std::move(*ticket));
  auto submitted = std::make_shared<SecretString>(std::string_view(*code));
  auto audit_context = std::make_shared<audit::AuditContext>(AuditContextOf(req, ""));
  auto request = std::make_shared<authn::AuthorizeRequest>(r);
  auto previous_cookie = std::make_shared<std::string>(CookieValue(req, authn::kSessionCookie));
  auto user_agent = std::make_shared<std::string>(req.Header("User-Agent"));
  ApiContext* c = &ctx;
  auto job = [c, t, submitted, audit_context, request, previous_cookie, user_agent] {
    LoginOutcome out;
    // The same throttle as the password (DESIGN §5, §8): a wrong code is a failed attempt.
    authn::Admission admission = c->throttle->Admit(t->username, audit_context->client_ip);
    if (!admission.allowed) {
      RecordRefusal(*c, admission, *audit_context, t->username);
      out.check.login.error = authn::AuthnError::kLocked;
      out.check.retry_after_s = admission.retry_after_s;
      return out;
    }
    Result<store::User> user = c->store->FindUserById(t->user_id);
    authn::AuthnError error = authn::AuthnError::kOk;
    if (!user.ok()) {
      error = user.status().code() == StatusCode::kNotFound ? authn::AuthnError::kUnknownUser
                                                            : authn::AuthnError::kStoreUnavailable;
    } else if (user->disabled) {
      error = authn::AuthnError::kDisabled;
    } else if (user->credential_version != t->credential_version) {
      error = authn::AuthnError::kBadPassword;  // the password changed meanwhile
    } else {
      error = c->mfa->Verify(user->id, submitted->reveal());
      if (error == authn::AuthnError::kMfaRequired) error = authn::AuthnError::kBadOtp;
    }
    out.check.login.error = error;
    if (error == authn::AuthnError::kStoreUnavailable) {
      c->throttle->Abandon(admission.ticket);
      return out;
    }
    RecordThrottleOutcome(*c,
                          c->throttle->Complete(admission.ticket, error == authn::AuthnError::kOk),
                          *audit_context, t->username);
    if (error != authn::AuthnError::kOk) {
      audit::AuditContext actor = *audit_context;
      actor.actor = t->user_id;
      c->audit->Record("mfa.failed", actor, t->user_id,
                       {{"method", "login_page"}, {"client_id", request->client_id}});
      return out;
    }
    FinishSignIn(*c, *user, "pwd otp", *request, *audit_context, *previous_cookie, *user_agent,
                 out);
    return out;
  };
  std::optional<LoginOutcome> outcome = co_await http::RunOn(*ctx.db_pool, job);
  if (!outcome) co_return Unavailable(ctx);
  const authn::AuthnError error = outcome->check.login.error;
  if (error == authn::AuthnError::kLocked) {
    http::Response res =
        TotpPageResponse(ctx, req, params, r, client, bhttp::status::too_many_requests,
                         "Too many attempts. Please wait and try again.", ticket_text);
    res.set(bhttp::field::retry_after,
            std::to_string(std::max<std::int64_t>(1, outcome->check.retry_after_s)));
    co_return res;
  }
  if (error == authn::AuthnError::kStoreUnavailable || outcome->store_failed) {
    co_return Unavailable(ctx);
  }
  if (error == authn::AuthnError::kBadOtp) {
    ctx.counters.login_attempts->Inc({"bad_otp"});
    co_return TotpPageResponse(ctx, req, params, r, client, bhttp::status::ok,
                               "That code is not valid. Try the current one.", ticket_text);
  }
  if (error != authn::AuthnError::kOk) {
    co_return LoginPageResponse(ctx, req, params, r, client, bhttp::status::ok, kLoginFailed, "");
  }
  co_return SignedIn(ctx, req, r, *outcome);
}

boost::asio::awaitable<http::Response> SubmitLogin(ApiContext& ctx, http::Request& req,
                                                   const http::FormFields& form,
                                                   const authn::AuthorizeParams& params,
                                                   const authn::AuthorizeRequest& r,
                                                   const store::Client& client) {
  // CSRF (double submit): the hidden field must equal the browser's __Host- cookie, which a
  // cross-site page can neither read nor set.
  const std::string* posted = form.Get("csrf_token");
  const std::string cookie = CookieValue(req, kCsrfCookie);
  if (posted == nullptr || cookie.empty() || !crypto::ConstantTimeEqual(*posted, cookie)) {
    log::Info("login.csrf_rejected",
              {{"client_ip", req.client_ip}, {"request_id", req.request_id}});
    co_return LoginPageResponse(ctx, req, params, r, client, bhttp::status::bad_request,
                                "Your sign-in form expired. Please sign in again.", "");
  }
  if (const std::string* ticket = form.Get("mfa_ticket")) {
    co_return co_await SubmitTotp(ctx, req, form, params, r, client, *ticket);
  }
  const std::string* username = form.Get("username");
  const std::string* password = form.Get("password");
  if (username == nullptr || password == nullptr || username->empty() || password->empty()) {
    co_return LoginPageResponse(ctx, req, params, r, client, bhttp::status::bad_request,
                                "Enter your username and password.",
                                username ? std::string_view(*username) : "");
  }
  if (username->size() > kMaxUsernameBytes || password->size() > kMaxPasswordBytes) {
    co_return LoginPageResponse(ctx, req, params, r, client, bhttp::status::ok, kLoginFailed, "");
  }

  auto name = std::make_shared<std::string>(*username);
  auto secret = std::make_shared<SecretString>(std::string_view(*password));
  auto audit_context = std::make_shared<audit::AuditContext>(AuditContextOf(req, ""));
  auto request = std::make_shared<authn::AuthorizeRequest>(r);
  auto previous_cookie = std::make_shared<std::string>(CookieValue(req, authn::kSessionCookie));
  auto user_agent = std::make_shared<std::string>(req.Header("User-Agent"));
  ApiContext* c = &ctx;
  auto job = [c, name, secret, audit_context, request, previous_cookie, user_agent] {
    LoginOutcome out;
    out.check = CheckPassword(*c, *name, secret->reveal(), *audit_context, request->client_id);
    if (out.check.login.error != authn::AuthnError::kOk) return out;
    const store::User& user = out.check.login.user;
    Result<bool> totp = c->mfa->HasTotp(user.id);
    if (!totp.ok()) {
      out.store_failed = true;
      return out;
    }
    if (*totp) {
      out.mfa_ticket = SealTicket(*c, MfaTicket{user.id, *name, user.credential_version,
                                                request->client_id, c->clock->Now() + kTicketTtlS});
      return out;
    }
    FinishSignIn(*c, user, "pwd", *request, *audit_context, *previous_cookie, *user_agent, out);
    return out;
  };
  std::optional<LoginOutcome> outcome = co_await http::RunOn(*ctx.hash_pool, job);
  if (!outcome) {
    ctx.counters.login_attempts->Inc({"busy"});
    http::Response res = ErrorPage(ctx, bhttp::status::service_unavailable,
                                   "The server is busy. Please try again in a moment.");
    res.set(bhttp::field::retry_after, "1");
    co_return res;
  }
  const authn::AuthnError error = outcome->check.login.error;
  if (error == authn::AuthnError::kLocked || error == authn::AuthnError::kThrottled) {
    ctx.counters.login_attempts->Inc({std::string(authn::ToString(error))});
    http::Response res = LoginPageResponse(ctx, req, params, r, client,
                                           bhttp::status::too_many_requests, kLoginFailed, *name);
    res.set(bhttp::field::retry_after,
            std::to_string(std::max<std::int64_t>(1, outcome->check.retry_after_s)));
    co_return res;
  }
  if (error == authn::AuthnError::kStoreUnavailable || outcome->store_failed) {
    http::Response res = ErrorPage(ctx, bhttp::status::service_unavailable,
                                   "Sign-in is unavailable right now. Please try again shortly.");
    res.set(bhttp::field::retry_after, "1");
    co_return res;
  }
  if (error != authn::AuthnError::kOk) {
    ctx.counters.login_attempts->Inc({std::string(authn::ToString(error))});
    co_return LoginPageResponse(ctx, req, params, r, client, bhttp::status::ok, kLoginFailed,
                                *name);
  }
  if (!outcome->mfa_ticket.empty()) {
    co_return TotpPageResponse(ctx, req, params, r, client, bhttp::status::ok, "",
                               outcome->mfa_ticket);
  }
  co_return SignedIn(ctx, req, r, *outcome);
}

}  // namespace

// ------------------------------------------------------------------ /oauth2/authorize

boost::asio::awaitable<http::Response> HandleAuthorize(ApiContext& ctx, http::Request& req) {
  const bool post = req.message.method() == bhttp::verb::post;
  Result<http::FormFields> fields = post ? http::ParseForm(req) : http::ParseQuery(req.query);
  if (!fields.ok()) {
    co_return ErrorPage(ctx, bhttp::status::bad_request,
                        "The sign-in request is malformed (" + fields.status().message() + ").");
  }
  const authn::AuthorizeParams params = ParamsOf(*fields);

  // The client, from the store (off this thread).
  std::optional<store::Client> client;
  if (params.client_id && params.client_id->size() <= 128) {
    auto id = std::make_shared<std::string>(*params.client_id);
    ApiContext* c = &ctx;
    auto lookup = [c, id] { return c->store->FindClient(*id); };
    std::optional<Result<store::Client>> found = co_await http::RunOn(*ctx.db_pool, lookup);
    if (!found || (!found->ok() && found->status().code() != StatusCode::kNotFound)) {
      http::Response res = ErrorPage(ctx, bhttp::status::service_unavailable,
                                     "Sign-in is unavailable right now. Please try again shortly.");
      res.set(bhttp::field::retry_after, "1");
      co_return res;
    }
    if (found->ok()) client = std::move(**found);
  }
  authn::AuthorizeCheck check = authn::CheckAuthorizeRequest(params, client ? &*client : nullptr);
  if (check.outcome == authn::AuthorizeOutcome::kErrorPage) {
    log::Info("authorize.rejected", {{"reason", check.description},
                                     {"client_ip", req.client_ip},
                                     {"request_id", req.request_id}});
    co_return ErrorPage(ctx, bhttp::status::bad_request, check.description);
  }
  const bhttp::status redirect_status = post ? bhttp::status::see_other : bhttp::status::found;
  if (check.outcome == authn::AuthorizeOutcome::kRedirect) {
    co_return RedirectError(ctx, check.request, check.error, check.description, redirect_status);
  }
  const authn::AuthorizeRequest& r = check.request;
  if (post && fields->Get("csrf_token") != nullptr) {
    co_return co_await SubmitLogin(ctx, req, *fields, params, r, *client);
  }

  // Single sign-on: a live session answers at once unless the client wants a fresh login.
  struct SessionOutcome {
    Result<std::optional<authn::ActiveSession>> session = std::optional<authn::ActiveSession>();
    std::string code;
    bool store_failed = false;
    bool login_needed = true;
  };
  auto cookie = std::make_shared<std::string>(CookieValue(req, authn::kSessionCookie));
  auto request = std::make_shared<authn::AuthorizeRequest>(r);
  ApiContext* c = &ctx;
  auto job = [c, cookie, request] {
    SessionOutcome out;
    if (cookie->empty()) return out;
    out.session = c->sessions->Resolve(*cookie);
    if (!out.session.ok()) {
      out.store_failed = true;
      return out;
    }
    if (!out.session->has_value()) return out;
    const store::BrowserSession& s = (*out.session)->session;
    const UnixSeconds now = c->clock->Now();
    // max_age=0 asks for a fresh sign-in every time (OpenID Connect Core §3.1.2.1).
    const bool too_old =
        request->max_age && (*request->max_age == 0 || now - s.auth_time > *request->max_age);
    if (too_old || request->prompt_login) return out;
    out.login_needed = false;
    (void)c->store->TouchBrowserSession(s.id, now);
    Result<std::string> code = IssueCode(*c, *request, s);
    if (!code.ok()) {
      out.store_failed = true;
      return out;
    }
    out.code = std::move(*code);
    return out;
  };
  std::optional<SessionOutcome> outcome = co_await http::RunOn(*ctx.db_pool, job);
  if (!outcome || outcome->store_failed) {
    co_return RedirectError(ctx, r, "temporarily_unavailable",
                            "the authorization server is unavailable", redirect_status);
  }
  if (!outcome->login_needed) co_return CodeRedirect(ctx, r, outcome->code, redirect_status);
  if (r.prompt_none) {
    co_return RedirectError(ctx, r, "login_required", "the user must sign in", redirect_status);
  }
  co_return LoginPageResponse(ctx, req, params, r, *client, bhttp::status::ok, "", "");
}

// ------------------------------------------------------------------ /oauth2/logout

boost::asio::awaitable<http::Response> HandleEndSession(ApiContext& ctx, http::Request& req) {
  const bool post = req.message.method() == bhttp::verb::post;
  Result<http::FormFields> fields = post ? http::ParseForm(req) : http::ParseQuery(req.query);
  if (!fields.ok()) {
    co_return ErrorPage(ctx, bhttp::status::bad_request, "The sign-out request is malformed.");
  }
  std::optional<std::string> hint = Param(*fields, "id_token_hint");
  std::optional<std::string> client_id = Param(*fields, "client_id");
  std::optional<std::string> target = Param(*fields, "post_logout_redirect_uri");
  std::optional<std::string> state = Param(*fields, "state");
  if (state && state->size() > authn::kMaxStateBytes) {
    co_return ErrorPage(ctx, bhttp::status::bad_request, "The state parameter is too long.");
  }
  // The client: named by the (verified) id_token_hint, or by client_id; both must agree.
  if (hint) {
    std::optional<token::IdTokenHint> verified =
        token::VerifyIdTokenHint(*hint, *ctx.keys->key_ring(), ctx.config->tokens.issuer);
    if (!verified) {
      co_return ErrorPage(ctx, bhttp::status::bad_request, "The id_token_hint is not valid.");
    }
    if (client_id && *client_id != verified->aud) {
      co_return ErrorPage(ctx, bhttp::status::bad_request,
                          "The client_id does not match the id_token_hint.");
    }
    client_id = verified->aud;
  }
  if (target && !client_id) {
    co_return ErrorPage(ctx, bhttp::status::bad_request,
                        "A post_logout_redirect_uri needs an id_token_hint or a client_id.");
  }

  struct Outcome {
    bool store_failed = false;
    bool target_ok = false;
  };
  auto cookie = std::make_shared<std::string>(CookieValue(req, authn::kSessionCookie));
  auto audit_context = std::make_shared<audit::AuditContext>(AuditContextOf(req, ""));
  auto wanted_client = std::make_shared<std::optional<std::string>>(client_id);
  auto wanted_target = std::make_shared<std::optional<std::string>>(target);
  ApiContext* c = &ctx;
  auto job = [c, cookie, audit_context, wanted_client, wanted_target] {
    Outcome out;
    if (*wanted_target) {
      Result<store::Client> client = c->store->FindClient(**wanted_client);
      if (!client.ok() && client.status().code() != StatusCode::kNotFound) {
        out.store_failed = true;
        return out;
      }
      const auto& uris =
          client.ok() ? client->post_logout_redirect_uris : std::vector<std::string>{};
      out.target_ok = std::find(uris.begin(), uris.end(), **wanted_target) != uris.end();
      // Never act on a request whose redirect would be refused: the user sees an error page and
      // stays signed in rather than being signed out by a forged link.
      if (!out.target_ok) return out;
    }
    Result<std::optional<store::BrowserSession>> ended = c->sessions->End(*cookie);
    if (!ended.ok()) {
      out.store_failed = true;
      return out;
    }
    if (ended->has_value()) {
      audit::AuditContext actor = *audit_context;
      actor.actor = (*ended)->user_id;
      c->audit->Record("session.ended", actor, (*ended)->user_id,
                       {{"session_id", (*ended)->id}, {"reason", "logout"}});
    }
    return out;
  };
  std::optional<Outcome> outcome = co_await http::RunOn(*ctx.db_pool, job);
  if (!outcome || outcome->store_failed) {
    http::Response res = ErrorPage(ctx, bhttp::status::service_unavailable,
                                   "Sign-out is unavailable right now. Please try again shortly.");
    res.set(bhttp::field::retry_after, "1");
    co_return res;
  }
  if (target && !outcome->target_ok) {
    co_return ErrorPage(ctx, bhttp::status::bad_request,
                        "The post_logout_redirect_uri is not registered for this application.");
  }
  const std::string clear =
      Cookie(authn::kSessionCookie, "", "Lax", SecureCookies(ctx, req), std::int64_t{0});
  if (target) {
    std::vector<std::pair<std::string_view, std::string>> q;
    if (state) q.emplace_back("state", *state);
    http::Response res =
        Redirect(post ? bhttp::status::see_other : bhttp::status::found, RedirectTo(*target, q));
    res.set(bhttp::field::set_cookie, clear);
    co_return res;
  }
  http::Response res = browser::HtmlResponse(
      bhttp::status::ok,
      browser::RenderMessagePage(ctx.config->ui, "Signed out", "You are now signed out."));
  res.set(bhttp::field::set_cookie, clear);
  co_return res;
}

// ------------------------------------------------------------------ /oauth2/userinfo

namespace {

http::Response BearerError(bhttp::status status, std::string_view error,
                           std::string_view description) {
  http::Response res = http::OAuthErrorResponse(status, error, description);
  std::string challenge = "Bearer realm=\"portcullis\"";
  if (!error.empty()) {
    challenge += ", error=\"";
    challenge += error;
    challenge += "\"";
  }
  res.set(bhttp::field::www_authenticate, challenge);
  return res;
}

}  // namespace

boost::asio::awaitable<http::Response> HandleUserinfo(ApiContext& ctx, http::Request& req) {
  std::string_view authorization = req.Header("Authorization");
  if (authorization.empty()) {
    http::Response res = BearerError(bhttp::status::unauthorized, "", "");
    res.body() = R"({"error":"invalid_token","error_description":"an access token is required"})";
    res.prepare_payload();
    co_return res;
  }
  std::optional<std::string_view> bearer = ParseBearer(authorization);
  std::optional<std::string_view> dpop = ParseDpopAuthorization(authorization);
  if (!bearer && !dpop) {
    co_return BearerError(bhttp::status::unauthorized, "invalid_token",
                          "the access token is missing or malformed");
  }
  if (dpop) {
    // A DPoP-bound token (DESIGN §9): the credential pipeline checks the token and its proof.
    std::variant<Principal, http::Response> auth = co_await AuthenticateRequest(ctx, req);
    if (auto* res = std::get_if<http::Response>(&auth)) co_return std::move(*res);
  }
  jose::VerifyResult verified = ctx.tokens->Validate(bearer ? *bearer : *dpop);
  if (!verified.ok()) {
    ctx.counters.token_verifications->Inc({std::string(jose::ToString(verified.error))});
    co_return BearerError(bhttp::status::unauthorized, "invalid_token",
                          "the access token is invalid or expired");
  }
  if (bearer && verified.claims.cnf_jkt) {
    // RFC 9449 §7.2: a bound token is never accepted as a Bearer token.
    ctx.counters.token_verifications->IncOne("dpop_bound_as_bearer");
    co_return DpopUnauthorized(ctx, "invalid_token");
  }
  const std::vector<std::string> scopes = authz::SplitScope(verified.claims.scope);
  auto has = [&scopes](std::string_view s) {
    return std::find(scopes.begin(), scopes.end(), s) != scopes.end();
  };
  if (!has(authn::kScopeOpenId) || !verified.claims.username) {
    co_return BearerError(bhttp::status::forbidden, "insufficient_scope",
                          "the access token was not issued with scope openid");
  }
  auto user_id = std::make_shared<std::string>(verified.claims.sub);
  ApiContext* c = &ctx;
  auto lookup = [c, user_id] { return c->store->FindUserById(*user_id); };
  std::optional<Result<store::User>> user = co_await http::RunOn(*ctx.db_pool, lookup);
  if (!user) co_return UnavailableProblem();
  if (!user->ok()) {
    if (user->status().code() == StatusCode::kNotFound) {
      co_return BearerError(bhttp::status::unauthorized, "invalid_token",
                            "the access token is invalid or expired");
    }
    co_return UnavailableProblem();
  }
  boost::json::object body{{"sub", (*user)->id}};
  if (has(authn::kScopeProfile)) body["preferred_username"] = (*user)->username;
  if (has(authn::kScopeEmail) && (*user)->email) body["email"] = *(*user)->email;
  http::Response res = http::JsonResponse(bhttp::status::ok, body);
  res.set(bhttp::field::cache_control, "no-store");
  co_return res;
}

boost::asio::awaitable<http::Response> HandleStylesheet(ApiContext&, http::Request&) {
  http::Response res{bhttp::status::ok, 11};
  res.set(bhttp::field::content_type, "text/css; charset=utf-8");
  res.set(bhttp::field::cache_control, "public, max-age=3600");
  res.set("X-Content-Type-Options", "nosniff");
  res.body() = std::string(browser::Stylesheet());
  res.prepare_payload();
  co_return res;
}

// ------------------------------------------------------------------ /v1/me/sessions

boost::asio::awaitable<http::Response> HandleListSessions(ApiContext& ctx, http::Request& req) {
  auto principal = co_await AuthenticateRequest(ctx, req);
  if (auto* res = std::get_if<http::Response>(&principal)) co_return std::move(*res);
  const Principal& p = std::get<Principal>(principal);
  if (p.kind != Principal::Kind::kUser) {
    co_return http::ProblemResponse(bhttp::status::forbidden, "Forbidden",
                                    "only users have browser sessions");
  }
  Result<http::FormFields> query = http::ParseQuery(req.query);
  if (!query.ok()) co_return BadRequestProblem(query.status().message());
  auto limit = ParseLimit(*query);
  if (auto* res = std::get_if<http::Response>(&limit)) co_return std::move(*res);
  // Newest first, (created_at, id) descending; the cursor is "<created_at>.<id>" of the previous
  // page's last session, so a session ending between two pages shifts nothing.
  std::optional<std::pair<std::int64_t, std::string>> after;
  if (const std::string* cursor = query->Get("cursor"); cursor && !cursor->empty()) {
    const std::size_t dot = cursor->find('.');
    std::int64_t created_at = 0;
    auto [ptr, ec] =
        std::from_chars(cursor->data(), cursor->data() + std::min(dot, cursor->size()), created_at);
    if (dot == std::string::npos || dot == 0 || ec != std::errc() || ptr != cursor->data() + dot ||
        dot + 1 == cursor->size()) {
      co_return BadRequestProblem("invalid cursor");
    }
    after.emplace(created_at, cursor->substr(dot + 1));
  }
  auto user_id = std::make_shared<std::string>(p.id);
  ApiContext* c = &ctx;
  auto job = [c, user_id] { return c->store->ListBrowserSessions(*user_id, c->clock->Now()); };
  std::optional<Result<std::vector<store::BrowserSession>>> sessions =
      co_await http::RunOn(*ctx.db_pool, job);
  if (!sessions || !sessions->ok()) co_return UnavailableProblem();
  auto [page, next] = PageOfList(
      std::move(**sessions), std::get<std::size_t>(limit),
      [&](const store::BrowserSession& s) {
        return !after || s.created_at < after->first ||
               (s.created_at == after->first && s.id < after->second);
      },
      [](const store::BrowserSession& s) { return std::to_string(s.created_at) + "." + s.id; });
  boost::json::array items;
  for (const store::BrowserSession& s : page) {
    items.push_back(boost::json::object{{"id", s.id},
                                        {"created_at", s.created_at},
                                        {"last_seen_at", s.last_seen_at},
                                        {"expires_at", s.expires_at},
                                        {"auth_time", s.auth_time},
                                        {"amr", ToJsonArray(authz::SplitScope(s.amr))},
                                        {"client_ip", s.client_ip},
                                        {"user_agent", s.user_agent}});
  }
  http::Response res = http::JsonResponse(
      bhttp::status::ok,
      boost::json::object{{"items", std::move(items)},
                          {"next_cursor", next ? boost::json::value(*next) : nullptr}});
  res.set(bhttp::field::cache_control, "no-store");
  co_return res;
}

boost::asio::awaitable<http::Response> HandleDeleteSession(ApiContext& ctx, http::Request& req) {
  auto principal = co_await AuthenticateRequest(ctx, req);
  if (auto* res = std::get_if<http::Response>(&principal)) co_return std::move(*res);
  const Principal& p = std::get<Principal>(principal);
  if (p.kind != Principal::Kind::kUser) co_return NotFoundProblem("no such session");
  auto user_id = std::make_shared<std::string>(p.id);
  auto id = std::make_shared<std::string>(req.path_params.at("id"));
  auto audit_context = std::make_shared<audit::AuditContext>(AuditContextOf(req, p.id));
  ApiContext* c = &ctx;
  auto job = [c, user_id, id, audit_context] {
    Status s = c->store->DeleteBrowserSession(*user_id, *id);
    if (s.ok()) {
      c->audit->Record("session.ended", *audit_context, *user_id,
                       {{"session_id", *id}, {"reason", "revoked"}});
    }
    return s;
  };
  std::optional<Status> status = co_await http::RunOn(*ctx.db_pool, job);
  if (!status) co_return UnavailableProblem();
  if (status->code() == StatusCode::kNotFound) co_return NotFoundProblem("no such session");
  if (!status->ok()) co_return UnavailableProblem();
  http::Response res{bhttp::status::no_content, 11};
  res.set(bhttp::field::cache_control, "no-store");
  co_return res;
}

}  // namespace portcullis::api
