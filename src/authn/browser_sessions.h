// Browser sessions behind the __Host-portcullis_session cookie (DESIGN.md §8): created at
// sign-in on the login page, resolved on every /oauth2/authorize (single sign-on), listed and
// revoked through /v1/me/sessions, ended by RP-initiated logout, logout-all, a password change
// and disabling the user.
//
// The cookie value is 32 random bytes (base64url) and is never stored: the store keeps its
// SHA-256, so a database leak does not hand out live sessions. A session is valid while it has
// not expired, its user exists and is enabled, and the user's credential version is still the
// one it was created with (a password change ends every session at once, even before the rows
// are deleted).
//
// Thread-safety: every method may be called concurrently; each is one or two store calls, so
// call them off the network threads.
//
//   BrowserSessions sessions(store, clock, random, ttl_s);
//   Result<NewBrowserSession> s = sessions.Start(user, "pwd", ip, user_agent);
//   std::optional<ActiveSession> a = sessions.Resolve(cookie_value);  // nullopt: sign in again
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/clock.h"
#include "base/status.h"
#include "crypto/random.h"
#include "store/store.h"

namespace portcullis::authn {

inline constexpr std::string_view kSessionCookie = "__Host-portcullis_session";
inline constexpr std::size_t kSessionCookieBytes = 32;  // before base64url: 43 characters

struct NewBrowserSession {
  std::string cookie_value;  // hand to the browser once; never log it
  store::BrowserSession record;
};

struct ActiveSession {
  store::BrowserSession session;
  store::User user;
};

class BrowserSessions {
 public:
  // Every reference must outlive the object.
  BrowserSessions(store::Store& store, const Clock& clock, crypto::Random& random,
                  std::int64_t ttl_s);

  // Stores a new session for `user`, authenticated now by `amr` ("pwd" or "pwd otp").
  Result<NewBrowserSession> Start(const store::User& user, std::string_view amr,
                                  std::string_view client_ip, std::string_view user_agent);

  // The live session for `cookie_value` and its user, or nullopt when there is none (unknown,
  // malformed, expired, user gone, disabled or with a newer credential version). kUnavailable
  // (never nullopt) when the store cannot answer, so an outage is not mistaken for "signed out".
  Result<std::optional<ActiveSession>> Resolve(std::string_view cookie_value);

  // Ends the session of `cookie_value` if there is one; returns it (for the audit).
  Result<std::optional<store::BrowserSession>> End(std::string_view cookie_value);

  // The SHA-256 under which a cookie value is stored.
  static std::string HashCookie(std::string_view cookie_value);
  // True if `value` could be a cookie value we issued (43 base64url characters).
  static bool IsWellFormed(std::string_view value);

 private:
  store::Store& store_;
  const Clock& clock_;
  crypto::Random& random_;
  const std::int64_t ttl_s_;
};

}  // namespace portcullis::authn
