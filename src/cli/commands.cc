#include "cli/commands.h"

#include <termios.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <cstdio>
#include <iostream>

#include "admin/directory.h"
#include "api/user_json.h"
#include "app/app.h"
#include "app/library_versions.h"
#include "audit/audit_log.h"
#include "authn/throttle.h"
#include "authn/username.h"
#include "base/log.h"
#include "base/secret.h"
#include "base/time_format.h"
#include "config/load.h"
#include "crypto/random.h"
#include "password/hasher.h"
#include "password/policy.h"
#include "store/sqlite/sqlite_store.h"

namespace portcullis::cli {
namespace {

constexpr int kExitConfigError = 2;
constexpr std::size_t kMaxPasswordInputBytes = 4096;
constexpr std::size_t kListPageSize = 500;

}  // namespace

std::optional<config::Config> LoadConfigOrReport(const CommonOptions& options) {
  config::LoadInputs inputs;
  inputs.config_file = options.config_file;
  inputs.env = config::ReadEnvironment();
  inputs.set_args = options.set_args;
  inputs.listen = options.listen;
  inputs.data_dir = options.data_dir;
  inputs.tls = options.tls;
  Result<config::Config> config = config::LoadConfig(inputs);
  if (!config.ok()) {
    std::cerr << "portcullis: configuration error: " << config.status().message() << "\n";
    return std::nullopt;
  }
  log::Level level = log::Level::kInfo;
  log::ParseLevel(config->log.level, level);
  log::Init(level, config->log.format == "text" ? log::Format::kText : log::Format::kJson);
  return std::move(*config);
}

namespace {

// Reads one line from the terminal with echo off.
std::optional<std::string> PromptHidden(const char* prompt) {
  std::cerr << prompt << std::flush;
  termios old{};
  bool restore = tcgetattr(STDIN_FILENO, &old) == 0;
  if (restore) {
    termios quiet = old;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
  }
  std::string line;
  bool ok = static_cast<bool>(std::getline(std::cin, line));
  if (restore) tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
  std::cerr << "\n";
  if (!ok) return std::nullopt;
  return line;
}

// The new password: prompted twice on a terminal, else the first line of stdin.
std::optional<SecretString> ReadNewPassword() {
  if (isatty(STDIN_FILENO)) {
    std::optional<std::string> first = PromptHidden("New password: ");
    std::optional<std::string> second = PromptHidden("Repeat password: ");
    if (!first || !second) return std::nullopt;
    SecretString a(std::move(*first)), b(std::move(*second));
    if (a.reveal() != b.reveal()) {
      std::cerr << "portcullis: the passwords do not match\n";
      return std::nullopt;
    }
    return a;
  }
  std::string line;
  if (!std::getline(std::cin, line) || line.size() > kMaxPasswordInputBytes) return std::nullopt;
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return SecretString(std::move(line));
}

}  // namespace

std::optional<Database> OpenDatabaseOrReport(const CommonOptions& options, int* exit_code) {
  if (exit_code != nullptr) *exit_code = kExitConfigError;
  std::optional<config::Config> config = LoadConfigOrReport(options);
  if (!config) return std::nullopt;
  if (exit_code != nullptr) *exit_code = 1;
  if (Status s = app::EnsureDataDir(*config); !s.ok()) {
    std::cerr << "portcullis: " << s.message() << "\n";
    return std::nullopt;
  }
  Result<std::unique_ptr<store::Store>> store = app::OpenStore(*config);
  if (!store.ok()) {
    std::cerr << "portcullis: " << store.status().message() << "\n";
    return std::nullopt;
  }
  if (exit_code != nullptr) *exit_code = 0;
  return Database{std::move(*config), std::move(*store)};
}

audit::AuditContext CliAuditContext() {
  audit::AuditContext c;
  c.actor = "cli";
  return c;
}

int RunServe(const CommonOptions& options) {
  std::optional<config::Config> config = LoadConfigOrReport(options);
  if (!config) return kExitConfigError;
  return app::Serve(*config, config::ReadEnvironment());
}

int RunMigrate(const CommonOptions& options) {
  std::optional<config::Config> config = LoadConfigOrReport(options);
  if (!config) return kExitConfigError;
  if (Status s = app::EnsureDataDir(*config); !s.ok()) {
    std::cerr << "portcullis: " << s.message() << "\n";
    return 1;
  }
  Result<std::unique_ptr<store::Store>> store = app::OpenStoreUnmigrated(*config);
  if (!store.ok()) {
    std::cerr << "portcullis: " << store.status().message() << "\n";
    return 1;
  }
  Result<int> applied = (*store)->Migrate();
  if (!applied.ok()) {
    std::cerr << "portcullis: migration failed: " << applied.status().message() << "\n";
    return 1;
  }
  Result<int> version = (*store)->SchemaVersion();
  std::cout << "applied " << *applied << " migration(s); schema version "
            << (version.ok() ? *version : -1) << "\n";
  return 0;
}

int RunUserAdd(const CommonOptions& options, const UserAddOptions& add) {
  if (!authn::IsValidUsername(add.username)) {
    std::cerr << "portcullis: invalid username: use 1-64 characters of A-Z a-z 0-9 . _ @ -, "
                 "starting with a letter or digit\n";
    return 1;
  }
  std::optional<SecretString> password = ReadNewPassword();
  if (!password) {
    std::cerr << "portcullis: no password given (pipe it on stdin or type it at the prompt)\n";
    return 1;
  }
  int exit_code = 0;
  std::optional<Database> db = OpenDatabaseOrReport(options, &exit_code);
  if (!db) return exit_code;
  Result<password::Hasher> hasher = password::Hasher::Create(app::HasherParams(db->config));
  if (!hasher.ok()) {
    std::cerr << "portcullis: " << hasher.status().message() << "\n";
    return 1;
  }
  // The same validation, authority rules and audit ("user.created", actor "cli") as the API.
  SystemClock clock;
  audit::AuditLog audit_log(*db->store, clock);
  admin::Directory directory(*db->store, audit_log, clock, /*user_states=*/nullptr, *hasher,
                             app::PolicyFrom(db->config));
  admin::NewUserInput input;
  input.username = add.username;
  input.password = std::move(*password);
  input.email = add.email;
  if (!add.roles.empty()) input.roles = add.roles;
  Result<store::User> created = directory.CreateUser(admin::Actor::Cli(), input, CliAuditContext());
  if (!created.ok()) {
    std::cerr << "portcullis: " << created.status().message() << "\n";
    return 1;
  }
  std::cout << "created user " << created->username << " (id " << created->id << ")\n";
  return 0;
}

int RunUserList(const CommonOptions& options, bool json) {
  int exit_code = 0;
  std::optional<Database> db = OpenDatabaseOrReport(options, &exit_code);
  if (!db) return exit_code;
  const config::Config& config = db->config;
  store::Store& store = *db->store;
  SystemClock clock;
  std::vector<store::User> users;
  std::string cursor;
  while (true) {
    Result<store::UserPage> page = store.ListUsers(cursor, kListPageSize);
    if (!page.ok()) {
      std::cerr << "portcullis: " << page.status().message() << "\n";
      return 1;
    }
    for (store::User& u : page->items) users.push_back(std::move(u));
    if (!page->next_cursor) break;
    cursor = *page->next_cursor;
  }
  // Lock state as the store holds it (a running server writes every change through).
  Result<std::unique_ptr<authn::Throttle>> throttle =
      authn::Throttle::Create(store, app::LockoutPolicyFrom(config), clock);
  auto locked_until = [&](const store::User& u) -> std::optional<UnixSeconds> {
    return throttle.ok() ? (*throttle)->LockedUntil(u.username) : std::nullopt;
  };
  if (json) {
    boost::json::array out;
    for (const store::User& u : users) out.push_back(api::UserToJson(u, locked_until(u)));
    std::cout << boost::json::serialize(out) << "\n";
    return 0;
  }
  std::printf("%-36s  %-24s  %-20s  %-8s  %-20s  %s\n", "ID", "USERNAME", "ROLES", "DISABLED",
              "LOCKED UNTIL", "LAST LOGIN");
  for (const store::User& u : users) {
    std::string roles;
    for (const std::string& r : u.roles) roles += (roles.empty() ? "" : ",") + r;
    std::optional<UnixSeconds> locked = locked_until(u);
    std::printf("%-36s  %-24s  %-20s  %-8s  %-20s  %s\n", u.id.c_str(), u.username.c_str(),
                roles.c_str(), u.disabled ? "yes" : "no",
                locked ? FormatRfc3339(*locked).c_str() : "-",
                u.last_login_at ? FormatRfc3339(*u.last_login_at).c_str() : "-");
  }
  return 0;
}

int RunUserUnlock(const CommonOptions& options, const std::string& username) {
  int exit_code = 0;
  std::optional<Database> db = OpenDatabaseOrReport(options, &exit_code);
  if (!db) return exit_code;
  const config::Config& config = db->config;
  store::Store& store = *db->store;
  Result<store::User> user = store.FindUserByUsername(username);
  if (!user.ok()) {
    std::cerr << "portcullis: no such user\n";
    return 1;
  }
  SystemClock clock;
  Result<std::unique_ptr<authn::Throttle>> throttle =
      authn::Throttle::Create(store, app::LockoutPolicyFrom(config), clock);
  if (!throttle.ok() || !(*throttle)->Unlock(user->username).ok()) {
    std::cerr << "portcullis: could not clear the lock state\n";
    return 1;
  }
  audit::AuditContext actor;
  actor.actor = "cli";
  audit::AuditLog(store, clock)
      .Record("user.unlocked", actor, user->id, {{"username", user->username}});
  std::cout << "unlocked " << user->username
            << " (a running server drops its in-memory copy at its next restart; use POST "
               "/v1/users/{id}/unlock for an immediate effect)\n";
  return 0;
}

int RunVersion(bool json) {
  std::vector<app::LibraryVersion> libs = app::LinkedLibraries();
  if (json) {
    boost::json::object out{{"portcullis", PORTCULLIS_VERSION}};
    for (const app::LibraryVersion& l : libs) out[l.name] = l.version;
    std::cout << boost::json::serialize(out) << "\n";
    return 0;
  }
  std::cout << "portcullis " << PORTCULLIS_VERSION << "\n";
  for (const app::LibraryVersion& l : libs) {
    std::cout << l.name << " " << l.version
              << (l.below_minimum ? "  (older than " + l.minimum + ")" : "") << "\n";
  }
  return 0;
}

}  // namespace portcullis::cli
