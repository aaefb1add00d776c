// PasswordAuthenticator: checks a username and password against the store, the way every
// password check in Portcullis is done (password grant; later HTTP Basic and /v1/me/password).
//
// Unknown usernames cost the same as wrong passwords: a dummy Argon2id verification runs with the
// current parameters (DESIGN §5). Disabled accounts are reported only after the password matched,
// so the answer for a guesser is the same either way. After a successful verification of a hash
// with old parameters or another scheme, the password is rehashed and stored (STYLE point 10).
//
// Blocking: does database I/O and Argon2id. Call it on the hash worker pool, never on a network
// thread. Thread-safety: Authenticate may run concurrently on several threads.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "authn/authn_error.h"
#include "base/clock.h"
#include "base/metrics.h"
#include "password/hasher.h"
#include "store/store.h"

namespace portcullis::authn {

struct PasswordLogin {
  AuthnError error = AuthnError::kOk;
  store::User user;                      // set when error is kOk
  std::vector<std::string> permissions;  // effective permissions, set when error is kOk
  // When this login replaced the stored hash with a fresh Argon2id one: the old hash's scheme,
  // "bcrypt", "argon2i" or "argon2id" (older parameters); the caller audits "password.rehashed".
  // Empty when nothing was rehashed (current hash, or the rehash could not be stored).
  std::string rehashed_from;
};

class PasswordAuthenticator {
 public:
  // `verifications` counts every Argon2id/bcrypt verification, dummy ones included.
  PasswordAuthenticator(store::Store& store, const password::Hasher& hasher, Counter& verifications,
                        const Clock& clock);

  PasswordLogin Authenticate(std::string_view username, std::string_view password);

 private:
  store::Store& store_;
  const password::Hasher& hasher_;
  Counter& verifications_;
  const Clock& clock_;
};

}  // namespace portcullis::authn
