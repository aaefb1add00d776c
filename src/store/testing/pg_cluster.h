// TestPostgres: a throwaway PostgreSQL 15 cluster for tests, started from the Debian server
// binaries (initdb, pg_ctl) in a private temporary directory and removed again afterwards.
//
//   Result<std::unique_ptr<TestPostgres>> pg = TestPostgres::Start();
//   ASSERT_TRUE(pg.ok()) << pg.status().ToString();
//   Result<std::string> url = (*pg)->CreateDatabase("conformance_1");  // one per test
//   ... open the store on *url ...
//
// Layout: /tmp/portcullis-pg-XXXXXX/ (mode 0700) holds data/ (PGDATA), postgres.log and the unix
// socket. It is always under /tmp, not $TMPDIR: the socket path must stay below 107 bytes and, when
// running as root, be reachable by user postgres.
//
// Users: the server binaries refuse to run as root, so a root test process runs them (and owns the
// directory) as user `postgres`; any other user runs them as itself. The cluster has
//   - superuser `postgres` (admin_url()), random password,
//   - role `portcullis` (url()), random password, owner of database `portcullis` and of every
//     database made by CreateDatabase.
// Every login is password (scram-sha-256) authentication, over TCP on 127.0.0.1 and over the unix
// socket alike. Passwords are 32 hex digits, so URLs need no percent-encoding.
//
// Settings: port = a free loopback port, listen_addresses = '127.0.0.1', shared_buffers = 32MB,
// max_connections = 200, timezone = 'UTC', jit = off, recovery_init_sync_method = syncfs, and
// fsync / synchronous_commit / full_page_writes stay on: a committed row survives KillImmediate().
// (initdb itself runs with --no-sync; that only matters if the whole machine crashes.)
//
// Clean-up: the destructor stops the server (immediate mode) and deletes the directory. Because
// pg_ctl detaches the server into its own session, a test process that dies without running its
// destructors (SIGKILL, a ctest timeout, an abort) would leave it running; so Start() also spawns a
// small detached watchdog (/bin/sh, re-parented to init, so ctest's process-tree kill misses it)
// that waits on a socket and, if the test process goes away without saying goodbye, stops the
// server and deletes the directory itself.
//
// Thread-safety: Start, Shared and Query may be called from any thread. url(), port() and the
// other accessors, and CreateDatabase, are safe concurrently with anything but destruction; Stop,
// Restart and KillImmediate serialize on an internal mutex.
#pragma once

#include <sys/types.h>

#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "base/status.h"

namespace portcullis::store::testing {

class TestPostgres {
 public:
  // Creates the directory, runs initdb, starts the server and creates role and database
  // `portcullis`. Takes about a second. Fails with kFailedPrecondition when the PostgreSQL 15
  // binaries (or, as root, user postgres) are missing, kInternal when a step fails; the message
  // names the step and carries the tail of its output and of the server log. Set
  // PORTCULLIS_TEST_PG_BINDIR to use binaries other than /usr/lib/postgresql/15/bin.
  static Result<std::unique_ptr<TestPostgres>> Start();

  // One instance per test process, started on first use (thread-safe) and stopped by an atexit
  // handler. nullptr, after logging the reason once (event "test_postgres.unavailable"), when
  // PostgreSQL cannot be started; tests then decide whether to fail or GTEST_SKIP.
  static TestPostgres* Shared();

  // Runs `sql` (one or more statements; the last one's result is returned) over a fresh libpq
  // connection to `url`. Rows are joined by '\n', columns by '|', NULL is empty: the output of
  // `psql -At`. Errors: kUnavailable when the connection fails (wrong password, server down),
  // kAlreadyExists for SQLSTATE 42P04/42710 (duplicate database/object), kInternal otherwise. The
  // password in `url` never appears in an error message.
  static Result<std::string> Query(std::string_view url, std::string_view sql);

  TestPostgres(const TestPostgres&) = delete;
  TestPostgres& operator=(const TestPostgres&) = delete;

  // Stops the server (immediate mode, when running) and deletes the directory; then tells the
  // watchdog to exit without doing anything.
  ~TestPostgres();

  // postgresql://portcullis:<password>@127.0.0.1:<port>/portcullis
  std::string url() const;
  // postgresql://postgres:<password>@127.0.0.1:<port>/postgres, the superuser.
  std::string admin_url() const;
  // The URL of database `name` for role portcullis, as CreateDatabase returns it. Does not check
  // that the database exists.
  std::string DatabaseUrl(std::string_view name) const;

  int port() const { return port_; }
  // The temporary directory (data/ is PGDATA); gone after destruction.
  const std::string& dir() const { return dir_; }
  bool running() const;

  // `pg_ctl stop -m fast`: disconnects clients, checkpoints, stops. The data stays for Restart().
  // kFailedPrecondition when not running.
  Status Stop();
  // `pg_ctl stop -m immediate`: like a crash of the server (no checkpoint); the next Restart()
  // runs crash recovery. kFailedPrecondition when not running.
  Status KillImmediate();
  // Starts the server again on the same port and waits until it accepts connections (after crash
  // recovery, if needed). Stops it first (fast) when running. Fails if another process took the
  // port meanwhile.
  Status Restart();

  // Creates the empty database `name` (owner portcullis; [a-z_][a-z0-9_]*, at most 63 bytes, else
  // kInvalidArgument) and returns its URL. kAlreadyExists if it exists.
  Result<std::string> CreateDatabase(std::string_view name);

 private:
  TestPostgres() = default;

  Status Initialize();
  // Writes the settings file, then runs pg_ctl start; a bind failure is retried on a new port
  // when `may_change_port`.
  Status StartServer(bool may_change_port);
  Status StopServer(std::string_view mode);
  Status StartWatchdog();

  // Whether to run server binaries as user postgres (we are root), and who that is.
  bool switch_user_ = false;
  uid_t uid_ = 0;
  gid_t gid_ = 0;

  std::string bin_dir_;
  std::string dir_;  // empty until mkdtemp succeeded
  int port_ = 0;
  std::string password_;        // role portcullis
  std::string admin_password_;  // superuser postgres
  int watchdog_fd_ = -1;  // our end of the socket pair whose other end is the watchdog's stdin

  mutable std::mutex mu_;
  bool running_ = false;  // guarded by mu_
};

}  // namespace portcullis::store::testing
