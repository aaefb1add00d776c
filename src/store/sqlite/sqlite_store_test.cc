#include "store/sqlite/sqlite_store.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <latch>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "store/sqlite/migrations.h"
#include "store/testing/store_conformance.h"

namespace portcullis::store {
namespace {

using testing::HasCode;

// A fresh directory under the GoogleTest temp dir, removed with everything in it.
class TempDir {
 public:
  TempDir() {
    std::string pattern = ::testing::TempDir() + "portcullis_store_XXXXXX";
    char* made = ::mkdtemp(pattern.data());
    EXPECT_NE(made, nullptr);
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  std::string File(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

class SqliteTestFactory {
 public:
  Result<std::unique_ptr<Store>> Create() {
    SqliteOptions options;
    options.path = dir_.File("portcullis.db");
    Result<std::unique_ptr<Store>> store = OpenSqliteStore(options);
    if (!store.ok()) return store;
    if (Result<int> applied = (*store)->Migrate(); !applied.ok()) return applied.status();
    return store;
  }

 private:
  TempDir dir_;
};

}  // namespace

namespace testing {
INSTANTIATE_TYPED_TEST_SUITE_P(Sqlite, StoreConformanceTest, ::testing::Types<SqliteTestFactory>);
}  // namespace testing

namespace {

// Runs SQL on the file through a separate raw connection, as another process would.
void ExecRaw(const std::string& path, const char* sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  EXPECT_EQ(sqlite3_exec(db, sql, nullptr, nullptr, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
  sqlite3_close(db);
}

std::unique_ptr<Store> OpenOrDie(const SqliteOptions& options) {
  Result<std::unique_ptr<Store>> store = OpenSqliteStore(options);
  EXPECT_TRUE(store.ok()) << store.status().ToString();
  return store.ok() ? std::move(*store) : nullptr;
}

SqliteOptions OptionsFor(const std::string& path) {
  SqliteOptions options;
  options.path = path;
  return options;
}

TEST(SqliteMigrationsTest, AreNumberedFromOneWithoutGaps) {
  const auto migrations = sqlite_detail::SqliteMigrations();
  ASSERT_FALSE(migrations.empty());
  for (std::size_t i = 0; i < migrations.size(); ++i) {
    EXPECT_EQ(migrations[i].version, static_cast<int>(i + 1)) << migrations[i].name;
    EXPECT_FALSE(migrations[i].sql.empty());
  }
  EXPECT_EQ(migrations[0].name, "0001_init.sql");
  ASSERT_GE(migrations.size(), 2u);
  EXPECT_EQ(migrations[1].name, "0002_token_lifecycle.sql");
  ASSERT_GE(migrations.size(), 3u);
  EXPECT_EQ(migrations[2].name, "0003_throttle.sql");
  ASSERT_GE(migrations.size(), 4u);
  EXPECT_EQ(migrations[3].name, "0004_rbac.sql");
  ASSERT_GE(migrations.size(), 5u);
  EXPECT_EQ(migrations[4].name, "0005_api_keys.sql");
}

TEST(SqliteStoreTest, FreshDatabaseIsAtVersionZeroAndMigrateAppliesEveryMigration) {
  TempDir dir;
  std::unique_ptr<Store> store = OpenOrDie(OptionsFor(dir.File("p.db")));
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->BackendName(), "sqlite");
  Result<int> version = store->SchemaVersion();
  ASSERT_TRUE(version.ok()) << version.status().ToString();
  EXPECT_EQ(*version, 0);

  const int known = static_cast<int>(sqlite_detail::SqliteMigrations().size());
  Result<int> applied = store->Migrate();
  ASSERT_TRUE(applied.ok()) << applied.status().ToString();
  EXPECT_EQ(*applied, known);
  version = store->SchemaVersion();
  ASSERT_TRUE(version.ok());
  EXPECT_EQ(*version, known);

  applied = store->Migrate();
  ASSERT_TRUE(applied.ok());
  EXPECT_EQ(*applied, 0);
}

TEST(SqliteStoreTest, NewerSchemaThanTheBinaryKnowsIsFailedPrecondition) {
  TempDir dir;
  const std::string path = dir.File("p.db");
  std::unique_ptr<Store> store = OpenOrDie(OptionsFor(path));
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->Migrate().ok());
  ExecRaw(path, "INSERT INTO schema_migrations (version, applied_at) VALUES (9999, 0)");

  Result<int> applied = store->Migrate();
  EXPECT_TRUE(HasCode(applied, StatusCode::kFailedPrecondition));
  EXPECT_NE(applied.status().message().find("9999"), std::string::npos);
}

TEST(SqliteStoreTest, DatabaseFileAndParentDirectoryAreCreatedPrivate) {
  TempDir dir;
  const std::string path = dir.File("data/nested/portcullis.db");
  std::unique_ptr<Store> store = OpenOrDie(OptionsFor(path));
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->Migrate().ok());

  struct stat file_info {};
  ASSERT_EQ(::stat(path.c_str(), &file_info), 0);
  EXPECT_EQ(file_info.st_mode & 0777, 0600u);
  struct stat wal_info {};
  ASSERT_EQ(::stat((path + "-wal").c_str(), &wal_info), 0);  // WAL mode is on
  EXPECT_EQ(wal_info.st_mode & 0777, 0600u);
  struct stat dir_info {};
  ASSERT_EQ(::stat(dir.File("data/nested").c_str(), &dir_info), 0);
  EXPECT_EQ(dir_info.st_mode & 0777, 0700u);
}

TEST(SqliteStoreTest, MissingFileWithoutCreateIsNotFound) {
  TempDir dir;
  SqliteOptions options = OptionsFor(dir.File("absent.db"));
  options.create_if_missing = false;
  EXPECT_TRUE(HasCode(OpenSqliteStore(options), StatusCode::kNotFound));
  EXPECT_FALSE(std::filesystem::exists(dir.File("absent.db")));
}

TEST(SqliteStoreTest, InvalidOptionsAreInvalidArgument) {
  TempDir dir;
  EXPECT_TRUE(HasCode(OpenSqliteStore(OptionsFor("")), StatusCode::kInvalidArgument));
  SqliteOptions no_pool = OptionsFor(dir.File("p.db"));
  no_pool.pool_size = 0;
  EXPECT_TRUE(HasCode(OpenSqliteStore(no_pool), StatusCode::kInvalidArgument));
  SqliteOptions negative_timeout = OptionsFor(dir.File("p.db"));
  negative_timeout.busy_timeout_ms = -1;
  EXPECT_TRUE(HasCode(OpenSqliteStore(negative_timeout), StatusCode::kInvalidArgument));
}

TEST(SqliteStoreTest, DataSurvivesReopening) {
  TempDir dir;
  const std::string path = dir.File("p.db");
  {
    std::unique_ptr<Store> store = OpenOrDie(OptionsFor(path));
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(store->Migrate().ok());
    NewUser user;
    user.id = "u1";
    user.username = "Alice";
    user.password_hash = "$argon2id$x";
    user.roles = {"admin"};
    ASSERT_TRUE(store->CreateUser(user).ok());
  }
  std::unique_ptr<Store> store = OpenOrDie(OptionsFor(path));
  ASSERT_NE(store, nullptr);
  Result<int> applied = store->Migrate();
  ASSERT_TRUE(applied.ok());
  EXPECT_EQ(*applied, 0);
  Result<User> found = store->FindUserByUsername("alice");
  ASSERT_TRUE(found.ok()) << found.status().ToString();
  EXPECT_EQ(found->roles, std::vector<std::string>({"admin"}));
}

TEST(SqliteStoreTest, WriteWhileAnotherConnectionHoldsTheWriteLockIsUnavailable) {
  TempDir dir;
  const std::string path = dir.File("p.db");
  SqliteOptions options = OptionsFor(path);
  options.busy_timeout_ms = 0;  // fail at once instead of waiting
  std::unique_ptr<Store> store = OpenOrDie(options);
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->Migrate().ok());

  sqlite3* other = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &other), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(other, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);
  NewUser user;
  user.id = "u1";
  user.username = "alice";
  user.password_hash = "$argon2id$x";
  EXPECT_TRUE(HasCode(store->CreateUser(user), StatusCode::kUnavailable));
  EXPECT_TRUE(HasCode(store->RecordLogin("u1", 1), StatusCode::kUnavailable));
  // Reads still work under WAL while a writer holds the lock.
  EXPECT_TRUE(HasCode(store->FindUserById("u1"), StatusCode::kNotFound));
  ASSERT_EQ(sqlite3_exec(other, "ROLLBACK", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(other);

  EXPECT_TRUE(store->CreateUser(user).ok());
}

TEST(SqliteStoreTest, ChangeFeedTriggersSeeRawSqlWritesOnlyWhenAValueChanges) {
  TempDir dir;
  const std::string path = dir.File("p.db");
  std::unique_ptr<Store> store = OpenOrDie(OptionsFor(path));
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->Migrate().ok());
  NewUser user;
  user.id = "u1";
  user.username = "alice";
  user.password_hash = "$argon2id$x";
  ASSERT_TRUE(store->CreateUser(user).ok());
  Result<std::int64_t> after_create = store->LatestUserChange();
  ASSERT_TRUE(after_create.ok());

  // Another process (an operator with the sqlite3 shell, an older binary) writes directly.
  ExecRaw(path, "UPDATE users SET disabled = 0, credential_version = credential_version");
  ExecRaw(path, "UPDATE users SET email = 'a@example.com', last_login_at = 5");
  Result<std::vector<UserChange>> feed = store->UserChangesSince(*after_create, 10);
  ASSERT_TRUE(feed.ok()) << feed.status().ToString();
  EXPECT_TRUE(feed->empty());

  ExecRaw(path, "UPDATE users SET credential_version = credential_version + 1");
  ExecRaw(path, "UPDATE users SET disabled = 1");
  feed = store->UserChangesSince(*after_create, 10);
  ASSERT_TRUE(feed.ok());
  ASSERT_EQ(feed->size(), 2u);
  EXPECT_EQ((*feed)[0].user_id, "u1");
  EXPECT_EQ((*feed)[1].user_id, "u1");
}

TEST(SqliteStoreTest, AdminRemovalsThroughSeparatelyOpenedStoresLeaveOneHolder) {
  TempDir dir;
  const std::string path = dir.File("p.db");
  std::unique_ptr<Store> first = OpenOrDie(OptionsFor(path));
  ASSERT_NE(first, nullptr);
  ASSERT_TRUE(first->Migrate().ok());
  std::unique_ptr<Store> second = OpenOrDie(OptionsFor(path));
  ASSERT_NE(second, nullptr);
  constexpr int kAdmins = 8;
  for (int i = 0; i < kAdmins; ++i) {
    NewUser user;
    user.id = "u" + std::to_string(i);
    user.username = user.id;
    user.password_hash = "$argon2id$x";
    user.roles = {"admin"};
    ASSERT_TRUE(first->CreateUser(user).ok());
  }
  std::vector<Status> results(kAdmins);
  std::latch start(kAdmins);
  std::vector<std::thread> threads;
  for (int i = 0; i < kAdmins; ++i) {
    threads.emplace_back([&, i] {
      Store& store = (i % 2 == 0) ? *first : *second;
      const std::string id = "u" + std::to_string(i);
      start.arrive_and_wait();
      results[static_cast<std::size_t>(i)] =
          (i % 3 == 0) ? store.DeleteUser(id) : store.SetUserRoles(id, {}).status();
    });
  }
  for (std::thread& t : threads) t.join();
  int refused = 0;
  for (const Status& s : results) {
    if (!s.ok()) {
      EXPECT_TRUE(HasCode(s, StatusCode::kFailedPrecondition));
      ++refused;
    }
  }
  EXPECT_EQ(refused, 1);
  Result<std::vector<std::string>> holders = first->UsersWithRole("admin");
  ASSERT_TRUE(holders.ok());
  EXPECT_EQ(holders->size(), 1u);
}

TEST(SqliteStoreTest, ErrorMessagesDoNotContainBoundValues) {
  TempDir dir;
  std::unique_ptr<Store> store = OpenOrDie(OptionsFor(dir.File("p.db")));
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->Migrate().ok());
  NewUser user;
  user.id = "u1";
  user.username = "alice";
  user.password_hash = "$argon2id$SECRET-HASH";
  ASSERT_TRUE(store->CreateUser(user).ok());
  user.id = "u2";
  Result<User> duplicate = store->CreateUser(user);
  ASSERT_TRUE(HasCode(duplicate, StatusCode::kAlreadyExists));
  EXPECT_EQ(duplicate.status().message().find("SECRET-HASH"), std::string::npos);
  EXPECT_EQ(duplicate.status().message().find("alice"), std::string::npos);
}

TEST(SqliteStoreTest, AuditEventsCannotBeUpdatedOrDeletedEvenWithRawSql) {
  TempDir dir;
  const std::string path = dir.File("p.db");
  std::unique_ptr<Store> store = OpenOrDie(OptionsFor(path));
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->Migrate().ok());
  AuditEvent event;
  event.time = 100;
  event.type = "login.succeeded";
  event.actor = "u1";
  ASSERT_TRUE(store->AppendAudit(event).ok());

  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  for (const char* sql : {"UPDATE audit_events SET actor = 'mallory'", "DELETE FROM audit_events",
                          "DELETE FROM audit_events WHERE id = 1"}) {
    EXPECT_EQ(sqlite3_exec(db, sql, nullptr, nullptr, nullptr), SQLITE_CONSTRAINT) << sql;
    EXPECT_STREQ(sqlite3_errmsg(db), "audit_events is append-only") << sql;
  }
  sqlite3_close(db);

