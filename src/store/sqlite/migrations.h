// The SQLite schema migrations, embedded into the binary at build time from
// store/sqlite/migrations/NNNN_name.sql (see store/CMakeLists.txt). Internal to store/sqlite/.
//
// Thread-safety: immutable data.
#pragma once

#include <span>
#include <string_view>

namespace portcullis::store::sqlite_detail {

struct Migration {
  int version;            // NNNN from the file name; 1, 2, 3, ... without gaps
  std::string_view name;  // the file name, e.g. "0001_init.sql"
  std::string_view sql;   // statements to run inside one transaction (no BEGIN/COMMIT)
};

// Every known migration, in ascending version order.
std::span<const Migration> SqliteMigrations();

}  // namespace portcullis::store::sqlite_detail
