// The subcommands of the `portcullis` CLI, one function each, returning the exit code.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "config/config.h"

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

}  // namespace portcullis::cli
