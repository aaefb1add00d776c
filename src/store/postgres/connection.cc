#include "store/postgres/connection.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <string>
#include <utility>

#include "store/postgres/libpq_loader.h"

namespace portcullis::store::postgres_detail {
namespace {

constexpr Oid kTextOid = 25;
constexpr Oid kInt8Oid = 20;
constexpr Oid kByteaOid = 17;

// libpq prints NOTICEs ("relation already exists, skipping") to stderr by default.
void IgnoreNotice(void* /*arg*/, const char* /*message*/) {}

std::string Trimmed(std::string text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.pop_back();
  return text;
}

bool StartsWithIgnoringCase(std::string_view text, std::string_view prefix) {
  if (text.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(text[i])) != prefix[i]) return false;
  }
  return true;
}

// The password as written in the URL's userinfo (maybe percent-encoded), or "".
std::string RawUrlPassword(std::string_view url) {
  const std::size_t scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) return {};
  std::string_view rest = url.substr(scheme_end + 3);
  rest = rest.substr(0, rest.find_first_of("/?"));
  const std::size_t at = rest.rfind('@');
  if (at == std::string_view::npos) return {};
  std::string_view userinfo = rest.substr(0, at);
  const std::size_t colon = userinfo.find(':');
  if (colon == std::string_view::npos) return {};
  return std::string(userinfo.substr(colon + 1));
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

Result<std::shared_ptr<ConnectTarget>> ConnectTarget::Create(std::string_view url,
                                                             int connect_timeout_s) {
  if (!StartsWithIgnoringCase(url, "postgresql://") &&
      !StartsWithIgnoringCase(url, "postgres://")) {
    return InvalidArgumentError("database url must start with postgresql://");
  }
  if (Status loaded = LoadLibpq(); !loaded.ok()) return loaded;
  const std::string url_string(url);
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(url_string.c_str(), &error);
  if (options == nullptr) {
    if (error != nullptr) PQfreemem(error);  // may quote the URL: never shown
    return InvalidArgumentError("database url is malformed (libpq cannot parse it)");
  }
  std::shared_ptr<ConnectTarget> target(new ConnectTarget());
  for (PQconninfoOption* option = options; option->keyword != nullptr; ++option) {
    if (std::string_view(option->keyword) == "password" && option->val != nullptr) {
      target->password_ = option->val;
    }
  }
  PQconninfoFree(options);
  target->raw_password_ = RawUrlPassword(url);
  // Our defaults first: keywords are processed in order, so the URL's own values win.
  target->keywords_ = {"connect_timeout",     "application_name", "keepalives", "keepalives_idle",
                       "keepalives_interval", "keepalives_count", "dbname"};
  target->values_ = {std::to_string(std::max(1, connect_timeout_s)),
                     "portcullis",
                     "1",
                     "10",
                     "5",
                     "3",
                     url_string};
  return target;
}

std::string ConnectTarget::Scrub(std::string message) const {
  for (const std::string* secret : {&password_, &raw_password_}) {
    if (secret->empty()) continue;
    for (std::size_t at = message.find(*secret); at != std::string::npos;
         at = message.find(*secret, at)) {
      message.replace(at, secret->size(), "***");
      at += 3;
    }
  }
  return message;
}

Result<ConnPtr> ConnectTarget::Connect() {
  {
    std::lock_guard lock(mu_);
    if (std::chrono::steady_clock::now() < retry_after_) {
      return UnavailableError("postgres: database unavailable (" + last_error_ + ")");
    }
  }
  std::vector<const char*> keywords, values;
  for (std::size_t i = 0; i < keywords_.size(); ++i) {
    keywords.push_back(keywords_[i].c_str());
    values.push_back(values_[i].c_str());
  }
  keywords.push_back(nullptr);
  values.push_back(nullptr);
  ConnPtr conn(PQconnectdbParams(keywords.data(), values.data(), /*expand_dbname=*/1));
  if (conn != nullptr && PQstatus(conn.get()) == CONNECTION_OK) {
    PQsetNoticeProcessor(conn.get(), &IgnoreNotice, nullptr);
    return conn;
  }
  std::string message =
      conn == nullptr ? "out of memory" : Scrub(Trimmed(PQerrorMessage(conn.get())));
  std::replace(message.begin(), message.end(), '\n', ' ');
  {
    std::lock_guard lock(mu_);
    last_error_ = message;
    retry_after_ =
        std::chrono::steady_clock::now() + std::chrono::milliseconds(kReconnectIntervalMs);
  }
  return UnavailableError("postgres: connect: " + message);
}