  Result<AuditPage> page = store->ListAudit(AuditFilter{});
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  ASSERT_EQ(page->items.size(), 1u);
  EXPECT_EQ(page->items[0].actor, "u1");
}

RefreshToken MakeRefreshToken(std::string hash, std::optional<std::string> parent) {
  RefreshToken token;
  token.token_hash = std::move(hash);
  token.family_id = "family";
  token.user_id = "u1";
  token.client_id = "default";
  token.issued_at = 1'000;
  token.expires_at = 2'000;
  token.family_expires_at = 5'000;
  token.parent_hash = std::move(parent);
  return token;
}

TEST(SqliteStoreTest, ConcurrentRotationsThroughSeparatelyOpenedStoresLetExactlyOneWin) {
  TempDir dir;
  const std::string path = dir.File("p.db");
  std::unique_ptr<Store> first = OpenOrDie(OptionsFor(path));
  ASSERT_NE(first, nullptr);
  ASSERT_TRUE(first->Migrate().ok());
  std::unique_ptr<Store> second = OpenOrDie(OptionsFor(path));
  ASSERT_NE(second, nullptr);
  ASSERT_TRUE(first->InsertRefreshToken(MakeRefreshToken("h0", std::nullopt)).ok());

  constexpr int kThreads = 16;
  std::vector<Status> results(kThreads);
  std::latch start(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      Store& store = (i % 2 == 0) ? *first : *second;
      RefreshToken next = MakeRefreshToken("next" + std::to_string(i), std::string("h0"));
      start.arrive_and_wait();
      results[static_cast<std::size_t>(i)] = store.RotateRefreshToken("h0", next, 1'100);
    });
  }
  for (std::thread& t : threads) t.join();
  int winners = 0;
  for (const Status& s : results) {
    if (s.ok()) {
      ++winners;
    } else {
      EXPECT_TRUE(HasCode(s, StatusCode::kAborted));
    }
  }
  EXPECT_EQ(winners, 1);
}

