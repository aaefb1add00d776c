#include "api/password_login.h"

#include "api/throttle_events.h"

namespace portcullis::api {

PasswordCheck CheckPassword(ApiContext& ctx, const std::string& username, std::string_view password,
                            const audit::AuditContext& audit_context, std::string_view client_id,
                            const SecondFactor& second_factor) {
  PasswordCheck out;
  // DESIGN §5: check and reserve in one step; a refusal computes no hash, right password or not.
  authn::Admission admission = ctx.throttle->Admit(username, audit_context.client_ip);
  if (!admission.allowed) {
    out.login.error = admission.kind == authn::ThrottleKind::kIp ? authn::AuthnError::kThrottled
                                                                 : authn::AuthnError::kLocked;
    out.retry_after_s = admission.retry_after_s;
    RecordRefusal(ctx, admission, audit_context, username);
    return out;
  }
  out.login = ctx.passwords->Authenticate(username, password);
  if (out.login.error == authn::AuthnError::kOk && second_factor) {
    out.login.error = second_factor(out.login.user);
  }
  switch (out.login.error) {
    case authn::AuthnError::kOk:
    case authn::AuthnError::kUnknownUser:
    case authn::AuthnError::kBadPassword:
    case authn::AuthnError::kDisabled:
    case authn::AuthnError::kMfaRequired:
    case authn::AuthnError::kBadOtp:
      RecordThrottleOutcome(
          ctx, ctx.throttle->Complete(admission.ticket, out.login.error == authn::AuthnError::kOk),
          audit_context, username);
      break;
    default:
      ctx.throttle->Abandon(admission.ticket);  // no verdict on the password
      break;
  }
  if (out.login.error != authn::AuthnError::kOk) {
    ctx.audit->Record("login.failed", audit_context, "",
                      {{"username", username},
                       {"reason", authn::ToString(out.login.error)},
                       {"client_id", client_id}});
    return out;
  }
  if (!out.login.rehashed_from.empty()) {
    // An imported bcrypt hash (or older Argon2 parameters) was just upgraded to Argon2id.
    audit::AuditContext actor = audit_context;
    actor.actor = out.login.user.id;
    ctx.audit->Record("password.rehashed", actor, out.login.user.id,
                      {{"from", out.login.rehashed_from}});
  }
  // The state cache learns of users created elsewhere (CLI, another instance) at their login.
  ctx.user_states->Set(out.login.user.id, out.login.user.credential_version,
                       out.login.user.disabled);
  return out;
}

}  // namespace portcullis::api
