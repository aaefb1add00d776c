#include "store/db_copy.h"

#include <sqlite3.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "store/postgres/connection.h"
#include "store/postgres/migrations.h"
#include "store/postgres/postgres_store.h"
#include "store/sql/sql_common.h"
#include "store/sqlite/connection.h"
#include "store/sqlite/migrations.h"

namespace portcullis::store {
namespace {

using PgConnection = postgres_detail::Connection;
using PgStatement = postgres_detail::Statement;
using PgTransaction = postgres_detail::Transaction;
using SqliteConnection = sqlite_detail::Connection;
using SqliteStatement = sqlite_detail::Statement;

// Rows per INSERT. The protocol allows 65535 parameters per statement; the widest table has 16
// columns (authorization_codes), so a batch binds at most 8000.
constexpr std::size_t kBatchRows = 500;
constexpr int kSqliteBusyTimeoutMs = 5000;
constexpr int kConnectTimeoutS = 10;

// The name under which app.cc runs the bootstrap administrator and the first key set
// (Store::RunExclusively("bootstrap", ...): a session advisory lock on (kAdvisoryLockSpace,
// hashtext(name))). The copy holds the same lock for its transaction, so a server starting on the
// target meanwhile waits and then finds the copied users instead of creating its own `admin`.
constexpr std::string_view kBootstrapLockName = "bootstrap";

enum class Kind : std::uint8_t { kText, kInteger, kBlob };

struct Column {
  std::string_view name;
  Kind kind;
};

struct Table {
  std::string_view name;
  std::vector<Column> columns;
  std::string_view order_by;  // the SQLite primary key (or rowid): a stable, cheap read order
  // The PostgreSQL identity column whose sequence is moved past the copied ids ("" = none).
  std::string_view identity = {};
  // A condition matching the rows migration 0001 inserts (built-in roles): a target may hold
  // them; they are deleted and replaced by the source's ("" = none allowed).
  std::string_view built_in = {};
  // The table is appended to by triggers on inserts into earlier tables of the copy (users ->
  // user_changes; signing_keys, revoked_jtis -> change_events). Those rows are deleted before the
  // table itself is copied: the source's feed, with its seqs, is the truth.
  bool fed_by_triggers = false;
};

constexpr Kind kText = Kind::kText;
constexpr Kind kInteger = Kind::kInteger;
constexpr Kind kBlob = Kind::kBlob;

// Every table of the schema (store/sqlite/migrations/, store/postgres/migrations/), in an order in
// which each foreign key points to a table copied earlier. The column lists are spelled out:
// CheckSchema refuses a table or column missing here, so nothing is dropped silently.
const std::vector<Table>& Tables() {
  static const std::vector<Table> tables = {
      {.name = "users",
       .columns = {{"id", kText},
                   {"username", kText},
                   {"username_normalized", kText},
                   {"email", kText},
                   {"password_hash", kText},
                   {"disabled", kInteger},
                   {"credential_version", kInteger},
                   {"created_at", kInteger},
                   {"last_login_at", kInteger}},
       .order_by = "id"},
      {.name = "roles",
       .columns = {{"name", kText}, {"description", kText}, {"created_at", kInteger}},
       .order_by = "name",
       .built_in = "name IN ('admin', 'user')"},
      {.name = "role_permissions",
       .columns = {{"role_name", kText}, {"permission", kText}},
       .order_by = "role_name, permission",
       .built_in = "role_name = 'admin' AND permission = '*'"},
      {.name = "user_roles",
       .columns = {{"user_id", kText}, {"role_name", kText}},
       .order_by = "user_id, role_name"},
      {.name = "signing_keys",
       .columns = {{"rowid", kInteger},
                   {"kid", kText},
                   {"alg", kText},
                   {"state", kText},
                   {"sealed_private_key", kBlob},
                   {"public_jwk", kText},
                   {"created_at", kInteger},
                   {"deactivated_at", kInteger}},
       .order_by = "rowid",
       .identity = "rowid"},
      {.name = "audit_events",
       .columns = {{"id", kInteger},
                   {"time", kInteger},
                   {"type", kText},
                   {"actor", kText},
                   {"subject", kText},
                   {"client_ip", kText},
                   {"user_agent", kText},
                   {"request_id", kText},
                   {"details", kText}},
       .order_by = "id",
       .identity = "id"},
      {.name = "refresh_tokens",
       .columns = {{"rowid", kInteger},
                   {"token_hash", kText},
                   {"family_id", kText},
                   {"user_id", kText},
                   {"client_id", kText},
                   {"scope", kText},
                   {"issued_at", kInteger},
                   {"expires_at", kInteger},
                   {"family_expires_at", kInteger},
                   {"parent_hash", kText},
                   {"used_at", kInteger},
                   {"revoked_at", kInteger},
                   {"dpop_jkt", kText}},
       .order_by = "rowid",
       .identity = "rowid"},
      {.name = "clients",
       .columns = {{"client_id", kText},
                   {"name", kText},
                   {"secret_hash", kText},
                   {"grant_types", kText},
                   {"scopes", kText},
                   {"created_at", kInteger},
                   {"redirect_uris", kText},
                   {"token_endpoint_auth_method", kText},
                   {"post_logout_redirect_uris", kText},
                   {"id_token_signed_response_alg", kText},
                   {"require_dpop", kInteger}},
       .order_by = "client_id"},
      {.name = "dpop_proofs",
       .columns = {{"proof_key", kText}, {"expires_at", kInteger}},
       .order_by = "proof_key"},
      {.name = "revoked_jtis",
       .columns = {{"jti", kText}, {"expires_at", kInteger}},
       .order_by = "jti"},
      {.name = "throttles",
       .columns = {{"key", kText},
                   {"failures", kInteger},
                   {"window_start", kInteger},
                   {"locked_until", kInteger},
                   {"lock_level", kInteger},
                   {"updated_at", kInteger},
                   {"in_flight", kInteger},
                   {"in_flight_until", kInteger},
                   {"version", kInteger}},
       .order_by = "key"},
      {.name = "known_sources",
       .columns = {{"username_normalized", kText},
                   {"network_key", kText},
                   {"last_success_at", kInteger}},
       .order_by = "username_normalized, network_key"},
      {.name = "user_changes",
       .columns = {{"seq", kInteger}, {"user_id", kText}, {"at", kInteger}},
       .order_by = "seq",
       .identity = "seq",
       .fed_by_triggers = true},
      {.name = "permission_uses",
       .columns = {{"user_id", kText}, {"permission", kText}, {"last_used_at", kInteger}},
       .order_by = "user_id, permission"},
      {.name = "api_keys",
       .columns = {{"id", kText},
                   {"secret_hash", kText},
                   {"user_id", kText},
                   {"name", kText},
                   {"scopes", kText},
                   {"created_at", kInteger},
                   {"expires_at", kInteger},
                   {"last_used_at", kInteger}},
       .order_by = "id"},
      {.name = "authorization_codes",
       .columns = {{"code_hash", kText},
                   {"client_id", kText},
                   {"user_id", kText},
                   {"redirect_uri", kText},
                   {"code_challenge", kText},
                   {"scope", kText},
                   {"nonce", kText},
                   {"auth_time", kInteger},
                   {"amr", kText},
                   {"session_id", kText},
                   {"created_at", kInteger},
                   {"expires_at", kInteger},
                   {"used_at", kInteger},
                   {"access_jti", kText},
                   {"access_expires_at", kInteger},
                   {"refresh_family_id", kText},
                   {"dpop_jkt", kText}},
       .order_by = "code_hash"},
      {.name = "browser_sessions",
       .columns = {{"id", kText},
                   {"token_hash", kText},
                   {"user_id", kText},
                   {"credential_version", kInteger},
                   {"auth_time", kInteger},
                   {"amr", kText},
                   {"created_at", kInteger},
                   {"last_seen_at", kInteger},
                   {"expires_at", kInteger},
                   {"client_ip", kText},
                   {"user_agent", kText}},
       .order_by = "id"},
      {.name = "totp_enrollments",
       .columns = {{"user_id", kText},
                   {"sealed_secret", kBlob},
                   {"confirmed", kInteger},
                   {"created_at", kInteger},
                   {"confirmed_at", kInteger},
                   {"last_used_step", kInteger}},
       .order_by = "user_id"},
      {.name = "totp_recovery_codes",
       .columns = {{"user_id", kText}, {"code_hash", kText}},
       .order_by = "user_id, code_hash"},
      {.name = "change_events",
       .columns = {{"seq", kInteger}, {"kind", kText}, {"subject", kText}, {"at", kInteger}},
       .order_by = "seq",
       .identity = "seq",
       .fed_by_triggers = true},
  };
  return tables;
}

std::string ColumnList(const Table& table) {
  std::string out;
  for (const Column& column : table.columns) {
    if (!out.empty()) out += ", ";
    out += column.name;
  }
  return out;
}

std::string Context(std::string_view what, std::string_view table) {
  return std::string(what) + " " + std::string(table);
}

// ---------------------------------------------------------------- SQLite (the source)

Result<std::int64_t> SqliteScalar(SqliteConnection& connection, const std::string& sql,
                                  std::string_view bind_text = {}) {
  Result<SqliteStatement> stmt = connection.Prepare(sql);
  if (!stmt.ok()) return stmt.status();
  if (!bind_text.empty()) stmt->BindText(1, bind_text);
  Result<bool> row = stmt->Step();
  if (!row.ok()) return row.status();
  return *row ? stmt->ColumnInt64(0) : 0;
}

Result<std::vector<std::string>> SqliteStrings(SqliteConnection& connection, const std::string& sql,
                                               std::string_view bind_text = {}) {
  Result<SqliteStatement> stmt = connection.Prepare(sql);
  if (!stmt.ok()) return stmt.status();
  if (!bind_text.empty()) stmt->BindText(1, bind_text);
  std::vector<std::string> values;
  while (true) {
    Result<bool> row = stmt->Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    values.push_back(stmt->ColumnText(0));
  }
  return values;
}

// ---------------------------------------------------------------- PostgreSQL (the target)

Result<std::int64_t> PgScalar(PgConnection& connection, const std::string& sql,
                              std::string_view bind_text = {}) {
  Result<PgStatement> stmt = connection.Prepare(sql);
  if (!stmt.ok()) return stmt.status();
  if (!bind_text.empty()) stmt->BindText(1, bind_text);
  Result<bool> row = stmt->Step();
  if (!row.ok()) return row.status();
  return *row ? stmt->ColumnInt64(0) : 0;
}

Result<std::vector<std::string>> PgStrings(PgConnection& connection, const std::string& sql,
                                           std::string_view bind_text = {}) {
  Result<PgStatement> stmt = connection.Prepare(sql);
  if (!stmt.ok()) return stmt.status();
  if (!bind_text.empty()) stmt->BindText(1, bind_text);
  std::vector<std::string> values;
  while (true) {
    Result<bool> row = stmt->Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    values.push_back(stmt->ColumnText(0));
  }
  return values;
}

// ---------------------------------------------------------------- schema checks

// `actual` must hold every name of `known` and, unless `allow_others`, nothing else: a table or
// column the copy does not know would otherwise be left behind without a word.
Status CompareNames(std::string_view side, std::string_view what, std::set<std::string> actual,
                    const std::set<std::string>& known, bool allow_others = false) {
  for (const std::string& name : known) {
    if (actual.erase(name) == 0) {
      return FailedPreconditionError(std::string(side) + " schema has no " + std::string(what) +
                                     " " + name + " (db copy expects it)");
    }
  }
  if (!actual.empty() && !allow_others) {
    return FailedPreconditionError(std::string(side) + " schema has " + std::string(what) + " " +
                                   *actual.begin() + ", which db copy does not know");
  }
  return Status::Ok();
}

std::set<std::string> KnownTableNames() {
  std::set<std::string> names;
  for (const Table& table : Tables()) names.emplace(table.name);
  return names;
}

// `include_rowid`: PostgreSQL has a real column `rowid`; SQLite's is implicit and not listed.
std::set<std::string> KnownColumnNames(const Table& table, bool include_rowid) {
  std::set<std::string> names;
  for (const Column& column : table.columns) {
    if (column.name == "rowid" && !include_rowid) continue;
    names.emplace(column.name);
  }
  return names;
}

Status CheckSqliteSchema(SqliteConnection& connection) {
  Result<std::vector<std::string>> tables = SqliteStrings(
      connection,
      "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
      "AND name <> 'schema_migrations'");
  if (!tables.ok()) return tables.status();
  if (Status s =
          CompareNames("SQLite", "table", {tables->begin(), tables->end()}, KnownTableNames());
      !s.ok()) {
    return s;
  }
  for (const Table& table : Tables()) {
    Result<std::vector<std::string>> columns =
        SqliteStrings(connection, "SELECT name FROM pragma_table_info(?1)", table.name);
    if (!columns.ok()) return columns.status();
    if (Status s = CompareNames("SQLite", "column " + std::string(table.name) + ".",
                                {columns->begin(), columns->end()},
                                KnownColumnNames(table, /*include_rowid=*/false));
        !s.ok()) {
      return s;
    }
  }
  return Status::Ok();
}

Status CheckPostgresSchema(PgConnection& connection) {
  Result<std::vector<std::string>> tables =
      PgStrings(connection,
                "SELECT tablename::text FROM pg_catalog.pg_tables "
                "WHERE schemaname = current_schema() AND tablename <> 'schema_migrations'");
  if (!tables.ok()) return tables.status();
  // Other tables may share the schema (the database is not necessarily Portcullis's alone); the
  // SQLite file is, and db_copy_test checks that the PostgreSQL migrations make no others.
  if (Status s = CompareNames("PostgreSQL", "table", {tables->begin(), tables->end()},
                              KnownTableNames(), /*allow_others=*/true);
      !s.ok()) {
    return s;
  }
  for (const Table& table : Tables()) {
    Result<std::vector<std::string>> columns =
        PgStrings(connection,
                  "SELECT column_name::text FROM information_schema.columns "
                  "WHERE table_schema = current_schema() AND table_name = ?1",
                  table.name);
    if (!columns.ok()) return columns.status();
    if (Status s = CompareNames("PostgreSQL", "column " + std::string(table.name) + ".",
                                {columns->begin(), columns->end()},
                                KnownColumnNames(table, /*include_rowid=*/true));
        !s.ok()) {
      return s;
    }
  }
  return Status::Ok();
}

// ---------------------------------------------------------------- copying

struct Cell {
  bool null = false;
  std::int64_t integer = 0;
  std::string bytes;  // text or blob
};
using Row = std::vector<Cell>;

// "INSERT INTO t (a, b) VALUES (?1, ?2), (?3, ?4), ..." for `rows` rows.
std::string InsertSql(const Table& table, std::size_t rows) {
  std::string sql =
      "INSERT INTO " + std::string(table.name) + " (" + ColumnList(table) + ") VALUES ";
  int parameter = 1;
  for (std::size_t r = 0; r < rows; ++r) {
    sql += r == 0 ? "(" : ", (";
    for (std::size_t c = 0; c < table.columns.size(); ++c) {
      if (c > 0) sql += ", ";
      sql += "?" + std::to_string(parameter++);
    }
    sql += ")";
  }
  return sql;
}

Result<Row> ReadRow(const SqliteStatement& stmt, const Table& table) {
  Row row(table.columns.size());
  for (std::size_t c = 0; c < table.columns.size(); ++c) {
    const int column = static_cast<int>(c);
    Cell& cell = row[c];
    switch (table.columns[c].kind) {
      case Kind::kText: {
        std::optional<std::string> text = stmt.ColumnOptionalText(column);
        cell.null = !text.has_value();
        if (text) cell.bytes = std::move(*text);
        break;
      }
      case Kind::kInteger: {
        std::optional<std::int64_t> integer = stmt.ColumnOptionalInt64(column);
        cell.null = !integer.has_value();
        if (integer) cell.integer = *integer;
        break;
      }
      case Kind::kBlob:
        // Every BLOB column is NOT NULL, and a NULL bound as bytea is not expressible here.
        if (!stmt.ColumnOptionalText(column).has_value()) {
          return InternalError(Context("copy", table.name) + ": " +
                               std::string(table.columns[c].name) + " is NULL");
        }
        cell.bytes = stmt.ColumnBlob(column);
        break;
    }
  }
  return row;
}

Status InsertRows(PgConnection& pg, const Table& table, const std::string& sql,
                  const std::vector<Row>& rows) {
  Result<PgStatement> stmt = pg.Prepare(sql);
  if (!stmt.ok()) return stmt.status();
  int parameter = 1;
  for (const Row& row : rows) {
    for (std::size_t c = 0; c < table.columns.size(); ++c, ++parameter) {
      const Cell& cell = row[c];
      switch (table.columns[c].kind) {
        case Kind::kText:
          if (cell.null) {
            stmt->BindOptionalText(parameter, std::nullopt);
          } else {
            stmt->BindText(parameter, cell.bytes);
          }
          break;
        case Kind::kInteger:
          if (cell.null) {
            stmt->BindOptionalInt64(parameter, std::nullopt);
          } else {
            stmt->BindInt64(parameter, cell.integer);
          }
          break;
        case Kind::kBlob:
          stmt->BindBlob(parameter, cell.bytes);  // binary: any bytes, not only UTF-8
          break;
      }
    }
  }
  if (Status s = stmt->Run(); !s.ok()) return s;
  if (stmt->Changes() != static_cast<std::int64_t>(rows.size())) {
    return InternalError("inserted " + std::to_string(stmt->Changes()) + " of " +
                         std::to_string(rows.size()) + " rows");
  }
  return Status::Ok();
}

// Streams the table from SQLite into PostgreSQL in batches; returns the number of rows copied.
Result<std::int64_t> CopyTable(SqliteConnection& sqlite, PgConnection& pg, const Table& table) {
  const std::string select = "SELECT " + ColumnList(table) + " FROM " + std::string(table.name) +
                             " ORDER BY " + std::string(table.order_by);
  Result<SqliteStatement> source = sqlite.Prepare(select);
  if (!source.ok()) return source.status();
  const std::string full_batch_sql = InsertSql(table, kBatchRows);
  std::vector<Row> batch;
  batch.reserve(kBatchRows);
  std::int64_t copied = 0;
  while (true) {
    Result<bool> more = source->Step();
    if (!more.ok()) return more.status();
    if (*more) {
      Result<Row> row = ReadRow(*source, table);
      if (!row.ok()) return row.status();
      batch.push_back(std::move(*row));
    }
    if (batch.size() == kBatchRows || (!*more && !batch.empty())) {
      const std::string partial_sql =
          batch.size() == kBatchRows ? std::string() : InsertSql(table, batch.size());
      if (Status s = InsertRows(pg, table,
                                batch.size() == kBatchRows ? full_batch_sql : partial_sql, batch);
          !s.ok()) {
        return s;
      }
      copied += static_cast<std::int64_t>(batch.size());
      batch.clear();
    }
    if (!*more) break;
  }
  return copied;
}

// Moves the identity sequence past every id the SQLite deployment handed out: the highest copied
// one and, for AUTOINCREMENT tables, SQLite's high-water mark (ids of pruned feed rows are never
// reused there either).
Status ResetIdentity(SqliteConnection& sqlite, PgConnection& pg, const Table& table) {
  Result<std::int64_t> high_water = SqliteScalar(
      sqlite, "SELECT COALESCE(MAX(seq), 0) FROM sqlite_sequence WHERE name = ?1", table.name);
  if (!high_water.ok()) return high_water.status();
  const std::string identity(table.identity);
  const std::string name(table.name);
  Result<std::int64_t> max_id =
      PgScalar(pg, "SELECT COALESCE(MAX(" + identity + "), 0) FROM " + name);
  if (!max_id.ok()) return max_id.status();
  const std::string setval =
      "SELECT setval(pg_get_serial_sequence('" + name + "', '" + identity + "'), ?1, false)";
  Result<PgStatement> stmt = pg.Prepare(setval);
  if (!stmt.ok()) return stmt.status();
  stmt->BindInt64(1, std::max(*max_id, *high_water) + 1);  // the next value handed out
  return stmt->Run();
}

// ---------------------------------------------------------------- the steps

Result<int> SqliteSchemaVersion(SqliteConnection& sqlite) {
  Result<std::int64_t> has_table = SqliteScalar(
      sqlite,
      "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'");
  if (!has_table.ok()) return has_table.status();
  if (*has_table == 0) return 0;
  Result<std::int64_t> version =
      SqliteScalar(sqlite, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations");
  if (!version.ok()) return version.status();
  return static_cast<int>(*version);
}

// The target must not hold anything but the built-in roles: no user, key, client, token, audit
// event, feed entry or throttle state. Runs under the table locks, so it stays true until commit.
Status CheckTargetEmpty(PgConnection& pg) {
  for (const Table& table : Tables()) {
    std::string sql = "SELECT COUNT(*) FROM (SELECT 1 FROM " + std::string(table.name);
    if (!table.built_in.empty()) sql += " WHERE NOT (" + std::string(table.built_in) + ")";
    sql += " LIMIT 1) AS any_row";
    Result<std::int64_t> rows = PgScalar(pg, sql);
    if (!rows.ok()) return sql::WithContext(rows.status(), Context("check", table.name));
    if (*rows > 0) {
      return FailedPreconditionError(
          "the target database is not empty (table " + std::string(table.name) +
          (table.built_in.empty() ? " has rows" : " has rows besides the built-in ones") +
          "); db copy only fills a new, empty database");
    }
  }
  return Status::Ok();
}

Status LockTarget(PgConnection& pg) {
  const std::string advisory = "SELECT pg_advisory_xact_lock(" +
                               std::to_string(postgres_detail::kAdvisoryLockSpace) +
                               ", hashtext('" + std::string(kBootstrapLockName) + "'))";
  if (Status s = pg.Exec(advisory.c_str(), "bootstrap lock"); !s.ok()) return s;
  // EXCLUSIVE: others may still read, but no one writes until commit, so the emptiness check
  // holds and every feed row present before the copy of a feed table was appended by this
  // transaction's own triggers.
  std::string lock = "LOCK TABLE ";
  for (const Table& table : Tables()) {
    if (&table != &Tables().front()) lock += ", ";
    lock += table.name;
  }
  lock += " IN EXCLUSIVE MODE";
  return pg.Exec(lock.c_str(), "lock tables");
}

Status MigrateTarget(const std::string& postgres_url) {
  Result<std::unique_ptr<Store>> store = OpenPostgresStore({.url = postgres_url, .pool_size = 1});
  if (!store.ok()) return store.status();
  Result<int> applied = (*store)->Migrate();
  return applied.ok() ? Status::Ok() : applied.status();
}

}  // namespace

std::int64_t CopyReport::TotalRows() const {
  std::int64_t total = 0;
  for (const TableCount& table : tables) total += table.rows;
  return total;
}

std::vector<CopiedTable> CopiedTablesForTesting() {
  std::vector<CopiedTable> out;
  for (const Table& table : Tables()) {
    CopiedTable copied{.name = std::string(table.name), .columns = {}};
    for (const Column& column : table.columns) copied.columns.emplace_back(column.name);
    out.push_back(std::move(copied));
  }
  return out;
}

Result<CopyReport> CopySqliteToPostgres(const std::string& sqlite_path,
                                        const std::string& postgres_url) {
  const int latest = sqlite_detail::SqliteMigrations().back().version;
  if (postgres_detail::PostgresMigrations().back().version != latest) {
    return InternalError("this binary's SQLite and PostgreSQL migrations differ in number");
  }

  // The source: read-only, one read transaction (in WAL mode, a snapshot) for the whole copy.
  std::error_code ec;
  if (!std::filesystem::is_regular_file(sqlite_path, ec)) {
    return NotFoundError("no SQLite database at " + sqlite_path);
  }
  Result<std::unique_ptr<SqliteConnection>> sqlite = SqliteConnection::Open(
      sqlite_path, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, kSqliteBusyTimeoutMs);
  if (!sqlite.ok()) return sql::WithContext(sqlite.status(), sqlite_path);
  if (Status s = (*sqlite)->Exec("BEGIN", "begin read transaction"); !s.ok()) return s;
  Result<int> source_version = SqliteSchemaVersion(**sqlite);
  if (!source_version.ok()) return source_version.status();
  if (*source_version > latest) return sql::NewerSchemaError(*source_version, latest);
  if (*source_version < latest) {
    return FailedPreconditionError(
        "the SQLite database is at schema version " + std::to_string(*source_version) +
        ", this binary's is " + std::to_string(latest) + "; run `portcullis migrate` on it first");
  }
  if (Status s = CheckSqliteSchema(**sqlite); !s.ok()) return s;
  std::vector<std::int64_t> source_rows;
  for (const Table& table : Tables()) {
    Result<std::int64_t> rows =
        SqliteScalar(**sqlite, "SELECT COUNT(*) FROM " + std::string(table.name));
    if (!rows.ok()) return sql::WithContext(rows.status(), Context("count", table.name));
    source_rows.push_back(*rows);
  }

  // The target: migrated to the same version, then everything in one transaction.
  if (Status s = MigrateTarget(postgres_url); !s.ok()) return s;
  Result<std::shared_ptr<postgres_detail::ConnectTarget>> target =
      postgres_detail::ConnectTarget::Create(postgres_url, kConnectTimeoutS);
  if (!target.ok()) return target.status();
  PgConnection pg(*target);
  Result<PgTransaction> tx = PgTransaction::Begin(pg);
  if (!tx.ok()) return tx.status();
  if (Status s = LockTarget(pg); !s.ok()) return s;
  Result<std::int64_t> target_version =
      PgScalar(pg, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations");
  if (!target_version.ok()) return target_version.status();
  if (*target_version != latest) {
    return FailedPreconditionError("the PostgreSQL database is at schema version " +
                                   std::to_string(*target_version) + ", expected " +
                                   std::to_string(latest));
  }
  if (Status s = CheckPostgresSchema(pg); !s.ok()) return s;
  if (Status s = CheckTargetEmpty(pg); !s.ok()) return s;

  // The built-in roles are replaced by the source's (which has them too, maybe changed).
  for (auto table = Tables().rbegin(); table != Tables().rend(); ++table) {
    if (table->built_in.empty()) continue;
    const std::string sql =
        "DELETE FROM " + std::string(table->name) + " WHERE " + std::string(table->built_in);
    if (Status s = pg.Exec(sql.c_str(), Context("clear built-in rows of", table->name)); !s.ok()) {
      return s;
    }
  }

  // Triggers stay enabled (disabling them needs table ownership or a superuser, and would also
  // switch off the audit log's append-only guard). The feed rows they append while users,
  // signing keys and revoked jtis are inserted are deleted again before the feed tables are
  // copied; the table locks guarantee no one else's rows are among them.
  CopyReport report;
  report.schema_version = latest;
  for (const Table& table : Tables()) {
    if (table.fed_by_triggers) {
      const std::string clear = "DELETE FROM " + std::string(table.name);
      if (Status s = pg.Exec(clear.c_str(), Context("clear trigger rows of", table.name));
          !s.ok()) {
        return s;
      }
    }
    Result<std::int64_t> copied = CopyTable(**sqlite, pg, table);
    if (!copied.ok()) return sql::WithContext(copied.status(), Context("copy", table.name));
    report.tables.push_back({.table = std::string(table.name), .rows = *copied});
  }
  for (const Table& table : Tables()) {
    if (table.identity.empty()) continue;
    if (Status s = ResetIdentity(**sqlite, pg, table); !s.ok()) {
      return sql::WithContext(s, Context("reset the identity sequence of", table.name));
    }
  }

  // Verify before commit: every table holds exactly as many rows as the source's snapshot.
  for (std::size_t i = 0; i < Tables().size(); ++i) {
    const Table& table = Tables()[i];
    Result<std::int64_t> rows = PgScalar(pg, "SELECT COUNT(*) FROM " + std::string(table.name));
    if (!rows.ok()) return sql::WithContext(rows.status(), Context("count", table.name));
    if (*rows != source_rows[i] || report.tables[i].rows != source_rows[i]) {
      return InternalError("row count mismatch in table " + std::string(table.name) + ": SQLite " +
                           std::to_string(source_rows[i]) + ", copied " +
                           std::to_string(report.tables[i].rows) + ", PostgreSQL " +
                           std::to_string(*rows) + "; nothing was written");
    }
  }
  if (Status s = tx->Commit(); !s.ok()) return s;
  (void)(*sqlite)->Exec("COMMIT", "end read transaction");
  return report;
}

}  // namespace portcullis::store
