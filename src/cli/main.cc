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

  // client
  CLI::App* client = app.add_subcommand("client", "manage OAuth2 clients");
  client->require_subcommand(1);
  portcullis::cli::ClientCreateOptions client_opts;
  CLI::App* client_create = client->add_subcommand("create", "create a confidential client");
  add_common(client_create);
  client_create->add_option("--name", client_opts.name, "display name")->required();
  client_create->add_option("--grant-type", client_opts.grant_types,
                            "client_credentials (default), password, refresh_token; repeatable");
  client_create->add_option("--scope", client_opts.scopes,
                            "permission the client may get; repeatable");
  client_create->add_flag("--json", client_opts.json, "print JSON");
  bool client_list_json = false;
  CLI::App* client_list = client->add_subcommand("list", "list clients");
  add_common(client_list);
  client_list->add_flag("--json", client_list_json, "print JSON");
  std::string client_delete_id;
  CLI::App* client_delete =
      client->add_subcommand("delete", "delete a client and revoke its tokens");
  add_common(client_delete);
  client_delete->add_option("client_id", client_delete_id, "the client to delete")->required();

  // keys
  CLI::App* keys = app.add_subcommand("keys", "manage signing keys");
  keys->require_subcommand(1);
  bool keys_list_json = false;
  CLI::App* keys_list = keys->add_subcommand("list", "list signing keys and their states");
  add_common(keys_list);
  keys_list->add_flag("--json", keys_list_json, "print JSON");
  CLI::App* keys_rotate = keys->add_subcommand("rotate", "create a new active signing key");
  add_common(keys_rotate);

  // audit
  portcullis::cli::AuditOptions audit_opts;
  CLI::App* audit = app.add_subcommand("audit", "show audit events, newest first");
  add_common(audit);
  audit->add_option("--type", audit_opts.type, "only events of this type");
  audit->add_option("--user", audit_opts.user, "only events whose actor or subject is this id");
  audit->add_option("--since", audit_opts.since, "only events at or after this Unix time");
  audit->add_option("--limit", audit_opts.limit, "at most this many events (default 100)");
  audit->add_flag("--json", audit_opts.json, "print JSON");

  std::string unlock_username;
  CLI::App* user_unlock = user->add_subcommand("unlock", "clear every lock and counter of a user");
  add_common(user_unlock);
  user_unlock->add_option("username", unlock_username, "the user to unlock")->required();

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
    if (*user_unlock) return portcullis::cli::RunUserUnlock(common, unlock_username);
    if (*version) return portcullis::cli::RunVersion(version_json);
    if (*client_create) return portcullis::cli::RunClientCreate(common, client_opts);
    if (*client_list) return portcullis::cli::RunClientList(common, client_list_json);
    if (*client_delete) return portcullis::cli::RunClientDelete(common, client_delete_id);
    if (*keys_list) return portcullis::cli::RunKeysList(common, keys_list_json);
    if (*keys_rotate) return portcullis::cli::RunKeysRotate(common);
    if (*audit) return portcullis::cli::RunAudit(common, audit_opts);
  } catch (const std::exception& e) {
    std::cerr << "portcullis: " << e.what() << "\n";
    return 1;
  }
  return 1;
}
