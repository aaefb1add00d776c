#include "authn/password_authenticator.h"

#include "base/log.h"

namespace portcullis::authn {
namespace {

// Longer inputs cannot be a valid password (policy max is 256 characters, at most 4 bytes each);
// we still spend a dummy verification on a prefix so the answer costs the usual time.
constexpr std::size_t kMaxPasswordBytes = 1024;

}  // namespace

PasswordAuthenticator::PasswordAuthenticator(store::Store& store, const password::Hasher& hasher,
                                             Counter& verifications, const Clock& clock)
    : store_(store), hasher_(hasher), verifications_(verifications), clock_(clock) {}

PasswordLogin PasswordAuthenticator::Authenticate(std::string_view username,
                                                  std::string_view password) {
  PasswordLogin out;
  if (password.size() > kMaxPasswordBytes) {
    verifications_.Inc();
    hasher_.DummyVerify(password.substr(0, kMaxPasswordBytes));
    out.error = AuthnError::kBadPassword;
    return out;
  }

  Result<store::User> user = store_.FindUserByUsername(username);
  if (!user.ok()) {
    verifications_.Inc();
    hasher_.DummyVerify(password);
    if (user.status().code() == StatusCode::kNotFound) {
      out.error = AuthnError::kUnknownUser;
    } else {
      log::Error("authn.store_error", {{"error", user.status().ToString()}});
      out.error = AuthnError::kStoreUnavailable;
    }
    return out;
  }

  verifications_.Inc();
  password::VerifyOutcome outcome = hasher_.Verify(user->password_hash, password);
  switch (outcome) {
    case password::VerifyOutcome::kMatch:
      break;
    case password::VerifyOutcome::kMismatch:
      out.error = AuthnError::kBadPassword;
      return out;
    case password::VerifyOutcome::kMalformedHash:
    case password::VerifyOutcome::kUnsupportedScheme:
      log::Error("authn.bad_stored_hash",
                 {{"user_id", user->id}, {"outcome", password::ToString(outcome)}});
      out.error = AuthnError::kBadStoredHash;
      return out;
  }
  if (user->disabled) {
    out.error = AuthnError::kDisabled;
    return out;
  }

  if (hasher_.NeedsRehash(user->password_hash)) {
    Result<std::string> fresh = hasher_.Hash(password);
    if (fresh.ok() && store_.UpdatePasswordHash(user->id, *fresh).ok()) {
      out.rehashed_from =
          std::string(password::ToString(password::ClassifyHash(user->password_hash)));
      log::Info("password.rehashed", {{"user_id", user->id}, {"from", out.rehashed_from}});
      user->password_hash = std::move(*fresh);
    }
  }
  Result<std::vector<std::string>> permissions = store_.PermissionsOfUser(user->id);
  if (!permissions.ok()) {
    log::Error("authn.store_error", {{"error", permissions.status().ToString()}});
    out.error = AuthnError::kStoreUnavailable;
    return out;
  }
  Status recorded = store_.RecordLogin(user->id, clock_.Now());
  if (!recorded.ok()) log::Warn("authn.record_login_failed", {{"error", recorded.ToString()}});
  out.user = std::move(*user);
  out.permissions = std::move(*permissions);
  return out;
}

}  // namespace portcullis::authn
