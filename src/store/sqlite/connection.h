// Thin RAII layer over the SQLite C API, internal to store/sqlite/: owned handles, a connection
// with a cache of prepared statements, a borrowed statement that resets itself, an IMMEDIATE
// transaction guard, a fixed pool of connections, and the one mapping from SQLite result codes
// to Status.
//
// Thread-safety: a Connection (and its Statements and Transactions) is used by one thread at a
// time; ConnectionPool hands connections out to any number of threads.
//
//   ConnectionPool::Lease conn = pool.Acquire();
//   Result<Statement> stmt = conn->Prepare("SELECT id FROM users WHERE id = ?1");
//   if (!stmt.ok()) return stmt.status();
//   stmt->BindText(1, id);
//   Result<bool> row = stmt->Step();
#pragma once

#include <sqlite3.h>

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "base/status.h"
#include "store/sql/connection_pool.h"

namespace portcullis::store::sqlite_detail {

struct DbCloser {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
using DbPtr = std::unique_ptr<sqlite3, DbCloser>;

struct StmtFinalizer {
  void operator()(sqlite3_stmt* stmt) const { sqlite3_finalize(stmt); }
};
using StmtPtr = std::unique_ptr<sqlite3_stmt, StmtFinalizer>;

// Maps a (possibly extended) SQLite result code to a Status whose message is
// "sqlite: <what>: <sqlite's message>". BUSY/LOCKED -> kUnavailable; UNIQUE/PRIMARY KEY
// constraint -> kAlreadyExists; FOREIGN KEY -> kNotFound; CHECK/NOT NULL -> kInvalidArgument;
// anything else -> kInternal. SQLite's messages name columns, never bound values.
Status SqliteError(sqlite3* db, int rc, std::string_view what);

// A prepared statement borrowed from a Connection's cache. Binding errors are deferred to the
// next Step/Run. On destruction the statement is reset and its bindings cleared, so the next
// user of the cached statement starts clean and no read snapshot is held open.
class Statement {
 public:
  // `busy` (the cache's in-use flag, cleared on destruction) and `owned` (a statement prepared
  // because the cached one was in use) may be null; `deferred_failure` collects the failure of a
  // deferred step for Transaction::Commit.
  Statement(sqlite3* db, sqlite3_stmt* stmt, bool* busy, StmtPtr owned, Status* deferred_failure)
      : db_(db),
        stmt_(stmt),
        busy_(busy),
        owned_(std::move(owned)),
        deferred_failure_(deferred_failure) {}
  ~Statement();
  Statement(Statement&& other) noexcept;
  Statement& operator=(Statement&&) = delete;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  // Parameters are 1-based (?1, ?2, ...). Text and blobs are copied (SQLITE_TRANSIENT).
  Statement& BindText(int index, std::string_view value);
  Statement& BindBlob(int index, std::string_view bytes);
  Statement& BindInt64(int index, std::int64_t value);
  Statement& BindOptionalText(int index, const std::optional<std::string>& value);
  Statement& BindOptionalInt64(int index, std::optional<std::int64_t> value);

  // The PostgreSQL statement's pipelining hint (send with the next round trip). SQLite has no
  // round trips: the first step runs now and the first Step/Run returns its outcome, so the
  // statements of a transaction run in the order they were deferred, on both backends. A
  // failure is also reported by Transaction::Commit.
  void Defer();

  // Advances one row: true if a row is available, false when the statement is done.
  Result<bool> Step();
  // Steps to completion, ignoring any rows.
  Status Run();

  // Column accessors for the current row (0-based). NULL reads as "" / 0 / nullopt.
  std::string ColumnText(int column) const;
  std::string ColumnBlob(int column) const;
  std::int64_t ColumnInt64(int column) const;
  std::optional<std::string> ColumnOptionalText(int column) const;
  std::optional<std::int64_t> ColumnOptionalInt64(int column) const;

  // Rows changed by this INSERT/UPDATE/DELETE once it has run to completion.
  std::int64_t Changes() const { return changes_; }

