// The subcommands of the `portcullis` CLI, one function each, returning the exit code.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "audit/audit_log.h"
#include "config/config.h"
#include "store/store.h"

namespace portcullis::cli {

struct CommonOptions {
  std::optional<std::string> config_file, data_dir, listen, tls;
  std::vector<std::string> set_args;
};

struct UserAddOptions {
  std::string username;
  std::optional<std::string> email;
  std::vector<std::string> roles;
};

struct ClientCreateOptions {
  std::string name;
  std::vector<std::string> grant_types, scopes;
  // Browser sign-in (DESIGN §8). public_client = token_endpoint_auth_method "none".
  std::vector<std::string> redirect_uris, post_logout_redirect_uris;
  bool public_client = false;
  std::string auth_method;    // "" = client_secret_basic (or none with public_client)
  std::string id_token_alg;   // "" = RS256
  bool require_dpop = false;  // DESIGN §9: every token request needs a DPoP proof
  bool json = false;
};

struct AuditOptions {
  std::optional<std::string> type, user;
  std::optional<std::int64_t> since;
  std::size_t limit = 100;
  bool json = false;
};

// `portcullis role add NAME --permission P... [--description D]`.
struct RoleAddOptions {
  std::string name;
  std::vector<std::string> permissions;
  std::string description;
};

// `portcullis access-review [--json] [--unused-days N]`.
struct AccessReviewOptions {
  bool json = false;
  int unused_days = 90;  // a held permission/role unused for this many days is reported
};

// Loads the configuration for a subcommand; prints the error and returns nullopt on failure.
std::optional<config::Config> LoadConfigOrReport(const CommonOptions& options);

// The configuration and the opened (migrated) store of a subcommand that works on the database.
struct Database {
  config::Config config;
  std::unique_ptr<store::Store> store;
};

// Loads the configuration, creates the data dir if needed and opens the store. On failure prints
// the reason and returns nullopt; `exit_code` (if given) is set to 2 for a configuration error
// and 1 otherwise.
std::optional<Database> OpenDatabaseOrReport(const CommonOptions& options,
                                             int* exit_code = nullptr);

// The audit context of a change made from the command line (actor "cli").
audit::AuditContext CliAuditContext();

int RunServe(const CommonOptions& options);
int RunMigrate(const CommonOptions& options);
int RunUserAdd(const CommonOptions& options, const UserAddOptions& add);
int RunUserList(const CommonOptions& options, bool json);
int RunVersion(bool json);
int RunUserUnlock(const CommonOptions& options, const std::string& username);
int RunClientCreate(const CommonOptions& options, const ClientCreateOptions& create);
int RunClientList(const CommonOptions& options, bool json);
int RunClientDelete(const CommonOptions& options, const std::string& client_id);
int RunKeysList(const CommonOptions& options, bool json);
int RunKeysRotate(const CommonOptions& options);
// Master-key rotation (docs/deployment.md): re-seals every signing key under the master key,
// opening each with it or PORTCULLIS_PREVIOUS_MASTER_KEY; audited as key.resealed.
int RunKeysReseal(const CommonOptions& options);
int RunAudit(const CommonOptions& options, const AuditOptions& audit);

// Users, roles and the access review (issue #5, rbac_commands.cc). Every change goes through
// admin::Directory with admin::Actor::Cli() and is audited with actor "cli"; a running server
// picks it up from the user change feed within about two seconds. Errors print one line to
// stderr and return 1 (2 for a configuration error).

// Prints the user (api::UserToJson shape plus "permissions").
int RunUserShow(const CommonOptions& options, const std::string& username, bool json);
// Disables (invalidating the user's tokens) or re-enables the user.
int RunUserSetDisabled(const CommonOptions& options, const std::string& username, bool disabled);
// With `roles` empty prints the user's roles; otherwise replaces them with `roles`.
int RunUserRoles(const CommonOptions& options, const std::string& username,
                 const std::vector<std::string>& roles, bool json);
int RunRoleAdd(const CommonOptions& options, const RoleAddOptions& add);
// Every role with its description, permissions and number of holders.
int RunRoleList(const CommonOptions& options, bool json);
// Adds `permissions` to the role's set (union).
int RunRoleGrant(const CommonOptions& options, const std::string& name,
                 const std::vector<std::string>& permissions);
// Removes `permissions` from the role's set; holders' older tokens stop working.
int RunRoleRevoke(const CommonOptions& options, const std::string& name,
                  const std::vector<std::string>& permissions);
// Deletes a role (not the built-in "admin" or "user").
int RunRoleDelete(const CommonOptions& options, const std::string& name);
// Who holds what, last login and last use, unused roles/permissions, roles without holders.
int RunAccessReview(const CommonOptions& options, const AccessReviewOptions& review);

// `portcullis user import FILE [--format csv|jsonl] [--batch-size N] [--report FILE] [--json]
// [--dry-run]` (issue #6, import_command.cc): users with existing Argon2/bcrypt hashes from CSV or
// JSONL (format: admin/user_import.h), in transactions of batch_size rows.
struct UserImportOptions {
  std::string file;                   // "-" reads standard input (then `format` is required)
  std::optional<std::string> format;  // "csv" | "jsonl"; default: from the file extension
  std::size_t batch_size = 1000;
  std::optional<std::string> report;  // rejected/skipped rows go here instead of stderr
  bool json = false;                  // the summary as one JSON object
  bool dry_run = false;               // validate and check against the store; write nothing
};

// Imports the users; prints the summary on stdout and "line N: reason" for each rejected or
// skipped row. Exit 0 (all imported or already present), 3 (some rows rejected), 1 (could not run
// or stopped on a database error; finished batches stay committed), 2 (configuration error).
int RunUserImport(const CommonOptions& options, const UserImportOptions& import);

// `portcullis apikey create --user NAME --name N [--scope S]... [--expires-in-days D] [--json]`
// (issue #6, apikey_commands.cc).
struct ApiKeyCreateOptions {
  std::string username;  // the owner
  std::string name;
  std::vector<std::string> scopes;     // each must be held by the owner
  std::optional<int> expires_in_days;  // 1..3650; default apikeys.default_ttl_days (0 = never)
  bool json = false;
};

// Creates a key for the user (audited as apikey.created, actor "cli") and prints it once.
// Exit 1 if the user is unknown, a scope is invalid or not held by the owner.
int RunApiKeyCreate(const CommonOptions& options, const ApiKeyCreateOptions& create);
// Lists every key, or only the user's; never the key or its hash.
int RunApiKeyList(const CommonOptions& options, const std::optional<std::string>& username,
                  bool json);
// Deletes the key (audited as apikey.revoked); a running server refuses it within about a second.
int RunApiKeyRevoke(const CommonOptions& options, const std::string& id);

// `portcullis db copy --to postgresql://… [--json]` (issue #10, db_commands.cc): copies the
// configured SQLite deployment (migrated first, like every command does) into an empty PostgreSQL
// database in one transaction, verifying every table's row count (store/db_copy.h). Prints the
// counts per table and exits 0; otherwise prints "portcullis: db copy: <reason>" (the target URL
// only without its password) and exits 1 with nothing written (2 for a configuration error).
struct DbCopyOptions {
  std::string to;  // postgresql://… (the password may come from PGPASSWORD or ~/.pgpass instead)
  bool json = false;
};
int RunDbCopy(const CommonOptions& options, const DbCopyOptions& copy);

}  // namespace portcullis::cli
