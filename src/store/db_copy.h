// `portcullis db copy` (DESIGN.md §6): moves a SQLite deployment into an empty PostgreSQL
// database — users, roles, clients, signing keys, API keys, refresh-token families, the audit log
// and the remaining state (revoked jtis, throttles, known sources, permission uses, the change
// feeds) — and verifies the row counts before committing.
//
// What it guarantees:
//   - The SQLite file is only read (a read-only connection, one read transaction, so the copy is
//     one consistent snapshot even if a server is still writing).
//   - The PostgreSQL schema is brought up to date first (Store::Migrate); both schemas must then
//     be at this binary's latest version, with exactly the tables (SQLite) and columns (both) the
//     copy knows: a migration that adds one makes the copy refuse until it learns it. (Tables of
//     other applications in the PostgreSQL schema are left alone.)
//   - Everything is written in ONE PostgreSQL transaction: either the whole deployment arrives,
//     with every table's row count equal to SQLite's, or nothing is written.
//   - A target that already holds data is refused (kFailedPrecondition); only the built-in roles
//     that migration 0001 inserts are allowed, and they are replaced by the source's.
//   - Ids survive: audit event ids, the change feeds' seqs and the insertion order of signing
//     keys and refresh tokens (PostgreSQL's `rowid` column) are copied, and every identity
//     sequence is moved past them (and past SQLite's AUTOINCREMENT high-water mark), so new rows
//     get higher ids than any the SQLite deployment handed out.
//
// Signing keys are copied sealed: the PostgreSQL deployment needs the same master key.
//
// Thread-safety: a free function; run one copy into a database at a time (a second one waits
// for the first's locks and is then refused because the target is no longer empty).
//
//   Result<CopyReport> report = CopySqliteToPostgres("data/portcullis.db", url);
//   if (!report.ok()) return report.status();
//   for (const TableCount& t : report->tables) std::cout << t.table << " " << t.rows << "\n";
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"

namespace portcullis::store {

// Rows of one table, as copied (and verified equal on both sides).
struct TableCount {
  std::string table;
  std::int64_t rows = 0;
};

struct CopyReport {
  std::vector<TableCount> tables;  // in copy order: every table of the schema
  int schema_version = 0;          // of both databases

  std::int64_t TotalRows() const;
};

// Copies the SQLite database at `sqlite_path` into the PostgreSQL database `postgres_url` (a
// libpq URI; its password never appears in an error message). Errors:
//   kNotFound            no file at sqlite_path;
//   kFailedPrecondition  the target holds data; the SQLite schema is not at this binary's latest
//                        version (run `portcullis migrate` on it) or is newer; a table or column
//                        the copy does not know;
//   kUnavailable         PostgreSQL cannot be reached (or the transaction hit a serialization
//                        failure; nothing was written, retry);
//   kInvalidArgument     a value PostgreSQL refuses (e.g. text that is not UTF-8), naming the
//                        table;
//   kInternal            anything else, including a row-count mismatch found before commit.
// On every error nothing has been written to PostgreSQL, except that its schema may have been
// migrated.
Result<CopyReport> CopySqliteToPostgres(const std::string& sqlite_path,
                                        const std::string& postgres_url);

// The tables the copy moves, in copy order, with their columns (as in both schemas; `rowid` is
// SQLite's implicit one and PostgreSQL's identity column of that name). For the test that fails
// when a migration adds a table or column the copy does not know.
struct CopiedTable {
  std::string name;
  std::vector<std::string> columns;
};
std::vector<CopiedTable> CopiedTablesForTesting();

}  // namespace portcullis::store
