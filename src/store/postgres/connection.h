// Thin RAII layer over libpq, internal to store/postgres/, shaped like store/sqlite/connection.h
// so that store/sql/sql_store.h runs on either: owned handles, a connection that (re)connects
// lazily and caches server-side prepared statements, a statement that binds, executes on its
// first Step and walks the rows, a transaction guard, a fixed pool, and the one mapping from
// SQLSTATE to Status.
//
// The SQL is the shared dialect of store/sql/queries.h: ?N parameters are rewritten to $N, and
// each statement is prepared once per connection with the parameter types of its binds (text,
// int8, bytea), so "?1 IS NULL OR x > ?1" needs no casts. Results are read in text format.
//
// Pipelining (libpq pipeline mode): a transaction's BEGIN is not sent on its own but with the
// first statement, and Statement::Defer queues a statement to travel with the next round trip
// of its connection — the next Step/Run of any statement, or the COMMIT. So a transaction of
// independent statements costs one round trip, and a read-check-write one costs two.
//
// Connection failures: a statement on a broken connection returns kUnavailable and the
// connection reconnects on its next use. After a failed connect, every connect attempt of the
// pool within kReconnectIntervalMs fails at once with kUnavailable (no pile-up of requests each
// waiting for a connect timeout while the database is down). No message ever contains the
// connection password: libpq's own messages are scrubbed of it.
//
// Thread-safety: a Connection (and its Statements and Transactions) is used by one thread at a
// time; ConnectionPool hands connections out to any number of threads.
#pragma once

#include <libpq-fe.h>

#include <atomic>
#include <chrono>
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

namespace portcullis::store::postgres_detail {

struct ConnCloser {
  void operator()(PGconn* conn) const { PQfinish(conn); }
};
using ConnPtr = std::unique_ptr<PGconn, ConnCloser>;

struct ResultClearer {
  void operator()(PGresult* result) const { PQclear(result); }
};
using ResultPtr = std::unique_ptr<PGresult, ResultClearer>;

// The first key of every advisory lock Portcullis takes ("port"); the second names the purpose.
inline constexpr std::int32_t kAdvisoryLockSpace = 0x706f7274;
// BeginExclusive transactions and migrations.
inline constexpr std::int32_t kExclusiveWriteLock = 0;

// How to reach the database, shared by every connection of a store. Immutable after creation.
class ConnectTarget {
 public:
  // Validates `url` (postgresql:// or postgres://, parsed by libpq) without connecting.
  // kInvalidArgument with a message that never echoes the URL.
  static Result<std::shared_ptr<ConnectTarget>> Create(std::string_view url, int connect_timeout_s);

  // A new connection, or kUnavailable ("postgres: connect: <libpq message without password>").
  // Honours the reconnect interval (see the file comment).
  Result<ConnPtr> Connect();

  // Removes every occurrence of the password from `message`.
  std::string Scrub(std::string message) const;

  static constexpr int kReconnectIntervalMs = 1000;

 private:
  ConnectTarget() = default;

  std::vector<std::string> keywords_, values_;
  std::string password_;      // as libpq decoded it
  std::string raw_password_;  // as written in the URL (maybe percent-encoded)
  std::mutex mu_;
  std::chrono::steady_clock::time_point retry_after_{};  // guarded by mu_
  std::string last_error_;                               // guarded by mu_
};

// Maps a libpq failure to a Status "postgres: <what>: <message>": unique violation (23505) ->
// kAlreadyExists; foreign key (23503) -> kNotFound; check / not null (23514, 23502) ->
// kInvalidArgument; serialization failure / deadlock (40001, 40P01), connection errors (08*),
// shutdown (57P*) or a broken connection -> kUnavailable; anything else -> kInternal. Uses the
// primary message only (the DETAIL of a unique violation would name the values).
Status PgError(const ConnectTarget& target, PGconn* conn, const PGresult* result,
               std::string_view what);

// Rewrites ?N parameters to $N outside quoted strings and identifiers.
std::string TranslatePlaceholders(std::string_view sql);

class Connection;

// A statement of a Connection: bind, then Step/Run executes it (once) and walks its rows.
// `sql` must outlive the statement (the store's SQL is static text).
class Statement {
 public:
  Statement(Connection* connection, std::string_view sql) : connection_(connection), sql_(sql) {}
  ~Statement();
  Statement(Statement&& other) noexcept;
  Statement& operator=(Statement&&) = delete;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  // Parameters are 1-based (?1, ?2, ...). Values are copied.
  Statement& BindText(int index, std::string_view value);
  Statement& BindBlob(int index, std::string_view bytes);
  Statement& BindInt64(int index, std::int64_t value);
  Statement& BindOptionalText(int index, const std::optional<std::string>& value);
  Statement& BindOptionalInt64(int index, std::optional<std::int64_t> value);

  // Queues the statement to be sent with the connection's next round trip (another statement's
  // first Step/Run, or Transaction::Commit), after the statements queued before it. Its first
  // Step/Run then returns its outcome (sending the queue if it has not gone yet). Only for a
  // statement whose parameters do not depend on the results of statements queued with it.
  // Every binding must be done before. A deferred statement destroyed before it was sent is
  // still sent (the connection keeps it): its failure is reported by that round trip (Flush,
  // FlushDeferred, Transaction::Commit), as SQLite's twin reports it.
  void Defer();

  // The first call executes the statement (with the statements queued before it); then true
  // while a row is available.
  Result<bool> Step();
  // Executes, ignoring any rows.
  Status Run();

