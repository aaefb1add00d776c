#include "api/throttle_events.h"

#include <boost/json.hpp>

namespace portcullis::api {

namespace {

void Lock(ApiContext& ctx, std::string_view type, std::string_view kind, std::int64_t seconds,
          const audit::AuditContext& context, std::string_view username) {
  if (ctx.counters.lockouts != nullptr) ctx.counters.lockouts->Inc({std::string(kind)});
  boost::json::object details{{"kind", kind}, {"lock_s", seconds}};
  // The subject of a source-wide trip is the source, not a user.
  if (kind == "ip") {
    ctx.audit->Record(type, context, context.client_ip, details);
  } else {
    details["username"] = username;
    ctx.audit->Record(type, context, username, details);
  }
}

}  // namespace

void RecordThrottleOutcome(ApiContext& ctx, const authn::Throttle::Outcome& outcome,
                           const audit::AuditContext& context, std::string_view username) {
  if (outcome.pair_lock_s > 0) {
    Lock(ctx, "lockout.started", "pair", outcome.pair_lock_s, context, username);
  }
  if (outcome.account_lock_s > 0) {
    Lock(ctx, "lockout.started", "account", outcome.account_lock_s, context, username);
  }
  if (outcome.ip_lock_s > 0) {
    Lock(ctx, "throttle.tripped", "ip", outcome.ip_lock_s, context, username);
  }
}

void RecordRefusal(ApiContext& ctx, const authn::Admission& admission,
                   const audit::AuditContext& context, std::string_view username) {
  if (admission.ip_lock_s > 0) {
    Lock(ctx, "throttle.tripped", "ip", admission.ip_lock_s, context, username);
  }
}

}  // namespace portcullis::api
