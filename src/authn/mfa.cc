#include "authn/mfa.h"

#include <map>
#include <optional>
#include <utility>

#include "authn/totp.h"

namespace portcullis::authn {

std::string TotpAssociatedData(std::string_view user_id) {
  std::string ad = "portcullis/totp/v1/";
  ad += user_id;
  return ad;
}

Mfa::Mfa(store::Store& store, const crypto::MasterKey& master_key, const Clock& clock,
         crypto::Random& random, std::string issuer_name)
    : store_(store),
      master_key_(master_key),
      clock_(clock),
      random_(random),
      issuer_name_(std::move(issuer_name)) {}

Result<std::string> Mfa::OpenSecret(const store::TotpEnrollment& enrollment) const {
  Result<SecretBytes> secret =
      master_key_.Open(enrollment.sealed_secret, TotpAssociatedData(enrollment.user_id));
  if (!secret.ok()) return InternalError("cannot decrypt a TOTP secret (wrong master key?)");
  return std::string(secret->view());
}

Result<bool> Mfa::HasTotp(std::string_view user_id) {
  Result<store::TotpEnrollment> e = store_.FindTotp(user_id);
  if (!e.ok()) {
    if (e.status().code() == StatusCode::kNotFound) return false;
    return e.status();
  }
  return e->confirmed;
}

Result<TotpEnrollmentStart> Mfa::Begin(const store::User& user) {
  const std::string secret = NewTotpSecret(random_);
  store::TotpEnrollment e;
  e.user_id = user.id;
  e.sealed_secret = master_key_.Seal(secret, TotpAssociatedData(user.id));
  e.confirmed = false;
  e.created_at = clock_.Now();
  if (Status s = store_.PutPendingTotp(e); !s.ok()) return s;
  TotpEnrollmentStart out;
  out.secret = Base32Encode(secret);
  out.otpauth_uri = OtpauthUri(issuer_name_, user.username, secret);
  Result<std::string> svg = QrSvg(out.otpauth_uri, "QR code for your authenticator app");
  if (!svg.ok()) return svg.status();
  out.qr_svg = std::move(*svg);
  return out;
}

Result<std::vector<std::string>> Mfa::Confirm(std::string_view user_id, std::string_view code) {
  Result<store::TotpEnrollment> e = store_.FindTotp(user_id);
  if (!e.ok()) return e.status();
  if (e->confirmed) return AlreadyExistsError("TOTP is already active");
  Result<std::string> secret = OpenSecret(*e);
  if (!secret.ok()) return secret.status();
  TotpCheck check = VerifyTotp(*secret, code, clock_.Now(), e->last_used_step);
  if (check.result != TotpResult::kOk) return InvalidArgumentError("the code is not valid");
  std::vector<std::string> codes = NewRecoveryCodes(random_);
  std::vector<std::string> hashes;
  // Keyed by the secret just verified, which is the one Verify opens later: a confirmed
  // enrolment's secret is never replaced (Begin refuses while TOTP is active).
  for (const std::string& c : codes) hashes.push_back(KeyedRecoveryCodeHash(*secret, c));
  Status s = store_.ConfirmTotp(user_id, hashes, check.step, clock_.Now());
  if (s.code() == StatusCode::kAborted) return InvalidArgumentError("the code is not valid");
  if (!s.ok()) return s;
  return codes;
}

AuthnError Mfa::Verify(std::string_view user_id, std::string_view code) {
  Result<store::TotpEnrollment> e = store_.FindTotp(user_id);
  if (!e.ok()) {
    return e.status().code() == StatusCode::kNotFound ? AuthnError::kOk
                                                      : AuthnError::kStoreUnavailable;
  }
  if (!e->confirmed) return AuthnError::kOk;
  if (code.empty()) return AuthnError::kMfaRequired;
  if (code.size() > 64) return AuthnError::kBadOtp;
  Result<std::string> secret = OpenSecret(*e);
  if (!secret.ok()) return AuthnError::kStoreUnavailable;
  TotpCheck check = VerifyTotp(*secret, code, clock_.Now(), e->last_used_step);
  if (check.result == TotpResult::kOk) {
    Status s = store_.UseTotpStep(user_id, check.step);
    if (s.ok()) return AuthnError::kOk;
    return s.code() == StatusCode::kAborted ? AuthnError::kBadOtp : AuthnError::kStoreUnavailable;
  }
  if (check.result != TotpResult::kMalformed) return AuthnError::kBadOtp;
  // Not six digits: perhaps a recovery code. Codes issued before F7 was fixed may still be
  // stored as unkeyed SHA-256; they stay usable (once) so nobody is locked out. The legacy form
  // is looked up first: a stored value only ever changes from legacy to keyed
  // (UpgradeLegacyRecoveryCodes), so an upgrade running meanwhile cannot make a valid code miss
  // both look-ups. Every code not in the legacy form takes both, so the timing tells nothing
  // about which form a user's codes are stored in.
  Status s = store_.UseRecoveryCode(user_id, LegacyRecoveryCodeHash(code));
  if (s.code() == StatusCode::kNotFound) {
    s = store_.UseRecoveryCode(user_id, KeyedRecoveryCodeHash(*secret, code));
  }
  if (s.ok()) return AuthnError::kOk;
  return s.code() == StatusCode::kNotFound ? AuthnError::kBadOtp : AuthnError::kStoreUnavailable;
}

Result<int> Mfa::ResealAll(store::Store& store, const crypto::MasterKey& master_key) {
  Result<std::vector<std::pair<std::string, std::string>>> all = store.ListSealedTotpSecrets();
  if (!all.ok()) return all.status();
  std::vector<std::pair<std::string, std::string>> resealed;
  for (const auto& [user_id, sealed] : *all) {
    const std::string ad = TotpAssociatedData(user_id);
    Result<SecretBytes> secret = master_key.Open(sealed, ad);
    if (!secret.ok()) {
      return FailedPreconditionError("cannot decrypt the TOTP secret of user " + user_id +
                                     " with the master key or the previous master key");
    }
    resealed.emplace_back(user_id, master_key.Seal(secret->view(), ad));
  }
  if (Status s = store.ReplaceSealedTotpSecrets(resealed); !s.ok()) return s;
  return static_cast<int>(resealed.size());
}

Result<int> Mfa::UpgradeLegacyRecoveryCodes(store::Store& store,
                                            const crypto::MasterKey& master_key) {
  Result<std::vector<std::pair<std::string, std::string>>> legacy =
      store.ListLegacyRecoveryCodeHashes();
  if (!legacy.ok()) return legacy.status();
  if (legacy->empty()) return 0;
  Result<std::vector<std::pair<std::string, std::string>>> sealed = store.ListSealedTotpSecrets();
  if (!sealed.ok()) return sealed.status();
  const std::map<std::string, std::string> sealed_by_user(sealed->begin(), sealed->end());
  std::vector<store::RecoveryCodeReplacement> replacements;
  // The legacy list is ordered by user id: each secret is opened once.
  std::optional<std::string> current_user;
  std::optional<SecretBytes> secret;
  for (const auto& [user_id, code_hash] : *legacy) {
    if (user_id != current_user) {
      current_user = user_id;
      secret.reset();
      auto enrollment = sealed_by_user.find(user_id);
      if (enrollment != sealed_by_user.end()) {
        Result<SecretBytes> opened =
            master_key.Open(enrollment->second, TotpAssociatedData(user_id));
        if (opened.ok()) secret = std::move(*opened);
      }
    }
    if (!secret) continue;  // unreadable (or deleted meanwhile): left as it is
    replacements.push_back(
        {user_id, code_hash, WrapLegacyRecoveryCodeHash(secret->view(), code_hash)});
  }
  if (replacements.empty()) return 0;
  return store.ReplaceRecoveryCodeHashes(replacements);
}

Status Mfa::Remove(std::string_view user_id, std::string_view code) {
  Result<bool> active = HasTotp(user_id);
  if (!active.ok()) return active.status();
  if (!*active) return NotFoundError("TOTP is not active");
  switch (Verify(user_id, code)) {
    case AuthnError::kOk:
      break;
    case AuthnError::kStoreUnavailable:
      return UnavailableError("store unavailable");
    default:
      return InvalidArgumentError("the code is not valid");
  }
  return store_.DeleteTotp(user_id);
}

}  // namespace portcullis::authn