  // Column accessors for the current row (0-based). NULL reads as "" / 0 / nullopt.
  std::string ColumnText(int column) const;
  std::string ColumnBlob(int column) const;
  std::int64_t ColumnInt64(int column) const;
  std::optional<std::string> ColumnOptionalText(int column) const;
  std::optional<std::int64_t> ColumnOptionalInt64(int column) const;

  // Rows changed (or returned) by the executed INSERT/UPDATE/DELETE.
  std::int64_t Changes() const { return changes_; }

  struct Param {
    std::optional<std::string> value;  // nullopt = NULL
    Oid type = 0;                      // 25 text, 20 int8, 17 bytea
    int format = 0;                    // 0 text, 1 binary
  };

 private:
  friend class Connection;
  Param& At(int index);
  // Called by Connection when the pipeline carrying this statement has answered.
  void Deliver(Result<ResultPtr> result);

  Connection* connection_;
  std::string_view sql_;
  std::vector<Param> params_;
  ResultPtr result_;
  int row_ = -1;
  int rows_ = 0;
  bool executed_ = false;
  bool queued_ = false;  // in connection_->queue_
  std::int64_t changes_ = 0;
  Status bind_error_;
  Status exec_error_;  // the failure delivered by a pipeline
};

// One (lazily opened) database connection plus its prepared statements.
class Connection {
 public:
  explicit Connection(std::shared_ptr<ConnectTarget> target) : target_(std::move(target)) {}

  // Connects if not connected (or broken). kUnavailable when the database can't be reached.
  Status EnsureConnected();

  // A statement for `sql`; no round trip until it executes.
  Result<Statement> Prepare(std::string_view sql);

  // Runs one or more statements that return no rows (simple query protocol, not cached).
  Status Exec(const char* sql, std::string_view what);

  // Executes `sql` (prepared on first use with these parameter types) and returns its result.
  Result<ResultPtr> ExecPrepared(std::string_view sql, const std::vector<Statement::Param>& params);

  // Sends what is pending — a transaction's deferred BEGIN, the queued statements, then
  // `trailer` (a command without parameters, e.g. "COMMIT", or nullptr) — in one pipeline, and
  // delivers each statement its result. Returns the first failure; once a statement fails, the
  // ones after it (and the trailer) are not executed and report that failure too. On success
  // with a trailer, *trailer_result holds its result.
  Status Flush(const char* trailer = nullptr, ResultPtr* trailer_result = nullptr);
  // Sends what is pending (as Flush without a trailer), if anything; the first failure.
  Status FlushDeferred() { return HasPending() ? Flush() : Status::Ok(); }
  // True when a BEGIN or statements wait to be sent.
  bool HasPending() const { return !pending_begin_.empty() || !queue_.empty(); }
  bool BeginPending() const { return !pending_begin_.empty(); }
  bool HasQueued() const { return !queue_.empty(); }
  // Drops what is pending without sending it (a transaction that ended before its first
  // statement, or a connection handed back by the pool).
  void DiscardPending();

  // True when connected and idle (not inside a transaction).
  bool IsIdle() const;
  // Called by the pool when the connection comes back: one left inside a transaction (a bug) or
  // broken is reset, never handed to the next caller in that state.
  void PrepareForReuse() {
    DiscardPending();
    if (conn_ != nullptr && !IsIdle()) Reset();
  }
  // Drops the connection (it reconnects on next use).
  void Reset();

  PGconn* raw() const { return conn_.get(); }
  const ConnectTarget& target() const { return *target_; }
  // Set by Transaction: while true, a lost connection is not silently replaced.
  void set_in_transaction(bool value) { in_transaction_ = value; }
  // Set by Transaction: commands sent ahead of the next statement (BEGIN and maybe a lock).
  void set_pending_begin(std::vector<const char*> commands) {
    pending_begin_ = std::move(commands);
  }

 private:
  friend class Statement;
  Status Failure(const PGresult* result, std::string_view what);
  // The statement cache key of `sql` with these parameter types.
  static std::string StatementKey(std::string_view sql,
                                  const std::vector<Statement::Param>& params);
  void Enqueue(Statement* statement) { queue_.push_back(statement); }
  void Requeue(Statement* from, Statement* to);
  // Keeps a queued statement whose object is being destroyed until its round trip.
  void Adopt(Statement* statement);

  std::shared_ptr<ConnectTarget> target_;
  ConnPtr conn_;
  std::unordered_map<std::string, std::string> prepared_;  // sql + types -> statement name
  int next_statement_ = 0;
  bool in_transaction_ = false;
  std::vector<const char*> pending_begin_;           // static text
  std::vector<Statement*> queue_;                    // deferred statements, in order
  std::vector<std::unique_ptr<Statement>> orphans_;  // queued, their objects gone (Adopt)
};

// BEGIN ... COMMIT, rolled back on destruction unless committed.
class Transaction {
 public:
  // READ COMMITTED; every store write that must not lose an update is a conditional UPDATE
  // or an upsert, which PostgreSQL re-checks against the latest row version.
  static Result<Transaction> Begin(Connection& connection);
  // Also takes the transaction-scoped advisory lock (kAdvisoryLockSpace, kExclusiveWriteLock):
  // every BeginExclusive transaction of the deployment runs one at a time.
  static Result<Transaction> BeginExclusive(Connection& connection);
  ~Transaction();
  Transaction(Transaction&& other) noexcept
      : connection_(other.connection_), active_(std::exchange(other.active_, false)) {}
  Transaction& operator=(Transaction&&) = delete;

  // Commits; on failure the transaction is rolled back and the error returned.
  Status Commit();

 private:
  explicit Transaction(Connection& connection) : connection_(&connection) {}

  Connection* connection_;
  bool active_ = true;
};

using ConnectionPool = sql::ConnectionPool<Connection>;

}  // namespace portcullis::store::postgres_detail
