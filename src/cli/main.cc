// portcullis: the command line. `serve` runs the server; the other subcommands administer the same
// data dir / database as a running server (DESIGN §3).
#include <CLI/CLI.hpp>
#include <iostream>

#include "base/log.h"
#include "cli/commands.h"

int main(int argc, char** argv) {
  using portcullis::cli::CommonOptions;
  portcullis::log::Init(portcullis::log::Level::kInfo, portcullis::log::Format::kJson);

  CLI::App app{"Portcullis: self-hosted authentication and authorization server", "portcullis"};
  app.require_subcommand(1);
  app.set_version_flag("--version", PORTCULLIS_VERSION);

  CommonOptions common;
  auto add_common = [&common](CLI::App* sub) {
    sub->add_option("--config", common.config_file, "TOML configuration file");
    sub->add_option("--data-dir", common.data_dir, "data directory (default ./data)");
    sub->add_option("--set", common.set_args, "override a config key: section.key=value")
        ->allow_extra_args(false);
  };

  // serve
  CLI::App* serve = app.add_subcommand("serve", "run the HTTP(S) server");
  add_common(serve);
  serve->add_option("--listen", common.listen, "HOST:PORT to listen on (default 127.0.0.1:8443)");
  serve->add_option("--tls", common.tls, "auto | off | CERT_FILE,KEY_FILE");

  // migrate
  CLI::App* migrate = app.add_subcommand("migrate", "apply pending database migrations");
  add_common(migrate);

  // user
  CLI::App* user = app.add_subcommand("user", "manage users");
  user->require_subcommand(1);
  portcullis::cli::UserAddOptions add_opts;
  CLI::App* user_add = user->add_subcommand(
      "add", "create a user; the password is read from stdin or prompted, never from argv");
  add_common(user_add);
  user_add->add_option("username", add_opts.username, "the new user's name")->required();
  user_add->add_option("--email", add_opts.email, "e-mail address");
  user_add->add_option("--role", add_opts.roles, "role to grant (repeatable; default: user)");
  bool list_json = false;
  CLI::App* user_list = user->add_subcommand("list", "list users");
  add_common(user_list);
  user_list->add_flag("--json", list_json, "print JSON");

  // version
  bool version_json = false;
  CLI::App* version =
      app.add_subcommand("version", "print versions of portcullis and its libraries");
  version->add_flag("--json", version_json, "print JSON");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }

  try {
    if (*serve) return portcullis::cli::RunServe(common);
    if (*migrate) return portcullis::cli::RunMigrate(common);
    if (*user_add) return portcullis::cli::RunUserAdd(common, add_opts);
    if (*user_list) return portcullis::cli::RunUserList(common, list_json);
    if (*version) return portcullis::cli::RunVersion(version_json);
  } catch (const std::exception& e) {
    std::cerr << "portcullis: " << e.what() << "\n";
    return 1;
  }
  return 1;
}
