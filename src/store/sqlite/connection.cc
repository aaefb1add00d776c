#include "store/sqlite/connection.h"

#include <chrono>
#include <string>
#include <thread>
#include <utility>

namespace portcullis::store::sqlite_detail {

Status SqliteError(sqlite3* db, int rc, std::string_view what) {
  std::string message = "sqlite: ";
  message.append(what);
  message.append(": ");
  // errmsg describes the most recent failure on this handle; errstr is the generic text.
  message.append(db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return UnavailableError(std::move(message));
    case SQLITE_CONSTRAINT:
      switch (rc) {
        case SQLITE_CONSTRAINT_FOREIGNKEY:
          return NotFoundError(std::move(message));
        case SQLITE_CONSTRAINT_CHECK:
        case SQLITE_CONSTRAINT_NOTNULL:
          return InvalidArgumentError(std::move(message));
        default:
          return AlreadyExistsError(std::move(message));
      }
    default:
      return InternalError(std::move(message));
  }
}

Statement::~Statement() {
  if (stmt_ == nullptr) return;
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
  if (busy_ != nullptr) *busy_ = false;
}

Statement::Statement(Statement&& other) noexcept
    : db_(other.db_),
      stmt_(std::exchange(other.stmt_, nullptr)),
      busy_(std::exchange(other.busy_, nullptr)),
      owned_(std::move(other.owned_)),
      deferred_failure_(other.deferred_failure_),
      bind_error_(std::move(other.bind_error_)),
      first_step_(std::move(other.first_step_)),
      deferred_(other.deferred_),
      changes_(other.changes_) {}

void Statement::Defer() {
  if (deferred_) return;
  deferred_ = true;
  first_step_ = StepNow();
  if (!first_step_->ok() && deferred_failure_ != nullptr && deferred_failure_->ok()) {
    *deferred_failure_ = first_step_->status();
  }
}

void Statement::RecordBindError(int rc) {
  if (rc != SQLITE_OK && bind_error_.ok()) bind_error_ = SqliteError(db_, rc, "bind");
}

Statement& Statement::BindText(int index, std::string_view value) {
  RecordBindError(
      sqlite3_bind_text64(stmt_, index, value.data(), value.size(), SQLITE_TRANSIENT, SQLITE_UTF8));
  return *this;
}

Statement& Statement::BindBlob(int index, std::string_view bytes) {
  RecordBindError(sqlite3_bind_blob64(stmt_, index, bytes.data(), bytes.size(), SQLITE_TRANSIENT));
  return *this;
}

Statement& Statement::BindInt64(int index, std::int64_t value) {
  RecordBindError(sqlite3_bind_int64(stmt_, index, value));
  return *this;
}

Statement& Statement::BindOptionalText(int index, const std::optional<std::string>& value) {
  if (!value.has_value()) {
    RecordBindError(sqlite3_bind_null(stmt_, index));
    return *this;
  }
  return BindText(index, *value);
}

Statement& Statement::BindOptionalInt64(int index, std::optional<std::int64_t> value) {
  if (!value.has_value()) {
    RecordBindError(sqlite3_bind_null(stmt_, index));
    return *this;
  }
  return BindInt64(index, *value);
}

Result<bool> Statement::Step() {
  if (first_step_.has_value()) {
    Result<bool> first = std::move(*first_step_);
    first_step_.reset();
    return first;
  }
  return StepNow();
}

Result<bool> Statement::StepNow() {
  if (!bind_error_.ok()) return bind_error_;
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) {
    changes_ = sqlite3_changes64(db_);
    return false;
  }
  return SqliteError(db_, rc, "step");
}

Status Statement::Run() {
  while (true) {
    Result<bool> row = Step();
    if (!row.ok()) return row.status();
    if (!*row) return Status::Ok();
  }
}

std::string Statement::ColumnText(int column) const {
  const unsigned char* text = sqlite3_column_text(stmt_, column);
  if (text == nullptr) return {};
  return std::string(reinterpret_cast<const char*>(text),
                     static_cast<std::size_t>(sqlite3_column_bytes(stmt_, column)));
}

std::string Statement::ColumnBlob(int column) const {
  const void* blob = sqlite3_column_blob(stmt_, column);
  if (blob == nullptr) return {};
  return std::string(static_cast<const char*>(blob),
                     static_cast<std::size_t>(sqlite3_column_bytes(stmt_, column)));
}

std::int64_t Statement::ColumnInt64(int column) const {
  return sqlite3_column_int64(stmt_, column);
}

std::optional<std::string> Statement::ColumnOptionalText(int column) const {
  if (sqlite3_column_type(stmt_, column) == SQLITE_NULL) return std::nullopt;
  return ColumnText(column);
}

std::optional<std::int64_t> Statement::ColumnOptionalInt64(int column) const {
  if (sqlite3_column_type(stmt_, column) == SQLITE_NULL) return std::nullopt;
  return ColumnInt64(column);
}