 private:
  void RecordBindError(int rc);
  Result<bool> StepNow();

  sqlite3* db_;
  sqlite3_stmt* stmt_;
  bool* busy_;
  StmtPtr owned_;
  Status* deferred_failure_;
  Status bind_error_;
  std::optional<Result<bool>> first_step_;  // the outcome of a deferred first step, until read
  bool deferred_ = false;
  std::int64_t changes_ = 0;
};

// One open database handle plus its statement cache.
class Connection {
 public:
  // Opens `path` with the given sqlite3_open_v2 flags and applies the per-connection settings:
  // extended result codes, busy_timeout, foreign_keys=ON, journal_mode=WAL (unless in memory),
  // synchronous=FULL.
  static Result<std::unique_ptr<Connection>> Open(const std::string& path, int flags,
                                                  int busy_timeout_ms);

  // The cached prepared statement for `sql`, prepared on first use; while it is borrowed, a
  // second Prepare of the same text gets a statement of its own.
  Result<Statement> Prepare(std::string_view sql);

  // Runs one or more statements that return no rows (not cached).
  Status Exec(const char* sql, std::string_view what);

  sqlite3* db() const { return db_.get(); }

  // Called by the pool when the connection comes back: nothing to reset (statements reset
  // themselves, transactions roll back in their destructor).
  void PrepareForReuse() {}

  // The mutex every write transaction of this process takes before BEGIN IMMEDIATE, so pooled
  // connections queue on it instead of on SQLite's file lock (whose busy waits cost CPU and
  // latency). Other processes still meet the file lock and the busy handler.
  void SetWriterMutex(std::shared_ptr<std::mutex> mu) { writer_mu_ = std::move(mu); }
  std::mutex* writer_mutex() const { return writer_mu_.get(); }

  // The first failure of a deferred statement since the last Transaction::Begin.
  Status& deferred_failure() { return deferred_failure_; }
  // The failure of a deferred statement since the last call (or Transaction::Begin), cleared;
  // deferred statements already ran, so nothing is sent (the PostgreSQL twin sends its queue).
  Status FlushDeferred() { return std::exchange(deferred_failure_, Status::Ok()); }

 private:
  explicit Connection(DbPtr db) : db_(std::move(db)) {}
  static int OnBusy(void* self, int attempt);  // sqlite3_busy_handler callback

  int busy_timeout_ms_ = 0;
  std::shared_ptr<std::mutex> writer_mu_;

  struct Cached {
    StmtPtr stmt;
    bool busy = false;  // borrowed by a live Statement
  };
  std::unordered_map<std::string, Cached> statements_;
  Status deferred_failure_;
  DbPtr db_;  // declared last: destroyed after the statements are finalized
};

// BEGIN IMMEDIATE ... COMMIT, rolled back on destruction unless committed. IMMEDIATE takes the
// write lock up front, so concurrent writers wait (busy_timeout) instead of failing on upgrade.
class Transaction {
 public:
  static Result<Transaction> Begin(Connection& connection);
  // The same: IMMEDIATE already excludes every other writer of the file.
  static Result<Transaction> BeginExclusive(Connection& connection) { return Begin(connection); }
  ~Transaction();
  Transaction(Transaction&& other) noexcept
      : connection_(other.connection_),
        active_(std::exchange(other.active_, false)),
        writer_lock_(std::move(other.writer_lock_)) {}
  Transaction& operator=(Transaction&&) = delete;

  // Commits; on failure the transaction is rolled back and the error returned.
  Status Commit();

 private:
  Transaction(Connection& connection, std::unique_lock<std::mutex> writer_lock)
      : connection_(&connection), writer_lock_(std::move(writer_lock)) {}

  Connection* connection_;
  bool active_ = true;
  std::unique_lock<std::mutex> writer_lock_;  // held from BEGIN to COMMIT/ROLLBACK
};

using ConnectionPool = sql::ConnectionPool<Connection>;

}  // namespace portcullis::store::sqlite_detail
