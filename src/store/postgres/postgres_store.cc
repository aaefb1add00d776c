#include "store/postgres/postgres_store.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "store/postgres/connection.h"
#include "store/postgres/migrations.h"
#include "store/sql/sql_store.h"

namespace portcullis::store {
namespace {

using postgres_detail::Connection;
using postgres_detail::ConnectionPool;
using postgres_detail::ConnectTarget;
using postgres_detail::ConnPtr;
using postgres_detail::ResultPtr;

constexpr const char* kNotifyChannel = "portcullis_changes";

// CREATE TABLE IF NOT EXISTS races with itself in PostgreSQL (two sessions can both pass the
// "not exists" check), so it runs under the exclusive-write advisory lock.
const std::string& EnsureSchemaTableSql() {
  static const std::string sql = "BEGIN; SELECT pg_advisory_xact_lock(" +
                                 std::to_string(postgres_detail::kAdvisoryLockSpace) + ", " +
                                 std::to_string(postgres_detail::kExclusiveWriteLock) +
                                 "); CREATE TABLE IF NOT EXISTS schema_migrations ("
                                 "version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL); COMMIT";
  return sql;
}

constexpr std::string_view kHasSchemaMigrations =
    "SELECT COUNT(*) FROM pg_catalog.pg_tables "
    "WHERE schemaname = current_schema() AND tablename = 'schema_migrations'";

// LISTEN on a dedicated connection; an eventfd lets Interrupt wake a blocked Wait.
class NotifyListener final : public ChangeListener {
 public:
  explicit NotifyListener(std::shared_ptr<ConnectTarget> target)
      : target_(std::move(target)), wake_fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {}
  ~NotifyListener() override {
    if (wake_fd_ >= 0) ::close(wake_fd_);
  }
  NotifyListener(const NotifyListener&) = delete;
  NotifyListener& operator=(const NotifyListener&) = delete;

  bool Wait(std::chrono::milliseconds timeout) override {
    if (conn_ == nullptr || PQstatus(conn_.get()) != CONNECTION_OK) {
      conn_.reset();
      if (Listen()) return true;  // (re)connected: changes may have been missed, poll now
      return WaitFor(-1, timeout) != 0;
    }
    if (DrainNotifications()) return true;
    const int socket = PQsocket(conn_.get());
    const int woken = WaitFor(socket, timeout);
    if (woken == 0) return false;
    if (woken == 2) return true;  // Interrupt
    if (PQconsumeInput(conn_.get()) == 0) {
      conn_.reset();  // lost: reconnect on the next Wait
      return false;
    }
    return DrainNotifications();
  }

  void Interrupt() override {
    const std::uint64_t one = 1;
    if (wake_fd_ >= 0) (void)!::write(wake_fd_, &one, sizeof one);
  }

 private:
  bool Listen() {
    Result<ConnPtr> conn = target_->Connect();
    if (!conn.ok()) return false;
    ResultPtr result(PQexec(conn->get(), (std::string("LISTEN ") + kNotifyChannel).c_str()));
    if (result == nullptr || PQresultStatus(result.get()) != PGRES_COMMAND_OK) return false;
    conn_ = std::move(*conn);
    return true;
  }

  bool DrainNotifications() {
    bool any = false;
    while (PGnotify* notify = PQnotifies(conn_.get())) {
      any = true;
      PQfreemem(notify);
    }
    return any;
  }

  // 0 on timeout, 1 when `socket` is readable, 2 when interrupted.
  int WaitFor(int socket, std::chrono::milliseconds timeout) {
    pollfd fds[2] = {{.fd = wake_fd_, .events = POLLIN, .revents = 0},
                     {.fd = socket, .events = POLLIN, .revents = 0}};
    const int count = socket >= 0 ? 2 : 1;
    const auto ms = static_cast<int>(
        std::clamp<std::int64_t>(timeout.count(), 0, std::numeric_limits<int>::max()));
    if (::poll(fds, static_cast<nfds_t>(count), ms) <= 0) return 0;
    if ((fds[0].revents & POLLIN) != 0) {
      std::uint64_t value = 0;
      (void)!::read(wake_fd_, &value, sizeof value);
      return 2;
    }
    return 1;
  }

  std::shared_ptr<ConnectTarget> target_;
  ConnPtr conn_;
  int wake_fd_;
};

std::vector<std::unique_ptr<Connection>> MakeConnections(
    const std::shared_ptr<ConnectTarget>& target, std::size_t count) {
  std::vector<std::unique_ptr<Connection>> connections;
  connections.reserve(count);
  for (std::size_t i = 0; i < count; ++i)
    connections.push_back(std::make_unique<Connection>(target));
  return connections;
}

// The PostgreSQL half of SqlStore (see store/sql/sql_store.h).
class PostgresBackend {
 public:
  using Connection = postgres_detail::Connection;
  using Lease = ConnectionPool::Lease;
  using Statement = postgres_detail::Statement;
  using Transaction = postgres_detail::Transaction;
  static constexpr std::string_view kName = "postgres";

