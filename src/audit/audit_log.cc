#include "audit/audit_log.h"

#include <boost/json.hpp>

#include "base/json.h"
#include "base/log.h"
#include "base/time_format.h"

namespace portcullis::audit {

namespace {

constexpr std::size_t kMaxUserAgentBytes = 256;

}  // namespace

AuditLog::AuditLog(store::AuditStore& store, const Clock& clock) : store_(store), clock_(clock) {}

store::AuditEvent AuditLog::Event(std::string_view type, const AuditContext& context,
                                  std::string_view subject,
                                  const boost::json::object& details) const {
  store::AuditEvent event;
  event.time = clock_.Now();
  event.type = std::string(type);
  event.actor = context.actor;
  event.subject = std::string(subject);
  event.client_ip = context.client_ip;
  event.user_agent = context.user_agent.substr(0, kMaxUserAgentBytes);
  event.request_id = context.request_id;
  event.details_json = boost::json::serialize(details);
  return event;
}

void AuditLog::Logged(const store::AuditEvent& event, const Status& stored) const {
  log::Info("audit", {{"type", event.type},
                      {"actor", event.actor},
                      {"subject", event.subject},
                      {"client_ip", event.client_ip},
                      {"request_id", event.request_id},
                      {"details", event.details_json},
                      {"id", stored.ok() ? event.id : std::int64_t{0}}});
  if (!stored.ok()) {
    log::Error("audit.store_failed", {{"type", event.type}, {"error", stored.ToString()}});
  }
}

std::int64_t AuditLog::Record(std::string_view type, const AuditContext& context,
                              std::string_view subject, const boost::json::object& details) {
  store::AuditEvent event = Event(type, context, subject, details);
  Result<std::int64_t> id = store_.AppendAudit(event);
  if (id.ok()) event.id = *id;
  Logged(event, id.status());
  return id.ok() ? *id : 0;
}

boost::json::object AuditEventToJson(const store::AuditEvent& event) {
  boost::json::object out;
  out["id"] = event.id;
  out["time"] = FormatRfc3339(event.time);
  out["type"] = event.type;
  out["actor"] = event.actor;
  out["subject"] = event.subject;
  out["client_ip"] = event.client_ip;
  out["user_agent"] = event.user_agent;
  out["request_id"] = event.request_id;
  Result<boost::json::value> details = ParseJson(event.details_json);
  out["details"] = details.ok() && details->is_object() ? std::move(*details)
                                                        : boost::json::value(boost::json::object{});
  return out;
}

}  // namespace portcullis::audit
