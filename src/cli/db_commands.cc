// `portcullis db copy --to postgresql://…` (issue #10, DESIGN §6): moves the configured SQLite
// deployment (--data-dir / --config / database.url, as for every command) into an empty
// PostgreSQL database with store::CopySqliteToPostgres, which does the work in one transaction
// and verifies the row counts; this file checks the inputs and renders the report.
#include <boost/json.hpp>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <string>
#include <string_view>
#include <system_error>

#include "app/app.h"
#include "base/log.h"
#include "cli/commands.h"
#include "store/db_copy.h"
#include "store/postgres/postgres_store.h"
#include "store/sqlite/sqlite_store.h"

namespace portcullis::cli {
namespace {

constexpr int kExitConfigError = 2;
constexpr int kTableColumnWidth = 20;
constexpr int kCountColumnWidth = 10;

int Fail(std::string_view message) {
  std::cerr << "portcullis: db copy: " << message << "\n";
  return 1;
}

void PrintJson(const store::CopyReport& report, const std::string& source,
               const std::string& target) {
  boost::json::object tables;
  for (const store::TableCount& table : report.tables) tables[table.table] = table.rows;
  boost::json::object out;
  out["source"] = source;
  out["target"] = target;
  out["schema_version"] = report.schema_version;
  out["tables"] = std::move(tables);
  out["total_rows"] = report.TotalRows();
  std::cout << boost::json::serialize(out) << "\n";
}

void PrintTable(const store::CopyReport& report, const std::string& target) {
  std::cout << std::left << std::setw(kTableColumnWidth) << "table" << std::right
            << std::setw(kCountColumnWidth) << "rows"
            << "\n";
  for (const store::TableCount& table : report.tables) {
    std::cout << std::left << std::setw(kTableColumnWidth) << table.table << std::right
              << std::setw(kCountColumnWidth) << table.rows << "\n";
  }
  std::cout << std::left << std::setw(kTableColumnWidth) << "total" << std::right
            << std::setw(kCountColumnWidth) << report.TotalRows() << "\n"
            << "copied into " << target << " (schema version " << report.schema_version
            << "; every table's count verified)\n"
            << "Point the servers at it (database.url or PORTCULLIS_DATABASE_URL) with the same "
               "master key (master_key.file or PORTCULLIS_MASTER_KEY): the signing keys are "
               "sealed with it.\n";
}

}  // namespace

int RunDbCopy(const CommonOptions& options, const DbCopyOptions& copy) {
  if (!store::IsPostgresUrl(copy.to)) return Fail("--to must be a postgresql:// URL");
  const std::string target = store::RedactDatabaseUrl(copy.to);
  std::optional<config::Config> config = LoadConfigOrReport(options);
  if (!config) return kExitConfigError;

  // The source is the configured deployment, which must be SQLite.
  const std::string& source_url = config->database.url;
  if (store::IsPostgresUrl(source_url)) {
    return Fail("the configured database is not SQLite (" + store::RedactDatabaseUrl(source_url) +
                "); db copy moves a SQLite deployment into PostgreSQL");
  }
  Result<store::SqliteOptions> sqlite = store::SqliteOptionsFromUrl(source_url);
  if (!sqlite.ok()) return Fail(sqlite.status().message());
  if (sqlite->path == ":memory:") return Fail("the configured database is in memory");
  std::error_code ec;
  if (!std::filesystem::is_regular_file(sqlite->path, ec)) {
    return Fail("no SQLite database at " + sqlite->path + " (check --data-dir or database.url)");
  }
  // Bring the source's schema up to date, as every command does when it opens the database.
  if (Result<std::unique_ptr<store::Store>> source = app::OpenStore(*config); !source.ok()) {
    return Fail(source.status().message());
  }

  Result<store::CopyReport> report = store::CopySqliteToPostgres(sqlite->path, copy.to);
  if (!report.ok()) return Fail(report.status().message() + " (target " + target + ")");
  log::Info("db.copied", {{"source", sqlite->path},
                          {"target", target},
                          {"schema_version", report->schema_version},
                          {"tables", report->tables.size()},
                          {"rows", report->TotalRows()}});
  if (copy.json) {
    PrintJson(*report, sqlite->path, target);
  } else {
    PrintTable(*report, target);
  }
  return 0;
}

}  // namespace portcullis::cli
