#include "store/testing/pg_cluster.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>

#include "base/status.h"

namespace portcullis::store::testing {
namespace {

std::unique_ptr<TestPostgres> StartOrDie() {
  Result<std::unique_ptr<TestPostgres>> pg = TestPostgres::Start();
  EXPECT_TRUE(pg.ok()) << pg.status().ToString();
  return pg.ok() ? std::move(*pg) : nullptr;
}

// The postmaster's pid, from the first line of postmaster.pid.
pid_t PostmasterPid(const TestPostgres& pg) {
  std::ifstream in(pg.dir() + "/data/postmaster.pid");
  long pid = 0;
  in >> pid;
  return static_cast<pid_t>(pid);
}

// True once `pid` has exited: gone, or a zombie waiting for init to reap it.
bool ProcessIsGone(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  if (!in) return true;
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::size_t paren = stat.rfind(')');
  return paren != std::string::npos && paren + 2 < stat.size() && stat[paren + 2] == 'Z';
}

TEST(TestPostgresTest, StartsWithPasswordLoginsForBothRoles) {
  std::unique_ptr<TestPostgres> pg = StartOrDie();
  ASSERT_NE(pg, nullptr);
  EXPECT_EQ(pg->url(), pg->DatabaseUrl("portcullis"));
  EXPECT_NE(pg->url().find("@127.0.0.1:" + std::to_string(pg->port()) + "/portcullis"),
            std::string::npos);

  Result<std::string> who =
      TestPostgres::Query(pg->url(), "SELECT current_user, current_database()");
  ASSERT_TRUE(who.ok()) << who.status().ToString();
  EXPECT_EQ(*who, "portcullis|portcullis");

  Result<std::string> settings = TestPostgres::Query(
      pg->admin_url(),
      "SELECT current_user, current_setting('fsync'), current_setting('max_connections'), "
      "current_setting('shared_buffers'), current_setting('listen_addresses'), "
      "current_setting('password_encryption')");
  ASSERT_TRUE(settings.ok()) << settings.status().ToString();
  EXPECT_EQ(*settings, "postgres|on|200|32MB|127.0.0.1|scram-sha-256");

  // The owner of database portcullis can create tables in its public schema (PostgreSQL 15 no
  // longer lets everyone do that).
  Result<std::string> created =
      TestPostgres::Query(pg->url(),
                          "CREATE TABLE t (id integer PRIMARY KEY); INSERT INTO t VALUES (1), (2); "
                          "SELECT count(*) FROM t");
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  EXPECT_EQ(*created, "2");
}

TEST(TestPostgresTest, RejectsAWrongPasswordWithoutEchoingIt) {
  std::unique_ptr<TestPostgres> pg = StartOrDie();
  ASSERT_NE(pg, nullptr);
  std::string wrong =
      "postgresql://portcullis:not-the-password@127.0.0.1:" + std::to_string(pg->port()) +
      "/portcullis";
  Result<std::string> r = TestPostgres::Query(wrong, "SELECT 1");
  ASSERT_EQ(r.status().code(), StatusCode::kUnavailable) << r.status().ToString();
  EXPECT_NE(r.status().message().find("password authentication failed"), std::string::npos)
      << r.status().message();
  EXPECT_EQ(r.status().message().find("not-the-password"), std::string::npos);
}

TEST(TestPostgresTest, CreateDatabaseMakesAnEmptyDatabaseOwnedByPortcullis) {
  std::unique_ptr<TestPostgres> pg = StartOrDie();
  ASSERT_NE(pg, nullptr);
  Result<std::string> url = pg->CreateDatabase("isolated_1");
  ASSERT_TRUE(url.ok()) << url.status().ToString();
  EXPECT_EQ(*url, pg->DatabaseUrl("isolated_1"));

  Result<std::string> r = TestPostgres::Query(
      *url, "CREATE TABLE t (id integer); SELECT current_database() || ' ' || current_user");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, "isolated_1 portcullis");
  // The table went into isolated_1 only.
  Result<std::string> elsewhere =
      TestPostgres::Query(pg->url(), "SELECT count(*) FROM pg_tables WHERE tablename = 't'");
  ASSERT_TRUE(elsewhere.ok()) << elsewhere.status().ToString();
  EXPECT_EQ(*elsewhere, "0");

