#include "store/postgres/postgres_store.h"

#include <gtest/gtest.h>
#include <libpq-fe.h>

#include <atomic>
#include <chrono>
#include <latch>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "store/postgres/connection.h"
#include "store/postgres/migrations.h"
#include "store/sqlite/migrations.h"
#include "store/testing/pg_cluster.h"
#include "store/testing/store_conformance.h"

namespace portcullis::store {
namespace {

using testing::HasCode;
using testing::TestPostgres;

// The throwaway cluster of this test process (store/testing/pg_cluster.h).
TestPostgres& Cluster() {
  TestPostgres* cluster = TestPostgres::Shared();
  if (cluster == nullptr) {
    ADD_FAILURE() << "could not start a PostgreSQL cluster";
    std::abort();
  }
  return *cluster;
}

// Runs SQL through a separate raw connection, as another process would. Returns "" or the
// error message.
std::string ExecRaw(const std::string& url, const std::string& sql) {
  PGconn* conn = PQconnectdb(url.c_str());
  std::string error;
  if (PQstatus(conn) != CONNECTION_OK) {
    error = PQerrorMessage(conn);
  } else {
    PGresult* result = PQexec(conn, sql.c_str());
    const ExecStatusType status = PQresultStatus(result);
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
      error = PQresultErrorMessage(result);
      if (error.empty()) error = "failed";
    }
    PQclear(result);
  }
  PQfinish(conn);
  return error;
}

// A URL whose connections work in their own schema `schema` (created here): each test gets an
// empty database without paying for CREATE DATABASE.
std::string FreshSchemaUrl() {
  static std::atomic<int> next{0};
  const std::string schema =
      "t" + std::to_string(::getpid()) + "_" + std::to_string(next.fetch_add(1));
  const std::string base = Cluster().url();
  const std::string error = ExecRaw(base, "CREATE SCHEMA " + schema);
  EXPECT_EQ(error, "");
  return base + (base.find('?') == std::string::npos ? "?" : "&") + "options=-csearch_path%3D" +
         schema;
}

std::unique_ptr<Store> OpenOrDie(const std::string& url, std::size_t pool_size = 4) {
  Result<std::unique_ptr<Store>> store = OpenPostgresStore({.url = url, .pool_size = pool_size});
  EXPECT_TRUE(store.ok()) << store.status().ToString();
  return store.ok() ? std::move(*store) : nullptr;
}

class PostgresTestFactory {
 public:
  Result<std::unique_ptr<Store>> Create() {
    url_ = FreshSchemaUrl();
    Result<std::unique_ptr<Store>> store = OpenPostgresStore({.url = url_});
    if (!store.ok()) return store;
    if (Result<int> applied = (*store)->Migrate(); !applied.ok()) return applied.status();
    return store;
  }

 private:
  std::string url_;
};

}  // namespace

namespace testing {
INSTANTIATE_TYPED_TEST_SUITE_P(Postgres, StoreConformanceTest,
                               ::testing::Types<PostgresTestFactory>);
}  // namespace testing

