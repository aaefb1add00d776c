// `portcullis client|keys|audit` subcommands (issue #3). They act on the same database as a
// running server; a running server sees new clients at once (clients are read per request) and a
// rotated key at its next key refresh (restart today; PostgreSQL NOTIFY later).
#include <boost/json.hpp>
#include <cstdio>
#include <iostream>

#include "api/admin/admin.h"
#include "app/app.h"
#include "audit/audit_log.h"
#include "authn/client_authenticator.h"
#include "authn/client_metadata.h"
#include "authn/mfa.h"
#include "authz/permission.h"
#include "base/time_format.h"
#include "cli/commands.h"
#include "config/load.h"
#include "crypto/random.h"
#include "jose/algorithm.h"
#include "token/key_manager.h"

namespace portcullis::cli {
namespace {

constexpr std::size_t kClientIdLength = 20;
constexpr std::size_t kClientSecretBytes = 32;
constexpr std::size_t kPageSize = 500;

}  // namespace

int RunClientCreate(const CommonOptions& options, const ClientCreateOptions& create) {
  std::optional<Database> opened = OpenDatabaseOrReport(options);
  if (!opened) return 1;
  if (create.name.empty() || create.name.size() > 128) {
    std::cerr << "portcullis: --name must be 1 to 128 characters\n";
    return 1;
  }
  store::Client client;
  client.name = create.name;
  // The same rules as POST /v1/clients (authn::ValidateClientMetadata).
  authn::ClientMetadata metadata;
  if (create.public_client) {
    if (!create.auth_method.empty() && create.auth_method != authn::kAuthMethodNone) {
      std::cerr << "portcullis: --public means --auth-method none\n";
      return 1;
    }
    metadata.token_endpoint_auth_method = std::string(authn::kAuthMethodNone);
  } else if (!create.auth_method.empty()) {
    metadata.token_endpoint_auth_method = create.auth_method;
  }
  if (!create.id_token_alg.empty()) metadata.id_token_signed_response_alg = create.id_token_alg;
  metadata.redirect_uris = create.redirect_uris;
  metadata.post_logout_redirect_uris = create.post_logout_redirect_uris;
  metadata.grant_types = create.grant_types.empty()
                             ? authn::DefaultGrantTypes(metadata.token_endpoint_auth_method)
                             : create.grant_types;
  if (authn::ClientMetadataCheck check = authn::ValidateClientMetadata(metadata);
      check.error != authn::ClientMetadataError::kOk) {
    std::cerr << "portcullis: " << check.detail << "\n";
    return 1;
  }
  client.grant_types = std::move(metadata.grant_types);
  client.redirect_uris = std::move(metadata.redirect_uris);
  client.token_endpoint_auth_method = std::move(metadata.token_endpoint_auth_method);
  client.post_logout_redirect_uris = std::move(metadata.post_logout_redirect_uris);
  client.id_token_signed_response_alg = std::move(metadata.id_token_signed_response_alg);
  client.require_dpop = create.require_dpop;
  for (const std::string& s : create.scopes) {
    if (!authz::IsValidPermission(s)) {
      std::cerr << "portcullis: invalid scope " << s << "\n";
      return 1;
    }
  }
  client.scopes = create.scopes;
  client.client_id = crypto::RandomLowerAlphanumeric(crypto::OsRandomInstance(), kClientIdLength);
  // A public client has no secret: none is generated, none stored (secret_hash "").
  const bool is_public = client.token_endpoint_auth_method == authn::kAuthMethodNone;
  SecretString secret;
  if (!is_public) {
    secret = SecretString(crypto::RandomBase64Url(crypto::OsRandomInstance(), kClientSecretBytes));
    client.secret_hash = authn::HashClientSecret(secret.reveal());
  }
  client.created_at = SystemClock().Now();
  if (Status s = opened->store->CreateClient(client); !s.ok()) {
    std::cerr << "portcullis: " << s.message() << "\n";
    return 1;
  }
  SystemClock clock;
  audit::AuditLog(*opened->store, clock)
      .Record("client.created", CliAuditContext(), client.client_id, {{"name", client.name}});
  boost::json::object out = api::ClientToJson(client);
  if (!is_public) out["client_secret"] = secret.reveal();
  if (create.json) {
    std::cout << boost::json::serialize(out) << "\n";
  } else if (is_public) {
    std::cout << "client_id:     " << client.client_id << "\n(public client: no secret)\n";
  } else {
    std::cout << "client_id:     " << client.client_id << "\nclient_secret: " << secret.reveal()
              << "\n(the secret is shown only this once)\n";
  }
  return 0;
}

int RunClientList(const CommonOptions& options, bool json) {
  std::optional<Database> opened = OpenDatabaseOrReport(options);
  if (!opened) return 1;
  std::vector<store::Client> clients;
  std::string cursor;
  while (true) {
    Result<store::ClientPage> page = opened->store->ListClients(cursor, kPageSize);
    if (!page.ok()) {
      std::cerr << "portcullis: " << page.status().message() << "\n";
      return 1;
    }
    for (store::Client& c : page->items) clients.push_back(std::move(c));
    if (!page->next_cursor) break;
    cursor = *page->next_cursor;
  }
  if (json) {
    boost::json::array out;
    for (const store::Client& c : clients) out.push_back(api::ClientToJson(c));
    std::cout << boost::json::serialize(out) << "\n";
    return 0;
  }
  std::printf("%-22s  %-24s  %-20s  %-36s  %s\n", "CLIENT_ID", "NAME", "AUTH_METHOD", "GRANT_TYPES",
              "SCOPES");
  for (const store::Client& c : clients) {
    std::printf("%-22s  %-24s  %-20s  %-36s  %s\n", c.client_id.c_str(), c.name.c_str(),
                c.token_endpoint_auth_method.c_str(), authz::JoinScope(c.grant_types).c_str(),
                authz::JoinScope(c.scopes).c_str());
  }
  return 0;
}

int RunClientDelete(const CommonOptions& options, const std::string& client_id) {
  std::optional<Database> opened = OpenDatabaseOrReport(options);
  if (!opened) return 1;
  SystemClock clock;
  Status s = opened->store->DeleteClient(client_id, clock.Now());
  if (!s.ok()) {
    std::cerr << "portcullis: "
              << (s.code() == StatusCode::kNotFound ? "no such client" : s.message()) << "\n";
    return 1;
  }
  audit::AuditLog(*opened->store, clock).Record("client.deleted", CliAuditContext(), client_id, {});
  std::cout << "deleted client " << client_id << "\n";
  return 0;
}

int RunKeysList(const CommonOptions& options, bool json) {
  std::optional<Database> opened = OpenDatabaseOrReport(options);
  if (!opened) return 1;
  Result<std::vector<store::SigningKey>> keys = opened->store->ListSigningKeys();
  if (!keys.ok()) {
    std::cerr << "portcullis: " << keys.status().message() << "\n";
    return 1;
  }
  if (json) {
    boost::json::array out;
    for (const store::SigningKey& k : *keys) out.push_back(api::SigningKeyToJson(k));
    std::cout << boost::json::serialize(out) << "\n";
    return 0;
  }
  std::printf("%-18s  %-6s  %-12s  %s\n", "KID", "ALG", "STATE", "CREATED");
  for (const store::SigningKey& k : *keys) {
    std::printf("%-18s  %-6s  %-12s  %s\n", k.kid.c_str(), k.alg.c_str(), k.state.c_str(),
                FormatRfc3339(k.created_at).c_str());
  }
  return 0;
}

int RunKeysRotate(const CommonOptions& options) {
  std::optional<Database> opened = OpenDatabaseOrReport(options);
  if (!opened) return 1;
  crypto::Random& random = crypto::OsRandomInstance();
  Result<crypto::MasterKey> master =
      app::LoadOrCreateMasterKey(opened->config, config::ReadEnvironment(), random);
  if (!master.ok()) {
    std::cerr << "portcullis: " << master.status().message() << "\n";
    return 1;
  }
  std::optional<jose::Algorithm> alg = jose::ParseAlgorithm(opened->config.tokens.signing_alg);
  SystemClock clock;
  // Under the lock a starting server holds while it creates the first key set, so the two never
  // both create one (PostgreSQL; SQLite: a no-op across processes).
  Result<std::unique_ptr<token::KeyManager>> keys = UnavailableError("not loaded");
  Result<std::vector<token::RotatedKey>> rotated = UnavailableError("not rotated");
  Status done = opened->store->RunExclusively("bootstrap", [&]() -> Status {
    keys = token::KeyManager::Create(*opened->store, *master, *alg, clock, random);
    if (!keys.ok()) return keys.status();
    rotated = (*keys)->Rotate();
    return rotated.status();
  });
  if (!done.ok()) {
    std::cerr << "portcullis: " << done.message() << "\n";
    return 1;
  }
  audit::AuditLog audit_log(*opened->store, clock);
  api::RecordKeyRotation(audit_log, CliAuditContext(), *rotated, *alg, "cli");
  // One active key per algorithm (DESIGN §8: ID tokens); every one was rotated.
  for (const token::RotatedKey& k : *rotated) {
    std::cout << "rotated " << jose::ToString(k.alg) << ": new active key " << k.kid
              << " (previous " << k.previous_kid << " stays verify-only until its tokens expire)"
              << (k.alg == *alg ? "; signs access tokens" : "") << "\n";
  }
  return 0;
}

int RunKeysReseal(const CommonOptions& options) {
  std::optional<Database> opened = OpenDatabaseOrReport(options);
  if (!opened) return 1;
  crypto::Random& random = crypto::OsRandomInstance();
  Result<crypto::MasterKey> master =
      app::LoadOrCreateMasterKey(opened->config, config::ReadEnvironment(), random);
  if (!master.ok()) {
    std::cerr << "portcullis: " << master.status().message() << "\n";
    return 1;
  }
  SystemClock clock;
  // Under the lock of start-up and rotation, so no key is created or rotated meanwhile.
  Result<int> resealed = 0;
  Result<int> totp = 0;
  Status s = opened->store->RunExclusively("bootstrap", [&]() -> Status {
    resealed = token::KeyManager::ResealAll(*opened->store, *master);
    if (!resealed.ok()) return resealed.status();
    // TOTP secrets are sealed with the master key too (DESIGN §8).
    totp = authn::Mfa::ResealAll(*opened->store, *master);
    return totp.ok() ? Status::Ok() : totp.status();
  });
  if (!s.ok()) {
    std::cerr << "portcullis: " << s.message() << "\n";
    return 1;
  }
  audit::AuditLog(*opened->store, clock)
      .Record("key.resealed", CliAuditContext(), "",
              {{"keys", static_cast<std::int64_t>(*resealed)},
               {"totp_secrets", static_cast<std::int64_t>(*totp)},
               {"with_previous_key", master->has_previous()}});
  std::cout << "resealed " << *resealed << " signing keys and " << *totp
            << " TOTP secrets under the master key; PORTCULLIS_PREVIOUS_MASTER_KEY is no longer "
               "needed once every instance runs with the new key\n";
  return 0;
}

int RunAudit(const CommonOptions& options, const AuditOptions& audit_options) {
  std::optional<Database> opened = OpenDatabaseOrReport(options);
  if (!opened) return 1;
  store::AuditFilter filter;
  filter.limit = audit_options.limit;
  if (audit_options.type) filter.type = audit_options.type;
  if (audit_options.user) filter.user = audit_options.user;
  if (audit_options.since) filter.since = audit_options.since;
  Result<store::AuditPage> page = opened->store->ListAudit(filter);
  if (!page.ok()) {
    std::cerr << "portcullis: " << page.status().message() << "\n";
    return 1;
  }
  if (audit_options.json) {
    boost::json::array out;
    for (const store::AuditEvent& e : page->items) out.push_back(audit::AuditEventToJson(e));
    std::cout << boost::json::serialize(out) << "\n";
    return 0;
  }
  for (const store::AuditEvent& e : page->items) {
    std::printf("%s  %-30s actor=%s subject=%s ip=%s %s\n", FormatRfc3339(e.time).c_str(),
                e.type.c_str(), e.actor.c_str(), e.subject.c_str(), e.client_ip.c_str(),
                e.details_json.c_str());
  }
  return 0;
}

}  // namespace portcullis::cli