  EXPECT_EQ(pg->CreateDatabase("isolated_1").status().code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(pg->CreateDatabase("Bad-Name").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(pg->CreateDatabase("x; DROP DATABASE portcullis").status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(pg->CreateDatabase("").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(pg->CreateDatabase(std::string(64, 'a')).status().code(), StatusCode::kInvalidArgument);
}

TEST(TestPostgresTest, StopAndRestartKeepDataAndPort) {
  std::unique_ptr<TestPostgres> pg = StartOrDie();
  ASSERT_NE(pg, nullptr);
  const int port = pg->port();
  ASSERT_TRUE(
      TestPostgres::Query(pg->url(), "CREATE TABLE t (v text); INSERT INTO t VALUES ('x')").ok());

  ASSERT_TRUE(pg->Stop().ok());
  EXPECT_FALSE(pg->running());
  EXPECT_EQ(TestPostgres::Query(pg->url(), "SELECT 1").status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(pg->Stop().code(), StatusCode::kFailedPrecondition);

  Status restarted = pg->Restart();
  ASSERT_TRUE(restarted.ok()) << restarted.ToString();
  EXPECT_TRUE(pg->running());
  EXPECT_EQ(pg->port(), port);
  Result<std::string> r = TestPostgres::Query(pg->url(), "SELECT v FROM t");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, "x");

  // Restart while running stops first.
  restarted = pg->Restart();
  ASSERT_TRUE(restarted.ok()) << restarted.ToString();
  EXPECT_TRUE(TestPostgres::Query(pg->url(), "SELECT 1").ok());
}

TEST(TestPostgresTest, KillImmediateKeepsCommittedRows) {
  std::unique_ptr<TestPostgres> pg = StartOrDie();
  ASSERT_NE(pg, nullptr);
  ASSERT_TRUE(TestPostgres::Query(pg->url(),
                                  "CREATE TABLE t (id integer); "
                                  "INSERT INTO t SELECT generate_series(1, 1000)")
                  .ok());
  ASSERT_TRUE(pg->KillImmediate().ok());
  Status restarted = pg->Restart();  // crash recovery
  ASSERT_TRUE(restarted.ok()) << restarted.ToString();
  Result<std::string> r = TestPostgres::Query(pg->url(), "SELECT count(*) FROM t");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, "1000");
}

TEST(TestPostgresTest, DestructionStopsTheServerAndRemovesTheDirectory) {
  std::unique_ptr<TestPostgres> pg = StartOrDie();
  ASSERT_NE(pg, nullptr);
  const std::string dir = pg->dir();
  const std::string url = pg->url();
  const pid_t postmaster = PostmasterPid(*pg);
  ASSERT_GT(postmaster, 0);
  ASSERT_TRUE(std::filesystem::exists(dir + "/data/PG_VERSION"));

  pg.reset();
  EXPECT_FALSE(std::filesystem::exists(dir));
  EXPECT_TRUE(ProcessIsGone(postmaster));
  EXPECT_EQ(TestPostgres::Query(url, "SELECT 1").status().code(), StatusCode::kUnavailable);
}

TEST(TestPostgresTest, DestructionAfterStopRemovesTheDirectory) {
  std::unique_ptr<TestPostgres> pg = StartOrDie();
  ASSERT_NE(pg, nullptr);
  const std::string dir = pg->dir();
  ASSERT_TRUE(pg->KillImmediate().ok());
  pg.reset();
  EXPECT_FALSE(std::filesystem::exists(dir));
}

// A test process killed with SIGKILL runs no destructor; the watchdog cleans up instead.
TEST(TestPostgresTest, WatchdogCleansUpAfterTheTestProcessIsKilled) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::close(fds[0]);
    Result<std::unique_ptr<TestPostgres>> pg = TestPostgres::Start();
    std::string report = pg.ok() ? (*pg)->dir() + " " + std::to_string(PostmasterPid(**pg)) : "";
    report += "\n";
    ssize_t written = ::write(fds[1], report.data(), report.size());
    (void)written;
    while (true) ::pause();  // until SIGKILL
  }
  ::close(fds[1]);
  std::string report;
  char c;
  while (::read(fds[0], &c, 1) == 1 && c != '\n') report += c;
  ::close(fds[0]);
  ::kill(child, SIGKILL);
  int status = 0;
  ::waitpid(child, &status, 0);

  std::size_t space = report.find(' ');
  ASSERT_NE(space, std::string::npos) << "the child could not start PostgreSQL";
  const std::string dir = report.substr(0, space);
  const pid_t postmaster = static_cast<pid_t>(std::stol(report.substr(space + 1)));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while ((std::filesystem::exists(dir) || !ProcessIsGone(postmaster)) &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_FALSE(std::filesystem::exists(dir));
  EXPECT_TRUE(ProcessIsGone(postmaster));
}

TEST(TestPostgresTest, SharedIsStartedOnceAndReused) {
  TestPostgres* shared = TestPostgres::Shared();
  ASSERT_NE(shared, nullptr) << "see the test_postgres.unavailable log line";
  EXPECT_EQ(TestPostgres::Shared(), shared);
  Result<std::string> r = TestPostgres::Query(shared->url(), "SELECT 1");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, "1");
}

}  // namespace
}  // namespace portcullis::store::testing