namespace {

TEST(PostgresMigrationsTest, MatchTheSqliteMigrationsOneForOne) {
  const auto pg = postgres_detail::PostgresMigrations();
  const auto sqlite = sqlite_detail::SqliteMigrations();
  ASSERT_EQ(pg.size(), sqlite.size());
  for (std::size_t i = 0; i < pg.size(); ++i) {
    EXPECT_EQ(pg[i].version, static_cast<int>(i + 1));
    EXPECT_EQ(pg[i].name, sqlite[i].name);
  }
}

TEST(PostgresPlaceholdersTest, NumberedParametersBecomeDollarsOutsideQuotes) {
  EXPECT_EQ(postgres_detail::TranslatePlaceholders("SELECT ?1, ?12 WHERE a = '?3' AND \"?4\" = ?2"),
            "SELECT $1, $12 WHERE a = '?3' AND \"?4\" = $2");
  EXPECT_EQ(postgres_detail::TranslatePlaceholders("a ? b 'it''s ?1'"), "a ? b 'it''s ?1'");
}

TEST(PostgresUrlTest, RedactsThePasswordInUserinfoAndQuery) {
  EXPECT_EQ(RedactDatabaseUrl("postgresql://app:s3cr%40t@db:5432/x?sslmode=verify-full"),
            "postgresql://app:***@db:5432/x?sslmode=verify-full");
  EXPECT_EQ(RedactDatabaseUrl("postgres://app@db/x?password=hunter2&sslmode=require"),
            "postgres://app@db/x?password=***&sslmode=require");
  EXPECT_EQ(RedactDatabaseUrl("postgresql://db/x"), "postgresql://db/x");
  EXPECT_TRUE(IsPostgresUrl("PostgreSQL://db/x"));
  EXPECT_TRUE(IsPostgresUrl("postgres://db/x"));
  EXPECT_FALSE(IsPostgresUrl("sqlite:data/p.db"));
}

TEST(PostgresStoreTest, UnreachableDatabaseIsUnavailableWithoutThePassword) {
  Result<std::unique_ptr<Store>> store = OpenPostgresStore(
      {.url = "postgresql://app:TopSecretPw@127.0.0.1:1/nothing?connect_timeout=2"});
  ASSERT_TRUE(HasCode(store, StatusCode::kUnavailable));
  EXPECT_EQ(store.status().message().find("TopSecretPw"), std::string::npos)
      << store.status().message();
}

TEST(PostgresStoreTest, WrongPasswordIsUnavailableWithoutThePassword) {
  std::string url = Cluster().url();
  const std::size_t at = url.find('@');
  url = "postgresql://portcullis:WrongPassword123" + url.substr(at);
  Result<std::unique_ptr<Store>> store = OpenPostgresStore({.url = url});
  ASSERT_TRUE(HasCode(store, StatusCode::kUnavailable));
  EXPECT_EQ(store.status().message().find("WrongPassword123"), std::string::npos);
}

TEST(PostgresStoreTest, MalformedUrlIsInvalidArgumentWithoutEchoingIt) {
  Result<std::unique_ptr<Store>> store =
      OpenPostgresStore({.url = "postgresql://app:Pw%zz@db/x?nonsense=1"});
  ASSERT_TRUE(HasCode(store, StatusCode::kInvalidArgument));
  EXPECT_EQ(store.status().message().find("Pw"), std::string::npos);
  EXPECT_TRUE(HasCode(OpenPostgresStore({.url = "mysql://db/x"}), StatusCode::kInvalidArgument));
  EXPECT_TRUE(HasCode(OpenPostgresStore({.url = Cluster().url(), .pool_size = 0}),
                      StatusCode::kInvalidArgument));
}

TEST(PostgresStoreTest, FreshDatabaseIsAtVersionZeroAndMigrateAppliesEveryMigration) {
  std::unique_ptr<Store> store = OpenOrDie(FreshSchemaUrl());
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->BackendName(), "postgres");
  Result<int> version = store->SchemaVersion();
  ASSERT_TRUE(version.ok()) << version.status().ToString();
  EXPECT_EQ(*version, 0);
  const int known = static_cast<int>(postgres_detail::PostgresMigrations().size());
  Result<int> applied = store->Migrate();
  ASSERT_TRUE(applied.ok()) << applied.status().ToString();
  EXPECT_EQ(*applied, known);
  applied = store->Migrate();
  ASSERT_TRUE(applied.ok());
  EXPECT_EQ(*applied, 0);
}

TEST(PostgresStoreTest, ConcurrentMigrationsFromSeveralStoresApplyEachMigrationOnce) {
  const std::string url = FreshSchemaUrl();
  constexpr int kInstances = 4;
  std::vector<std::unique_ptr<Store>> stores;
  for (int i = 0; i < kInstances; ++i) stores.push_back(OpenOrDie(url, 1));
  std::latch start(kInstances);
  std::vector<Result<int>> results(kInstances, Result<int>(0));
  std::vector<std::thread> threads;
  for (int i = 0; i < kInstances; ++i) {
    threads.emplace_back([&, i] {
      start.arrive_and_wait();
      results[i] = stores[i]->Migrate();
    });
  }
  for (std::thread& t : threads) t.join();
  int total = 0;
  for (const Result<int>& r : results) {
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    total += *r;
  }
  EXPECT_EQ(total, static_cast<int>(postgres_detail::PostgresMigrations().size()));
}

