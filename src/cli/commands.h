// The subcommands of the `portcullis` CLI, one function each, returning the exit code.
#pragma once

#include <optional>
#include <string>
#include <vector>

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

int RunServe(const CommonOptions& options);
int RunMigrate(const CommonOptions& options);
int RunUserAdd(const CommonOptions& options, const UserAddOptions& add);
int RunUserList(const CommonOptions& options, bool json);
int RunVersion(bool json);

}  // namespace portcullis::cli