Status PgError(const ConnectTarget& target, PGconn* conn, const PGresult* result,
               std::string_view what) {
  std::string message = "postgres: ";
  message.append(what);
  message.append(": ");
  const char* state = result != nullptr ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
  const char* primary =
      result != nullptr ? PQresultErrorField(result, PG_DIAG_MESSAGE_PRIMARY) : nullptr;
  if (primary != nullptr) {
    message.append(primary);
  } else if (conn != nullptr) {
    message.append(Trimmed(PQerrorMessage(conn)));
  } else {
    message.append("no connection");
  }
  message = target.Scrub(std::move(message));
  std::replace(message.begin(), message.end(), '\n', ' ');
  const std::string_view code = state != nullptr ? state : "";
  if (conn == nullptr || PQstatus(conn) != CONNECTION_OK || code.starts_with("08") ||
      code.starts_with("57P") || code == "40001" || code == "40P01" || code == "53300") {
    return UnavailableError(std::move(message));
  }
  if (code == "23505") return AlreadyExistsError(std::move(message));
  if (code == "23503") return NotFoundError(std::move(message));
  if (code == "23514" || code == "23502" || code == "22021" || code == "22P05") {
    return InvalidArgumentError(std::move(message));  // constraint, or text that is not UTF-8
  }
  return InternalError(std::move(message));
}

std::string TranslatePlaceholders(std::string_view sql) {
  std::string out;
  out.reserve(sql.size() + 8);
  char quote = 0;  // ' or " while inside a literal or quoted identifier
  for (std::size_t i = 0; i < sql.size(); ++i) {
    const char c = sql[i];
    if (quote != 0) {
      if (c == quote) quote = 0;  // a doubled quote re-enters at once: same result
      out.push_back(c);
      continue;
    }
    if (c == '\'' || c == '"') {
      quote = c;
      out.push_back(c);
      continue;
    }
    if (c == '?' && i + 1 < sql.size() && sql[i + 1] >= '0' && sql[i + 1] <= '9') {
      out.push_back('$');
      continue;
    }
    out.push_back(c);
  }
  return out;
}

Statement::Param& Statement::At(int index) {
  if (index < 1) index = 1;
  if (static_cast<std::size_t>(index) > params_.size()) params_.resize(index);
  return params_[index - 1];
}

Statement& Statement::BindText(int index, std::string_view value) {
  At(index) = Param{.value = std::string(value), .type = kTextOid, .format = 0};
  return *this;
}

Statement& Statement::BindBlob(int index, std::string_view bytes) {
  At(index) = Param{.value = std::string(bytes), .type = kByteaOid, .format = 1};
  return *this;
}

Statement& Statement::BindInt64(int index, std::int64_t value) {
  At(index) = Param{.value = std::to_string(value), .type = kInt8Oid, .format = 0};
  return *this;
}

Statement& Statement::BindOptionalText(int index, const std::optional<std::string>& value) {
  if (value.has_value()) return BindText(index, *value);
  At(index) = Param{.value = std::nullopt, .type = kTextOid, .format = 0};
  return *this;
}

Statement& Statement::BindOptionalInt64(int index, std::optional<std::int64_t> value) {
  if (value.has_value()) return BindInt64(index, *value);
  At(index) = Param{.value = std::nullopt, .type = kInt8Oid, .format = 0};
  return *this;
}

Statement::~Statement() {
  if (queued_) connection_->Adopt(this);
}

Statement::Statement(Statement&& other) noexcept
    : connection_(other.connection_),
      sql_(other.sql_),
      params_(std::move(other.params_)),
      result_(std::move(other.result_)),
      row_(other.row_),
      rows_(other.rows_),
      executed_(other.executed_),
      queued_(std::exchange(other.queued_, false)),
      changes_(other.changes_),
      bind_error_(std::move(other.bind_error_)),
      exec_error_(std::move(other.exec_error_)) {
  if (queued_) connection_->Requeue(&other, this);
}

