#include "store/sqlite/sqlite_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "store/sql/sql_store.h"
#include "store/sqlite/connection.h"
#include "store/sqlite/migrations.h"

namespace portcullis::store {
namespace {

using sqlite_detail::Connection;
using sqlite_detail::ConnectionPool;

constexpr const char* kCreateSchemaMigrations =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    "  version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL) STRICT";
constexpr std::string_view kHasSchemaMigrations =
    "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'";

constexpr std::string_view kMemoryPath = ":memory:";

// SQLite has no notifications: Wait sleeps until the timeout or an Interrupt, and the follower
// polls the feeds (another process's writes are only seen that way).
class PollingListener final : public ChangeListener {
 public:
  bool Wait(std::chrono::milliseconds timeout) override {
    std::unique_lock lock(mu_);
    const bool woken = cv_.wait_for(lock, timeout, [this] { return interrupted_; });
    interrupted_ = false;
    return woken;
  }
  void Interrupt() override {
    {
      std::lock_guard lock(mu_);
      interrupted_ = true;
    }
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool interrupted_ = false;  // guarded by mu_
};

// The SQLite half of SqlStore (see store/sql/sql_store.h).
class SqliteBackend {
 public:
  using Connection = sqlite_detail::Connection;
  using Lease = ConnectionPool::Lease;
  using Statement = sqlite_detail::Statement;
  using Transaction = sqlite_detail::Transaction;
  static constexpr std::string_view kName = "sqlite";

  explicit SqliteBackend(std::vector<std::unique_ptr<Connection>> connections)
      : pool_(std::make_unique<ConnectionPool>(std::move(connections))) {}

  Lease Acquire() { return pool_->Acquire(); }

  // Serializes this process's autocommit writes with its write transactions (see
  // Connection::SetWriterMutex).
  static std::unique_lock<std::mutex> AutocommitWriteLock(Connection& connection) {
    if (connection.writer_mutex() == nullptr) return {};
    return std::unique_lock<std::mutex>(*connection.writer_mutex());
  }

  static std::span<const sql::Migration> Migrations() { return sqlite_detail::SqliteMigrations(); }

  static Status EnsureSchemaTable(Connection& connection) {
    return connection.Exec(kCreateSchemaMigrations, "create schema_migrations");
  }

  // The highest applied migration on this connection, 0 if schema_migrations doesn't exist yet.
  static Result<int> CurrentSchemaVersion(Connection& connection) {
    return sql::ReadSchemaVersion<Statement>(connection, kHasSchemaMigrations);
  }

  // One SQLite file serves one host; a process-wide mutex is the deployment-wide lock.
  Status RunExclusively(std::string_view /*name*/, const std::function<Status()>& fn) {
    std::lock_guard lock(*exclusive_mu_);
    return fn();
  }

  std::unique_ptr<ChangeListener> ListenForChanges() { return std::make_unique<PollingListener>(); }

 private:
  std::unique_ptr<ConnectionPool> pool_;
  std::unique_ptr<std::mutex> exclusive_mu_ = std::make_unique<std::mutex>();
};

// Creates the database file with mode 0600 (and missing parent directories with 0700) before
// SQLite opens it, so it is never briefly world-readable; SQLite gives the -wal and -shm files
// the main file's permissions.
Status CreateDatabaseFile(const std::string& path) {
  const std::filesystem::path file(path);
  const std::filesystem::path parent = file.parent_path();
  std::error_code ec;
  if (!parent.empty() && !std::filesystem::exists(parent, ec)) {
    std::filesystem::create_directories(parent, ec);
    if (ec) {
      return InternalError("cannot create database directory " + parent.string() + ": " +
                           ec.message());
    }
    std::filesystem::permissions(parent, std::filesystem::perms::owner_all, ec);
  }
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) {
    const int error = errno;
    if (error == EEXIST) return Status::Ok();  // created concurrently; open it as is
    return InternalError("cannot create database file " + path + ": " +
                         std::generic_category().message(error));
  }
  const int chmod_result = ::fchmod(fd, 0600);  // in case the umask was unusual
  ::close(fd);
  if (chmod_result != 0) return InternalError("cannot set mode 0600 on database file " + path);
  return Status::Ok();
}

}  // namespace

Result<std::unique_ptr<Store>> OpenSqliteStore(const SqliteOptions& options) {
  if (options.path.empty()) return InvalidArgumentError("database path is empty");
  if (options.pool_size == 0) return InvalidArgumentError("database pool_size must be at least 1");
  if (options.busy_timeout_ms < 0) return InvalidArgumentError("busy_timeout_ms is negative");

  const bool in_memory = options.path == kMemoryPath;
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;
  if (in_memory) {
    flags |= SQLITE_OPEN_CREATE;
  } else {
    std::error_code ec;
    if (!std::filesystem::exists(options.path, ec)) {
      if (!options.create_if_missing) {
        return NotFoundError("database file does not exist: " + options.path);
      }
      if (Status s = CreateDatabaseFile(options.path); !s.ok()) return s;
    }
  }

  const std::size_t pool_size = in_memory ? 1 : options.pool_size;
  std::vector<std::unique_ptr<Connection>> connections;
  connections.reserve(pool_size);
  auto writer_mu = std::make_shared<std::mutex>();
  for (std::size_t i = 0; i < pool_size; ++i) {
    Result<std::unique_ptr<Connection>> connection =
        Connection::Open(options.path, flags, options.busy_timeout_ms);
    if (!connection.ok()) return sql::WithContext(connection.status(), options.path);
    (*connection)->SetWriterMutex(writer_mu);
    connections.push_back(std::move(*connection));
  }
  return std::unique_ptr<Store>(
      std::make_unique<sql::SqlStore<SqliteBackend>>(std::move(connections)));
}

Result<SqliteOptions> SqliteOptionsFromUrl(std::string_view url) {
  const std::size_t colon = url.find(':');
  if (colon == std::string_view::npos) {
    return InvalidArgumentError("database url has no scheme; expected sqlite:PATH");
  }
  // RFC 3986 §3.1: ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ), case-insensitive.
  std::string scheme(url.substr(0, colon));
  const auto is_alpha = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); };
  const bool well_formed =
      !scheme.empty() && is_alpha(scheme.front()) &&
      std::all_of(scheme.begin(), scheme.end(), [&](char c) {
        return is_alpha(c) || (c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.';
      });
  if (!well_formed) return InvalidArgumentError("malformed database url scheme");
  scheme = NormalizeUsername(scheme);  // the same ASCII case fold
  if (scheme != "sqlite") {
    return InvalidArgumentError("unsupported database url scheme \"" + scheme +
                                "\"; expected sqlite:PATH");
  }
  std::string_view path = url.substr(colon + 1);
  if (path.starts_with("//")) path.remove_prefix(2);
  if (path.empty()) return InvalidArgumentError("database url has an empty path");
  SqliteOptions options;
  options.path = std::string(path);
  return options;
}

}  // namespace portcullis::store