Result<std::unique_ptr<Connection>> Connection::Open(const std::string& path, int flags,
                                                     int busy_timeout_ms) {
  sqlite3* raw = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  DbPtr db(raw);  // sqlite3_open_v2 may allocate a handle even on failure
  if (rc != SQLITE_OK) return SqliteError(db.get(), rc, "open");
  sqlite3_extended_result_codes(db.get(), 1);
  std::unique_ptr<Connection> connection(new Connection(std::move(db)));
  // Our own busy handler instead of sqlite3_busy_timeout: SQLite's sleeps grow to 100 ms steps,
  // which turned short write-lock waits between our pooled connections into p99 latencies of
  // over a second under refresh load. Short sleeps first, the same overall bound.
  connection->busy_timeout_ms_ = busy_timeout_ms;
  if (const int busy =
          sqlite3_busy_handler(connection->db(), &Connection::OnBusy, connection.get());
      busy != SQLITE_OK) {
    return SqliteError(connection->db(), busy, "busy_handler");
  }
  if (Status s = connection->Exec("PRAGMA foreign_keys = ON", "enable foreign keys"); !s.ok()) {
    return s;
  }
  if (path != ":memory:") {
    Result<Statement> wal = connection->Prepare("PRAGMA journal_mode = WAL");
    if (!wal.ok()) return wal.status();
    Result<bool> row = wal->Step();
    if (!row.ok()) return row.status();
    if (!*row || wal->ColumnText(0) != "wal") {
      return InternalError("sqlite: could not switch the database to WAL journal mode");
    }
  }
  // Copy the WAL back into the database every 10,000 pages (~40 MB) instead of SQLite's 1,000:
  // the pages that many group commits rewrite (index tails, the newest table pages) are copied
  // once per checkpoint rather than ten times, +25 % refreshes/s on the refresh benchmark
  // (docs/benchmarks.md). The WAL file keeps its largest size between checkpoints.
  if (path != ":memory:") {
    if (Status s = connection->Exec("PRAGMA wal_autocheckpoint = 10000", "set wal_autocheckpoint");
        !s.ok()) {
      return s;
    }
  }
  // FULL: a commit is on disk before it is acknowledged, also in WAL mode (DESIGN.md §6).
  if (Status s = connection->Exec("PRAGMA synchronous = FULL", "set synchronous"); !s.ok()) {
    return s;
  }
  return connection;
}

Result<Statement> Connection::Prepare(std::string_view sql) {
  auto prepare = [&](unsigned flags) -> Result<StmtPtr> {
    sqlite3_stmt* raw = nullptr;
    const int rc = sqlite3_prepare_v3(db_.get(), sql.data(), static_cast<int>(sql.size()), flags,
                                      &raw, nullptr);
    StmtPtr stmt(raw);
    if (rc != SQLITE_OK) return SqliteError(db_.get(), rc, "prepare");
    return stmt;
  };
  auto it = statements_.find(std::string(sql));
  if (it == statements_.end()) {
    Result<StmtPtr> stmt = prepare(SQLITE_PREPARE_PERSISTENT);
    if (!stmt.ok()) return stmt.status();
    it = statements_.emplace(std::string(sql), Cached{.stmt = std::move(*stmt)}).first;
  }
  if (it->second.busy) {  // borrowed (e.g. deferred) by a live statement: use one of our own
    Result<StmtPtr> stmt = prepare(0);
    if (!stmt.ok()) return stmt.status();
    sqlite3_stmt* raw = stmt->get();
    return Statement(db_.get(), raw, nullptr, std::move(*stmt), &deferred_failure_);
  }
  it->second.busy = true;
  return Statement(db_.get(), it->second.stmt.get(), &it->second.busy, nullptr, &deferred_failure_);
}

int Connection::OnBusy(void* self, int attempt) {
  // attempt counts from 0 for each blocked statement: 200 x 50 us, then 1 ms steps.
  constexpr int kShortSleeps = 200;
  constexpr auto kShortSleep = std::chrono::microseconds(50);
  constexpr auto kLongSleep = std::chrono::milliseconds(1);
  const auto* connection = static_cast<const Connection*>(self);
  const std::int64_t waited_us =
      attempt < kShortSleeps ? std::int64_t{attempt} * 50
                             : kShortSleeps * 50 + std::int64_t{attempt - kShortSleeps} * 1000;
  if (waited_us >= std::int64_t{connection->busy_timeout_ms_} * 1000) return 0;  // give up: BUSY
  std::this_thread::sleep_for(attempt < kShortSleeps ? std::chrono::microseconds(kShortSleep)
                                                     : std::chrono::microseconds(kLongSleep));
  return 1;
}

Status Connection::Exec(const char* sql, std::string_view what) {
  const int rc = sqlite3_exec(db_.get(), sql, nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return SqliteError(db_.get(), rc, what);
  return Status::Ok();
}

Result<Transaction> Transaction::Begin(Connection& connection) {
  std::unique_lock<std::mutex> writer_lock;
  if (connection.writer_mutex() != nullptr) {
    writer_lock = std::unique_lock<std::mutex>(*connection.writer_mutex());
  }
  if (Status s = connection.Exec("BEGIN IMMEDIATE", "begin transaction"); !s.ok()) return s;
  connection.deferred_failure() = Status::Ok();
  return Transaction(connection, std::move(writer_lock));
}

Transaction::~Transaction() {
  if (!active_) return;  // committed (or moved from); the writer lock is released by its dtor
  // Best effort: if the rollback itself fails, SQLite has already rolled back (e.g. on IOERR).
  sqlite3_exec(connection_->db(), "ROLLBACK", nullptr, nullptr, nullptr);
}

Status Transaction::Commit() {
  active_ = false;
  if (Status failed = std::exchange(connection_->deferred_failure(), Status::Ok()); !failed.ok()) {
    sqlite3_exec(connection_->db(), "ROLLBACK", nullptr, nullptr, nullptr);
    return failed;
  }
  Status s = connection_->Exec("COMMIT", "commit");
  if (!s.ok()) sqlite3_exec(connection_->db(), "ROLLBACK", nullptr, nullptr, nullptr);
  return s;
}

}  // namespace portcullis::store::sqlite_detail
