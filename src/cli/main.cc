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
                            "client_credentials (default; authorization_code with --public), "
                            "password, refresh_token, authorization_code; repeatable");
  client_create->add_option("--redirect-uri", client_opts.redirect_uris,
                            "redirect URI (https, or http on loopback), stored verbatim; "
                            "repeatable");
  client_create->add_option("--post-logout-redirect-uri", client_opts.post_logout_redirect_uris,
                            "post-logout redirect URI; repeatable");
  client_create->add_flag("--public", client_opts.public_client,
                          "public client (token_endpoint_auth_method none): no secret");
  client_create->add_option("--auth-method", client_opts.auth_method,
                            "token_endpoint_auth_method: client_secret_basic (default), "
                            "client_secret_post, none");
  client_create->add_option("--id-token-alg", client_opts.id_token_alg,
                            "id_token_signed_response_alg: RS256 (default), EdDSA, ES256");
  client_create->add_flag("--require-dpop", client_opts.require_dpop,
                          "tokens only with a DPoP proof (sender-constrained, RFC 9449)");
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
  CLI::App* keys_reseal = keys->add_subcommand(
      "reseal",
      "re-seal every signing key under the master key (after PORTCULLIS_PREVIOUS_MASTER_KEY)");
  add_common(keys_reseal);

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

  // user show|disable|enable|roles (issue #5)
  std::string show_username;
  bool show_json = false;
  CLI::App* user_show = user->add_subcommand("show", "show a user, their roles and permissions");
  add_common(user_show);
  user_show->add_option("username", show_username, "the user to show")->required();
  user_show->add_flag("--json", show_json, "print JSON");
  std::string disable_username;
  CLI::App* user_disable =
      user->add_subcommand("disable", "disable a user; their tokens stop working at once");
  add_common(user_disable);
  user_disable->add_option("username", disable_username, "the user to disable")->required();
  std::string enable_username;
  CLI::App* user_enable = user->add_subcommand("enable", "re-enable a disabled user");
  add_common(user_enable);
  user_enable->add_option("username", enable_username, "the user to enable")->required();
  std::string roles_username;
  std::vector<std::string> roles_new;
  bool roles_json = false;
  CLI::App* user_roles =
      user->add_subcommand("roles", "print a user's roles, or replace them with the ROLEs given");
  add_common(user_roles);
  user_roles->add_option("username", roles_username, "the user")->required();
  user_roles->add_option("roles", roles_new, "the new roles (replacing the current ones)");
  user_roles->add_flag("--json", roles_json, "print the user as JSON");

  // user import (issue #6)
  portcullis::cli::UserImportOptions import_opts;
  CLI::App* user_import = user->add_subcommand(
      "import",
      "import users with existing password hashes (Argon2 PHC, bcrypt) from CSV or JSONL");
  add_common(user_import);
  user_import->add_option("file", import_opts.file, "the file to import (- for stdin)")->required();
  user_import->add_option("--format", import_opts.format, "csv | jsonl (default: by extension)");
  user_import
      ->add_option("--batch-size", import_opts.batch_size, "rows per transaction (default 1000)")
      ->check(CLI::Range(std::size_t{1}, std::size_t{100000}));
  user_import->add_option("--report", import_opts.report,
                          "write rejected and skipped rows here instead of stderr");
  user_import->add_flag("--json", import_opts.json, "print the summary as JSON");
  user_import->add_flag("--dry-run", import_opts.dry_run,
                        "validate and check against the database without writing");

  // role
  CLI::App* role = app.add_subcommand("role", "manage roles and their permissions");
  role->require_subcommand(1);
  portcullis::cli::RoleAddOptions role_add_opts;
  CLI::App* role_add = role->add_subcommand("add", "create a role");
  add_common(role_add);
  role_add->add_option("name", role_add_opts.name, "role name: [a-z0-9][a-z0-9_.-]{0,63}")
      ->required();
  role_add
      ->add_option("--permission", role_add_opts.permissions,
                   "permission (resource:action, * wildcards); repeatable")
      ->allow_extra_args(false);
  role_add->add_option("--description", role_add_opts.description, "what the role is for");
  bool role_list_json = false;
  CLI::App* role_list = role->add_subcommand("list", "list roles with their holder counts");
  add_common(role_list);
  role_list->add_flag("--json", role_list_json, "print JSON");
  std::string role_change_name;
  std::vector<std::string> role_change_permissions;
  CLI::App* role_grant = role->add_subcommand("grant", "add permissions to a role");
  add_common(role_grant);
  role_grant->add_option("name", role_change_name, "the role")->required();
  role_grant->add_option("permissions", role_change_permissions, "permissions to add")->required();
  CLI::App* role_revoke = role->add_subcommand(
      "revoke", "remove permissions from a role; holders' older tokens stop working");
  add_common(role_revoke);
  role_revoke->add_option("name", role_change_name, "the role")->required();
  role_revoke->add_option("permissions", role_change_permissions, "permissions to remove")
      ->required();
  std::string role_delete_name;
  CLI::App* role_delete =
      role->add_subcommand("delete", "delete a role (not the built-in admin or user)");
  add_common(role_delete);
  role_delete->add_option("name", role_delete_name, "the role")->required();

  // access-review
  constexpr int kMaxUnusedDays = 3650;  // as GET /v1/access-review
  portcullis::cli::AccessReviewOptions review_opts;
  CLI::App* review = app.add_subcommand(
      "access-review", "who holds what, last login and use, unused roles and permissions");
  add_common(review);
  review->add_flag("--json", review_opts.json, "print JSON");
  review
      ->add_option("--unused-days", review_opts.unused_days,
                   "report roles and permissions unused for this many days (default 90)")
      ->check(CLI::Range(0, kMaxUnusedDays));

  // apikey (issue #6)
  CLI::App* apikey = app.add_subcommand("apikey", "manage API keys");
  apikey->require_subcommand(1);
  portcullis::cli::ApiKeyCreateOptions apikey_create_opts;
  CLI::App* apikey_create =
      apikey->add_subcommand("create", "create an API key for a user; the key is shown once");
  add_common(apikey_create);
  apikey_create->add_option("--user", apikey_create_opts.username, "the owner's username")
      ->required();
  apikey_create->add_option("--name", apikey_create_opts.name, "what the key is for")->required();
  apikey_create
      ->add_option("--scope", apikey_create_opts.scopes,
                   "permission the key grants (held by the owner); repeatable")
      ->allow_extra_args(false);
  apikey_create
      ->add_option("--expires-in-days", apikey_create_opts.expires_in_days,
                   "lifetime in days (default: apikeys.default_ttl_days; 0 there = never)")
      ->check(CLI::Range(1, 3650));
  apikey_create->add_flag("--json", apikey_create_opts.json, "print JSON");
  std::optional<std::string> apikey_list_user;
  bool apikey_list_json = false;
  CLI::App* apikey_list = apikey->add_subcommand("list", "list API keys (never the keys)");
  add_common(apikey_list);
  apikey_list->add_option("--user", apikey_list_user, "only this user's keys");
  apikey_list->add_flag("--json", apikey_list_json, "print JSON");
  std::string apikey_revoke_id;
  CLI::App* apikey_revoke = apikey->add_subcommand("revoke", "delete an API key");
  add_common(apikey_revoke);
  apikey_revoke->add_option("id", apikey_revoke_id, "the key id (12 characters)")->required();

  // db (issue #10)
  CLI::App* db = app.add_subcommand("db", "move a deployment to another database");
  db->require_subcommand(1);
  portcullis::cli::DbCopyOptions db_copy_opts;
  CLI::App* db_copy = db->add_subcommand(
      "copy",
      "copy this SQLite deployment into an empty PostgreSQL database and verify the row counts");
  add_common(db_copy);
  db_copy
      ->add_option("--to", db_copy_opts.to,
                   "postgresql://USER@HOST:PORT/DB?sslmode=... (the password may come from "
                   "PGPASSWORD or ~/.pgpass instead of the URL)")
      ->required();
  db_copy->add_flag("--json", db_copy_opts.json, "print JSON");

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
    if (*keys_reseal) return portcullis::cli::RunKeysReseal(common);
    if (*audit) return portcullis::cli::RunAudit(common, audit_opts);
    if (*user_show) return portcullis::cli::RunUserShow(common, show_username, show_json);
    if (*user_disable) return portcullis::cli::RunUserSetDisabled(common, disable_username, true);
    if (*user_enable) return portcullis::cli::RunUserSetDisabled(common, enable_username, false);
    if (*user_roles) {
      return portcullis::cli::RunUserRoles(common, roles_username, roles_new, roles_json);
    }
    if (*role_add) return portcullis::cli::RunRoleAdd(common, role_add_opts);
    if (*role_list) return portcullis::cli::RunRoleList(common, role_list_json);
    if (*role_grant) {
      return portcullis::cli::RunRoleGrant(common, role_change_name, role_change_permissions);
    }
    if (*role_revoke) {
      return portcullis::cli::RunRoleRevoke(common, role_change_name, role_change_permissions);
    }
    if (*role_delete) return portcullis::cli::RunRoleDelete(common, role_delete_name);
    if (*review) return portcullis::cli::RunAccessReview(common, review_opts);
    if (*apikey_create) return portcullis::cli::RunApiKeyCreate(common, apikey_create_opts);
    if (*apikey_list) {
      return portcullis::cli::RunApiKeyList(common, apikey_list_user, apikey_list_json);
    }
    if (*apikey_revoke) return portcullis::cli::RunApiKeyRevoke(common, apikey_revoke_id);
    if (*user_import) return portcullis::cli::RunUserImport(common, import_opts);
    if (*db_copy) return portcullis::cli::RunDbCopy(common, db_copy_opts);
  } catch (const std::exception& e) {
    std::cerr << "portcullis: " << e.what() << "\n";
    return 1;
  }
  return 1;
}