void Statement::Defer() {
  if (executed_ || queued_) return;
  if (!bind_error_.ok()) {  // never sent; Step reports it
    executed_ = true;
    exec_error_ = bind_error_;
    return;
  }
  queued_ = true;
  connection_->Enqueue(this);
}

void Statement::Deliver(Result<ResultPtr> result) {
  queued_ = false;
  executed_ = true;
  if (!result.ok()) {
    exec_error_ = result.status();
    return;
  }
  result_ = std::move(*result);
  rows_ = PQntuples(result_.get());
  const char* tuples = PQcmdTuples(result_.get());
  std::int64_t changed = 0;
  if (tuples != nullptr && *tuples != '\0') {
    std::from_chars(tuples, tuples + std::char_traits<char>::length(tuples), changed);
  }
  changes_ = changed;
}

Result<bool> Statement::Step() {
  if (!executed_) {
    if (!bind_error_.ok()) {
      executed_ = true;
      exec_error_ = bind_error_;
    } else if (queued_ || connection_->HasPending()) {
      if (!queued_) Defer();
      (void)connection_->Flush();  // delivers this statement's own outcome
      if (!executed_) {            // not reached: Flush delivers to every queued statement
        executed_ = true;
        exec_error_ = InternalError("postgres: statement was not sent");
      }
    } else {
      Result<ResultPtr> result = connection_->ExecPrepared(sql_, params_);
      Deliver(std::move(result));
    }
  }
  if (!exec_error_.ok()) return exec_error_;
  if (row_ < rows_) ++row_;
  return row_ < rows_;
}

Status Statement::Run() {
  Result<bool> row = Step();
  return row.ok() ? Status::Ok() : row.status();
}

std::string Statement::ColumnText(int column) const {
  if (result_ == nullptr || row_ >= rows_ || PQgetisnull(result_.get(), row_, column)) return {};
  return std::string(PQgetvalue(result_.get(), row_, column),
                     static_cast<std::size_t>(PQgetlength(result_.get(), row_, column)));
}

std::string Statement::ColumnBlob(int column) const {
  // bytea in text format is "\x" followed by hex digits.
  const std::string text = ColumnText(column);
  if (text.size() < 2 || text[0] != '\\' || text[1] != 'x') return {};
  std::string bytes;
  bytes.reserve((text.size() - 2) / 2);
  for (std::size_t i = 2; i + 1 < text.size(); i += 2) {
    const int hi = HexValue(text[i]);
    const int lo = HexValue(text[i + 1]);
    if (hi < 0 || lo < 0) return {};
    bytes.push_back(static_cast<char>((hi << 4) | lo));
  }
  return bytes;
}

std::int64_t Statement::ColumnInt64(int column) const {
  const std::string text = ColumnText(column);
  std::int64_t value = 0;
  std::from_chars(text.data(), text.data() + text.size(), value);
  return value;
}

std::optional<std::string> Statement::ColumnOptionalText(int column) const {
  if (result_ == nullptr || row_ >= rows_ || PQgetisnull(result_.get(), row_, column)) {
    return std::nullopt;
  }
  return ColumnText(column);
}

std::optional<std::int64_t> Statement::ColumnOptionalInt64(int column) const {
  if (result_ == nullptr || row_ >= rows_ || PQgetisnull(result_.get(), row_, column)) {
    return std::nullopt;
  }
  return ColumnInt64(column);
}

Status Connection::EnsureConnected() {
  if (conn_ != nullptr && PQstatus(conn_.get()) == CONNECTION_OK) return Status::Ok();
  if (in_transaction_) {
    // Never continue a transaction's statements on a fresh connection (they would autocommit).
    return UnavailableError("postgres: connection lost inside a transaction");
  }
  Reset();
  Result<ConnPtr> conn = target_->Connect();
  if (!conn.ok()) return conn.status();
  conn_ = std::move(*conn);
  return Status::Ok();
}

void Connection::Reset() {
  conn_.reset();
  prepared_.clear();
}

