// Bookkeeping around authn::Throttle for the endpoints that check passwords and secrets: one place
// that audits lockouts and throttle trips and counts them in portcullis_lockouts_total{kind}.
// Blocking (audit writes): call from a worker-pool job.
#pragma once

#include <string_view>

#include "api/api_context.h"
#include "audit/audit_log.h"
#include "authn/throttle.h"

namespace portcullis::api {

// After Throttle::Complete: audits `lockout.started` (pair, account) and `throttle.tripped` (ip).
void RecordThrottleOutcome(ApiContext& ctx, const authn::Throttle::Outcome& outcome,
                           const audit::AuditContext& context, std::string_view username);

// After a refused Throttle::Admit: a refused attempt may itself trip the source's limit.
void RecordRefusal(ApiContext& ctx, const authn::Admission& admission,
                   const audit::AuditContext& context, std::string_view username);

}  // namespace portcullis::api
