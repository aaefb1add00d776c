// The behavioural contract of store::Store as one typed GoogleTest suite, run against every
// backend so they cannot drift apart.
//
// To run it for a backend, define a factory type with a default constructor and
//   Result<std::unique_ptr<Store>> Create();  // a fresh, empty, migrated store
// (the fixture owns one factory per test, so it can hold a temporary directory), then in exactly
// one .cc file of the backend's test binary:
//
//   #include "store/testing/store_conformance.h"
//   INSTANTIATE_TYPED_TEST_SUITE_P(Sqlite, StoreConformanceTest,
//                                  ::testing::Types<SqliteTestFactory>);
//
// The suite is defined in this header, so include it in only one translation unit per binary.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <latch>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "base/status.h"
#include "store/store.h"

namespace portcullis::store::testing {

// Succeeds when `status` has exactly `code`; the failure message names both codes.
inline ::testing::AssertionResult HasCode(const Status& status, StatusCode code) {
  if (status.code() == code) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "expected " << ToString(code) << ", got " << status.ToString();
}

template <typename T>
::testing::AssertionResult HasCode(const Result<T>& result, StatusCode code) {
  return HasCode(result.status(), code);
}

template <typename Factory>
class StoreConformanceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Result<std::unique_ptr<Store>> store = factory_.Create();
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(*store);
  }

  static NewUser MakeUser(std::string id, std::string username,
                          std::vector<std::string> roles = {}) {
    NewUser user;
    user.id = std::move(id);
    user.username = std::move(username);
    user.password_hash = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo";
    user.roles = std::move(roles);
    user.created_at = 1'700'000'000;
    return user;
  }

  static SigningKey MakeKey(std::string kid, UnixSeconds created_at) {
    SigningKey key;
    key.kid = std::move(kid);
    key.alg = "EdDSA";
    key.state = "active";
    key.sealed_private_key = std::string("\x00\x01\xff\xfe sealed", 10);
    key.public_jwk = R"({"kty":"OKP","crv":"Ed25519","x":"abc"})";
    key.created_at = created_at;
    return key;
  }

  Factory factory_;
  std::unique_ptr<Store> store_;
};

TYPED_TEST_SUITE_P(StoreConformanceTest);

