// Test-only: a Directory over a fresh in-memory SQLite store with a FakeClock, a real AuditLog,
// a UserStateCache and a fast Argon2id hasher.
#pragma once

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "admin/directory.h"
#include "audit/audit_log.h"
#include "base/clock.h"
#include "password/hasher.h"
#include "store/sqlite/sqlite_store.h"
#include "token/user_state_cache.h"

namespace portcullis::admin::testing {

inline ::testing::AssertionResult HasCode(const Status& status, StatusCode code) {
  if (status.code() == code) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "expected " << ToString(code) << ", got " << status.ToString();
}

template <typename T>
::testing::AssertionResult HasCode(const Result<T>& result, StatusCode code) {
  return HasCode(result.status(), code);
}

// A migrated in-memory SQLite store.
inline std::unique_ptr<store::Store> OpenTestStore() {
  store::SqliteOptions options;
  options.path = ":memory:";
  Result<std::unique_ptr<store::Store>> opened = store::OpenSqliteStore(options);
  EXPECT_TRUE(opened.ok()) << opened.status().ToString();
  if (!opened.ok()) return nullptr;
  Result<int> applied = (*opened)->Migrate();
  EXPECT_TRUE(applied.ok()) << applied.status().ToString();
  return std::move(*opened);
}

class DirectoryFixture : public ::testing::Test {
 protected:
  static constexpr UnixSeconds kStart = 1'700'000'000;
  static constexpr std::string_view kPassword = "plum-Tractor-47-quietly";

  void SetUp() override {
    store_ = OpenTestStore();
    ASSERT_NE(store_, nullptr);
    Result<password::Hasher> hasher = password::Hasher::Create(
        password::Argon2Params{.memory_kib = 64, .iterations = 1, .parallelism = 1});
    ASSERT_TRUE(hasher.ok()) << hasher.status().ToString();
    hasher_.emplace(std::move(*hasher));
    audit_ = std::make_unique<audit::AuditLog>(*store_, clock_);
    directory_ = std::make_unique<Directory>(*store_, *audit_, clock_, &cache_, *hasher_,
                                             password::PolicyOptions{});
  }

  // An actor that is a user holding exactly `permissions`.
  static Actor UserActor(std::string id, std::vector<std::string> permissions) {
    Actor actor;
    actor.id = std::move(id);
    actor.is_user = true;
    actor.permissions = std::move(permissions);
    return actor;
  }

  static audit::AuditContext Context(std::string actor = "cli") {
    audit::AuditContext context;
    context.actor = std::move(actor);
    context.request_id = "req-1";
    return context;
  }

  // Creates a role directly in the store.
  void AddRole(const std::string& name, std::vector<std::string> permissions) {
    store::Role role;
    role.name = name;
    role.description = name + " role";
    role.permissions = std::move(permissions);
    role.created_at = kStart;
    ASSERT_TRUE(store_->CreateRole(role).ok());
  }

  // Creates a user as the CLI; fails the test on error.
  store::User AddUser(const std::string& username, std::vector<std::string> roles) {
    NewUserInput input;
    input.username = username;
    input.password = SecretString(kPassword);
    input.roles = std::move(roles);
    Result<store::User> user = directory_->CreateUser(Actor::Cli(), input, Context());
    EXPECT_TRUE(user.ok()) << user.status().ToString();
    return user.ok() ? *user : store::User{};
  }

  // The audit events of `type`, newest first.
  std::vector<store::AuditEvent> AuditOf(const std::string& type) {
    store::AuditFilter filter;
    filter.type = type;
    filter.limit = 100;
    Result<store::AuditPage> page = store_->ListAudit(filter);
    EXPECT_TRUE(page.ok()) << page.status().ToString();
    return page.ok() ? page->items : std::vector<store::AuditEvent>{};
  }

  static boost::json::object Details(const store::AuditEvent& event) {
    return boost::json::parse(event.details_json).as_object();
  }

  FakeClock clock_{kStart};
  std::unique_ptr<store::Store> store_;
  std::optional<password::Hasher> hasher_;
  std::unique_ptr<audit::AuditLog> audit_;
  token::UserStateCache cache_;
  std::unique_ptr<Directory> directory_;
};

}  // namespace portcullis::admin::testing