TEST(PostgresStoreTest, NewerSchemaThanTheBinaryKnowsIsFailedPrecondition) {
  const std::string url = FreshSchemaUrl();
  std::unique_ptr<Store> store = OpenOrDie(url);
  ASSERT_TRUE(store->Migrate().ok());
  ASSERT_EQ(ExecRaw(url, "INSERT INTO schema_migrations VALUES (999, 0)"), "");
  EXPECT_TRUE(HasCode(store->Migrate(), StatusCode::kFailedPrecondition));
}

TEST(PostgresStoreTest, AuditEventsCannotBeUpdatedOrDeletedEvenWithRawSql) {
  const std::string url = FreshSchemaUrl();
  std::unique_ptr<Store> store = OpenOrDie(url);
  ASSERT_TRUE(store->Migrate().ok());
  AuditEvent event;
  event.time = 1;
  event.type = "login.failed";
  ASSERT_TRUE(store->AppendAudit(event).ok());
  EXPECT_NE(ExecRaw(url, "UPDATE audit_events SET type = 'x'"), "");
  EXPECT_NE(ExecRaw(url, "DELETE FROM audit_events"), "");
  EXPECT_NE(ExecRaw(url, "TRUNCATE audit_events"), "");
  Result<AuditPage> page = store->ListAudit({});
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->items.size(), 1u);
  EXPECT_EQ(page->items[0].type, "login.failed");
}

TEST(PostgresStoreTest, ChangeFeedTriggersSeeRawSqlWritesOnlyWhenAValueChanges) {
  const std::string url = FreshSchemaUrl();
  std::unique_ptr<Store> store = OpenOrDie(url);
  ASSERT_TRUE(store->Migrate().ok());
  NewUser user;
  user.id = "u1";
  user.username = "alice";
  user.password_hash = "$argon2id$x";
  ASSERT_TRUE(store->CreateUser(user).ok());
  Result<std::int64_t> after_create = store->LatestUserChange();
  ASSERT_TRUE(after_create.ok());
  ASSERT_EQ(ExecRaw(url, "UPDATE users SET email = 'a@example.com', disabled = 0"), "");
  EXPECT_EQ(*store->LatestUserChange(), *after_create);
  ASSERT_EQ(ExecRaw(url, "UPDATE users SET disabled = 1"), "");
  Result<std::vector<UserChange>> changes = store->UserChangesSince(*after_create, 10);
  ASSERT_TRUE(changes.ok());
  ASSERT_EQ(changes->size(), 1u);
  EXPECT_EQ((*changes)[0].user_id, "u1");

  ASSERT_TRUE(store->AddRevokedJti("jti-1", 100).ok());
  Result<std::vector<ChangeEvent>> events = store->ChangesSince(0, 10);
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->size(), 1u);
  EXPECT_EQ((*events)[0].kind, kChangeRevokedJti);
  EXPECT_EQ((*events)[0].subject, "jti-1");
}

TEST(PostgresStoreTest, ListenerIsWokenByAWriteOfAnotherStoreAndByInterrupt) {
  const std::string url = FreshSchemaUrl();
  std::unique_ptr<Store> writer = OpenOrDie(url);
  std::unique_ptr<Store> follower = OpenOrDie(url);
  ASSERT_TRUE(writer->Migrate().ok());
  std::unique_ptr<ChangeListener> listener = follower->ListenForChanges();
  listener->Wait(std::chrono::milliseconds(0));  // connects and LISTENs
  // Nothing happened yet: a short wait times out.
  EXPECT_FALSE(listener->Wait(std::chrono::milliseconds(50)));
  ASSERT_TRUE(writer->AddRevokedJti("jti-2", 100).ok());
  const auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(listener->Wait(std::chrono::seconds(5)));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(1));
  listener->Interrupt();
  EXPECT_TRUE(listener->Wait(std::chrono::seconds(5)));
}