// Each child process opens its own store and rotates the same token once; they start together
// when the parent closes the pipe they block on. Exit code 0 = rotated, 1 = kAborted, 2 = other.
TEST(SqliteStoreTest, ConcurrentRotationsFromSeparateProcessesLetExactlyOneWin) {
  TempDir dir;
  const std::string path = dir.File("p.db");
  {
    std::unique_ptr<Store> store = OpenOrDie(OptionsFor(path));
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(store->Migrate().ok());
    ASSERT_TRUE(store->InsertRefreshToken(MakeRefreshToken("h0", std::nullopt)).ok());
  }  // no SQLite handle is open across fork()

  constexpr int kProcesses = 8;
  int start_pipe[2];
  ASSERT_EQ(::pipe(start_pipe), 0);
  std::vector<pid_t> children;
  for (int i = 0; i < kProcesses; ++i) {
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      ::close(start_pipe[1]);
      Result<std::unique_ptr<Store>> store = OpenSqliteStore(OptionsFor(path));
      if (!store.ok()) ::_exit(2);
      char byte;
      (void)::read(start_pipe[0], &byte, 1);  // returns 0 when the parent closes its end
      const Status s = (*store)->RotateRefreshToken(
          "h0", MakeRefreshToken("next" + std::to_string(i), std::string("h0")), 1'100);
      ::_exit(s.ok() ? 0 : (s.code() == StatusCode::kAborted ? 1 : 2));
    }
    children.push_back(pid);
  }
  ::close(start_pipe[0]);
  ::close(start_pipe[1]);
  int winners = 0;
  int aborted = 0;
  for (const pid_t pid : children) {
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status));
    if (WEXITSTATUS(status) == 0) ++winners;
    if (WEXITSTATUS(status) == 1) ++aborted;
  }
  EXPECT_EQ(winners, 1);
  EXPECT_EQ(aborted, kProcesses - 1);

  std::unique_ptr<Store> store = OpenOrDie(OptionsFor(path));
  ASSERT_NE(store, nullptr);
  Result<RefreshToken> old_token = store->FindRefreshToken("h0");
  ASSERT_TRUE(old_token.ok());
  EXPECT_EQ(old_token->used_at, std::optional<UnixSeconds>(1'100));
}

TEST(SqliteStoreTest,
     RotationWhileAnotherConnectionHoldsTheWriteLockIsUnavailableAndChangesNothing) {
  TempDir dir;
  const std::string path = dir.File("p.db");
  SqliteOptions options = OptionsFor(path);
  options.busy_timeout_ms = 0;
  std::unique_ptr<Store> store = OpenOrDie(options);
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->Migrate().ok());
  ASSERT_TRUE(store->InsertRefreshToken(MakeRefreshToken("h0", std::nullopt)).ok());

  sqlite3* other = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &other), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(other, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);
  EXPECT_TRUE(
      HasCode(store->RotateRefreshToken("h0", MakeRefreshToken("h1", std::string("h0")), 1'100),
              StatusCode::kUnavailable));
  ASSERT_EQ(sqlite3_exec(other, "ROLLBACK", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(other);

  Result<RefreshToken> old_token = store->FindRefreshToken("h0");
  ASSERT_TRUE(old_token.ok());
  EXPECT_EQ(old_token->used_at, std::nullopt);
  EXPECT_TRUE(HasCode(store->FindRefreshToken("h1"), StatusCode::kNotFound));
  EXPECT_TRUE(
      store->RotateRefreshToken("h0", MakeRefreshToken("h1", std::string("h0")), 1'100).ok());
}

TEST(SqliteStoreTest, TokenAndClientErrorMessagesDoNotContainBoundValues) {
  TempDir dir;
  std::unique_ptr<Store> store = OpenOrDie(OptionsFor(dir.File("p.db")));
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->Migrate().ok());
  const std::string hash = "deadbeefSECRETHASH";
  ASSERT_TRUE(store->InsertRefreshToken(MakeRefreshToken(hash, std::nullopt)).ok());
  Status clash = store->InsertRefreshToken(MakeRefreshToken(hash, std::nullopt));
  ASSERT_TRUE(HasCode(clash, StatusCode::kAlreadyExists));
  EXPECT_EQ(clash.message().find("SECRETHASH"), std::string::npos);
  Result<RefreshToken> missing = store->FindRefreshToken("missingSECRETHASH");
  ASSERT_TRUE(HasCode(missing, StatusCode::kNotFound));
  EXPECT_EQ(missing.status().message().find("SECRETHASH"), std::string::npos);

  Client client;
  client.client_id = "billing";
  client.secret_hash = "SECRETHASH";
  ASSERT_TRUE(store->CreateClient(client).ok());
  Status duplicate = store->CreateClient(client);
  ASSERT_TRUE(HasCode(duplicate, StatusCode::kAlreadyExists));
  EXPECT_EQ(duplicate.message().find("SECRETHASH"), std::string::npos);
  EXPECT_EQ(duplicate.message().find("billing"), std::string::npos);
}

TEST(SqliteStoreTest, InMemoryDatabaseWorks) {
  std::unique_ptr<Store> store = OpenOrDie(OptionsFor(":memory:"));
  ASSERT_NE(store, nullptr);
  Result<int> applied = store->Migrate();
  ASSERT_TRUE(applied.ok()) << applied.status().ToString();
  EXPECT_TRUE(store->FindRole("admin").ok());
}

TEST(SqliteOptionsFromUrlTest, AcceptsSingleColonForm) {
  Result<SqliteOptions> options = SqliteOptionsFromUrl("sqlite:data/portcullis.db");
  ASSERT_TRUE(options.ok()) << options.status().ToString();
  EXPECT_EQ(options->path, "data/portcullis.db");
  EXPECT_EQ(options->pool_size, 4u);
  EXPECT_EQ(options->busy_timeout_ms, 5000);
  EXPECT_TRUE(options->create_if_missing);
}

TEST(SqliteOptionsFromUrlTest, AcceptsDoubleSlashFormAbsoluteAndRelative) {
  Result<SqliteOptions> absolute = SqliteOptionsFromUrl("sqlite:///var/lib/portcullis/p.db");
  ASSERT_TRUE(absolute.ok());
  EXPECT_EQ(absolute->path, "/var/lib/portcullis/p.db");
  Result<SqliteOptions> relative = SqliteOptionsFromUrl("sqlite://data/p.db");
  ASSERT_TRUE(relative.ok());
  EXPECT_EQ(relative->path, "data/p.db");
  Result<SqliteOptions> single_absolute = SqliteOptionsFromUrl("sqlite:/tmp/p.db");
  ASSERT_TRUE(single_absolute.ok());
  EXPECT_EQ(single_absolute->path, "/tmp/p.db");
}

TEST(SqliteOptionsFromUrlTest, SchemeIsCaseInsensitive) {
  Result<SqliteOptions> options = SqliteOptionsFromUrl("SQLite:p.db");
  ASSERT_TRUE(options.ok());
  EXPECT_EQ(options->path, "p.db");
}

TEST(SqliteOptionsFromUrlTest, OtherSchemeIsInvalidArgumentWithoutEchoingThePassword) {
  Result<SqliteOptions> options =
      SqliteOptionsFromUrl("postgresql://portcullis:hunter2@db.internal/portcullis");
  ASSERT_TRUE(HasCode(options, StatusCode::kInvalidArgument));
  EXPECT_EQ(options.status().message(),
            "unsupported database url scheme \"postgresql\"; expected sqlite:PATH");
  EXPECT_EQ(options.status().message().find("hunter2"), std::string::npos);
}

TEST(SqliteOptionsFromUrlTest, MalformedUrlsAreInvalidArgument) {
  EXPECT_TRUE(HasCode(SqliteOptionsFromUrl("portcullis.db"), StatusCode::kInvalidArgument));
  EXPECT_TRUE(HasCode(SqliteOptionsFromUrl("sqlite:"), StatusCode::kInvalidArgument));
  EXPECT_TRUE(HasCode(SqliteOptionsFromUrl("sqlite://"), StatusCode::kInvalidArgument));
  EXPECT_TRUE(HasCode(SqliteOptionsFromUrl(":p.db"), StatusCode::kInvalidArgument));
  Result<SqliteOptions> bad_scheme = SqliteOptionsFromUrl("us er:pass@host/x");
  ASSERT_TRUE(HasCode(bad_scheme, StatusCode::kInvalidArgument));
  EXPECT_EQ(bad_scheme.status().message(), "malformed database url scheme");
}

}  // namespace
}  // namespace portcullis::store
