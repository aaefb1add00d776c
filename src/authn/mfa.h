// Second factor (DESIGN.md §8): TOTP enrolment, confirmation with ten recovery codes, removal,
// and the check every sign-in of a TOTP user makes. The secret is sealed with the master key
// (associated data "portcullis/totp/v1/<user id>", so it cannot be moved to another user); a
// code is accepted once, across instances, by a compare-and-set on the last used time step;
// recovery codes are stored as an HMAC under a key derived from that sealed secret (so guessing
// them offline needs the master key; codes issued before are unkeyed SHA-256 and still accepted)
// and each works once.
//
// Blocking (store calls): call off the network threads. Thread-safety: every method may run
// concurrently.
//
//   Mfa mfa(store, master_key, clock, random, "Portcullis");
//   Result<TotpEnrollmentStart> s = mfa.Begin(user);       // show secret, URI, QR code
//   Result<std::vector<std::string>> codes = mfa.Confirm(user.id, "123456");
//   AuthnError e = mfa.Verify(user.id, submitted);           // at every sign-in
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "authn/authn_error.h"
#include "base/clock.h"
#include "base/status.h"
#include "crypto/master_key.h"
#include "crypto/random.h"
#include "store/store.h"

namespace portcullis::authn {

struct TotpEnrollmentStart {
  std::string secret;       // base32, for typing into an app
  std::string otpauth_uri;  // otpauth://totp/…
  std::string qr_svg;       // the URI as an SVG QR code
};

class Mfa {
 public:
  // Every reference must outlive the object. `issuer_name` labels the entry in the user's app.
  Mfa(store::Store& store, const crypto::MasterKey& master_key, const Clock& clock,
      crypto::Random& random, std::string issuer_name);

  // True when the user has a confirmed TOTP enrolment.
  Result<bool> HasTotp(std::string_view user_id);

  // Starts (or restarts) an enrolment: a new secret, stored unconfirmed. kAlreadyExists when TOTP
  // is already active (remove it first).
  Result<TotpEnrollmentStart> Begin(const store::User& user);

  // Activates the pending enrolment with a current code and returns ten recovery codes (shown
  // once). kNotFound: nothing pending; kAlreadyExists: already active; kInvalidArgument: the code
  // is wrong, malformed or used.
  Result<std::vector<std::string>> Confirm(std::string_view user_id, std::string_view code);

  // The second-factor check of a sign-in: a current TOTP code, or an unused recovery code (which
  // is then spent; looked up in the legacy unkeyed form, then in the keyed one). kMfaRequired for
  // an empty code; kBadOtp for a wrong, malformed or reused one; kStoreUnavailable when the store
  // fails; kOk otherwise. A user without TOTP gets kOk.
  AuthnError Verify(std::string_view user_id, std::string_view code);

  // Master-key rotation: re-seals every TOTP secret under `master_key`, opening each with it or
  // its previous key, in one transaction. Returns how many; kFailedPrecondition (nothing
  // written) when a secret opens with neither.
  static Result<int> ResealAll(store::Store& store, const crypto::MasterKey& master_key);

  // Threat model F7: turns every recovery code still stored unkeyed (SHA-256, issued before the
  // fix) into its keyed form (WrapLegacyRecoveryCodeHash under the user's TOTP secret), in one
  // transaction, so a database copy no longer allows guessing any code offline. The codes keep
  // working; a second run finds nothing to do. A user whose secret opens with neither the master
  // key nor its previous key is skipped (Verify still accepts their legacy codes). Returns how
  // many values were replaced.
  static Result<int> UpgradeLegacyRecoveryCodes(store::Store& store,
                                                const crypto::MasterKey& master_key);

  // Removes TOTP after checking `code` like Verify (kInvalidArgument when it fails, kNotFound
  // when TOTP is not active).
  Status Remove(std::string_view user_id, std::string_view code);

 private:
  Result<std::string> OpenSecret(const store::TotpEnrollment& enrollment) const;

  store::Store& store_;
  const crypto::MasterKey& master_key_;
  const Clock& clock_;
  crypto::Random& random_;
  const std::string issuer_name_;
};

// The associated data sealing a user's TOTP secret.
std::string TotpAssociatedData(std::string_view user_id);

}  // namespace portcullis::authn
