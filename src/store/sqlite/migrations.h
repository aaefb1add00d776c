// The SQLite schema migrations, embedded into the binary at build time from
// store/sqlite/migrations/NNNN_name.sql (see store/CMakeLists.txt). Internal to store/sqlite/.
//
// Thread-safety: immutable data.
#pragma once

#include <span>

#include "store/sql/sql_common.h"

namespace portcullis::store::sqlite_detail {

using Migration = sql::Migration;

// Every known migration, in ascending version order.
std::span<const Migration> SqliteMigrations();

}  // namespace portcullis::store::sqlite_detail
