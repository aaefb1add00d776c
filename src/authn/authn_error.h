// AuthnError: every reason an authentication attempt fails, one closed enum (STYLE point 5).
// The numbers are stable: they key log fields and metric labels. The HTTP layer maps them to
// responses in exactly one place and never tells a client which of them happened.
#pragma once

#include <cstdint>
#include <string_view>

namespace portcullis::authn {

enum class AuthnError : std::uint16_t {
  kOk = 0,
  // Password checks
  kUnknownUser = 1,    // no such username (a dummy verification was spent)
  kBadPassword = 2,    // the password does not match
  kDisabled = 3,       // right password, but the account is disabled
  kBadStoredHash = 4,  // the stored hash is unusable (corrupt row); logged loudly
  // Second factor (TOTP, DESIGN §8): only ever reported after the password matched.
  kMfaRequired = 5,  // the user has TOTP and no code was given (or could be: HTTP Basic)
  kBadOtp = 6,       // the TOTP or recovery code is wrong or was used already
  // Throttling (issue #4)
  kLocked = 10,     // (username, source) or account back-off in force
  kThrottled = 11,  // the source exceeded its failure budget
  // Bearer tokens
  kTokenInvalid = 20,  // see jose::VerifyError for the precise reason
  kNoCredentials = 21,
  kMalformedCredentials = 22,  // an Authorization header we cannot parse
  // Infrastructure
  kStoreUnavailable = 30,  // the database failed; the client may retry
};

std::string_view ToString(AuthnError error);

}  // namespace portcullis::authn