bool Connection::IsIdle() const {
  return conn_ != nullptr && PQstatus(conn_.get()) == CONNECTION_OK &&
         PQtransactionStatus(conn_.get()) == PQTRANS_IDLE;
}

Status Connection::Failure(const PGresult* result, std::string_view what) {
  Status s = PgError(*target_, conn_.get(), result, what);
  if (conn_ != nullptr && PQstatus(conn_.get()) != CONNECTION_OK) {
    conn_.reset();  // reconnects on next use (outside a transaction)
    prepared_.clear();
  }
  return s;
}

Result<Statement> Connection::Prepare(std::string_view sql) { return Statement(this, sql); }

Status Connection::Exec(const char* sql, std::string_view what) {
  if (HasPending()) {
    if (Status s = Flush(); !s.ok()) return s;
  }
  if (Status s = EnsureConnected(); !s.ok()) return s;
  ResultPtr result(PQexec(conn_.get(), sql));
  const ExecStatusType status =
      result != nullptr ? PQresultStatus(result.get()) : PGRES_FATAL_ERROR;
  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) return Status::Ok();
  return Failure(result.get(), what);
}

std::string Connection::StatementKey(std::string_view sql,
                                     const std::vector<Statement::Param>& params) {
  std::string key(sql);
  key.push_back('\0');
  for (const Statement::Param& param : params) {
    key.append(std::to_string(param.type)).push_back(',');
  }
  return key;
}

Result<ResultPtr> Connection::ExecPrepared(std::string_view sql,
                                           const std::vector<Statement::Param>& params) {
  if (Status s = EnsureConnected(); !s.ok()) return s;
  std::string key = StatementKey(sql, params);
  auto it = prepared_.find(key);
  if (it == prepared_.end()) {
    std::string name = "pc" + std::to_string(next_statement_++);
    const std::string text = TranslatePlaceholders(sql);
    std::vector<Oid> types;
    types.reserve(params.size());
    for (const Statement::Param& param : params) types.push_back(param.type);
    ResultPtr prepared(PQprepare(conn_.get(), name.c_str(), text.c_str(),
                                 static_cast<int>(types.size()), types.data()));
    if (prepared == nullptr || PQresultStatus(prepared.get()) != PGRES_COMMAND_OK) {
      return Failure(prepared.get(), "prepare");
    }
    it = prepared_.emplace(std::move(key), std::move(name)).first;
  }
  std::vector<const char*> values;
  std::vector<int> lengths, formats;
  values.reserve(params.size());
  lengths.reserve(params.size());
  formats.reserve(params.size());
  for (const Statement::Param& param : params) {
    values.push_back(param.value.has_value() ? param.value->data() : nullptr);
    lengths.push_back(param.value.has_value() ? static_cast<int>(param.value->size()) : 0);
    formats.push_back(param.format);
  }
  ResultPtr result(PQexecPrepared(conn_.get(), it->second.c_str(), static_cast<int>(params.size()),
                                  values.data(), lengths.data(), formats.data(),
                                  /*resultFormat=*/0));
  const ExecStatusType status =
      result != nullptr ? PQresultStatus(result.get()) : PGRES_FATAL_ERROR;
  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) return result;
  return Failure(result.get(), "execute");
}

void Connection::Requeue(Statement* from, Statement* to) {
  std::replace(queue_.begin(), queue_.end(), from, to);
}

void Connection::Adopt(Statement* statement) {
  // Moving requeues the statement under its new address.
  orphans_.push_back(std::make_unique<Statement>(std::move(*statement)));
}

void Connection::DiscardPending() {
  pending_begin_.clear();
  std::vector<Statement*> queue = std::exchange(queue_, {});
  for (Statement* statement : queue) {
    statement->Deliver(AbortedError("postgres: statement discarded before it was sent"));
  }
  orphans_.clear();
}

