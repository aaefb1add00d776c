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

}  // namespace portcullis::cli