  PostgresBackend(std::shared_ptr<ConnectTarget> target, std::size_t pool_size)
      : target_(target),
        pool_(std::make_unique<ConnectionPool>(MakeConnections(target, pool_size))) {}

  Lease Acquire() { return pool_->Acquire(); }

  struct NoLock {
    NoLock() {}  // user-provided: an unused one is not "set but not used"
  };
  static NoLock AutocommitWriteLock(Connection& /*connection*/) { return {}; }

  static std::span<const sql::Migration> Migrations() {
    return postgres_detail::PostgresMigrations();
  }

  static Status EnsureSchemaTable(Connection& connection) {
    Status s = connection.Exec(EnsureSchemaTableSql().c_str(), "create schema_migrations");
    if (!s.ok()) (void)connection.Exec("ROLLBACK", "rollback");
    return s;
  }

  static Result<int> CurrentSchemaVersion(Connection& connection) {
    return sql::ReadSchemaVersion<Statement>(connection, kHasSchemaMigrations);
  }

  // A session advisory lock on a dedicated connection (not one of the pool, which `fn` uses),
  // released when `fn` returns; the connection closes, so a crash releases it too.
  Status RunExclusively(std::string_view name, const std::function<Status()>& fn) {
    Result<ConnPtr> conn = target_->Connect();
    if (!conn.ok()) return conn.status();
    const std::string key(name);
    const std::string sql = "SELECT pg_advisory_lock(" +
                            std::to_string(postgres_detail::kAdvisoryLockSpace) + ", hashtext($1))";
    const char* values[1] = {key.c_str()};
    ResultPtr locked(
        PQexecParams(conn->get(), sql.c_str(), 1, nullptr, values, nullptr, nullptr, 0));
    if (locked == nullptr || PQresultStatus(locked.get()) != PGRES_TUPLES_OK) {
      return postgres_detail::PgError(*target_, conn->get(), locked.get(), "advisory lock");
    }
    return fn();  // closing the connection releases the lock
  }

  std::unique_ptr<ChangeListener> ListenForChanges() {
    return std::make_unique<NotifyListener>(target_);
  }

 private:
  std::shared_ptr<ConnectTarget> target_;
  std::unique_ptr<ConnectionPool> pool_;
};

bool StartsWithIgnoringCase(std::string_view text, std::string_view prefix) {
  if (text.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(text[i])) != prefix[i]) return false;
  }
  return true;
}

}  // namespace

bool IsPostgresUrl(std::string_view url) {
  return StartsWithIgnoringCase(url, "postgresql://") || StartsWithIgnoringCase(url, "postgres://");
}

std::string RedactDatabaseUrl(std::string_view url) {
  std::string out(url);
  const std::size_t scheme_end = out.find("://");
  if (scheme_end != std::string::npos) {
    const std::size_t authority = scheme_end + 3;
    const std::size_t authority_end = std::min(out.find_first_of("/?", authority), out.size());
    const std::size_t at = out.rfind('@', authority_end - 1);
    if (at != std::string::npos && at >= authority && at < authority_end) {
      const std::size_t colon = out.find(':', authority);
      if (colon != std::string::npos && colon < at) out.replace(colon + 1, at - colon - 1, "***");
    }
  }
  // password=... in the query string (libpq accepts it there too).
  for (std::size_t at = out.find("password="); at != std::string::npos;
       at = out.find("password=", at + 1)) {
    if (at > 0 && out[at - 1] != '?' && out[at - 1] != '&') continue;
    const std::size_t value = at + 9;
    const std::size_t end = std::min(out.find('&', value), out.size());
    out.replace(value, end - value, "***");
  }
  return out;
}

Result<std::unique_ptr<Store>> OpenPostgresStore(const PostgresOptions& options) {
  if (options.pool_size == 0) return InvalidArgumentError("database pool_size must be at least 1");
  Result<std::shared_ptr<ConnectTarget>> target =
      ConnectTarget::Create(options.url, options.connect_timeout_s);
  if (!target.ok()) return target.status();
  auto store = std::make_unique<sql::SqlStore<PostgresBackend>>(*target, options.pool_size);
  if (Status s = store->Ping(); !s.ok()) return s;
  return std::unique_ptr<Store>(std::move(store));
}

}  // namespace portcullis::store
