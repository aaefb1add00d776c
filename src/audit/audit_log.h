// AuditLog: the one way security events are recorded (DESIGN §4 "Audit event types"): appended to
// the store's append-only table AND written as a structured JSON log line ("audit"), so an event
// survives in one place if the other fails. Details never contain a secret: callers pass ids,
// reasons and counts, never passwords, tokens, keys or hashes of them.
//
// Blocking (a database write): call it off the network threads — from a worker-pool job, or via
// http::RunOn from a handler.
//
// Thread-safety: Record may be called from any thread.
#pragma once

#include <boost/json/object.hpp>
#include <string>
#include <string_view>

#include "base/clock.h"
#include "store/store.h"

namespace portcullis::audit {

// Who asked, from where: copied from the request.
struct AuditContext {
  std::string actor;  // user id, client id, "cli", "system"; "" when anonymous
  std::string client_ip;
  std::string user_agent;
  std::string request_id;
};

class AuditLog {
 public:
  AuditLog(store::AuditStore& store, const Clock& clock);

  // Records one event. Returns the store's id, or 0 when the store write failed (logged as
  // "audit.store_failed"; the JSON line is written regardless).
  std::int64_t Record(std::string_view type, const AuditContext& context, std::string_view subject,
                      const boost::json::object& details = {});

  // The two halves of Record, for an event that a store write carries in its own transaction
  // (e.g. a refresh rotation and its "token.refreshed" row, group-committed together):
  //   store::AuditEvent event = audit.Event("token.refreshed", context, user_id, details);
  //   ... the store appends it (event.id set) with the write it belongs to ...
  //   audit.Logged(event, status_of_that_write);
  store::AuditEvent Event(std::string_view type, const AuditContext& context,
                          std::string_view subject, const boost::json::object& details = {}) const;
  // Writes the JSON line of an event the store appended (stored.ok()) or failed to append.
  void Logged(const store::AuditEvent& event, const Status& stored) const;

 private:
  store::AuditStore& store_;
  const Clock& clock_;
};

// The JSON shape of an event for /v1/audit and `portcullis audit --json`:
// {"id","time" (RFC
// 3339),"type","actor","subject","client_ip","user_agent","request_id","details"}.
boost::json::object AuditEventToJson(const store::AuditEvent& event);

}  // namespace portcullis::audit
