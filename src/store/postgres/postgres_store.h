// The PostgreSQL implementation of the storage ports (store/store.h): the backend of a
// deployment of several instances sharing one database (DESIGN.md §6). The queries, row
// mapping and transactions are store/sql/sql_store.h, shared with SQLite; this backend adds
// libpq connections (store/postgres/connection.h), its schema (store/postgres/migrations/),
// advisory locks and LISTEN/NOTIFY.
//
// Error mapping: unique violation -> kAlreadyExists, foreign key -> kNotFound, a database that
// can't be reached (or went away, or a serialization failure) -> kUnavailable, anything else ->
// kInternal. No message contains the connection password.
//
// Thread-safety: the returned Store may be used from any number of threads at once; calls share
// a pool of `pool_size` connections and block while all are busy.
//
//   Result<std::unique_ptr<Store>> store =
//       OpenPostgresStore({.url = "postgresql://portcullis:pw@db:5432/portcullis"});
//   if (!store.ok()) return store.status();  // kUnavailable: retry later
//   Result<int> applied = (*store)->Migrate();
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "base/status.h"
#include "store/store.h"

namespace portcullis::store {

struct PostgresOptions {
  // A libpq URI: postgresql://user:password@host:port/dbname?sslmode=verify-full&...
  std::string url;
  std::size_t pool_size = 4;
  // Used unless the URL sets connect_timeout itself.
  int connect_timeout_s = 5;
};

// True when `url` names a PostgreSQL database (scheme postgresql:// or postgres://, any case).
bool IsPostgresUrl(std::string_view url);

// `url` with the password (userinfo and a password= query parameter) replaced by "***", for
// log lines and error messages.
std::string RedactDatabaseUrl(std::string_view url);

// Validates the URL and connects once, so a wrong URL or an unreachable database is reported at
// once. kInvalidArgument (malformed URL, zero pool_size); kUnavailable (cannot connect: the
// message has libpq's reason, never the password). Does NOT migrate: call Store::Migrate.
Result<std::unique_ptr<Store>> OpenPostgresStore(const PostgresOptions& options);

}  // namespace portcullis::store