TEST(PostgresStoreTest, RunExclusivelySerializesAcrossStores) {
  const std::string url = FreshSchemaUrl();
  std::unique_ptr<Store> a = OpenOrDie(url);
  std::unique_ptr<Store> b = OpenOrDie(url);
  std::atomic<int> inside{0};
  std::atomic<int> max_inside{0};
  auto body = [&] {
    const int now = ++inside;
    max_inside = std::max(max_inside.load(), now);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    --inside;
    return Status::Ok();
  };
  std::thread t1([&] { EXPECT_TRUE(a->RunExclusively("bootstrap", body).ok()); });
  std::thread t2([&] { EXPECT_TRUE(b->RunExclusively("bootstrap", body).ok()); });
  t1.join();
  t2.join();
  EXPECT_EQ(max_inside.load(), 1);
}

TEST(PostgresStoreTest, ConcurrentRotationsThroughSeparateStoresLetExactlyOneWin) {
  const std::string url = FreshSchemaUrl();
  constexpr int kStores = 4;
  std::vector<std::unique_ptr<Store>> stores;
  for (int i = 0; i < kStores; ++i) stores.push_back(OpenOrDie(url, 2));
  ASSERT_TRUE(stores[0]->Migrate().ok());
  RefreshToken root;
  root.token_hash = "root";
  root.family_id = "fam";
  root.user_id = "u1";
  root.client_id = "default";
  root.issued_at = 1;
  root.expires_at = 1000;
  root.family_expires_at = 2000;
  ASSERT_TRUE(stores[0]->InsertRefreshToken(root).ok());
  std::latch start(kStores * 2);
  std::atomic<int> wins{0}, aborted{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kStores * 2; ++i) {
    threads.emplace_back([&, i] {
      RefreshToken next = root;
      next.token_hash = "next" + std::to_string(i);
      next.parent_hash = "root";
      start.arrive_and_wait();
      Status s = stores[i % kStores]->RotateRefreshToken("root", next, 5);
      if (s.ok()) ++wins;
      if (s.code() == StatusCode::kAborted) ++aborted;
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(wins.load(), 1);
  EXPECT_EQ(aborted.load(), kStores * 2 - 1);
}

TEST(PostgresStoreTest, AdminRemovalsThroughSeparateStoresLeaveOneHolder) {
  const std::string url = FreshSchemaUrl();
  std::unique_ptr<Store> a = OpenOrDie(url);
  std::unique_ptr<Store> b = OpenOrDie(url);
  ASSERT_TRUE(a->Migrate().ok());
  for (const char* id : {"u1", "u2"}) {
    NewUser user;
    user.id = id;
    user.username = std::string("admin-") + id;
    user.password_hash = "$argon2id$x";
    user.roles = {"admin"};
    ASSERT_TRUE(a->CreateUser(user).ok());
  }
  for (int round = 0; round < 5; ++round) {
    std::latch start(2);
    Status s1, s2;
    std::thread t1([&] {
      start.arrive_and_wait();
      s1 = a->SetUserRoles("u1", {}).status();
    });
    std::thread t2([&] {
      start.arrive_and_wait();
      s2 = b->DeleteUser("u2");
    });
    t1.join();
    t2.join();
    Result<std::vector<std::string>> holders = a->UsersWithRole("admin");
    ASSERT_TRUE(holders.ok());
    EXPECT_EQ(holders->size(), 1u);
    EXPECT_NE(s1.ok(), s2.ok()) << s1.ToString() << " / " << s2.ToString();
    if (holders->size() != 1u) break;
    // Restore both admins for the next round.
    (void)a->SetUserRoles("u1", {"admin"});
    NewUser user;
    user.id = "u2";
    user.username = "admin-u2";
    user.password_hash = "$argon2id$x";
    user.roles = {"admin"};
    (void)a->CreateUser(user);
  }
}

TEST(PostgresStoreTest, StoppedDatabaseIsUnavailableAndTheStoreReconnects) {
  TestPostgres& cluster = Cluster();
  std::unique_ptr<Store> store = OpenOrDie(cluster.url());
  ASSERT_TRUE(store->Ping().ok());
  ASSERT_TRUE(cluster.Stop().ok());
  EXPECT_TRUE(HasCode(store->Ping(), StatusCode::kUnavailable));
  ASSERT_TRUE(cluster.Restart().ok());
  // The pool waits kReconnectIntervalMs after a failed connect before trying again.
  Status ping;
  for (int i = 0; i < 50; ++i) {
    ping = store->Ping();
    if (ping.ok()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(ping.ok()) << ping.ToString();
}

}  // namespace
}  // namespace portcullis::store
