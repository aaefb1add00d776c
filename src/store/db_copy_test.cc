// `portcullis db copy` (db_copy.h): a SQLite store filled through the Store API, copied into a
// schema of the throwaway PostgreSQL cluster (store/testing/pg_cluster.h), read back through the
// Store API of the PostgreSQL backend.
#include "store/db_copy.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <latch>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "store/postgres/postgres_store.h"
#include "store/sqlite/sqlite_store.h"
#include "store/testing/pg_cluster.h"

namespace portcullis::store {
namespace {

using testing::TestPostgres;

constexpr UnixSeconds kT0 = 1'700'000'000;

::testing::AssertionResult HasCode(const Status& status, StatusCode code) {
  if (status.code() == code) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "expected " << ToString(code) << ", got " << status.ToString();
}
template <typename T>
::testing::AssertionResult HasCode(const Result<T>& result, StatusCode code) {
  return HasCode(result.status(), code);
}

TestPostgres& Cluster() {
  TestPostgres* cluster = TestPostgres::Shared();
  if (cluster == nullptr) {
    ADD_FAILURE() << "could not start a PostgreSQL cluster";
    std::abort();
  }
  return *cluster;
}

// A URL whose connections work in a schema of their own (created here), as a new database would.
std::string FreshSchemaUrl() {
  static std::atomic<int> next{0};
  const std::string schema =
      "copy" + std::to_string(::getpid()) + "_" + std::to_string(next.fetch_add(1));
  const std::string base = Cluster().url();
  Result<std::string> created = TestPostgres::Query(base, "CREATE SCHEMA " + schema);
  EXPECT_TRUE(created.ok()) << created.status().ToString();
  return base + (base.find('?') == std::string::npos ? "?" : "&") + "options=-csearch_path%3D" +
         schema;
}

// psql -At output of `sql` against `url`, or the error.
std::string Sql(const std::string& url, const std::string& sql) {
  Result<std::string> out = TestPostgres::Query(url, sql);
  return out.ok() ? *out : "ERROR: " + out.status().ToString();
}

std::map<std::string, std::int64_t> PostgresCounts(const std::string& url) {
  std::map<std::string, std::int64_t> counts;
  for (const CopiedTable& table : CopiedTablesForTesting()) {
    counts[table.name] = std::stoll(Sql(url, "SELECT count(*) FROM " + table.name));
  }
  return counts;
}

auto Tie(const User& u) {
  return std::tie(u.id, u.username, u.username_normalized, u.email, u.password_hash, u.disabled,
                  u.credential_version, u.created_at, u.last_login_at, u.roles);
}
auto Tie(const Role& r) { return std::tie(r.name, r.description, r.permissions, r.created_at); }
auto Tie(const SigningKey& k) {
  return std::tie(k.kid, k.alg, k.state, k.sealed_private_key, k.public_jwk, k.created_at,
                  k.deactivated_at);
}
auto Tie(const RefreshToken& t) {
  return std::tie(t.token_hash, t.family_id, t.user_id, t.client_id, t.scope, t.issued_at,
                  t.expires_at, t.family_expires_at, t.parent_hash, t.used_at, t.revoked_at);
}
auto Tie(const Client& c) {
  return std::tie(c.client_id, c.name, c.secret_hash, c.grant_types, c.scopes, c.created_at,
                  c.redirect_uris, c.token_endpoint_auth_method, c.post_logout_redirect_uris,
                  c.id_token_signed_response_alg);
}
auto Tie(const ApiKey& k) {
  return std::tie(k.id, k.secret_hash, k.user_id, k.name, k.scopes, k.created_at, k.expires_at,
                  k.last_used_at);
}
auto Tie(const AuditEvent& e) {
  return std::tie(e.id, e.time, e.type, e.actor, e.subject, e.client_ip, e.user_agent, e.request_id,
                  e.details_json);
}

template <typename T>
T ValueOrDie(Result<T> result) {
  EXPECT_TRUE(result.ok()) << result.status().ToString();
  if (!result.ok()) std::abort();
  return std::move(*result);
}

// Opens (and migrates) a SQLite store in its own temporary directory.
class SqliteSource {
 public:
  SqliteSource() {
    std::string pattern = ::testing::TempDir() + "portcullis_copy_XXXXXX";
    EXPECT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    store_ = ValueOrDie(OpenSqliteStore({.path = path()}));
    EXPECT_TRUE(store_->Migrate().ok());
  }
  ~SqliteSource() {
    store_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  SqliteSource(const SqliteSource&) = delete;
  SqliteSource& operator=(const SqliteSource&) = delete;

  std::string path() const { return (dir_ / "portcullis.db").string(); }
  Store& store() { return *store_; }

 private:
  std::filesystem::path dir_;
  std::unique_ptr<Store> store_;
};

NewUser MakeUser(const std::string& id, const std::string& username,
                 std::vector<std::string> roles) {
  NewUser user;
  user.id = id;
  user.username = username;
  user.email = username + "@example.com";
  user.password_hash = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$" + id;
  user.roles = std::move(roles);
  user.created_at = kT0;
  return user;
}

RefreshToken MakeToken(const std::string& hash, const std::string& family,
                       std::optional<std::string> parent) {
  RefreshToken token;
  token.token_hash = hash;
  token.family_id = family;
  token.user_id = "u-alice";
  token.client_id = "default";
  token.scope = "users:read";
  token.issued_at = kT0;
  token.expires_at = kT0 + 1000;
  token.family_expires_at = kT0 + 5000;
  token.parent_hash = std::move(parent);
  return token;
}

// Every table of the schema gets at least one row, through the Store API.
void Fill(Store& store) {
  // Roles: a custom one, and the built-in `user` changed (the source's version must win).
  ASSERT_TRUE(store
                  .CreateRole({.name = "auditor",
                               .description = "reads the audit log",
                               .permissions = {"audit:read", "users:read"},
                               .created_at = kT0 + 1})
                  .ok());
  ASSERT_TRUE(store
                  .UpsertRole({.name = "user",
                               .description = "changed in the source",
                               .permissions = {"me:read"},
                               .created_at = kT0})
                  .ok());
  // Users with roles; one disabled (credential version bumped), one logged in.
  ASSERT_TRUE(store.CreateUser(MakeUser("u-alice", "Alice", {"admin"})).ok());
  ASSERT_TRUE(store.CreateUser(MakeUser("u-bob", "bob", {"auditor", "user"})).ok());
  NewUser carol = MakeUser("u-carol", "carol", {"user"});
  carol.email.reset();
  ASSERT_TRUE(store.CreateUser(carol).ok());
  ASSERT_TRUE(store.SetUserDisabled("u-carol", true).ok());
  ASSERT_TRUE(store.RecordLogin("u-alice", kT0 + 50).ok());

  // Signing keys: sealed bytes that are not UTF-8 (NUL, 0xff, a lone continuation byte); two
  // with the same created_at, so only the insertion order tells them apart.
  const std::string sealed_a("\x00\xff\x80sealed\x01\xfe", 11);
  const std::string sealed_b("\xc3\x28\x00\x00\x9f", 5);
  ASSERT_TRUE(store
                  .InsertSigningKey({.kid = "kid-old",
                                     .alg = "EdDSA",
                                     .state = "verify_only",
                                     .sealed_private_key = sealed_a,
                                     .public_jwk = R"({"kty":"OKP","kid":"kid-old"})",
                                     .created_at = kT0,
                                     .deactivated_at = kT0 + 10})
                  .ok());
  ASSERT_TRUE(store
                  .InsertSigningKey({.kid = "kid-a-new",
                                     .alg = "ES256",
                                     .state = "active",
                                     .sealed_private_key = sealed_b,
                                     .public_jwk = R"({"kty":"EC","kid":"kid-a-new"})",
                                     .created_at = kT0,
                                     .deactivated_at = std::nullopt})
                  .ok());

  // A refresh family rotated once (the first token used), and a revoked one.
  ASSERT_TRUE(store.InsertRefreshToken(MakeToken("h1", "fam-1", std::nullopt)).ok());
  ASSERT_TRUE(store.RotateRefreshToken("h1", MakeToken("h2", "fam-1", "h1"), kT0 + 20).ok());
  ASSERT_TRUE(store.InsertRefreshToken(MakeToken("h3", "fam-2", std::nullopt)).ok());
  ASSERT_EQ(ValueOrDie(store.RevokeRefreshFamily("fam-2", kT0 + 30)), 1);

  ASSERT_TRUE(store
                  .CreateClient({.client_id = "svc",
                                 .name = "Service",
                                 .secret_hash = std::string(64, 'c'),
                                 .grant_types = {"client_credentials", "refresh_token"},
                                 .scopes = {"users:read"},
                                 .created_at = kT0})
                  .ok());
  ASSERT_TRUE(
      store
          .CreateClient({.client_id = "spa",
                         .name = "Single-page app",
                         .secret_hash = "",
                         .grant_types = {"authorization_code", "refresh_token"},
                         .scopes = {"users:read"},
                         .created_at = kT0 + 1,
                         .redirect_uris = {"https://app.example/cb", "http://127.0.0.1:8080/cb"},
                         .token_endpoint_auth_method = "none",
                         .post_logout_redirect_uris = {"https://app.example/bye"},
                         .id_token_signed_response_alg = "EdDSA"})
          .ok());
  ASSERT_TRUE(store.AddRevokedJti("jti-1", 4'000'000'000).ok());
  ASSERT_TRUE(store
                  .PutThrottle({.key = "pair:bob|203.0.113.5",
                                .failures = 3,
                                .window_start = 0,
                                .locked_until = kT0 + 60,
                                .lock_level = 1,
                                .updated_at = kT0})
                  .ok());
  ASSERT_TRUE(store.RecordKnownSource("alice", "203.0.113.0/24", kT0 + 5).ok());
  ASSERT_TRUE(
      store.RecordPermissionUses({{.user_id = "u-bob", .permission = "audit:read", .at = kT0 + 7}})
          .ok());
  ASSERT_TRUE(store
                  .CreateApiKey({.id = "abcdefghijk1",
                                 .secret_hash = std::string(64, 'a'),
                                 .user_id = "u-bob",
                                 .name = "ci",
                                 .scopes = {"users:read"},
                                 .created_at = kT0,
                                 .expires_at = kT0 + 100000,
                                 .last_used_at = kT0 + 8})
                  .ok());
  // Browser sign-in (migration 0009): a code, a session, a confirmed TOTP enrolment with a
  // recovery code.
  AuthorizationCode code;
  code.code_hash = std::string(64, 'c');
  code.client_id = "web";
  code.user_id = "u-alice";
  code.redirect_uri = "https://app.example/cb";
  code.code_challenge = std::string(43, 'x');
  code.scope = "openid";
  code.nonce = "n";
  code.auth_time = kT0;
  code.amr = "pwd";
  code.session_id = "s1";
  code.created_at = kT0;
  code.expires_at = kT0 + 60;
  ASSERT_TRUE(store.InsertAuthorizationCode(code).ok());
  BrowserSession session;
  session.id = "sessionid0000000001";
  session.token_hash = std::string(64, 'd');
  session.user_id = "u-alice";
  session.credential_version = 1;
  session.auth_time = kT0;
  session.amr = "pwd";
  session.created_at = kT0;
  session.last_seen_at = kT0;
  session.expires_at = kT0 + 86400;
  session.client_ip = "203.0.113.5";
  session.user_agent = "test";
  ASSERT_TRUE(store.CreateBrowserSession(session).ok());
  ASSERT_TRUE(store.RecordDpopProof(std::string(64, 'd'), kT0 + 70, kT0).ok());
  TotpEnrollment totp;
  totp.user_id = "u-bob";
  totp.sealed_secret = std::string("\x01\x02sealed\x00bytes", 14);
  totp.created_at = kT0;
  ASSERT_TRUE(store.PutPendingTotp(totp).ok());
  ASSERT_TRUE(store.ConfirmTotp("u-bob", {std::string(64, 'e')}, 5, kT0 + 1).ok());
  for (int i = 0; i < 3; ++i) {
    AuditEvent event;
    event.time = kT0 + i;
    event.type = i == 0 ? "user.created" : "login.succeeded";
    event.actor = "cli";
    event.subject = "u-alice";
    event.client_ip = "203.0.113.5";
    event.user_agent = "test";
    event.request_id = "req-" + std::to_string(i);
    event.details_json = R"({"n":)" + std::to_string(i) + "}";
    ASSERT_TRUE(store.AppendAudit(event).ok());
  }
}

std::vector<User> AllUsers(Store& store) { return ValueOrDie(store.ListUsers("", 1000)).items; }
std::vector<AuditEvent> AllAudit(Store& store) {
  AuditFilter filter;
  filter.limit = 1000;
  return ValueOrDie(store.ListAudit(filter)).items;
}

TEST(DbCopyTest, CopiesEveryTableAndTheCopyReadsBackEqualThroughTheStore) {
  SqliteSource source;
  ASSERT_NO_FATAL_FAILURE(Fill(source.store()));
  Store& from = source.store();
  const std::string url = FreshSchemaUrl();
  // As after `portcullis migrate`: only the built-in roles are there, which the copy replaces.
  ASSERT_TRUE(ValueOrDie(OpenPostgresStore({.url = url}))->Migrate().ok());

  Result<CopyReport> report = CopySqliteToPostgres(source.path(), url);
  ASSERT_TRUE(report.ok()) << report.status().ToString();

  // The report names every table, in copy order, each with at least one row, and the counts are
  // what PostgreSQL holds now.
  const std::vector<CopiedTable> tables = CopiedTablesForTesting();
  ASSERT_EQ(report->tables.size(), tables.size());
  const std::map<std::string, std::int64_t> counts = PostgresCounts(url);
  for (std::size_t i = 0; i < tables.size(); ++i) {
    EXPECT_EQ(report->tables[i].table, tables[i].name);
    EXPECT_GE(report->tables[i].rows, 1) << tables[i].name;
    EXPECT_EQ(report->tables[i].rows, counts.at(tables[i].name)) << tables[i].name;
  }
  EXPECT_EQ(report->schema_version, ValueOrDie(from.SchemaVersion()));
  EXPECT_EQ(report->tables[0].table, "users");
  EXPECT_EQ(report->tables[0].rows, 3);

  std::unique_ptr<Store> to = ValueOrDie(OpenPostgresStore({.url = url}));
  EXPECT_EQ(ValueOrDie(to->Migrate()), 0);
  EXPECT_EQ(ValueOrDie(to->SchemaVersion()), ValueOrDie(from.SchemaVersion()));

  // Users, with roles, disabled flag, credential version, last login.
  const std::vector<User> users = AllUsers(from);
  const std::vector<User> copied_users = AllUsers(*to);
  ASSERT_EQ(users.size(), copied_users.size());
  for (std::size_t i = 0; i < users.size(); ++i) EXPECT_EQ(Tie(users[i]), Tie(copied_users[i]));
  EXPECT_EQ(Tie(ValueOrDie(to->FindUserByUsername("ALICE"))),
            Tie(ValueOrDie(from.FindUserByUsername("alice"))));
  EXPECT_TRUE(ValueOrDie(to->FindUserById("u-carol")).disabled);
  EXPECT_EQ(ValueOrDie(to->PermissionsOfUser("u-bob")),
            (std::vector<std::string>{"audit:read", "me:read", "users:read"}));

  // Roles: the source's, including its changed built-in `user` (not the target's seed).
  const std::vector<Role> roles = ValueOrDie(from.ListRoles());
  const std::vector<Role> copied_roles = ValueOrDie(to->ListRoles());
  ASSERT_EQ(roles.size(), copied_roles.size());
  for (std::size_t i = 0; i < roles.size(); ++i) EXPECT_EQ(Tie(roles[i]), Tie(copied_roles[i]));
  EXPECT_EQ(ValueOrDie(to->FindRole("user")).description, "changed in the source");

  // Signing keys: every byte of the sealed keys, and the insertion order among equal times.
  const std::vector<SigningKey> keys = ValueOrDie(from.ListSigningKeys());
  const std::vector<SigningKey> copied_keys = ValueOrDie(to->ListSigningKeys());
  ASSERT_EQ(keys.size(), 2u);
  ASSERT_EQ(copied_keys.size(), 2u);
  for (std::size_t i = 0; i < keys.size(); ++i) EXPECT_EQ(Tie(keys[i]), Tie(copied_keys[i]));
  EXPECT_EQ(copied_keys[0].kid, "kid-old");
  EXPECT_EQ(copied_keys[0].sealed_private_key, std::string("\x00\xff\x80sealed\x01\xfe", 11));

  // Refresh tokens: the used one, its successor, the revoked family.
  for (const char* hash : {"h1", "h2", "h3"}) {
    EXPECT_EQ(Tie(ValueOrDie(to->FindRefreshToken(hash))),
              Tie(ValueOrDie(from.FindRefreshToken(hash))))
        << hash;
  }
  EXPECT_TRUE(ValueOrDie(to->FindRefreshToken("h1")).used_at.has_value());
  EXPECT_EQ(ValueOrDie(to->FindSuccessor("h1"))->token_hash, "h2");
  // Replaying the used token on the copy is still detected as reuse.
  EXPECT_TRUE(HasCode(to->RotateRefreshToken("h1", MakeToken("h9", "fam-1", "h1"), kT0 + 40),
                      StatusCode::kAborted));

  EXPECT_EQ(Tie(ValueOrDie(to->FindClient("svc"))), Tie(ValueOrDie(from.FindClient("svc"))));
  EXPECT_EQ(Tie(ValueOrDie(to->FindApiKey("abcdefghijk1"))),
            Tie(ValueOrDie(from.FindApiKey("abcdefghijk1"))));
  const std::vector<RevokedJti> jtis = ValueOrDie(to->ListRevokedJtis(kT0));
  ASSERT_EQ(jtis.size(), 1u);
  EXPECT_EQ(jtis[0].jti, "jti-1");
  EXPECT_EQ(jtis[0].expires_at, 4'000'000'000);
  EXPECT_EQ(ValueOrDie(to->GetThrottle("pair:bob|203.0.113.5")),
            ValueOrDie(from.GetThrottle("pair:bob|203.0.113.5")));
  EXPECT_TRUE(ValueOrDie(to->IsKnownSource("alice", "203.0.113.0/24", kT0)));
  EXPECT_EQ(ValueOrDie(to->ListPermissionUses()), ValueOrDie(from.ListPermissionUses()));

  // The feeds, with their seqs (not the rows the insert triggers appended during the copy).
  const std::vector<UserChange> changes = ValueOrDie(from.UserChangesSince(0, 1000));
  const std::vector<UserChange> copied_changes = ValueOrDie(to->UserChangesSince(0, 1000));
  ASSERT_EQ(changes.size(), copied_changes.size());
  for (std::size_t i = 0; i < changes.size(); ++i) {
    EXPECT_EQ(changes[i].seq, copied_changes[i].seq);
    EXPECT_EQ(changes[i].user_id, copied_changes[i].user_id);
  }
  EXPECT_EQ(ValueOrDie(to->ChangesSince(0, 1000)), ValueOrDie(from.ChangesSince(0, 1000)));

  // Audit: the same events with the same ids; a new event gets a higher id than any of them.
  const std::vector<AuditEvent> events = AllAudit(from);
  const std::vector<AuditEvent> copied_events = AllAudit(*to);
  ASSERT_EQ(events.size(), 3u);
  ASSERT_EQ(copied_events.size(), 3u);
  for (std::size_t i = 0; i < events.size(); ++i) EXPECT_EQ(Tie(events[i]), Tie(copied_events[i]));
  AuditEvent later;
  later.time = kT0 + 100;
  later.type = "login.succeeded";
  EXPECT_GT(ValueOrDie(to->AppendAudit(later)), events.front().id);  // newest first

  // Every identity sequence is past the copied ids: new rows fit in every table.
  const std::int64_t latest_change = ValueOrDie(to->LatestUserChange());
  ASSERT_TRUE(to->CreateUser(MakeUser("u-dave", "dave", {"user"})).ok());
  EXPECT_GT(ValueOrDie(to->LatestUserChange()), latest_change);
  const std::int64_t latest_event = ValueOrDie(to->LatestChange());
  ASSERT_TRUE(to->InsertSigningKey({.kid = "kid-next",
                                    .alg = "EdDSA",
                                    .state = "active",
                                    .sealed_private_key = "x",
                                    .public_jwk = "{}",
                                    .created_at = kT0,
                                    .deactivated_at = std::nullopt})
                  .ok());
  EXPECT_GT(ValueOrDie(to->LatestChange()), latest_event);
  EXPECT_EQ(ValueOrDie(to->ListSigningKeys()).back().kid, "kid-next");  // inserted last
  ASSERT_TRUE(to->RotateRefreshToken("h2", MakeToken("h4", "fam-1", "h2"), kT0 + 50).ok());
  EXPECT_EQ(ValueOrDie(to->FindSuccessor("h2"))->token_hash, "h4");
}

// The twin of db_copy_schema_test.cc for the PostgreSQL migrations: the copy knows exactly their
// tables and columns (including the identity column `rowid` SQLite has implicitly).
TEST(DbCopyTest, CopiedTablesAndColumnsAreExactlyThoseOfTheMigratedPostgresSchema) {
  const std::string url = FreshSchemaUrl();
  ASSERT_TRUE(ValueOrDie(OpenPostgresStore({.url = url}))->Migrate().ok());
  std::map<std::string, std::set<std::string>> schema;
  const std::string rows = Sql(url,
                               "SELECT table_name, column_name FROM information_schema.columns "
                               "WHERE table_schema = current_schema() "
                               "AND table_name <> 'schema_migrations'");
  std::istringstream lines(rows);
  for (std::string line; std::getline(lines, line);) {
    const std::size_t bar = line.find('|');
    ASSERT_NE(bar, std::string::npos) << rows;
    schema[line.substr(0, bar)].insert(line.substr(bar + 1));
  }
  std::map<std::string, std::set<std::string>> copied;
  for (const CopiedTable& table : CopiedTablesForTesting()) {
    copied[table.name] = {table.columns.begin(), table.columns.end()};
  }
  EXPECT_EQ(copied, schema);
}

TEST(DbCopyTest, SecondCopyIsRefusedAndWritesNothing) {
  SqliteSource source;
  ASSERT_NO_FATAL_FAILURE(Fill(source.store()));
  const std::string url = FreshSchemaUrl();  // not even migrated: the copy does it
  ASSERT_TRUE(CopySqliteToPostgres(source.path(), url).ok());
  const std::map<std::string, std::int64_t> before = PostgresCounts(url);
  const std::string latest_audit = Sql(url, "SELECT max(id) FROM audit_events");

  Result<CopyReport> again = CopySqliteToPostgres(source.path(), url);
  ASSERT_TRUE(HasCode(again, StatusCode::kFailedPrecondition));
  EXPECT_THAT(again.status().message(), ::testing::HasSubstr("not empty"));
  EXPECT_THAT(again.status().message(), ::testing::HasSubstr("users"));
  EXPECT_EQ(PostgresCounts(url), before);
  EXPECT_EQ(Sql(url, "SELECT max(id) FROM audit_events"), latest_audit);
}

TEST(DbCopyTest, TargetWithOnlyAThrottleRecordOrAnExtraRoleIsRefused) {
  SqliteSource source;
  ASSERT_NO_FATAL_FAILURE(Fill(source.store()));
  for (const char* sql :
       {"INSERT INTO throttles (key, updated_at) VALUES ('ip:192.0.2.1', 1)",
        "INSERT INTO roles (name, created_at) VALUES ('ops', 1)",
        "INSERT INTO role_permissions (role_name, permission) VALUES ('user', 'me:read')"}) {
    const std::string url = FreshSchemaUrl();
    ASSERT_TRUE(ValueOrDie(OpenPostgresStore({.url = url}))->Migrate().ok());
    ASSERT_EQ(Sql(url, sql), "");
    const std::map<std::string, std::int64_t> before = PostgresCounts(url);
    EXPECT_TRUE(HasCode(CopySqliteToPostgres(source.path(), url), StatusCode::kFailedPrecondition))
        << sql;
    EXPECT_EQ(PostgresCounts(url), before) << sql;
  }
}

// A server starting on the target at the same moment bootstraps its administrator under the
// advisory lock "bootstrap" (app.cc); the copy takes the same lock, so it waits and then finds
// the target taken instead of ending up with the server's `admin` next to the copied users.
TEST(DbCopyTest, CopyWaitsForABootstrappingServerAndIsThenRefused) {
  SqliteSource source;
  ASSERT_NO_FATAL_FAILURE(Fill(source.store()));
  const std::string url = FreshSchemaUrl();
  std::unique_ptr<Store> server = ValueOrDie(OpenPostgresStore({.url = url}));
  ASSERT_TRUE(server->Migrate().ok());
  std::latch locked(2);
  std::thread bootstrap([&] {
    Status s = server->RunExclusively("bootstrap", [&]() -> Status {
      locked.arrive_and_wait();
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
      return server->CreateUser(MakeUser("u-admin", "admin", {"admin"})).status();
    });
    EXPECT_TRUE(s.ok()) << s.ToString();
  });
  locked.arrive_and_wait();
  Result<CopyReport> report = CopySqliteToPostgres(source.path(), url);
  bootstrap.join();
  ASSERT_TRUE(HasCode(report, StatusCode::kFailedPrecondition));
  EXPECT_EQ(Sql(url, "SELECT string_agg(id, ',') FROM users"), "u-admin");
}

TEST(DbCopyTest, AValuePostgresRefusesRollsEverythingBack) {
  SqliteSource source;
  ASSERT_NO_FATAL_FAILURE(Fill(source.store()));
  // SQLite keeps any bytes in TEXT; PostgreSQL refuses text that is not UTF-8. The api_keys table
  // is copied late, after users, keys and audit events were already inserted.
  ApiKey bad{.id = "zzzzzzzzzzz9",
             .secret_hash = std::string(64, 'b'),
             .user_id = "u-bob",
             .name = std::string("bad \xff name"),
             .scopes = {},
             .created_at = kT0,
             .expires_at = std::nullopt,
             .last_used_at = std::nullopt};
  ASSERT_TRUE(source.store().CreateApiKey(bad).ok());
  const std::string url = FreshSchemaUrl();
  ASSERT_TRUE(ValueOrDie(OpenPostgresStore({.url = url}))->Migrate().ok());
  const std::map<std::string, std::int64_t> before = PostgresCounts(url);

  Result<CopyReport> report = CopySqliteToPostgres(source.path(), url);
  ASSERT_TRUE(HasCode(report, StatusCode::kInvalidArgument));
  EXPECT_THAT(report.status().message(), ::testing::HasSubstr("api_keys"));
  EXPECT_EQ(PostgresCounts(url), before);  // only the built-in roles
  EXPECT_EQ(before.at("roles"), 2);
  EXPECT_EQ(before.at("users"), 0);

  // Fixed at the source, the next copy goes through.
  ASSERT_TRUE(source.store().DeleteApiKey("zzzzzzzzzzz9").ok());
  EXPECT_TRUE(CopySqliteToPostgres(source.path(), url).ok());
}

TEST(DbCopyTest, PrunedFeedSeqsAreNotHandedOutAgain) {
  SqliteSource source;
  Store& from = source.store();
  ASSERT_TRUE(from.CreateUser(MakeUser("u-alice", "alice", {"admin"})).ok());
  ASSERT_TRUE(from.AddRevokedJti("jti-1", 4'000'000'000).ok());
  const std::int64_t user_seq = ValueOrDie(from.LatestUserChange());
  const std::int64_t change_seq = ValueOrDie(from.LatestChange());
  ASSERT_GE(user_seq, 1);
  ASSERT_GE(change_seq, 1);
  const UnixSeconds future = std::time(nullptr) + 3600;
  ASSERT_EQ(ValueOrDie(from.PruneUserChanges(future)), static_cast<int>(user_seq));
  ASSERT_EQ(ValueOrDie(from.PruneChanges(future)), static_cast<int>(change_seq));

  const std::string url = FreshSchemaUrl();
  Result<CopyReport> report = CopySqliteToPostgres(source.path(), url);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  std::unique_ptr<Store> to = ValueOrDie(OpenPostgresStore({.url = url}));
  EXPECT_EQ(ValueOrDie(to->LatestUserChange()), 0);  // empty, as in the source
  ASSERT_TRUE(to->CreateUser(MakeUser("u-bob", "bob", {"user"})).ok());
  ASSERT_TRUE(to->AddRevokedJti("jti-2", 4'000'000'000).ok());
  EXPECT_GT(ValueOrDie(to->LatestUserChange()), user_seq);
  EXPECT_GT(ValueOrDie(to->LatestChange()), change_seq);
}

TEST(DbCopyTest, UnmigratedSourceIsRefusedAndAMissingOneIsNotFound) {
  std::string pattern = ::testing::TempDir() + "portcullis_copy_XXXXXX";
  ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
  const std::string path = pattern + "/portcullis.db";
  { ASSERT_TRUE(OpenSqliteStore({.path = path}).ok()); }  // created, no migration applied
  const std::string url = FreshSchemaUrl();
  Result<CopyReport> report = CopySqliteToPostgres(path, url);
  ASSERT_TRUE(HasCode(report, StatusCode::kFailedPrecondition));
  EXPECT_THAT(report.status().message(), ::testing::HasSubstr("portcullis migrate"));
  EXPECT_TRUE(HasCode(CopySqliteToPostgres(pattern + "/absent.db", url), StatusCode::kNotFound));
  std::error_code ec;
  std::filesystem::remove_all(pattern, ec);
}

TEST(DbCopyTest, UnreachableTargetIsUnavailableWithoutThePassword) {
  SqliteSource source;
  Result<CopyReport> report = CopySqliteToPostgres(
      source.path(), "postgresql://app:TopSecretPw@127.0.0.1:1/nothing?connect_timeout=2");
  ASSERT_TRUE(HasCode(report, StatusCode::kUnavailable));
  EXPECT_EQ(report.status().message().find("TopSecretPw"), std::string::npos)
      << report.status().message();
}

}  // namespace
}  // namespace portcullis::store
