// `portcullis apikey create|list|revoke` (issue #6). They act on the same database as a running
// server: a created key works at once; a revoked key stops working within about a second (the
// store appends the owner to the user change feed, whose follower drops the cached key).
#include <boost/json.hpp>
#include <cstdio>
#include <iostream>

#include "api/apikeys/apikeys.h"
#include "app/app.h"
#include "audit/audit_log.h"
#include "base/time_format.h"
#include "cli/commands.h"
#include "crypto/random.h"

namespace portcullis::cli {
namespace {

constexpr std::size_t kPageSize = 500;

std::string TimeOrDash(const std::optional<UnixSeconds>& t) {
  return t ? FormatRfc3339(*t) : std::string("-");
}

}  // namespace

int RunApiKeyCreate(const CommonOptions& options, const ApiKeyCreateOptions& create) {
  std::optional<Database> opened = OpenDatabaseOrReport(options);
  if (!opened) return 2;
  Result<store::User> owner = opened->store->FindUserByUsername(create.username);
  if (!owner.ok()) {
    std::cerr << "portcullis: "
              << (owner.status().code() == StatusCode::kNotFound ? "no such user"
                                                                 : owner.status().message())
              << "\n";
    return 1;
  }
  api::ApiKeyRequest request;
  request.owner_id = owner->id;
  request.name = create.name;
  request.scopes = create.scopes;
  request.expires_in_days = create.expires_in_days;
  if (!request.expires_in_days && opened->config.apikeys.default_ttl_days > 0) {
    request.expires_in_days = opened->config.apikeys.default_ttl_days;
  }
  SystemClock clock;
  audit::AuditLog audit(*opened->store, clock);
  Result<api::IssuedApiKey> issued = api::IssueApiKey(
      *opened->store, audit, CliAuditContext(), request, clock.Now(), crypto::OsRandomInstance());
  if (!issued.ok()) {
    std::cerr << "portcullis: " << issued.status().message() << "\n";
    return 1;
  }
  if (create.json) {
    boost::json::object out = api::ApiKeyToJson(issued->record);
    out["key"] = issued->key.reveal();
    std::cout << boost::json::serialize(out) << "\n";
  } else {
    std::cout << "id:  " << issued->record.id << "\nkey: " << issued->key.reveal()
              << "\n(the key is shown only this once)\n";
  }
  return 0;
}

int RunApiKeyList(const CommonOptions& options, const std::optional<std::string>& username,
                  bool json) {
  std::optional<Database> opened = OpenDatabaseOrReport(options);
  if (!opened) return 2;
  std::optional<std::string> owner_id;
  if (username) {
    Result<store::User> owner = opened->store->FindUserByUsername(*username);
    if (!owner.ok()) {
      std::cerr << "portcullis: "
                << (owner.status().code() == StatusCode::kNotFound ? "no such user"
                                                                   : owner.status().message())
                << "\n";
      return 1;
    }
    owner_id = owner->id;
  }
  std::vector<store::ApiKey> keys;
  std::string cursor;
  while (true) {
    Result<store::ApiKeyPage> page = opened->store->ListApiKeys(owner_id, cursor, kPageSize);
    if (!page.ok()) {
      std::cerr << "portcullis: " << page.status().message() << "\n";
      return 1;
    }
    for (store::ApiKey& key : page->items) keys.push_back(std::move(key));
    if (!page->next_cursor) break;
    cursor = *page->next_cursor;
  }
  if (json) {
    boost::json::array out;
    for (const store::ApiKey& key : keys) out.push_back(api::ApiKeyToJson(key));
    std::cout << boost::json::serialize(out) << "\n";
    return 0;
  }
  std::printf("%-12s  %-24s  %-36s  %-20s  %-20s  %s\n", "ID", "NAME", "USER_ID", "EXPIRES_AT",
              "LAST_USED_AT", "SCOPES");
  for (const store::ApiKey& key : keys) {
    std::string scopes;
    for (const std::string& s : key.scopes) scopes += (scopes.empty() ? "" : " ") + s;
    std::printf("%-12s  %-24s  %-36s  %-20s  %-20s  %s\n", key.id.c_str(), key.name.c_str(),
                key.user_id.c_str(), TimeOrDash(key.expires_at).c_str(),
                TimeOrDash(key.last_used_at).c_str(), scopes.c_str());
  }
  return 0;
}

int RunApiKeyRevoke(const CommonOptions& options, const std::string& id) {
  std::optional<Database> opened = OpenDatabaseOrReport(options);
  if (!opened) return 2;
  Result<store::ApiKey> key = opened->store->FindApiKey(id);
  Status deleted = key.ok() ? opened->store->DeleteApiKey(id) : key.status();
  if (deleted.code() == StatusCode::kNotFound) {
    std::cerr << "portcullis: no such api key\n";
    return 1;
  }
  if (!deleted.ok()) {
    std::cerr << "portcullis: " << deleted.message() << "\n";
    return 1;
  }
  SystemClock clock;
  audit::AuditLog(*opened->store, clock)
      .Record("apikey.revoked", CliAuditContext(), id,
              {{"name", key->name}, {"owner", key->user_id}});
  std::cout << "revoked " << id << "\n";
  return 0;
}

}  // namespace portcullis::cli