Status Connection::Flush(const char* trailer, ResultPtr* trailer_result) {
  std::vector<const char*> begin = std::exchange(pending_begin_, {});
  std::vector<Statement*> queue = std::exchange(queue_, {});
  // Deferred statements whose objects are gone live until their results are in.
  std::vector<std::unique_ptr<Statement>> orphans = std::exchange(orphans_, {});
  auto fail_all = [&](const Status& status) {
    for (Statement* statement : queue) statement->Deliver(status);
    return status;
  };
  if (begin.empty() && queue.empty() && trailer == nullptr) return Status::Ok();
  if (Status s = EnsureConnected(); !s.ok()) return fail_all(s);
  PGconn* conn = conn_.get();
  // A connection that cannot carry the pipeline is dropped (it reconnects on next use).
  auto lost = [&](std::string_view what) {
    std::string message = "postgres: ";
    message.append(what).append(": ").append(Trimmed(PQerrorMessage(conn)));
    std::replace(message.begin(), message.end(), '\n', ' ');
    Reset();
    return UnavailableError(target_->Scrub(std::move(message)));
  };
  if (PQenterPipelineMode(conn) != 1) return fail_all(lost("enter pipeline mode"));

  // What was sent, in order; each command answers with one result.
  struct Sent {
    enum Kind { kCommand, kPrepare, kStatement, kTrailer } kind;
    Statement* statement = nullptr;
    std::string key;   // kPrepare: the cache key
    std::string name;  // kPrepare: the statement name
  };
  std::vector<Sent> sent;
  std::unordered_map<std::string, std::string> preparing;  // key -> name, within this pipeline
  bool send_failed = false;
  for (const char* command : begin) {
    if (PQsendQueryParams(conn, command, 0, nullptr, nullptr, nullptr, nullptr, 0) != 1) {
      send_failed = true;
      break;
    }
    sent.push_back(Sent{.kind = Sent::kCommand, .statement = nullptr, .key = {}, .name = {}});
  }
  for (std::size_t i = 0; i < queue.size() && !send_failed; ++i) {
    Statement* statement = queue[i];
    std::string key = StatementKey(statement->sql_, statement->params_);
    std::string name;
    if (auto it = prepared_.find(key); it != prepared_.end()) {
      name = it->second;
    } else if (auto p = preparing.find(key); p != preparing.end()) {
      name = p->second;
    } else {
      name = "pc" + std::to_string(next_statement_++);
      const std::string text = TranslatePlaceholders(statement->sql_);
      std::vector<Oid> types;
      for (const Statement::Param& param : statement->params_) types.push_back(param.type);
      if (PQsendPrepare(conn, name.c_str(), text.c_str(), static_cast<int>(types.size()),
                        types.data()) != 1) {
        send_failed = true;
        break;
      }
      preparing.emplace(key, name);
      sent.push_back(
          Sent{.kind = Sent::kPrepare, .statement = nullptr, .key = std::move(key), .name = name});
    }
    std::vector<const char*> values;
    std::vector<int> lengths, formats;
    for (const Statement::Param& param : statement->params_) {
      values.push_back(param.value.has_value() ? param.value->data() : nullptr);
      lengths.push_back(param.value.has_value() ? static_cast<int>(param.value->size()) : 0);
      formats.push_back(param.format);
    }
    if (PQsendQueryPrepared(conn, name.c_str(), static_cast<int>(values.size()), values.data(),
                            lengths.data(), formats.data(), /*resultFormat=*/0) != 1) {
      send_failed = true;
      break;
    }
    sent.push_back(Sent{.kind = Sent::kStatement, .statement = statement, .key = {}, .name = {}});
  }
  if (!send_failed && trailer != nullptr) {
    if (PQsendQueryParams(conn, trailer, 0, nullptr, nullptr, nullptr, nullptr, 0) != 1) {
      send_failed = true;
    } else {
      sent.push_back(Sent{.kind = Sent::kTrailer, .statement = nullptr, .key = {}, .name = {}});
    }
  }
  if (send_failed || PQpipelineSync(conn) != 1) return fail_all(lost("send pipeline"));

  Status first_error;
  std::vector<bool> delivered(queue.size(), false);
  std::size_t next_statement = 0;
  bool broken = false;
  for (Sent& item : sent) {
    ResultPtr result(broken ? nullptr : PQgetResult(conn));
    if (result == nullptr) {
      broken = true;
    } else {
      // Each command's results end with a null.
      while (PGresult* extra = PQgetResult(conn)) PQclear(extra);
    }
    const ExecStatusType status =
        result != nullptr ? PQresultStatus(result.get()) : PGRES_FATAL_ERROR;
    const bool ok = status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK;
    Status error;
    if (!ok) {
      if (status == PGRES_PIPELINE_ABORTED && !first_error.ok()) {
        error = first_error;
      } else {
        error = PgError(*target_, conn, result.get(),
                        item.kind == Sent::kPrepare ? "prepare" : "execute");
        if (first_error.ok()) first_error = error;
      }
    }
    switch (item.kind) {
      case Sent::kCommand:
        break;
      case Sent::kPrepare:
        if (ok) prepared_.emplace(std::move(item.key), std::move(item.name));
        break;
      case Sent::kStatement:
        if (ok) {
          item.statement->Deliver(std::move(result));
        } else {
          item.statement->Deliver(error);
        }
        delivered[next_statement++] = true;
        break;
      case Sent::kTrailer:
        if (ok && trailer_result != nullptr) *trailer_result = std::move(result);
        break;
    }
  }
  for (std::size_t i = 0; i < queue.size(); ++i) {
    if (!delivered[i]) {
      queue[i]->Deliver(first_error.ok() ? UnavailableError("postgres: pipeline not answered")
                                         : first_error);
    }
  }
  if (!broken) {
    ResultPtr sync(PQgetResult(conn));
    broken = sync == nullptr || PQresultStatus(sync.get()) != PGRES_PIPELINE_SYNC ||
             PQexitPipelineMode(conn) != 1;
  }
  if (broken || PQstatus(conn) != CONNECTION_OK) {
    Status s = lost("pipeline");
    return first_error.ok() ? s : first_error;
  }
  return first_error;
}

