// The tables and columns `portcullis db copy` knows (db_copy.h) against the SQLite schema the
// migrations build: a migration that adds a table or a column fails here until the copy learns
// it. Needs no PostgreSQL (the copy itself is tested in db_copy_test.cc, label postgres).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "store/db_copy.h"
#include "store/sqlite/sqlite_store.h"

namespace portcullis::store {
namespace {

// Rows of column 0 of `sql` (with ?1 bound to `arg` when not empty).
std::vector<std::string> Strings(sqlite3* db, const std::string& sql, const std::string& arg = "") {
  sqlite3_stmt* stmt = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr), SQLITE_OK)
      << sqlite3_errmsg(db);
  if (!arg.empty()) sqlite3_bind_text(stmt, 1, arg.c_str(), -1, SQLITE_TRANSIENT);
  std::vector<std::string> out;
  while (sqlite3_step(stmt) == SQLITE_ROW) {
    out.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0)));
  }
  sqlite3_finalize(stmt);
  return out;
}

// A SQLite database with every migration applied, opened read-only.
class DbCopySchemaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = ::testing::TempDir() + "portcullis_db_copy_XXXXXX";
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    const std::string path = (dir_ / "portcullis.db").string();
    {
      Result<std::unique_ptr<Store>> store = OpenSqliteStore({.path = path});
      ASSERT_TRUE(store.ok()) << store.status().ToString();
      Result<int> applied = (*store)->Migrate();
      ASSERT_TRUE(applied.ok()) << applied.status().ToString();
    }
    ASSERT_EQ(sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  }
  void TearDown() override {
    sqlite3_close(db_);
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  std::filesystem::path dir_;
  sqlite3* db_ = nullptr;
};

TEST_F(DbCopySchemaTest, CopiedTablesAndColumnsAreExactlyThoseOfTheMigratedSqliteSchema) {
  const std::vector<std::string> schema_tables =
      Strings(db_,
              "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
              "AND name <> 'schema_migrations'");
  const std::vector<CopiedTable> copied = CopiedTablesForTesting();
  std::set<std::string> copied_tables;
  for (const CopiedTable& table : copied) copied_tables.insert(table.name);
  EXPECT_EQ(copied_tables, std::set<std::string>(schema_tables.begin(), schema_tables.end()))
      << "a migration added or removed a table: teach store/db_copy.cc (Tables()) about it";
  EXPECT_EQ(copied_tables.size(), copied.size()) << "a table is listed twice";

  for (const CopiedTable& table : copied) {
    const std::vector<std::string> columns =
        Strings(db_, "SELECT name FROM pragma_table_info(?1)", table.name);
    std::set<std::string> expected(table.columns.begin(), table.columns.end());
    expected.erase("rowid");  // SQLite's implicit one is not listed
    EXPECT_EQ(expected, std::set<std::string>(columns.begin(), columns.end()))
        << "table " << table.name
        << ": a migration changed its columns: teach store/db_copy.cc (Tables()) about them";
  }
}

TEST_F(DbCopySchemaTest, EveryTableIsCopiedAfterTheTablesItsForeignKeysReference) {
  std::vector<std::string> order;
  for (const CopiedTable& table : CopiedTablesForTesting()) order.push_back(table.name);
  const auto position = [&](const std::string& name) {
    return std::find(order.begin(), order.end(), name) - order.begin();
  };
  int references = 0;
  for (const std::string& child : order) {
    for (const std::string& parent :
         Strings(db_, "SELECT \"table\" FROM pragma_foreign_key_list(?1)", child)) {
      ++references;
      EXPECT_LT(position(parent), position(child)) << child << " references " << parent;
    }
  }
  EXPECT_GE(references, 5);  // role_permissions, user_roles (2), permission_uses, api_keys
  // The feeds come after the tables whose insert triggers append to them.
  EXPECT_LT(position("users"), position("user_changes"));
  EXPECT_LT(position("signing_keys"), position("change_events"));
  EXPECT_LT(position("revoked_jtis"), position("change_events"));
}

}  // namespace
}  // namespace portcullis::store
