// The PostgreSQL schema migrations, embedded into the binary at build time from
// store/postgres/migrations/NNNN_name.sql (see store/CMakeLists.txt). Internal to store/postgres/.
// Numbered like the SQLite ones: version N brings either schema to the same logical state.
//
// Thread-safety: immutable data.
#pragma once

#include <span>

#include "store/sql/sql_common.h"

namespace portcullis::store::postgres_detail {

// Every known migration, in ascending version order.
std::span<const sql::Migration> PostgresMigrations();

}  // namespace portcullis::store::postgres_detail
