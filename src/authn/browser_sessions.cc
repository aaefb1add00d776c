#include "authn/browser_sessions.h"

#include <algorithm>

#include "crypto/sha256.h"

namespace portcullis::authn {
namespace {

constexpr std::size_t kSessionIdLength = 20;
constexpr std::size_t kCookieValueLength = 43;
constexpr std::size_t kMaxUserAgentBytes = 256;

}  // namespace

BrowserSessions::BrowserSessions(store::Store& store, const Clock& clock, crypto::Random& random,
                                 std::int64_t ttl_s)
    : store_(store), clock_(clock), random_(random), ttl_s_(ttl_s) {}

std::string BrowserSessions::HashCookie(std::string_view cookie_value) {
  return crypto::Sha256Hex(cookie_value);
}

bool BrowserSessions::IsWellFormed(std::string_view value) {
  return value.size() == kCookieValueLength && std::all_of(value.begin(), value.end(), [](char c) {
           return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '_';
         });
}

Result<NewBrowserSession> BrowserSessions::Start(const store::User& user, std::string_view amr,
                                                 std::string_view client_ip,
                                                 std::string_view user_agent) {
  const UnixSeconds now = clock_.Now();
  NewBrowserSession out;
  out.cookie_value = crypto::RandomBase64Url(random_, kSessionCookieBytes);
  store::BrowserSession& s = out.record;
  s.id = crypto::RandomLowerAlphanumeric(random_, kSessionIdLength);
  s.token_hash = HashCookie(out.cookie_value);
  s.user_id = user.id;
  s.credential_version = user.credential_version;
  s.auth_time = now;
  s.amr = std::string(amr);
  s.created_at = now;
  s.last_seen_at = now;
  s.expires_at = now + ttl_s_;
  s.client_ip = std::string(client_ip);
  s.user_agent = std::string(user_agent.substr(0, kMaxUserAgentBytes));
  if (Status st = store_.CreateBrowserSession(s); !st.ok()) return st;
  return out;
}

Result<std::optional<ActiveSession>> BrowserSessions::Resolve(std::string_view cookie_value) {
  if (!IsWellFormed(cookie_value)) return std::optional<ActiveSession>();
  Result<store::BrowserSession> session = store_.FindBrowserSession(HashCookie(cookie_value));
  if (!session.ok()) {
    if (session.status().code() == StatusCode::kNotFound) return std::optional<ActiveSession>();
    return session.status();
  }
  if (clock_.Now() >= session->expires_at) return std::optional<ActiveSession>();
  Result<store::User> user = store_.FindUserById(session->user_id);
  if (!user.ok()) {
    if (user.status().code() == StatusCode::kNotFound) return std::optional<ActiveSession>();
    return user.status();
  }
  if (user->disabled || user->credential_version != session->credential_version) {
    return std::optional<ActiveSession>();
  }
  return std::optional<ActiveSession>(ActiveSession{std::move(*session), std::move(*user)});
}

Result<std::optional<store::BrowserSession>> BrowserSessions::End(std::string_view cookie_value) {
  if (!IsWellFormed(cookie_value)) return std::optional<store::BrowserSession>();
  Result<store::BrowserSession> session = store_.FindBrowserSession(HashCookie(cookie_value));
  if (!session.ok()) {
    if (session.status().code() == StatusCode::kNotFound) {
      return std::optional<store::BrowserSession>();
    }
    return session.status();
  }
  Status s = store_.DeleteBrowserSession(session->user_id, session->id);
  if (!s.ok() && s.code() != StatusCode::kNotFound) return s;
  return std::optional<store::BrowserSession>(std::move(*session));
}

}  // namespace portcullis::authn
