// One password check the way every sign-in does it (password grant, login page): the
// brute-force throttle's admission (DESIGN §5: a refusal computes no hash), the Argon2id
// verification or its dummy, the throttle's verdict, the audit of a failure or a rehash, and the
// user-state cache learning the user. Blocking (database + Argon2id): run it on the hash pool.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "api/api_context.h"
#include "audit/audit_log.h"
#include "authn/password_authenticator.h"

namespace portcullis::api {

struct PasswordCheck {
  authn::PasswordLogin login;      // error kOk: the user and their permissions
  std::int64_t retry_after_s = 0;  // refused by the throttle (login.error kLocked/kThrottled)
};

// Checks a second factor once the password matched; kOk, or the failure (kMfaRequired, kBadOtp,
// kStoreUnavailable) that the throttle then counts like a wrong password.
using SecondFactor = std::function<authn::AuthnError(const store::User& user)>;

// `client_id` goes into the audit details of a failure. `second_factor` (may be empty) runs
// after the password matched and before the throttle's verdict.
PasswordCheck CheckPassword(ApiContext& ctx, const std::string& username, std::string_view password,
                            const audit::AuditContext& audit_context, std::string_view client_id,
                            const SecondFactor& second_factor = {});

}  // namespace portcullis::api
