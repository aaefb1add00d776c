// The SQLite implementation of the storage ports (store/store.h): the default backend, one file
// in the data directory.
//
// The database runs in WAL mode with synchronous=FULL (an acknowledged write survives a crash
// or kill -9), foreign keys on, and a busy timeout on every connection. Multi-statement writes
// run in BEGIN IMMEDIATE transactions. Error mapping: SQLITE_BUSY/LOCKED -> kUnavailable,
// unique/primary-key violations -> kAlreadyExists, other failures -> kInternal with SQLite's
// message (never a bound value).
//
// Thread-safety: the returned Store may be used from any number of threads at once; calls share
// a pool of `pool_size` connections, each with its own cache of prepared statements, and block
// while all connections are busy.
//
//   Result<SqliteOptions> options = SqliteOptionsFromUrl("sqlite:data/portcullis.db");
//   if (!options.ok()) return options.status();
//   Result<std::unique_ptr<Store>> store = OpenSqliteStore(*options);
//   if (!store.ok()) return store.status();
//   Result<int> applied = (*store)->Migrate();
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "base/status.h"
#include "store/store.h"

namespace portcullis::store {

struct SqliteOptions {
  // Path of the database file. ":memory:" gives a private in-memory database (pool_size is then
  // forced to 1, since every connection would otherwise see a different database).
  std::string path;
  std::size_t pool_size = 4;
  int busy_timeout_ms = 5000;
  // Create the file (mode 0600) and its missing parent directories (mode 0700) if absent.
  bool create_if_missing = true;
};

// Opens the database and `pool_size` connections, each set to WAL, foreign_keys=ON,
// synchronous=FULL and the busy timeout. Does NOT migrate: call Store::Migrate.
// kInvalidArgument on an empty path, a zero pool_size or a negative busy timeout; kNotFound if
// the file is missing and create_if_missing is false; kInternal if it cannot be created or
// opened (the message names the path, which is not secret).
Result<std::unique_ptr<Store>> OpenSqliteStore(const SqliteOptions& options);

// Parses a database URL "sqlite:PATH" or "sqlite://PATH" ("sqlite:///abs/path" is absolute,
// "sqlite://rel/path" relative; the scheme is case-insensitive) into options with default pool
// size and timeout. Any other scheme -> kInvalidArgument "unsupported database url scheme
// \"postgresql\"". Error messages never echo anything after the scheme (a URL may hold a
// password).
Result<SqliteOptions> SqliteOptionsFromUrl(std::string_view url);

}  // namespace portcullis::store