TYPED_TEST_P(StoreConformanceTest, CreatedUserIsFoundByIdAndByUsernameInAnyCase) {
  NewUser new_user = this->MakeUser("u1", "Alice", {"user"});
  new_user.email = "alice@example.com";
  Result<User> created = this->store_->CreateUser(new_user);
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  EXPECT_EQ(created->username_normalized, "alice");

  for (Result<User> found :
       {this->store_->FindUserById("u1"), this->store_->FindUserByUsername("ALICE"),
        this->store_->FindUserByUsername("alice")}) {
    ASSERT_TRUE(found.ok()) << found.status().ToString();
    EXPECT_EQ(found->id, "u1");
    EXPECT_EQ(found->username, "Alice");
    EXPECT_EQ(found->username_normalized, "alice");
    EXPECT_EQ(found->email, std::optional<std::string>("alice@example.com"));
    EXPECT_EQ(found->password_hash, new_user.password_hash);
    EXPECT_FALSE(found->disabled);
    EXPECT_EQ(found->credential_version, 1);
    EXPECT_EQ(found->created_at, 1'700'000'000);
    EXPECT_EQ(found->last_login_at, std::nullopt);
    EXPECT_EQ(found->roles, std::vector<std::string>({"user"}));
  }
}

TYPED_TEST_P(StoreConformanceTest, UserWithoutEmailOrRolesRoundTrips) {
  ASSERT_TRUE(this->store_->CreateUser(this->MakeUser("u1", "bob")).ok());
  Result<User> found = this->store_->FindUserById("u1");
  ASSERT_TRUE(found.ok()) << found.status().ToString();
  EXPECT_EQ(found->email, std::nullopt);
  EXPECT_TRUE(found->roles.empty());
}

TYPED_TEST_P(StoreConformanceTest, UsernameDifferingOnlyInCaseIsAlreadyExists) {
  ASSERT_TRUE(this->store_->CreateUser(this->MakeUser("u1", "Alice")).ok());
  EXPECT_TRUE(
      HasCode(this->store_->CreateUser(this->MakeUser("u2", "aLICE")), StatusCode::kAlreadyExists));
  EXPECT_TRUE(HasCode(this->store_->FindUserById("u2"), StatusCode::kNotFound));
}

TYPED_TEST_P(StoreConformanceTest, DuplicateIdIsAlreadyExists) {
  ASSERT_TRUE(this->store_->CreateUser(this->MakeUser("u1", "alice")).ok());
  EXPECT_TRUE(
      HasCode(this->store_->CreateUser(this->MakeUser("u1", "bob")), StatusCode::kAlreadyExists));
}

TYPED_TEST_P(StoreConformanceTest, NonAsciiBytesAreNotCaseFolded) {
  ASSERT_TRUE(this->store_->CreateUser(this->MakeUser("u1", "\xc3\x84rger")).ok());  // "Ärger"
  ASSERT_TRUE(this->store_->CreateUser(this->MakeUser("u2", "\xc3\xa4rger")).ok());  // "ärger"
  Result<User> found = this->store_->FindUserByUsername("\xc3\x84RGER");
  ASSERT_TRUE(found.ok()) << found.status().ToString();
  EXPECT_EQ(found->id, "u1");
}

TYPED_TEST_P(StoreConformanceTest, CreateUserWithUnknownRoleIsNotFoundAndWritesNothing) {
  EXPECT_TRUE(HasCode(this->store_->CreateUser(this->MakeUser("u1", "alice", {"user", "ghost"})),
                      StatusCode::kNotFound));
  EXPECT_TRUE(HasCode(this->store_->FindUserById("u1"), StatusCode::kNotFound));
  Result<std::int64_t> count = this->store_->CountUsers();
  ASSERT_TRUE(count.ok());
  EXPECT_EQ(*count, 0);
  // The name is still free.
  EXPECT_TRUE(this->store_->CreateUser(this->MakeUser("u1", "alice", {"user"})).ok());
}

TYPED_TEST_P(StoreConformanceTest, CreateUserSortsAndDeduplicatesRoles) {
  Result<User> created =
      this->store_->CreateUser(this->MakeUser("u1", "alice", {"user", "admin", "user"}));
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  const std::vector<std::string> expected = {"admin", "user"};
  EXPECT_EQ(created->roles, expected);
  Result<User> found = this->store_->FindUserById("u1");
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(found->roles, expected);
}

TYPED_TEST_P(StoreConformanceTest, UnknownUserIsNotFound) {
  EXPECT_TRUE(HasCode(this->store_->FindUserById("nobody"), StatusCode::kNotFound));
  EXPECT_TRUE(HasCode(this->store_->FindUserByUsername("nobody"), StatusCode::kNotFound));
}

TYPED_TEST_P(StoreConformanceTest, ListUsersPagesInNormalizedOrderUntilNoCursor) {
  // Inserted out of order and in mixed case; listed by normalized name.
  for (const char* name : {"delta", "Bravo", "echo", "alpha", "Charlie"}) {
    ASSERT_TRUE(this->store_->CreateUser(this->MakeUser(std::string("id-") + name, name)).ok());
  }
  std::vector<std::string> seen;
  std::vector<std::size_t> page_sizes;
  std::string cursor;
  for (int guard = 0; guard < 10; ++guard) {
    Result<UserPage> page = this->store_->ListUsers(cursor, 2);
    ASSERT_TRUE(page.ok()) << page.status().ToString();
    page_sizes.push_back(page->items.size());
    for (const User& user : page->items) seen.push_back(user.username_normalized);
    if (!page->next_cursor.has_value()) break;
    cursor = *page->next_cursor;
  }
  EXPECT_EQ(seen, std::vector<std::string>({"alpha", "bravo", "charlie", "delta", "echo"}));
  EXPECT_EQ(page_sizes, std::vector<std::size_t>({2, 2, 1}));
}

TYPED_TEST_P(StoreConformanceTest, ListUsersExactPageHasNoCursorAndCarriesRoles) {
  ASSERT_TRUE(this->store_->CreateUser(this->MakeUser("u1", "a", {"admin", "user"})).ok());
  ASSERT_TRUE(this->store_->CreateUser(this->MakeUser("u2", "b")).ok());
  Result<UserPage> page = this->store_->ListUsers("", 2);
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  ASSERT_EQ(page->items.size(), 2u);
  EXPECT_EQ(page->next_cursor, std::nullopt);
  EXPECT_EQ(page->items[0].roles, std::vector<std::string>({"admin", "user"}));
  EXPECT_TRUE(page->items[1].roles.empty());
}

TYPED_TEST_P(StoreConformanceTest, ListUsersWithZeroLimitIsInvalidArgument) {
  EXPECT_TRUE(HasCode(this->store_->ListUsers("", 0), StatusCode::kInvalidArgument));
}

TYPED_TEST_P(StoreConformanceTest, CountUsersCountsEveryUser) {
  Result<std::int64_t> empty = this->store_->CountUsers();
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(*empty, 0);
  ASSERT_TRUE(this->store_->CreateUser(this->MakeUser("u1", "a")).ok());
  ASSERT_TRUE(this->store_->CreateUser(this->MakeUser("u2", "b")).ok());
  Result<std::int64_t> two = this->store_->CountUsers();
  ASSERT_TRUE(two.ok());
  EXPECT_EQ(*two, 2);
}

TYPED_TEST_P(StoreConformanceTest, UpdatePasswordHashReplacesHashAndKeepsCredentialVersion) {
  ASSERT_TRUE(this->store_->CreateUser(this->MakeUser("u1", "alice")).ok());
  const std::string new_hash = "$argon2id$v=19$m=65536,t=3,p=1$bmV3c2FsdA$bmV3aGFzaA";
  ASSERT_TRUE(this->store_->UpdatePasswordHash("u1", new_hash).ok());
  Result<User> found = this->store_->FindUserById("u1");
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(found->password_hash, new_hash);
  EXPECT_EQ(found->credential_version, 1);
  EXPECT_TRUE(HasCode(this->store_->UpdatePasswordHash("nobody", new_hash), StatusCode::kNotFound));
}

TYPED_TEST_P(StoreConformanceTest, RecordLoginSetsLastLoginAt) {
  ASSERT_TRUE(this->store_->CreateUser(this->MakeUser("u1", "alice")).ok());
  ASSERT_TRUE(this->store_->RecordLogin("u1", 1'700'000'123).ok());
  Result<User> found = this->store_->FindUserById("u1");
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(found->last_login_at, std::optional<UnixSeconds>(1'700'000'123));
  EXPECT_TRUE(HasCode(this->store_->RecordLogin("nobody", 1), StatusCode::kNotFound));
}

TYPED_TEST_P(StoreConformanceTest, BuiltInRolesAreSeeded) {
  Result<Role> admin = this->store_->FindRole("admin");
  ASSERT_TRUE(admin.ok()) << admin.status().ToString();
  EXPECT_EQ(admin->description, "Full access");
  EXPECT_EQ(admin->permissions, std::vector<std::string>({"*"}));
  Result<Role> user = this->store_->FindRole("user");
  ASSERT_TRUE(user.ok()) << user.status().ToString();
  EXPECT_TRUE(user->permissions.empty());
}

TYPED_TEST_P(StoreConformanceTest, UpsertRoleCreatesThenReplacesPermissionsKeepingCreatedAt) {
  Role role;
  role.name = "auditor";
  role.description = "Reads the audit log";
  role.permissions = {"users:read", "audit:read", "audit:read"};
  role.created_at = 100;
  ASSERT_TRUE(this->store_->UpsertRole(role).ok());
  Result<Role> found = this->store_->FindRole("auditor");
  ASSERT_TRUE(found.ok()) << found.status().ToString();
  EXPECT_EQ(found->description, "Reads the audit log");
  EXPECT_EQ(found->permissions, std::vector<std::string>({"audit:read", "users:read"}));
  EXPECT_EQ(found->created_at, 100);

  role.description = "Audit only";
  role.permissions = {"audit:read"};
  role.created_at = 200;
  ASSERT_TRUE(this->store_->UpsertRole(role).ok());
  found = this->store_->FindRole("auditor");
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(found->description, "Audit only");
  EXPECT_EQ(found->permissions, std::vector<std::string>({"audit:read"}));
  EXPECT_EQ(found->created_at, 100);
}

TYPED_TEST_P(StoreConformanceTest, UnknownRoleIsNotFound) {
  EXPECT_TRUE(HasCode(this->store_->FindRole("ghost"), StatusCode::kNotFound));
}

TYPED_TEST_P(StoreConformanceTest, ListRolesIsOrderedByName) {
  Role role;
  role.name = "billing";
  ASSERT_TRUE(this->store_->UpsertRole(role).ok());
  Result<std::vector<Role>> roles = this->store_->ListRoles();
  ASSERT_TRUE(roles.ok()) << roles.status().ToString();
  std::vector<std::string> names;
  for (const Role& r : *roles) names.push_back(r.name);
  EXPECT_EQ(names, std::vector<std::string>({"admin", "billing", "user"}));
  EXPECT_EQ((*roles)[0].permissions, std::vector<std::string>({"*"}));
}

TYPED_TEST_P(StoreConformanceTest, PermissionsOfUserIsSortedUniqueUnionOfRoles) {
  Role reader;
  reader.name = "reader";
  reader.permissions = {"users:read", "roles:read"};
  Role writer;
  writer.name = "writer";
  writer.permissions = {"users:write", "users:read"};
  ASSERT_TRUE(this->store_->UpsertRole(reader).ok());
  ASSERT_TRUE(this->store_->UpsertRole(writer).ok());
  ASSERT_TRUE(this->store_->CreateUser(this->MakeUser("u1", "alice", {"reader", "writer"})).ok());
  ASSERT_TRUE(this->store_->CreateUser(this->MakeUser("u2", "bob", {"user"})).ok());

  Result<std::vector<std::string>> alice = this->store_->PermissionsOfUser("u1");
  ASSERT_TRUE(alice.ok()) << alice.status().ToString();
  EXPECT_EQ(*alice, std::vector<std::string>({"roles:read", "users:read", "users:write"}));
  Result<std::vector<std::string>> bob = this->store_->PermissionsOfUser("u2");
  ASSERT_TRUE(bob.ok());
  EXPECT_TRUE(bob->empty());
  Result<std::vector<std::string>> nobody = this->store_->PermissionsOfUser("nobody");
  ASSERT_TRUE(nobody.ok());
  EXPECT_TRUE(nobody->empty());
}

TYPED_TEST_P(StoreConformanceTest, SigningKeysAreListedOldestFirstWithOpaqueBytesIntact) {
  ASSERT_TRUE(this->store_->InsertSigningKey(this->MakeKey("k-new", 300)).ok());
  ASSERT_TRUE(this->store_->InsertSigningKey(this->MakeKey("k-old", 100)).ok());
  SigningKey retired = this->MakeKey("k-mid", 200);
  retired.state = "retired";
  retired.deactivated_at = 250;
  ASSERT_TRUE(this->store_->InsertSigningKey(retired).ok());

  Result<std::vector<SigningKey>> keys = this->store_->ListSigningKeys();
  ASSERT_TRUE(keys.ok()) << keys.status().ToString();
  ASSERT_EQ(keys->size(), 3u);
  EXPECT_EQ((*keys)[0].kid, "k-old");
  EXPECT_EQ((*keys)[1].kid, "k-mid");
  EXPECT_EQ((*keys)[2].kid, "k-new");
  const SigningKey& old_key = (*keys)[0];
  EXPECT_EQ(old_key.alg, "EdDSA");
  EXPECT_EQ(old_key.state, "active");
  EXPECT_EQ(old_key.sealed_private_key, std::string("\x00\x01\xff\xfe sealed", 10));
  EXPECT_EQ(old_key.public_jwk, R"({"kty":"OKP","crv":"Ed25519","x":"abc"})");
  EXPECT_EQ(old_key.deactivated_at, std::nullopt);
  EXPECT_EQ((*keys)[1].state, "retired");
  EXPECT_EQ((*keys)[1].deactivated_at, std::optional<UnixSeconds>(250));
}

TYPED_TEST_P(StoreConformanceTest, DuplicateKidIsAlreadyExists) {
  ASSERT_TRUE(this->store_->InsertSigningKey(this->MakeKey("k1", 100)).ok());
  EXPECT_TRUE(HasCode(this->store_->InsertSigningKey(this->MakeKey("k1", 200)),
                      StatusCode::kAlreadyExists));
}

TYPED_TEST_P(StoreConformanceTest, UnknownKeyStateIsInvalidArgument) {
  SigningKey key = this->MakeKey("k1", 100);
  key.state = "compromised";
  EXPECT_TRUE(HasCode(this->store_->InsertSigningKey(key), StatusCode::kInvalidArgument));
  ASSERT_TRUE(this->store_->InsertSigningKey(this->MakeKey("k1", 100)).ok());
  EXPECT_TRUE(HasCode(this->store_->UpdateSigningKeyState("k1", "Active", std::nullopt),
                      StatusCode::kInvalidArgument));
}

TYPED_TEST_P(StoreConformanceTest, UpdateSigningKeyStateSetsAndClearsDeactivatedAt) {
  ASSERT_TRUE(this->store_->InsertSigningKey(this->MakeKey("k1", 100)).ok());
  ASSERT_TRUE(this->store_->UpdateSigningKeyState("k1", "verify_only", 150).ok());
  Result<std::vector<SigningKey>> keys = this->store_->ListSigningKeys();
  ASSERT_TRUE(keys.ok());
  ASSERT_EQ(keys->size(), 1u);
  EXPECT_EQ((*keys)[0].state, "verify_only");
  EXPECT_EQ((*keys)[0].deactivated_at, std::optional<UnixSeconds>(150));

  ASSERT_TRUE(this->store_->UpdateSigningKeyState("k1", "active", std::nullopt).ok());
  keys = this->store_->ListSigningKeys();
  ASSERT_TRUE(keys.ok());
  EXPECT_EQ((*keys)[0].state, "active");
  EXPECT_EQ((*keys)[0].deactivated_at, std::nullopt);

  EXPECT_TRUE(
      HasCode(this->store_->UpdateSigningKeyState("ghost", "retired", 1), StatusCode::kNotFound));
}

TYPED_TEST_P(StoreConformanceTest, MigrateAgainAppliesNothingAndKeepsVersion) {
  Result<int> before = this->store_->SchemaVersion();
  ASSERT_TRUE(before.ok()) << before.status().ToString();
  EXPECT_GE(*before, 1);
  Result<int> applied = this->store_->Migrate();
  ASSERT_TRUE(applied.ok()) << applied.status().ToString();
  EXPECT_EQ(*applied, 0);
  Result<int> after = this->store_->SchemaVersion();
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(*after, *before);
}

TYPED_TEST_P(StoreConformanceTest, PingSucceedsAndBackendHasAName) {
  EXPECT_TRUE(this->store_->Ping().ok());
  EXPECT_FALSE(this->store_->BackendName().empty());
}

TYPED_TEST_P(StoreConformanceTest, ConcurrentCreatesWithDistinctNamesAllSucceed) {
  constexpr int kThreads = 8;
  std::vector<Status> results(kThreads);
  std::latch start(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      start.arrive_and_wait();
      const std::string n = std::to_string(i);
      results[static_cast<std::size_t>(i)] =
          this->store_->CreateUser(this->MakeUser("u" + n, "user" + n, {"user"})).status();
    });
  }
  for (std::thread& t : threads) t.join();
  for (const Status& s : results) EXPECT_TRUE(s.ok()) << s.ToString();
  Result<std::int64_t> count = this->store_->CountUsers();
  ASSERT_TRUE(count.ok());
  EXPECT_EQ(*count, kThreads);
}

TYPED_TEST_P(StoreConformanceTest, ConcurrentCreatesOfOneNameLetExactlyOneWin) {
  constexpr int kThreads = 8;
  std::vector<Status> results(kThreads);
  std::latch start(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      start.arrive_and_wait();
      // Same name up to case, distinct ids.
      const std::string name = (i % 2 == 0) ? "Mallory" : "mallory";
      results[static_cast<std::size_t>(i)] =
          this->store_->CreateUser(this->MakeUser("u" + std::to_string(i), name)).status();
    });
  }
  for (std::thread& t : threads) t.join();
  const auto winners =
      std::count_if(results.begin(), results.end(), [](const Status& s) { return s.ok(); });
  EXPECT_EQ(winners, 1);
  for (const Status& s : results) {
    if (!s.ok()) {
      EXPECT_TRUE(HasCode(s, StatusCode::kAlreadyExists));
    }
  }
  Result<std::int64_t> count = this->store_->CountUsers();
  ASSERT_TRUE(count.ok());
  EXPECT_EQ(*count, 1);
}

REGISTER_TYPED_TEST_SUITE_P(
    StoreConformanceTest, CreatedUserIsFoundByIdAndByUsernameInAnyCase,
    UserWithoutEmailOrRolesRoundTrips, UsernameDifferingOnlyInCaseIsAlreadyExists,
    DuplicateIdIsAlreadyExists, NonAsciiBytesAreNotCaseFolded,
    CreateUserWithUnknownRoleIsNotFoundAndWritesNothing, CreateUserSortsAndDeduplicatesRoles,
    UnknownUserIsNotFound, ListUsersPagesInNormalizedOrderUntilNoCursor,
    ListUsersExactPageHasNoCursorAndCarriesRoles, ListUsersWithZeroLimitIsInvalidArgument,
    CountUsersCountsEveryUser, UpdatePasswordHashReplacesHashAndKeepsCredentialVersion,
    RecordLoginSetsLastLoginAt, BuiltInRolesAreSeeded,
    UpsertRoleCreatesThenReplacesPermissionsKeepingCreatedAt, UnknownRoleIsNotFound,
    ListRolesIsOrderedByName, PermissionsOfUserIsSortedUniqueUnionOfRoles,
    SigningKeysAreListedOldestFirstWithOpaqueBytesIntact, DuplicateKidIsAlreadyExists,
    UnknownKeyStateIsInvalidArgument, UpdateSigningKeyStateSetsAndClearsDeactivatedAt,
    MigrateAgainAppliesNothingAndKeepsVersion, PingSucceedsAndBackendHasAName,
    ConcurrentCreatesWithDistinctNamesAllSucceed, ConcurrentCreatesOfOneNameLetExactlyOneWin);

}  // namespace portcullis::store::testing