Result<Transaction> Transaction::Begin(Connection& connection) {
  // BEGIN travels with the first statement (see the file comment).
  if (Status s = connection.EnsureConnected(); !s.ok()) return s;
  connection.set_pending_begin({"BEGIN"});
  connection.set_in_transaction(true);
  return Transaction(connection);
}

Result<Transaction> Transaction::BeginExclusive(Connection& connection) {
  static const std::string kLock = "SELECT pg_advisory_xact_lock(" +
                                   std::to_string(kAdvisoryLockSpace) + ", " +
                                   std::to_string(kExclusiveWriteLock) + ")";
  if (Status s = connection.EnsureConnected(); !s.ok()) return s;
  connection.set_pending_begin({"BEGIN", kLock.c_str()});
  connection.set_in_transaction(true);
  return Transaction(connection);
}

Transaction::~Transaction() {
  if (!active_) return;
  const bool begun = !connection_->BeginPending();
  // Queued statements belong to this transaction: never send them after it.
  connection_->DiscardPending();
  connection_->set_in_transaction(false);
  if (begun && connection_->raw() != nullptr) {
    PQclear(PQexec(connection_->raw(), "ROLLBACK"));  // best effort; a broken one resets anyway
  }
}

Status Transaction::Commit() {
  active_ = false;
  if (connection_->BeginPending() && !connection_->HasQueued()) {
    // No statement ran: nothing to commit, no round trip.
    connection_->DiscardPending();
    connection_->set_in_transaction(false);
    return Status::Ok();
  }
  if (connection_->raw() == nullptr) {
    connection_->DiscardPending();
    connection_->set_in_transaction(false);
    return UnavailableError("postgres: commit: connection lost");
  }
  ResultPtr result;
  Status s = connection_->Flush("COMMIT", &result);  // still in_transaction: no silent reconnect
  connection_->set_in_transaction(false);
  PGconn* conn = connection_->raw();
  if (!s.ok()) {
    // A failed statement left the transaction aborted (its COMMIT was not executed).
    if (conn != nullptr && PQtransactionStatus(conn) != PQTRANS_IDLE) {
      PQclear(PQexec(conn, "ROLLBACK"));
    }
    return s;
  }
  // COMMIT of a failed transaction succeeds as a command but reports ROLLBACK.
  if (result == nullptr || std::string_view(PQcmdStatus(result.get())) != "COMMIT") {
    return AbortedError("postgres: commit: the transaction was rolled back");
  }
  return Status::Ok();
}

}  // namespace portcullis::store::postgres_detail
