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
#include <atomic>
#include <cstddef>
#include <cstdint>
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

  static RefreshToken MakeRefresh(std::string hash, std::string family, std::string user = "u1",
                                  std::optional<std::string> parent = std::nullopt) {
    RefreshToken token;
    token.token_hash = std::move(hash);
    token.family_id = std::move(family);
    token.user_id = std::move(user);
    token.client_id = "default";
    token.scope = "openid profile";
    token.issued_at = 1'000;
    token.expires_at = 2'000;
    token.family_expires_at = 5'000;
    token.parent_hash = std::move(parent);
    return token;
  }

  static Client MakeClient(std::string client_id) {
    Client client;
    client.client_id = std::move(client_id);
    client.name = "Billing service";
    client.secret_hash = std::string(64, 'a');
    client.grant_types = {"client_credentials", "refresh_token"};
    client.scopes = {"users:read", "audit:read"};
    client.created_at = 1'700'000'000;
    return client;
  }

  static ApiKey MakeApiKey(std::string id, std::string user_id) {
    ApiKey key;
    key.id = std::move(id);
    key.secret_hash = std::string(64, 'b');
    key.user_id = std::move(user_id);
    key.name = "ci deploy";
    key.created_at = 1'700'000'000;
    return key;
  }

  static AuditEvent MakeEvent(UnixSeconds time, std::string type, std::string actor,
                              std::string subject) {
    AuditEvent event;
    event.time = time;
    event.type = std::move(type);
    event.actor = std::move(actor);
    event.subject = std::move(subject);
    return event;
  }

  // A query with the given filters (nullopt = no filter).
  static UserQuery MakeQuery(std::optional<std::string> username_prefix,
                             std::optional<std::string> role = std::nullopt,
                             std::optional<bool> disabled = std::nullopt, std::size_t limit = 100) {
    UserQuery query;
    query.limit = limit;
    query.username_prefix = std::move(username_prefix);
    query.role = std::move(role);
    query.disabled = disabled;
    return query;
  }

  // Ids of the events in the page, in order.
  static std::vector<std::int64_t> Ids(const AuditPage& page) {
    std::vector<std::int64_t> ids;
    for (const AuditEvent& event : page.items) ids.push_back(event.id);
    return ids;
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

TYPED_TEST_P(StoreConformanceTest, ListRolesPagePagesByNameWithPermissionsUntilNoCursor) {
  // Roles with several permissions each: the page limit counts roles, not joined rows.
  for (const char* name : {"billing", "ops", "reader", "zeta"}) {
    Role role;
    role.name = name;
    role.permissions = {"a:read", "b:read", "c:read"};
    ASSERT_TRUE(this->store_->UpsertRole(role).ok());
  }
  std::vector<std::string> names;
  std::string cursor;
  int pages = 0;
  while (true) {
    Result<RolePage> page = this->store_->ListRolesPage(cursor, 2);
    ASSERT_TRUE(page.ok()) << page.status().ToString();
    ++pages;
    EXPECT_LE(page->items.size(), 2u);
    for (const Role& r : page->items) {
      names.push_back(r.name);
      if (r.name != "admin" && r.name != "user") {
        EXPECT_EQ(r.permissions, std::vector<std::string>({"a:read", "b:read", "c:read"}));
      }
    }
    if (!page->next_cursor) break;
    cursor = *page->next_cursor;
    ASSERT_LT(pages, 10);
  }
  EXPECT_EQ(names, std::vector<std::string>({"admin", "billing", "ops", "reader", "user", "zeta"}));
  EXPECT_EQ(pages, 3);
}

TYPED_TEST_P(StoreConformanceTest, ListRolesPageExactPageHasNoCursorAndBadInputIsInvalid) {
  Result<RolePage> page = this->store_->ListRolesPage("", 2);  // the built-in admin and user
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  EXPECT_EQ(page->items.size(), 2u);
  EXPECT_EQ(page->next_cursor, std::nullopt);
  EXPECT_TRUE(HasCode(this->store_->ListRolesPage("", 0), StatusCode::kInvalidArgument));
  EXPECT_TRUE(HasCode(this->store_->ListRolesPage(std::string("a\0b", 3), 2),
                      StatusCode::kInvalidArgument));
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

TYPED_TEST_P(StoreConformanceTest, ReplaceSealedPrivateKeysIsAllOrNothing) {
  ASSERT_TRUE(this->store_->InsertSigningKey(this->MakeKey("k1", 100)).ok());
  ASSERT_TRUE(this->store_->InsertSigningKey(this->MakeKey("k2", 200)).ok());
  const std::string resealed1("\x01new\x00one", 8);
  EXPECT_TRUE(HasCode(this->store_->ReplaceSealedPrivateKeys({{"k1", resealed1}, {"gone", "x"}}),
                      StatusCode::kNotFound));
  Result<std::vector<SigningKey>> keys = this->store_->ListSigningKeys();
  ASSERT_TRUE(keys.ok());
  EXPECT_EQ((*keys)[0].sealed_private_key, std::string("\x00\x01\xff\xfe sealed", 10));

  ASSERT_TRUE(
      this->store_->ReplaceSealedPrivateKeys({{"k1", resealed1}, {"k2", "\x01new two"}}).ok());
  keys = this->store_->ListSigningKeys();
  ASSERT_TRUE(keys.ok());
  EXPECT_EQ((*keys)[0].sealed_private_key, resealed1);
  EXPECT_EQ((*keys)[1].sealed_private_key, "\x01new two");
  EXPECT_EQ((*keys)[0].state, "active");  // nothing else changes
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

// ---- users: credential versions and disabling ----

TYPED_TEST_P(StoreConformanceTest, BumpCredentialVersionIncrementsByOneAndPersists) {
  ASSERT_TRUE(this->store_->CreateUser(this->MakeUser("u1", "alice")).ok());
  Result<std::int64_t> two = this->store_->BumpCredentialVersion("u1");
  ASSERT_TRUE(two.ok()) << two.status().ToString();
  EXPECT_EQ(*two, 2);
  Result<std::int64_t> three = this->store_->BumpCredentialVersion("u1");
  ASSERT_TRUE(three.ok());
  EXPECT_EQ(*three, 3);
  Result<User> found = this->store_->FindUserById("u1");
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(found->credential_version, 3);
  EXPECT_TRUE(HasCode(this->store_->BumpCredentialVersion("nobody"), StatusCode::kNotFound));
}

TYPED_TEST_P(StoreConformanceTest, DisablingBumpsCredentialVersionAndEnablingDoesNot) {
  ASSERT_TRUE(this->store_->CreateUser(this->MakeUser("u1", "alice")).ok());
  Result<UserState> disabled = this->store_->SetUserDisabled("u1", true);
  ASSERT_TRUE(disabled.ok()) << disabled.status().ToString();
  EXPECT_EQ(disabled->id, "u1");
  EXPECT_TRUE(disabled->disabled);
  EXPECT_EQ(disabled->credential_version, 2);

  Result<UserState> enabled = this->store_->SetUserDisabled("u1", false);
  ASSERT_TRUE(enabled.ok());
  EXPECT_FALSE(enabled->disabled);
  EXPECT_EQ(enabled->credential_version, 2);

  Result<User> found = this->store_->FindUserById("u1");
  ASSERT_TRUE(found.ok());
  EXPECT_FALSE(found->disabled);
  EXPECT_EQ(found->credential_version, 2);
  EXPECT_TRUE(HasCode(this->store_->SetUserDisabled("nobody", true), StatusCode::kNotFound));
}

TYPED_TEST_P(StoreConformanceTest, ListUserStatesReturnsEveryUser) {
  Result<std::vector<UserState>> none = this->store_->ListUserStates();
  ASSERT_TRUE(none.ok()) << none.status().ToString();
  EXPECT_TRUE(none->empty());
  ASSERT_TRUE(this->store_->CreateUser(this->MakeUser("u2", "bob")).ok());
  ASSERT_TRUE(this->store_->CreateUser(this->MakeUser("u1", "alice")).ok());
  ASSERT_TRUE(this->store_->SetUserDisabled("u2", true).ok());
  Result<std::vector<UserState>> states = this->store_->ListUserStates();
  ASSERT_TRUE(states.ok());
  std::vector<UserState> sorted = *states;
  std::sort(sorted.begin(), sorted.end(),
            [](const UserState& a, const UserState& b) { return a.id < b.id; });
  ASSERT_EQ(sorted.size(), 2u);
  EXPECT_EQ(sorted[0].id, "u1");
  EXPECT_EQ(sorted[0].credential_version, 1);
  EXPECT_FALSE(sorted[0].disabled);
  EXPECT_EQ(sorted[1].id, "u2");
  EXPECT_EQ(sorted[1].credential_version, 2);
  EXPECT_TRUE(sorted[1].disabled);
}

// ---- refresh tokens ----

TYPED_TEST_P(StoreConformanceTest, InsertedRefreshTokenIsFoundWithEveryField) {
  RefreshToken token = this->MakeRefresh("h1", "f1");
  ASSERT_TRUE(this->store_->InsertRefreshToken(token).ok());
  Result<RefreshToken> found = this->store_->FindRefreshToken("h1");
  ASSERT_TRUE(found.ok()) << found.status().ToString();
  EXPECT_EQ(found->token_hash, "h1");
  EXPECT_EQ(found->family_id, "f1");
  EXPECT_EQ(found->user_id, "u1");
  EXPECT_EQ(found->client_id, "default");
  EXPECT_EQ(found->scope, "openid profile");
  EXPECT_EQ(found->issued_at, 1'000);
  EXPECT_EQ(found->expires_at, 2'000);
  EXPECT_EQ(found->family_expires_at, 5'000);
  EXPECT_EQ(found->parent_hash, std::nullopt);
  EXPECT_EQ(found->used_at, std::nullopt);
  EXPECT_EQ(found->revoked_at, std::nullopt);
  EXPECT_EQ(found->dpop_jkt, std::nullopt);

  EXPECT_TRUE(HasCode(this->store_->InsertRefreshToken(token), StatusCode::kAlreadyExists));
  EXPECT_TRUE(HasCode(this->store_->FindRefreshToken("nope"), StatusCode::kNotFound));
}

TYPED_TEST_P(StoreConformanceTest, FindSuccessorReturnsTheTokenNamingItsParent) {
  ASSERT_TRUE(this->store_->InsertRefreshToken(this->MakeRefresh("h1", "f1")).ok());
  Result<std::optional<RefreshToken>> none = this->store_->FindSuccessor("h1");
  ASSERT_TRUE(none.ok()) << none.status().ToString();
  EXPECT_EQ(*none, std::nullopt);

  ASSERT_TRUE(
      this->store_->InsertRefreshToken(this->MakeRefresh("h2", "f1", "u1", std::string("h1")))
          .ok());
  Result<std::optional<RefreshToken>> successor = this->store_->FindSuccessor("h1");
  ASSERT_TRUE(successor.ok());
  ASSERT_TRUE(successor->has_value());
  EXPECT_EQ((*successor)->token_hash, "h2");
  EXPECT_EQ((*successor)->parent_hash, std::optional<std::string>("h1"));
}

TYPED_TEST_P(StoreConformanceTest, RotateSucceedsOnceThenIsAborted) {
  ASSERT_TRUE(this->store_->InsertRefreshToken(this->MakeRefresh("h1", "f1")).ok());
  RefreshToken next = this->MakeRefresh("h2", "f1", "u1", std::string("h1"));
  ASSERT_TRUE(this->store_->RotateRefreshToken("h1", next, 1'100).ok());

  Result<RefreshToken> old_token = this->store_->FindRefreshToken("h1");
  ASSERT_TRUE(old_token.ok());
  EXPECT_EQ(old_token->used_at, std::optional<UnixSeconds>(1'100));
  EXPECT_EQ(old_token->revoked_at, std::nullopt);
  Result<RefreshToken> new_token = this->store_->FindRefreshToken("h2");
  ASSERT_TRUE(new_token.ok());
  EXPECT_EQ(new_token->parent_hash, std::optional<std::string>("h1"));
  EXPECT_EQ(new_token->used_at, std::nullopt);

  RefreshToken again = this->MakeRefresh("h3", "f1", "u1", std::string("h1"));
  EXPECT_TRUE(HasCode(this->store_->RotateRefreshToken("h1", again, 1'200), StatusCode::kAborted));
  EXPECT_TRUE(HasCode(this->store_->FindRefreshToken("h3"), StatusCode::kNotFound));
  // The first use's time is kept.
  old_token = this->store_->FindRefreshToken("h1");
  ASSERT_TRUE(old_token.ok());
  EXPECT_EQ(old_token->used_at, std::optional<UnixSeconds>(1'100));
}

TYPED_TEST_P(StoreConformanceTest, RotateOfRevokedTokenIsFailedPreconditionAndOfUnknownNotFound) {
  ASSERT_TRUE(this->store_->InsertRefreshToken(this->MakeRefresh("h1", "f1")).ok());
  Result<int> revoked = this->store_->RevokeRefreshFamily("f1", 1'050);
  ASSERT_TRUE(revoked.ok());
  RefreshToken next = this->MakeRefresh("h2", "f1", "u1", std::string("h1"));
  EXPECT_TRUE(HasCode(this->store_->RotateRefreshToken("h1", next, 1'100),
                      StatusCode::kFailedPrecondition));
  EXPECT_TRUE(HasCode(this->store_->FindRefreshToken("h2"), StatusCode::kNotFound));

  RefreshToken orphan = this->MakeRefresh("h9", "f9", "u1", std::string("ghost"));
  EXPECT_TRUE(
      HasCode(this->store_->RotateRefreshToken("ghost", orphan, 1'100), StatusCode::kNotFound));
}

TYPED_TEST_P(StoreConformanceTest, RotateRejectsSuccessorWithWrongParentOrFamily) {
  ASSERT_TRUE(this->store_->InsertRefreshToken(this->MakeRefresh("h1", "f1")).ok());
  RefreshToken no_parent = this->MakeRefresh("h2", "f1");
  EXPECT_TRUE(HasCode(this->store_->RotateRefreshToken("h1", no_parent, 1'100),
                      StatusCode::kInvalidArgument));
  RefreshToken other_family = this->MakeRefresh("h2", "f2", "u1", std::string("h1"));
  EXPECT_TRUE(HasCode(this->store_->RotateRefreshToken("h1", other_family, 1'100),
                      StatusCode::kInvalidArgument));
  Result<RefreshToken> old_token = this->store_->FindRefreshToken("h1");
  ASSERT_TRUE(old_token.ok());
  EXPECT_EQ(old_token->used_at, std::nullopt);
}

TYPED_TEST_P(StoreConformanceTest, RotateIntoAnExistingHashChangesNothing) {
  // The successor's insert is the transaction's last statement (sent with the COMMIT on
  // PostgreSQL): its failure must undo the mark made before it.
  ASSERT_TRUE(this->store_->InsertRefreshToken(this->MakeRefresh("h1", "f1")).ok());
  ASSERT_TRUE(this->store_->InsertRefreshToken(this->MakeRefresh("taken", "f2")).ok());
  RefreshToken next = this->MakeRefresh("taken", "f1", "u1", std::string("h1"));
  EXPECT_TRUE(
      HasCode(this->store_->RotateRefreshToken("h1", next, 1'100), StatusCode::kAlreadyExists));
  Result<RefreshToken> old_token = this->store_->FindRefreshToken("h1");
  ASSERT_TRUE(old_token.ok());
  EXPECT_EQ(old_token->used_at, std::nullopt);
  // The connection is clean afterwards: the next rotation works.
  RefreshToken fresh = this->MakeRefresh("h2", "f1", "u1", std::string("h1"));
  EXPECT_TRUE(this->store_->RotateRefreshToken("h1", fresh, 1'200).ok());
}

TYPED_TEST_P(StoreConformanceTest, ConcurrentWritesEachKeepTheirOwnOutcome) {
  // Rotations, audit rows and clashing rotations from many threads at once: the writes that
  // arrive together share a commit (store/sql/group_commit.h), and each keeps its own outcome —
  // a clash (detected only at the commit on PostgreSQL) fails alone and changes nothing.
  constexpr int kThreads = 8, kRounds = 12;
  ASSERT_TRUE(this->store_->InsertRefreshToken(this->MakeRefresh("taken", "fx")).ok());
  for (int t = 0; t < kThreads; ++t) {
    const std::string family = "f" + std::to_string(t);
    ASSERT_TRUE(this->store_->InsertRefreshToken(this->MakeRefresh(family + "-0", family)).ok());
  }
  std::latch start(kThreads);
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      const std::string family = "f" + std::to_string(t);
      start.arrive_and_wait();
      for (int i = 0; i < kRounds; ++i) {
        const std::string current = family + "-" + std::to_string(i);
        if (t % 4 == 0) {  // a clash first: the successor's hash is taken
          RefreshToken clash = this->MakeRefresh("taken", family, "u1", current);
          if (!HasCode(this->store_->RotateRefreshToken(current, clash, 1'100),
                       StatusCode::kAlreadyExists)) {
            ++failures;
          }
        }
        RefreshToken next =
            this->MakeRefresh(family + "-" + std::to_string(i + 1), family, "u1", current);
        if (!this->store_->RotateRefreshToken(current, next, 1'100).ok()) ++failures;
        AuditEvent event;
        event.time = 1'100;
        event.type = "token.refreshed";
        event.subject = family;
        event.details_json = "{}";
        if (!this->store_->AppendAudit(event).ok()) ++failures;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  for (int t = 0; t < kThreads; ++t) {
    const std::string family = "f" + std::to_string(t);
    for (int i = 0; i <= kRounds; ++i) {
      Result<RefreshToken> token = this->store_->FindRefreshToken(family + "-" + std::to_string(i));
      ASSERT_TRUE(token.ok()) << family << " " << i;
      EXPECT_EQ(token->used_at.has_value(), i < kRounds) << family << " " << i;
    }
  }
  Result<RefreshToken> taken = this->store_->FindRefreshToken("taken");
  ASSERT_TRUE(taken.ok());
  EXPECT_EQ(taken->family_id, "fx");
  AuditFilter filter;
  filter.limit = 500;
  Result<AuditPage> page = this->store_->ListAudit(filter);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->items.size(), static_cast<std::size_t>(kThreads * kRounds));
}

TYPED_TEST_P(StoreConformanceTest, ConcurrentRotationsOfOneTokenLetExactlyOneWin) {
  ASSERT_TRUE(this->store_->InsertRefreshToken(this->MakeRefresh("h0", "f1")).ok());
  constexpr int kThreads = 16;
  std::vector<Status> results(kThreads);
  std::latch start(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      RefreshToken next =
          this->MakeRefresh("next" + std::to_string(i), "f1", "u1", std::string("h0"));
      start.arrive_and_wait();
      results[static_cast<std::size_t>(i)] = this->store_->RotateRefreshToken("h0", next, 1'100);
    });
  }
  for (std::thread& t : threads) t.join();
  int winners = 0;
  for (const Status& s : results) {
    if (s.ok()) {
      ++winners;
    } else {
      EXPECT_TRUE(HasCode(s, StatusCode::kAborted));
    }
  }
  EXPECT_EQ(winners, 1);
  Result<std::optional<RefreshToken>> successor = this->store_->FindSuccessor("h0");
  ASSERT_TRUE(successor.ok());
  EXPECT_TRUE(successor->has_value());
  int inserted = 0;
  for (int i = 0; i < kThreads; ++i) {
    if (this->store_->FindRefreshToken("next" + std::to_string(i)).ok()) ++inserted;
  }
  EXPECT_EQ(inserted, 1);
}

TYPED_TEST_P(StoreConformanceTest, ReplaceUnusedSuccessorRevokesItAndInsertsTheReplacement) {
  ASSERT_TRUE(this->store_->InsertRefreshToken(this->MakeRefresh("h1", "f1")).ok());
  ASSERT_TRUE(
      this->store_
          ->RotateRefreshToken("h1", this->MakeRefresh("h2", "f1", "u1", std::string("h1")), 1'100)
          .ok());
  // The client lost the response and presents h1 again within the grace window.
  RefreshToken replacement = this->MakeRefresh("h3", "f1", "u1", std::string("h1"));
  ASSERT_TRUE(this->store_->ReplaceUnusedSuccessor("h2", replacement, 1'105).ok());

  Result<RefreshToken> h2 = this->store_->FindRefreshToken("h2");
  ASSERT_TRUE(h2.ok());
  EXPECT_EQ(h2->revoked_at, std::optional<UnixSeconds>(1'105));
  Result<RefreshToken> h3 = this->store_->FindRefreshToken("h3");
  ASSERT_TRUE(h3.ok());
  EXPECT_EQ(h3->revoked_at, std::nullopt);
  // The newest token naming h1 is its successor now.
  Result<std::optional<RefreshToken>> successor = this->store_->FindSuccessor("h1");
  ASSERT_TRUE(successor.ok());
  ASSERT_TRUE(successor->has_value());
  EXPECT_EQ((*successor)->token_hash, "h3");
}

TYPED_TEST_P(StoreConformanceTest, ReplaceUnusedSuccessorIsAbortedWhenSuccessorIsUsedOrRevoked) {
  ASSERT_TRUE(this->store_->InsertRefreshToken(this->MakeRefresh("h1", "f1")).ok());
  ASSERT_TRUE(
      this->store_
          ->RotateRefreshToken("h1", this->MakeRefresh("h2", "f1", "u1", std::string("h1")), 1'100)
          .ok());
  ASSERT_TRUE(
      this->store_
          ->RotateRefreshToken("h2", this->MakeRefresh("h3", "f1", "u1", std::string("h2")), 1'110)
          .ok());
  // h2 is used.
  EXPECT_TRUE(HasCode(this->store_->ReplaceUnusedSuccessor(
                          "h2", this->MakeRefresh("h4", "f1", "u1", std::string("h1")), 1'120),
                      StatusCode::kAborted));
  EXPECT_TRUE(HasCode(this->store_->FindRefreshToken("h4"), StatusCode::kNotFound));
  // h3 is revoked.
  ASSERT_TRUE(this->store_->RevokeRefreshFamily("f1", 1'130).ok());
  EXPECT_TRUE(HasCode(this->store_->ReplaceUnusedSuccessor(
                          "h3", this->MakeRefresh("h5", "f1", "u1", std::string("h2")), 1'140),
                      StatusCode::kAborted));
  // Unknown.
  EXPECT_TRUE(HasCode(this->store_->ReplaceUnusedSuccessor(
                          "ghost", this->MakeRefresh("h6", "f1", "u1", std::string("h2")), 1'140),
                      StatusCode::kAborted));
  EXPECT_TRUE(HasCode(this->store_->FindRefreshToken("h5"), StatusCode::kNotFound));
}

TYPED_TEST_P(StoreConformanceTest, RevokeFamilyCountsOnlyNotYetRevokedTokensOfThatFamily) {
  ASSERT_TRUE(this->store_->InsertRefreshToken(this->MakeRefresh("a1", "fa")).ok());
  ASSERT_TRUE(
      this->store_->InsertRefreshToken(this->MakeRefresh("a2", "fa", "u1", std::string("a1")))
          .ok());
  ASSERT_TRUE(this->store_->InsertRefreshToken(this->MakeRefresh("b1", "fb")).ok());
  Result<int> first = this->store_->RevokeRefreshFamily("fa", 1'500);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(*first, 2);
  Result<int> second = this->store_->RevokeRefreshFamily("fa", 1'600);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(*second, 0);
  Result<RefreshToken> a1 = this->store_->FindRefreshToken("a1");
  ASSERT_TRUE(a1.ok());
  EXPECT_EQ(a1->revoked_at, std::optional<UnixSeconds>(1'500));  // the first revocation's time
  Result<RefreshToken> b1 = this->store_->FindRefreshToken("b1");
  ASSERT_TRUE(b1.ok());
  EXPECT_EQ(b1->revoked_at, std::nullopt);
  Result<int> unknown = this->store_->RevokeRefreshFamily("ghost", 1'600);
  ASSERT_TRUE(unknown.ok());
  EXPECT_EQ(*unknown, 0);
}

TYPED_TEST_P(StoreConformanceTest, RevokeUserRefreshTokensCountsEveryFamilyOfThatUser) {
  ASSERT_TRUE(this->store_->InsertRefreshToken(this->MakeRefresh("a1", "fa", "u1")).ok());
  ASSERT_TRUE(this->store_->InsertRefreshToken(this->MakeRefresh("b1", "fb", "u1")).ok());
  ASSERT_TRUE(this->store_->InsertRefreshToken(this->MakeRefresh("c1", "fc", "u2")).ok());
  ASSERT_TRUE(this->store_->RevokeRefreshFamily("fb", 1'400).ok());
  Result<int> revoked = this->store_->RevokeUserRefreshTokens("u1", 1'500);
  ASSERT_TRUE(revoked.ok()) << revoked.status().ToString();
  EXPECT_EQ(*revoked, 1);
  Result<RefreshToken> c1 = this->store_->FindRefreshToken("c1");
  ASSERT_TRUE(c1.ok());
  EXPECT_EQ(c1->revoked_at, std::nullopt);
}

TYPED_TEST_P(StoreConformanceTest, PruneRefreshTokensDeletesFamiliesExpiredAtOrBeforeNow) {
  RefreshToken before = this->MakeRefresh("before", "f1");
  before.family_expires_at = 4'999;
  RefreshToken at = this->MakeRefresh("at", "f2");
  at.family_expires_at = 5'000;
  RefreshToken after = this->MakeRefresh("after", "f3");
  after.family_expires_at = 5'001;
  for (const RefreshToken& token : {before, at, after}) {
    ASSERT_TRUE(this->store_->InsertRefreshToken(token).ok());
  }
  Result<int> pruned = this->store_->PruneRefreshTokens(5'000);
  ASSERT_TRUE(pruned.ok()) << pruned.status().ToString();
  EXPECT_EQ(*pruned, 2);
  EXPECT_TRUE(HasCode(this->store_->FindRefreshToken("before"), StatusCode::kNotFound));
  EXPECT_TRUE(HasCode(this->store_->FindRefreshToken("at"), StatusCode::kNotFound));
  EXPECT_TRUE(this->store_->FindRefreshToken("after").ok());
}

// ---- access-token revocation list ----

TYPED_TEST_P(StoreConformanceTest, RevokedJtiIsIdempotentListedUntilExpiryAndPruned) {
  ASSERT_TRUE(this->store_->AddRevokedJti("j1", 2'000).ok());
  ASSERT_TRUE(this->store_->AddRevokedJti("j1", 2'000).ok());
  ASSERT_TRUE(this->store_->AddRevokedJti("j2", 1'000).ok());
  ASSERT_TRUE(this->store_->AddRevokedJti("j3", 3'000).ok());

  Result<std::vector<RevokedJti>> live = this->store_->ListRevokedJtis(1'000);
  ASSERT_TRUE(live.ok()) << live.status().ToString();
  std::vector<std::string> jtis;
  for (const RevokedJti& entry : *live) jtis.push_back(entry.jti);
  std::sort(jtis.begin(), jtis.end());
  EXPECT_EQ(jtis, std::vector<std::string>({"j1", "j3"}));  // j2 expires at 1'000: excluded
  for (const RevokedJti& entry : *live) {
    EXPECT_EQ(entry.expires_at, entry.jti == "j1" ? 2'000 : 3'000);
  }

  Result<int> pruned = this->store_->PruneRevokedJtis(2'000);
  ASSERT_TRUE(pruned.ok()) << pruned.status().ToString();
  EXPECT_EQ(*pruned, 2);  // j2 and j1 (== now)
  live = this->store_->ListRevokedJtis(0);
  ASSERT_TRUE(live.ok());
  ASSERT_EQ(live->size(), 1u);
  EXPECT_EQ((*live)[0].jti, "j3");
}

TYPED_TEST_P(StoreConformanceTest, RevokingAJtiAgainNeverShortensItsExpiry) {
  ASSERT_TRUE(this->store_->AddRevokedJti("j1", 3'000).ok());
  ASSERT_TRUE(this->store_->AddRevokedJti("j1", 2'000).ok());
  Result<std::vector<RevokedJti>> live = this->store_->ListRevokedJtis(2'500);
  ASSERT_TRUE(live.ok());
  ASSERT_EQ(live->size(), 1u);
  EXPECT_EQ((*live)[0].expires_at, 3'000);
}

// ---- OAuth2 clients ----

TYPED_TEST_P(StoreConformanceTest, CreatedClientIsFoundWithEveryFieldAndDuplicateIsAlreadyExists) {
  Client client = this->MakeClient("billing");
  client.scopes = {"z:last", "a:first", "quote\"and\\backslash"};
  ASSERT_TRUE(this->store_->CreateClient(client).ok());
  Result<Client> found = this->store_->FindClient("billing");
  ASSERT_TRUE(found.ok()) << found.status().ToString();
  EXPECT_EQ(found->client_id, "billing");
  EXPECT_EQ(found->name, "Billing service");
  EXPECT_EQ(found->secret_hash, std::string(64, 'a'));
  EXPECT_EQ(found->grant_types, std::vector<std::string>({"client_credentials", "refresh_token"}));
  EXPECT_EQ(found->scopes, client.scopes);  // order kept
  EXPECT_EQ(found->created_at, 1'700'000'000);

  EXPECT_TRUE(
      HasCode(this->store_->CreateClient(this->MakeClient("billing")), StatusCode::kAlreadyExists));
  EXPECT_TRUE(HasCode(this->store_->FindClient("ghost"), StatusCode::kNotFound));
}

TYPED_TEST_P(StoreConformanceTest, NewClientWithoutBrowserMetadataGetsTheDefaults) {
  ASSERT_TRUE(this->store_->CreateClient(this->MakeClient("plain")).ok());
  Result<Client> found = this->store_->FindClient("plain");
  ASSERT_TRUE(found.ok()) << found.status().ToString();
  EXPECT_TRUE(found->redirect_uris.empty());
  EXPECT_EQ(found->token_endpoint_auth_method, "client_secret_basic");
  EXPECT_TRUE(found->post_logout_redirect_uris.empty());
  EXPECT_EQ(found->id_token_signed_response_alg, "RS256");
  EXPECT_FALSE(found->require_dpop);
}

TYPED_TEST_P(StoreConformanceTest, PublicClientWithRedirectUrisRoundTripsVerbatimInOrder) {
  Client client = this->MakeClient("spa");
  client.secret_hash.clear();
  client.grant_types = {"authorization_code", "refresh_token"};
  // Verbatim: no normalization of case, percent-escapes, trailing slashes or default ports.
  client.redirect_uris = {"https://App.example:443/cb/?x=%2F&y=\"q\"", "http://127.0.0.1:8080/cb",
                          "https://app.example/cb/"};
  client.token_endpoint_auth_method = "none";
  client.post_logout_redirect_uris = {"https://app.example/bye", "http://localhost/bye"};
  client.id_token_signed_response_alg = "EdDSA";
  ASSERT_TRUE(this->store_->CreateClient(client).ok());

  Result<Client> found = this->store_->FindClient("spa");
  ASSERT_TRUE(found.ok()) << found.status().ToString();
  EXPECT_EQ(found->secret_hash, "");
  EXPECT_EQ(found->grant_types, client.grant_types);
  EXPECT_EQ(found->redirect_uris, client.redirect_uris);
  EXPECT_EQ(found->token_endpoint_auth_method, "none");
  EXPECT_EQ(found->post_logout_redirect_uris, client.post_logout_redirect_uris);
  EXPECT_EQ(found->id_token_signed_response_alg, "EdDSA");

  Result<ClientPage> page = this->store_->ListClients("", 10);
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  ASSERT_EQ(page->items.size(), 1u);
  EXPECT_EQ(page->items[0].redirect_uris, client.redirect_uris);
  EXPECT_EQ(page->items[0].token_endpoint_auth_method, "none");
}

TYPED_TEST_P(StoreConformanceTest, ClientWithUnknownAuthMethodOrAlgorithmIsRefusedByTheSchema) {
  Client bad_method = this->MakeClient("bad-method");
  bad_method.token_endpoint_auth_method = "private_key_jwt";
  EXPECT_FALSE(this->store_->CreateClient(bad_method).ok());
  Client bad_alg = this->MakeClient("bad-alg");
  bad_alg.id_token_signed_response_alg = "none";
  EXPECT_FALSE(this->store_->CreateClient(bad_alg).ok());
  EXPECT_TRUE(HasCode(this->store_->FindClient("bad-method"), StatusCode::kNotFound));
  EXPECT_TRUE(HasCode(this->store_->FindClient("bad-alg"), StatusCode::kNotFound));
}

TYPED_TEST_P(StoreConformanceTest, ClientWithNoGrantTypesOrScopesRoundTrips) {
  Client client = this->MakeClient("bare");
  client.grant_types.clear();
  client.scopes.clear();
  ASSERT_TRUE(this->store_->CreateClient(client).ok());
  Result<Client> found = this->store_->FindClient("bare");
  ASSERT_TRUE(found.ok()) << found.status().ToString();
  EXPECT_TRUE(found->grant_types.empty());
  EXPECT_TRUE(found->scopes.empty());
}

TYPED_TEST_P(StoreConformanceTest, ListClientsPagesByClientIdUntilNoCursor) {
  for (const char* id : {"delta", "bravo", "echo", "alpha", "charlie"}) {
    ASSERT_TRUE(this->store_->CreateClient(this->MakeClient(id)).ok());
  }
  std::vector<std::string> seen;
  std::vector<std::size_t> page_sizes;
  std::string cursor;
  for (int guard = 0; guard < 10; ++guard) {
    Result<ClientPage> page = this->store_->ListClients(cursor, 2);
    ASSERT_TRUE(page.ok()) << page.status().ToString();
    page_sizes.push_back(page->items.size());
    for (const Client& client : page->items) seen.push_back(client.client_id);
    if (!page->next_cursor.has_value()) break;
    cursor = *page->next_cursor;
  }
  EXPECT_EQ(seen, std::vector<std::string>({"alpha", "bravo", "charlie", "delta", "echo"}));
  EXPECT_EQ(page_sizes, std::vector<std::size_t>({2, 2, 1}));
  EXPECT_TRUE(HasCode(this->store_->ListClients("", 0), StatusCode::kInvalidArgument));
}

TYPED_TEST_P(StoreConformanceTest, DeleteClientRevokesItsRefreshTokensOnly) {
  ASSERT_TRUE(this->store_->CreateClient(this->MakeClient("billing")).ok());
  RefreshToken mine = this->MakeRefresh("mine", "f1");
  mine.client_id = "billing";
  RefreshToken other = this->MakeRefresh("other", "f2");  // client "default"
  ASSERT_TRUE(this->store_->InsertRefreshToken(mine).ok());
  ASSERT_TRUE(this->store_->InsertRefreshToken(other).ok());

  ASSERT_TRUE(this->store_->DeleteClient("billing", 1'700).ok());
  EXPECT_TRUE(HasCode(this->store_->FindClient("billing"), StatusCode::kNotFound));
  Result<RefreshToken> found_mine = this->store_->FindRefreshToken("mine");
  ASSERT_TRUE(found_mine.ok());
  EXPECT_EQ(found_mine->revoked_at, std::optional<UnixSeconds>(1'700));
  Result<RefreshToken> found_other = this->store_->FindRefreshToken("other");
  ASSERT_TRUE(found_other.ok());
  EXPECT_EQ(found_other->revoked_at, std::nullopt);

  EXPECT_TRUE(HasCode(this->store_->DeleteClient("billing", 1'800), StatusCode::kNotFound));
}

// ---- audit log ----

TYPED_TEST_P(StoreConformanceTest, AppendedAuditEventsGetIncreasingIdsAndRoundTrip) {
  AuditEvent event = this->MakeEvent(100, "login.succeeded", "u1", "u1");
  event.client_ip = "192.0.2.7";
  event.user_agent = "curl/8.0";
  event.request_id = "req-1";
  event.details_json = R"({"method":"password"})";
  Result<std::int64_t> first = this->store_->AppendAudit(event);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  Result<std::int64_t> second =
      this->store_->AppendAudit(this->MakeEvent(90, "login.failed", "", "u2"));
  ASSERT_TRUE(second.ok());
  EXPECT_GT(*second, *first);

  Result<AuditPage> page = this->store_->ListAudit(AuditFilter{});
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  ASSERT_EQ(page->items.size(), 2u);
  EXPECT_EQ(page->next_cursor, std::nullopt);
  EXPECT_EQ(page->items[0].id, *second);  // newest first, by id not time
  const AuditEvent& read = page->items[1];
  EXPECT_EQ(read.id, *first);
  EXPECT_EQ(read.time, 100);
  EXPECT_EQ(read.type, "login.succeeded");
  EXPECT_EQ(read.actor, "u1");
  EXPECT_EQ(read.subject, "u1");
  EXPECT_EQ(read.client_ip, "192.0.2.7");
  EXPECT_EQ(read.user_agent, "curl/8.0");
  EXPECT_EQ(read.request_id, "req-1");
  EXPECT_EQ(read.details_json, R"({"method":"password"})");
  EXPECT_EQ(page->items[0].actor, "");
  EXPECT_EQ(page->items[0].details_json, "{}");
}

TYPED_TEST_P(StoreConformanceTest, AuditDetailsMustBeAJsonObject) {
  AuditEvent event = this->MakeEvent(100, "user.updated", "u1", "u2");
  for (const char* bad : {"[1]", "not json", R"({"a":1,"a":2})"}) {
    event.details_json = bad;
    EXPECT_TRUE(HasCode(this->store_->AppendAudit(event), StatusCode::kInvalidArgument)) << bad;
  }
  Result<AuditPage> page = this->store_->ListAudit(AuditFilter{});
  ASSERT_TRUE(page.ok());
  EXPECT_TRUE(page->items.empty());
}

TYPED_TEST_P(StoreConformanceTest, ListAuditFiltersBySinceTypeAndUser) {
  std::vector<std::int64_t> ids;
  for (const AuditEvent& event : {this->MakeEvent(100, "login.failed", "", "alice"),
                                  this->MakeEvent(200, "login.succeeded", "alice", "alice"),
                                  this->MakeEvent(300, "user.updated", "admin", "bob"),
                                  this->MakeEvent(400, "user.roles_changed", "bob", "carol"),
                                  this->MakeEvent(500, "login.succeeded", "bob", "bob")}) {
    Result<std::int64_t> id = this->store_->AppendAudit(event);
    ASSERT_TRUE(id.ok()) << id.status().ToString();
    ids.push_back(*id);
  }
  AuditFilter since;
  since.since = 300;
  Result<AuditPage> page = this->store_->ListAudit(since);
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  EXPECT_EQ(this->Ids(*page), std::vector<std::int64_t>({ids[4], ids[3], ids[2]}));

  AuditFilter type;
  type.type = "login.succeeded";
  page = this->store_->ListAudit(type);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(this->Ids(*page), std::vector<std::int64_t>({ids[4], ids[1]}));

  AuditFilter user;
  user.user = "bob";  // as actor or as subject
  page = this->store_->ListAudit(user);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(this->Ids(*page), std::vector<std::int64_t>({ids[4], ids[3], ids[2]}));

  AuditFilter all;
  all.since = 150;
  all.type = "login.succeeded";
  all.user = "alice";
  page = this->store_->ListAudit(all);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(this->Ids(*page), std::vector<std::int64_t>({ids[1]}));

  AuditFilter zero;
  zero.limit = 0;
  EXPECT_TRUE(HasCode(this->store_->ListAudit(zero), StatusCode::kInvalidArgument));
}

TYPED_TEST_P(StoreConformanceTest, ListAuditPagesNewestFirstWithTheLastIdAsCursor) {
  std::vector<std::int64_t> ids;
  for (int i = 0; i < 5; ++i) {
    Result<std::int64_t> id = this->store_->AppendAudit(
        this->MakeEvent(1'000 + i, "token.refreshed", "u1", "family-" + std::to_string(i)));
    ASSERT_TRUE(id.ok()) << id.status().ToString();
    ids.push_back(*id);
  }
  std::vector<std::int64_t> seen;
  std::vector<std::size_t> page_sizes;
  AuditFilter filter;
  filter.limit = 2;
  for (int guard = 0; guard < 10; ++guard) {
    Result<AuditPage> page = this->store_->ListAudit(filter);
    ASSERT_TRUE(page.ok()) << page.status().ToString();
    page_sizes.push_back(page->items.size());
    for (const AuditEvent& event : page->items) seen.push_back(event.id);
    if (!page->next_cursor.has_value()) break;
    EXPECT_EQ(*page->next_cursor, std::to_string(page->items.back().id));
    filter.before_id = std::stoll(*page->next_cursor);
  }
  EXPECT_EQ(seen, std::vector<std::int64_t>({ids[4], ids[3], ids[2], ids[1], ids[0]}));
  EXPECT_EQ(page_sizes, std::vector<std::size_t>({2, 2, 1}));
}

// ---- ThrottleStore ----

TYPED_TEST_P(StoreConformanceTest, PutThrottleInsertsThenReplacesEveryField) {
  ThrottleRecord record{.key = "pair:alice|203.0.113.7",
                        .failures = 3,
                        .window_start = 0,
                        .locked_until = 0,
                        .lock_level = 0,
                        .updated_at = 1'000};
  ASSERT_TRUE(this->store_->PutThrottle(record).ok());
  Result<std::optional<ThrottleRecord>> got = this->store_->GetThrottle(record.key);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  record.version = 1;
  EXPECT_EQ(*got, record);

  record.failures = 5;
  record.window_start = 990;
  record.locked_until = 1'060;
  record.lock_level = 1;
  record.updated_at = 1'001;
  record.in_flight = 2;
  record.in_flight_until = 1'121;
  record.version = 77;  // ignored
  ASSERT_TRUE(this->store_->PutThrottle(record).ok());
  got = this->store_->GetThrottle(record.key);
  ASSERT_TRUE(got.ok());
  record.version = 2;
  EXPECT_EQ(*got, record);
}

TYPED_TEST_P(StoreConformanceTest, CompareAndSwapThrottlesWritesAllOrNothing) {
  // Absent keys are swapped in with version 0.
  ThrottleRecord pair{.key = "pair:bob|10.0.0.1", .failures = 1, .updated_at = 10, .in_flight = 1};
  ThrottleRecord ip{.key = "ip:10.0.0.1", .failures = 1, .updated_at = 10};
  Result<bool> swapped = this->store_->CompareAndSwapThrottles({pair, ip});
  ASSERT_TRUE(swapped.ok()) << swapped.status().ToString();
  EXPECT_TRUE(*swapped);
  Result<std::optional<ThrottleRecord>> got = this->store_->GetThrottle(pair.key);
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ((*got)->version, 1);
  EXPECT_EQ((*got)->in_flight, 1);

  // A second writer that read version 1 wins once; the one holding the stale version loses and
  // nothing of its batch is written, not even the record that was still current.
  ThrottleRecord next = **got;
  next.failures = 2;
  swapped = this->store_->CompareAndSwapThrottles({next});
  ASSERT_TRUE(swapped.ok());
  EXPECT_TRUE(*swapped);
  ThrottleRecord stale = next;  // still version 1
  stale.failures = 9;
  ThrottleRecord ip_now = ip;
  ip_now.version = 1;
  ip_now.failures = 9;
  swapped = this->store_->CompareAndSwapThrottles({ip_now, stale});
  ASSERT_TRUE(swapped.ok());
  EXPECT_FALSE(*swapped);
  EXPECT_EQ((*this->store_->GetThrottle(pair.key))->failures, 2);
  EXPECT_EQ((*this->store_->GetThrottle(ip.key))->failures, 1);
  // Inserting a key that exists is a lost race too.
  swapped = this->store_->CompareAndSwapThrottles({ThrottleRecord{.key = ip.key, .updated_at = 1}});
  ASSERT_TRUE(swapped.ok());
  EXPECT_FALSE(*swapped);
  EXPECT_TRUE(HasCode(this->store_->CompareAndSwapThrottles({ThrottleRecord{}}),
                      StatusCode::kInvalidArgument));
}

TYPED_TEST_P(StoreConformanceTest, ConcurrentCompareAndSwapIncrementsLoseNoUpdate) {
  constexpr int kThreads = 4;
  constexpr int kIncrements = 25;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kIncrements; ++i) {
        while (true) {
          Result<std::optional<ThrottleRecord>> got = this->store_->GetThrottle("ip:counter");
          ASSERT_TRUE(got.ok()) << got.status().ToString();
          ThrottleRecord record = got->value_or(ThrottleRecord{.key = "ip:counter"});
          ++record.failures;
          record.updated_at = 1;
          Result<bool> swapped = this->store_->CompareAndSwapThrottles({record});
          if (!swapped.ok() && swapped.status().code() == StatusCode::kUnavailable) continue;
          ASSERT_TRUE(swapped.ok()) << swapped.status().ToString();
          if (*swapped) break;
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ((*this->store_->GetThrottle("ip:counter"))->failures, kThreads * kIncrements);
}

TYPED_TEST_P(StoreConformanceTest, UnknownThrottleKeyIsNulloptAndEmptyKeyIsInvalidArgument) {
  Result<std::optional<ThrottleRecord>> got = this->store_->GetThrottle("ip:198.51.100.1");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(*got, std::nullopt);
  EXPECT_TRUE(HasCode(this->store_->PutThrottle(ThrottleRecord{}), StatusCode::kInvalidArgument));
}

TYPED_TEST_P(StoreConformanceTest, GetThrottlesReadsEveryKeyInOrder) {
  ASSERT_TRUE(this->store_->PutThrottle({.key = "ip:a", .failures = 1, .updated_at = 5}).ok());
  ASSERT_TRUE(this->store_->PutThrottle({.key = "ip:c", .failures = 3, .updated_at = 5}).ok());
  Result<std::vector<std::optional<ThrottleRecord>>> got =
      this->store_->GetThrottles({"ip:c", "ip:b", "ip:a"});
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  ASSERT_EQ(got->size(), 3u);
  ASSERT_TRUE((*got)[0].has_value());
  EXPECT_EQ((*got)[0]->key, "ip:c");
  EXPECT_EQ((*got)[0]->failures, 3);
  EXPECT_EQ((*got)[1], std::nullopt);
  ASSERT_TRUE((*got)[2].has_value());
  EXPECT_EQ((*got)[2]->failures, 1);
  Result<std::vector<std::optional<ThrottleRecord>>> none = this->store_->GetThrottles({});
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

TYPED_TEST_P(StoreConformanceTest, ThrottlesOfUsersReturnsExactlyTheirAccountAndPairRecords) {
  for (const char* key :
       {"account:alice", "pair:alice|10.0.0.1", "pair:alice|2001:db8::/64", "pair:alice|x|10.0.0.1",
        "account:alice|x", "pair:alicia|10.0.0.1", "ip:10.0.0.1", "account:bob"}) {
    ASSERT_TRUE(this->store_->PutThrottle({.key = key, .locked_until = 99, .updated_at = 5}).ok());
  }
  Result<std::vector<ThrottleRecord>> got = this->store_->ThrottlesOfUsers({"alice", "nobody"});
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  std::vector<std::string> keys;
  for (const ThrottleRecord& record : *got) {
    keys.push_back(record.key);
    EXPECT_EQ(record.locked_until, 99);
  }
  std::sort(keys.begin(), keys.end());
  EXPECT_EQ(keys, (std::vector<std::string>{"account:alice", "pair:alice|10.0.0.1",
                                            "pair:alice|2001:db8::/64"}));
  Result<std::vector<ThrottleRecord>> none = this->store_->ThrottlesOfUsers({});
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

TYPED_TEST_P(StoreConformanceTest, DeleteThrottleIsIdempotent) {
  ASSERT_TRUE(this->store_->PutThrottle({.key = "ip:198.51.100.1", .updated_at = 5}).ok());
  EXPECT_TRUE(this->store_->DeleteThrottle("ip:198.51.100.1").ok());
  EXPECT_TRUE(this->store_->DeleteThrottle("ip:198.51.100.1").ok());
  Result<std::optional<ThrottleRecord>> got = this->store_->GetThrottle("ip:198.51.100.1");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(*got, std::nullopt);
}

TYPED_TEST_P(StoreConformanceTest, ListThrottlesReturnsRecordsUpdatedSinceOrderedByKey) {
  ASSERT_TRUE(this->store_->PutThrottle({.key = "ip:b", .failures = 1, .updated_at = 100}).ok());
  ASSERT_TRUE(
      this->store_->PutThrottle({.key = "account:a", .failures = 2, .updated_at = 200}).ok());
  ASSERT_TRUE(this->store_->PutThrottle({.key = "ip:a", .failures = 3, .updated_at = 99}).ok());
  Result<std::vector<ThrottleRecord>> listed = this->store_->ListThrottles(100);
  ASSERT_TRUE(listed.ok()) << listed.status().ToString();
  std::vector<std::string> keys;
  for (const ThrottleRecord& record : *listed) keys.push_back(record.key);
  EXPECT_EQ(keys, std::vector<std::string>({"account:a", "ip:b"}));
  EXPECT_EQ((*listed)[0].failures, 2);
}

TYPED_TEST_P(StoreConformanceTest, PruneThrottlesDeletesRowsUpdatedBeforeTheCutoff) {
  ASSERT_TRUE(this->store_->PutThrottle({.key = "ip:old", .updated_at = 10}).ok());
  ASSERT_TRUE(
      this->store_->PutThrottle({.key = "ip:locked", .locked_until = 500, .updated_at = 99}).ok());
  ASSERT_TRUE(this->store_->PutThrottle({.key = "ip:edge", .updated_at = 100}).ok());
  Result<int> pruned = this->store_->PruneThrottles(100);
  ASSERT_TRUE(pruned.ok()) << pruned.status().ToString();
  EXPECT_EQ(*pruned, 2);
  Result<std::vector<ThrottleRecord>> left = this->store_->ListThrottles(0);
  ASSERT_TRUE(left.ok());
  ASSERT_EQ(left->size(), 1u);
  EXPECT_EQ((*left)[0].key, "ip:edge");
}

TYPED_TEST_P(StoreConformanceTest, DeleteThrottlesForUserRemovesOnlyThatUsersPairsAndAccount) {
  for (const char* key :
       {"account:bob", "pair:bob|10.0.0.1", "pair:bob|2001:db8::1", "account:bobby",
        "pair:bobby|10.0.0.1", "pair:bob|x|10.0.0.1", "pair:bo|10.0.0.1", "ip:10.0.0.1"}) {
    ASSERT_TRUE(this->store_->PutThrottle({.key = key, .failures = 1, .updated_at = 1}).ok());
  }
  Result<int> deleted = this->store_->DeleteThrottlesForUser("bob");
  ASSERT_TRUE(deleted.ok()) << deleted.status().ToString();
  EXPECT_EQ(*deleted, 3);
  Result<std::vector<ThrottleRecord>> left = this->store_->ListThrottles(0);
  ASSERT_TRUE(left.ok());
  std::vector<std::string> keys;
  for (const ThrottleRecord& record : *left) keys.push_back(record.key);
  // Bytewise key order: 'b' < '|'.
  EXPECT_EQ(keys, std::vector<std::string>({"account:bobby", "ip:10.0.0.1", "pair:bobby|10.0.0.1",
                                            "pair:bob|x|10.0.0.1", "pair:bo|10.0.0.1"}));
  deleted = this->store_->DeleteThrottlesForUser("nobody");
  ASSERT_TRUE(deleted.ok());
  EXPECT_EQ(*deleted, 0);
}

TYPED_TEST_P(StoreConformanceTest, KnownSourceIsKnownSinceItsLatestSuccessOnly) {
  ASSERT_TRUE(this->store_->RecordKnownSource("alice", "203.0.113.0/24", 1'000).ok());
  ASSERT_TRUE(this->store_->RecordKnownSource("alice", "203.0.113.0/24", 500).ok());  // older
  Result<bool> known = this->store_->IsKnownSource("alice", "203.0.113.0/24", 1'000);
  ASSERT_TRUE(known.ok()) << known.status().ToString();
  EXPECT_TRUE(*known);
  known = this->store_->IsKnownSource("alice", "203.0.113.0/24", 1'001);
  ASSERT_TRUE(known.ok());
  EXPECT_FALSE(*known);
  known = this->store_->IsKnownSource("alice", "198.51.100.0/24", 0);
  ASSERT_TRUE(known.ok());
  EXPECT_FALSE(*known);
  known = this->store_->IsKnownSource("mallory", "203.0.113.0/24", 0);
  ASSERT_TRUE(known.ok());
  EXPECT_FALSE(*known);

  ASSERT_TRUE(this->store_->RecordKnownSource("alice", "203.0.113.0/24", 2'000).ok());
  known = this->store_->IsKnownSource("alice", "203.0.113.0/24", 1'500);
  ASSERT_TRUE(known.ok());
  EXPECT_TRUE(*known);
}

TYPED_TEST_P(StoreConformanceTest, PruneKnownSourcesDeletesThoseLastUsedBefore) {
  ASSERT_TRUE(this->store_->RecordKnownSource("alice", "203.0.113.0/24", 100).ok());
  ASSERT_TRUE(this->store_->RecordKnownSource("alice", "2001:db8::/64", 200).ok());
  Result<int> pruned = this->store_->PruneKnownSources(200);
  ASSERT_TRUE(pruned.ok()) << pruned.status().ToString();
  EXPECT_EQ(*pruned, 1);
  Result<bool> known = this->store_->IsKnownSource("alice", "2001:db8::/64", 0);
  ASSERT_TRUE(known.ok());
  EXPECT_TRUE(*known);
  known = this->store_->IsKnownSource("alice", "203.0.113.0/24", 0);
  ASSERT_TRUE(known.ok());
  EXPECT_FALSE(*known);
}

TYPED_TEST_P(StoreConformanceTest, ConcurrentThrottleUpsertsOfOneKeyLeaveOneWholeRecord) {
  constexpr int kThreads = 8;
  std::latch start(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      start.arrive_and_wait();
      const std::int64_t n = i + 1;
      EXPECT_TRUE(this->store_
                      ->PutThrottle({.key = "pair:carol|10.0.0.1",
                                     .failures = n,
                                     .window_start = n,
                                     .locked_until = n,
                                     .lock_level = n,
                                     .updated_at = n})
                      .ok());
    });
  }
  for (std::thread& thread : threads) thread.join();
  Result<std::optional<ThrottleRecord>> got = this->store_->GetThrottle("pair:carol|10.0.0.1");
  ASSERT_TRUE(got.ok());
  ASSERT_TRUE(got->has_value());
  const ThrottleRecord& record = **got;
  // Every field comes from the same writer.
  EXPECT_EQ(record.window_start, record.failures);
  EXPECT_EQ(record.locked_until, record.failures);
  EXPECT_EQ(record.lock_level, record.failures);
  EXPECT_EQ(record.updated_at, record.failures);
}

// ---- RBAC administration (issue #5): roles of users, deletion, the change feed, permission uses.

TYPED_TEST_P(StoreConformanceTest, UpdateUserEmailSetsAndClearsIt) {
  ASSERT_TRUE(this->store_->CreateUser(this->MakeUser("u1", "alice")).ok());
  ASSERT_TRUE(this->store_->UpdateUserEmail("u1", "alice@example.com").ok());
  Result<User> found = this->store_->FindUserById("u1");
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(found->email, std::optional<std::string>("alice@example.com"));
  EXPECT_EQ(found->credential_version, 1);
  ASSERT_TRUE(this->store_->UpdateUserEmail("u1", std::nullopt).ok());
  found = this->store_->FindUserById("u1");
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(found->email, std::nullopt);
  EXPECT_TRUE(
      HasCode(this->store_->UpdateUserEmail("nobody", "x@example.com"), StatusCode::kNotFound));
}

TYPED_TEST_P(StoreConformanceTest, SetUserRolesRemovingARoleBumpsCredentialVersion) {
  Role editor;
  editor.name = "editor";
  ASSERT_TRUE(this->store_->CreateRole(editor).ok());
  ASSERT_TRUE(this->store_->CreateUser(this->MakeUser("u1", "alice", {"editor", "user"})).ok());

  // Replacing "editor" with "admin" removes a held role: the version moves.
  Result<UserState> state = this->store_->SetUserRoles("u1", {"user", "admin", "user"});
  ASSERT_TRUE(state.ok()) << state.status().ToString();
  EXPECT_EQ(state->id, "u1");
  EXPECT_EQ(state->credential_version, 2);
  EXPECT_FALSE(state->disabled);
  Result<User> found = this->store_->FindUserById("u1");
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(found->roles, std::vector<std::string>({"admin", "user"}));
  EXPECT_EQ(found->credential_version, 2);

  // Removing every role also counts (another admin exists, so "admin" keeps a holder).
  ASSERT_TRUE(this->store_->CreateUser(this->MakeUser("u2", "root", {"admin"})).ok());
  state = this->store_->SetUserRoles("u1", {});
  ASSERT_TRUE(state.ok()) << state.status().ToString();
  EXPECT_EQ(state->credential_version, 3);
  found = this->store_->FindUserById("u1");
  ASSERT_TRUE(found.ok());
  EXPECT_TRUE(found->roles.empty());

  EXPECT_TRUE(HasCode(this->store_->SetUserRoles("nobody", {"user"}), StatusCode::kNotFound));
}

TYPED_TEST_P(StoreConformanceTest, SetUserRolesAddingOnlyKeepsVersion) {
  ASSERT_TRUE(this->store_->CreateUser(this->MakeUser("u1", "alice", {"user"})).ok());
  Result<UserState> state = this->store_->SetUserRoles("u1", {"admin", "user"});
  ASSERT_TRUE(state.ok()) << state.status().ToString();
  EXPECT_EQ(state->credential_version, 1);
  // The same set again changes nothing either.
  state = this->store_->SetUserRoles("u1", {"user", "admin"});
  ASSERT_TRUE(state.ok()) << state.status().ToString();
  EXPECT_EQ(state->credential_version, 1);
  Result<User> found = this->store_->FindUserById("u1");
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(found->roles, std::vector<std::string>({"admin", "user"}));
  EXPECT_EQ(found->credential_version, 1);
}

TYPED_TEST_P(StoreConformanceTest, SetUserRolesRefusesToLeaveAdminWithoutHolder) {
  ASSERT_TRUE(this->store_->CreateUser(this->MakeUser("u1", "root", {"admin", "user"})).ok());
  Result<UserState> refused = this->store_->SetUserRoles("u1", {"user"});
  ASSERT_TRUE(HasCode(refused, StatusCode::kFailedPrecondition));
  EXPECT_EQ(refused.status().message(), "the role admin must keep at least one holder");
  Result<User> found = this->store_->FindUserById("u1");
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(found->roles, std::vector<std::string>({"admin", "user"}));
  EXPECT_EQ(found->credential_version, 1);  // the bump was rolled back too

  // With a second holder the first may step down.
  ASSERT_TRUE(this->store_->CreateUser(this->MakeUser("u2", "alice", {"admin"})).ok());
  Result<UserState> state = this->store_->SetUserRoles("u1", {"user"});
  ASSERT_TRUE(state.ok()) << state.status().ToString();
  EXPECT_EQ(state->credential_version, 2);
  EXPECT_TRUE(HasCode(this->store_->SetUserRoles("u2", {}), StatusCode::kFailedPrecondition));
}

TYPED_TEST_P(StoreConformanceTest, SetUserRolesUnknownRoleIsInvalidArgumentAndWritesNothing) {
  Role editor;
  editor.name = "editor";
  ASSERT_TRUE(this->store_->CreateRole(editor).ok());
  ASSERT_TRUE(this->store_->CreateUser(this->MakeUser("u1", "alice", {"editor"})).ok());
  Result<UserState> refused = this->store_->SetUserRoles("u1", {"user", "ghost"});
  ASSERT_TRUE(HasCode(refused, StatusCode::kInvalidArgument));
  EXPECT_NE(refused.status().message().find("ghost"), std::string::npos)
      << refused.status().message();
  Result<User> found = this->store_->FindUserById("u1");
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(found->roles, std::vector<std::string>({"editor"}));
  EXPECT_EQ(found->credential_version, 1);
}

TYPED_TEST_P(StoreConformanceTest, DeleteUserCascadesAndAppearsInChangeFeed) {
  ASSERT_TRUE(this->store_->CreateUser(this->MakeUser("u1", "Alice", {"user"})).ok());
  ASSERT_TRUE(this->store_->CreateUser(this->MakeUser("u2", "bob", {"user"})).ok());
  ASSERT_TRUE(this->store_->InsertRefreshToken(this->MakeRefresh("h1", "f1", "u1")).ok());
  ASSERT_TRUE(this->store_->InsertRefreshToken(this->MakeRefresh("h2", "f2", "u2")).ok());
  ASSERT_TRUE(this->store_
                  ->RecordPermissionUses({{.user_id = "u1", .permission = "users:read", .at = 10},
                                          {.user_id = "u2", .permission = "users:read", .at = 20}})
                  .ok());
  ASSERT_TRUE(this->store_->RecordKnownSource("alice", "203.0.113.0/24", 100).ok());
  ASSERT_TRUE(this->store_->RecordKnownSource("bob", "203.0.113.0/24", 100).ok());
  Result<std::int64_t> before = this->store_->LatestUserChange();
  ASSERT_TRUE(before.ok()) << before.status().ToString();

  ASSERT_TRUE(this->store_->DeleteUser("u1").ok());

  EXPECT_TRUE(HasCode(this->store_->FindUserById("u1"), StatusCode::kNotFound));
  EXPECT_TRUE(HasCode(this->store_->FindRefreshToken("h1"), StatusCode::kNotFound));
  EXPECT_TRUE(this->store_->FindRefreshToken("h2").ok());
  Result<std::vector<std::string>> holders = this->store_->UsersWithRole("user");
  ASSERT_TRUE(holders.ok());
  EXPECT_EQ(*holders, std::vector<std::string>({"u2"}));
  Result<std::vector<PermissionUse>> uses = this->store_->ListPermissionUses();
  ASSERT_TRUE(uses.ok());
  EXPECT_EQ(*uses,
            std::vector<PermissionUse>({{.user_id = "u2", .permission = "users:read", .at = 20}}));
  Result<bool> alice_known = this->store_->IsKnownSource("alice", "203.0.113.0/24", 0);
  ASSERT_TRUE(alice_known.ok());
  EXPECT_FALSE(*alice_known);
  Result<bool> bob_known = this->store_->IsKnownSource("bob", "203.0.113.0/24", 0);
  ASSERT_TRUE(bob_known.ok());
  EXPECT_TRUE(*bob_known);

  Result<std::vector<UserChange>> feed = this->store_->UserChangesSince(*before, 10);
  ASSERT_TRUE(feed.ok()) << feed.status().ToString();
  ASSERT_EQ(feed->size(), 1u);
  EXPECT_EQ((*feed)[0].user_id, "u1");
  EXPECT_GT((*feed)[0].seq, *before);

  EXPECT_TRUE(HasCode(this->store_->DeleteUser("u1"), StatusCode::kNotFound));
  // The name is free again.
  EXPECT_TRUE(this->store_->CreateUser(this->MakeUser("u3", "alice")).ok());
}

TYPED_TEST_P(StoreConformanceTest, DeleteLastAdminIsFailedPrecondition) {
  ASSERT_TRUE(this->store_->CreateUser(this->MakeUser("u1", "root", {"admin"})).ok());
  ASSERT_TRUE(this->store_->InsertRefreshToken(this->MakeRefresh("h1", "f1", "u1")).ok());
  Status refused = this->store_->DeleteUser("u1");
  ASSERT_TRUE(HasCode(refused, StatusCode::kFailedPrecondition));
  EXPECT_EQ(refused.message(), "the role admin must keep at least one holder");
  Result<User> found = this->store_->FindUserById("u1");
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(found->roles, std::vector<std::string>({"admin"}));
  EXPECT_TRUE(this->store_->FindRefreshToken("h1").ok());  // nothing was written

  ASSERT_TRUE(this->store_->CreateUser(this->MakeUser("u2", "alice", {"admin"})).ok());
  EXPECT_TRUE(this->store_->DeleteUser("u1").ok());
  EXPECT_TRUE(HasCode(this->store_->DeleteUser("u2"), StatusCode::kFailedPrecondition));
}

TYPED_TEST_P(StoreConformanceTest, UpdateRoleRemovingPermissionBumpsHolders) {
  Role editor;
  editor.name = "editor";
  editor.description = "Edits";
  editor.permissions = {"users:read", "users:write"};
  editor.created_at = 100;
  ASSERT_TRUE(this->store_->CreateRole(editor).ok());
  ASSERT_TRUE(this->store_->CreateUser(this->MakeUser("u2", "bob", {"editor"})).ok());
  ASSERT_TRUE(this->store_->CreateUser(this->MakeUser("u1", "alice", {"editor", "user"})).ok());
  ASSERT_TRUE(this->store_->CreateUser(this->MakeUser("u3", "carol", {"user"})).ok());
  ASSERT_TRUE(this->store_->SetUserDisabled("u2", true).ok());  // u2 now at version 2

  editor.description = "Reads and audits";
  editor.permissions = {"audit:read", "users:read", "audit:read"};
  editor.created_at = 999;
  Result<std::vector<UserState>> bumped = this->store_->UpdateRole(editor);
  ASSERT_TRUE(bumped.ok()) << bumped.status().ToString();
  ASSERT_EQ(bumped->size(), 2u);
  EXPECT_EQ((*bumped)[0].id, "u1");
  EXPECT_EQ((*bumped)[0].credential_version, 2);
  EXPECT_FALSE((*bumped)[0].disabled);
  EXPECT_EQ((*bumped)[1].id, "u2");
  EXPECT_EQ((*bumped)[1].credential_version, 3);
  EXPECT_TRUE((*bumped)[1].disabled);

  Result<User> carol = this->store_->FindUserById("u3");
  ASSERT_TRUE(carol.ok());
  EXPECT_EQ(carol->credential_version, 1);
  Result<Role> found = this->store_->FindRole("editor");
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(found->description, "Reads and audits");
  EXPECT_EQ(found->permissions, std::vector<std::string>({"audit:read", "users:read"}));
  EXPECT_EQ(found->created_at, 100);

  Role ghost;
  ghost.name = "ghost";
  EXPECT_TRUE(HasCode(this->store_->UpdateRole(ghost), StatusCode::kNotFound));
  EXPECT_TRUE(HasCode(this->store_->FindRole("ghost"), StatusCode::kNotFound));
}

TYPED_TEST_P(StoreConformanceTest, UpdateRoleAddingPermissionBumpsNobody) {
  Role editor;
  editor.name = "editor";
  editor.permissions = {"users:read"};
  ASSERT_TRUE(this->store_->CreateRole(editor).ok());
  ASSERT_TRUE(this->store_->CreateUser(this->MakeUser("u1", "alice", {"editor"})).ok());
  editor.permissions = {"users:write", "users:read"};
  editor.description = "now writes";
  Result<std::vector<UserState>> bumped = this->store_->UpdateRole(editor);
  ASSERT_TRUE(bumped.ok()) << bumped.status().ToString();
  EXPECT_TRUE(bumped->empty());
  Result<User> alice = this->store_->FindUserById("u1");
  ASSERT_TRUE(alice.ok());
  EXPECT_EQ(alice->credential_version, 1);
  Result<std::vector<std::string>> permissions = this->store_->PermissionsOfUser("u1");
  ASSERT_TRUE(permissions.ok());
  EXPECT_EQ(*permissions, std::vector<std::string>({"users:read", "users:write"}));
}

TYPED_TEST_P(StoreConformanceTest, DeleteRoleBumpsFormerHolders) {
  Role editor;
  editor.name = "editor";
  editor.permissions = {"users:write"};
  ASSERT_TRUE(this->store_->CreateRole(editor).ok());
  ASSERT_TRUE(this->store_->CreateUser(this->MakeUser("u2", "bob", {"editor"})).ok());
  ASSERT_TRUE(this->store_->CreateUser(this->MakeUser("u1", "alice", {"editor", "user"})).ok());
  ASSERT_TRUE(this->store_->CreateUser(this->MakeUser("u3", "carol", {"user"})).ok());

  Result<std::vector<UserState>> bumped = this->store_->DeleteRole("editor");
  ASSERT_TRUE(bumped.ok()) << bumped.status().ToString();
  ASSERT_EQ(bumped->size(), 2u);
  EXPECT_EQ((*bumped)[0].id, "u1");
  EXPECT_EQ((*bumped)[0].credential_version, 2);
  EXPECT_EQ((*bumped)[1].id, "u2");
  EXPECT_EQ((*bumped)[1].credential_version, 2);

  EXPECT_TRUE(HasCode(this->store_->FindRole("editor"), StatusCode::kNotFound));
  Result<User> alice = this->store_->FindUserById("u1");
  ASSERT_TRUE(alice.ok());
  EXPECT_EQ(alice->roles, std::vector<std::string>({"user"}));
  Result<User> carol = this->store_->FindUserById("u3");
  ASSERT_TRUE(carol.ok());
  EXPECT_EQ(carol->credential_version, 1);
  Result<std::vector<std::string>> permissions = this->store_->PermissionsOfUser("u2");
  ASSERT_TRUE(permissions.ok());
  EXPECT_TRUE(permissions->empty());
  EXPECT_TRUE(HasCode(this->store_->DeleteRole("editor"), StatusCode::kNotFound));
  // The name can be used again, with no members.
  ASSERT_TRUE(this->store_->CreateRole(editor).ok());
  Result<std::vector<std::string>> holders = this->store_->UsersWithRole("editor");
  ASSERT_TRUE(holders.ok());
  EXPECT_TRUE(holders->empty());
}

TYPED_TEST_P(StoreConformanceTest, UserChangesFeedSeesCreateDisableBumpDelete) {
  Result<std::int64_t> empty = this->store_->LatestUserChange();
  ASSERT_TRUE(empty.ok()) << empty.status().ToString();
  EXPECT_EQ(*empty, 0);

  ASSERT_TRUE(this->store_->CreateUser(this->MakeUser("u1", "alice")).ok());  // 1: u1
  ASSERT_TRUE(this->store_->CreateUser(this->MakeUser("u2", "bob")).ok());    // 2: u2
  // None of these touch credential_version or disabled: no entries.
  ASSERT_TRUE(this->store_->RecordLogin("u1", 1'700'000'100).ok());
  ASSERT_TRUE(this->store_->UpdateUserEmail("u1", "alice@example.com").ok());
  ASSERT_TRUE(this->store_->UpdatePasswordHash("u1", "$argon2id$v=19$new").ok());
  ASSERT_TRUE(this->store_->SetUserRoles("u1", {"user"}).ok());  // adding only: no bump
  ASSERT_TRUE(this->store_->SetUserDisabled("u2", false).ok());  // already enabled: no change
  ASSERT_TRUE(this->store_->SetUserDisabled("u1", true).ok());   // 3: u1 (one entry)
  ASSERT_TRUE(this->store_->BumpCredentialVersion("u2").ok());   // 4: u2
  ASSERT_TRUE(this->store_->SetUserDisabled("u1", false).ok());  // 5: u1
  ASSERT_TRUE(this->store_->DeleteUser("u2").ok());              // 6: u2

  Result<std::vector<UserChange>> feed = this->store_->UserChangesSince(0, 100);
  ASSERT_TRUE(feed.ok()) << feed.status().ToString();
  std::vector<std::string> ids;
  for (std::size_t i = 0; i < feed->size(); ++i) {
    ids.push_back((*feed)[i].user_id);
    if (i > 0) {
      EXPECT_GT((*feed)[i].seq, (*feed)[i - 1].seq);
    }
  }
  EXPECT_EQ(ids, std::vector<std::string>({"u1", "u2", "u1", "u2", "u1", "u2"}));
  Result<std::int64_t> latest = this->store_->LatestUserChange();
  ASSERT_TRUE(latest.ok());
  ASSERT_FALSE(feed->empty());
  EXPECT_EQ(*latest, feed->back().seq);

  // Paging: after the second entry, at most two.
  Result<std::vector<UserChange>> page = this->store_->UserChangesSince((*feed)[1].seq, 2);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->size(), 2u);
  EXPECT_EQ((*page)[0].seq, (*feed)[2].seq);
  EXPECT_EQ((*page)[1].seq, (*feed)[3].seq);
  Result<std::vector<UserChange>> none = this->store_->UserChangesSince(*latest, 10);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
  EXPECT_TRUE(HasCode(this->store_->UserChangesSince(0, 0), StatusCode::kInvalidArgument));
}

TYPED_TEST_P(StoreConformanceTest, PruneUserChangesDeletesOlderEntriesAndSeqKeepsGrowing) {
  ASSERT_TRUE(this->store_->CreateUser(this->MakeUser("u1", "alice")).ok());
  ASSERT_TRUE(this->store_->BumpCredentialVersion("u1").ok());
  Result<std::int64_t> latest = this->store_->LatestUserChange();
  ASSERT_TRUE(latest.ok());
  // Entries are stamped with the database's wall clock, so only far past/future cut-offs are
  // deterministic here.
  Result<int> none = this->store_->PruneUserChanges(1'000'000'000);  // 2001
  ASSERT_TRUE(none.ok()) << none.status().ToString();
  EXPECT_EQ(*none, 0);
  Result<int> all = this->store_->PruneUserChanges(4'000'000'000);  // 2096
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(*all, 2);
  Result<std::vector<UserChange>> feed = this->store_->UserChangesSince(0, 10);
  ASSERT_TRUE(feed.ok());
  EXPECT_TRUE(feed->empty());

  // A poller that had seen everything still sees the next change: seqs are never reused.
  ASSERT_TRUE(this->store_->BumpCredentialVersion("u1").ok());
  feed = this->store_->UserChangesSince(*latest, 10);
  ASSERT_TRUE(feed.ok());
  ASSERT_EQ(feed->size(), 1u);
  EXPECT_EQ((*feed)[0].user_id, "u1");
}

TYPED_TEST_P(StoreConformanceTest, QueryUsersFiltersByPrefixRoleDisabled) {
  ASSERT_TRUE(this->store_->CreateUser(this->MakeUser("id-alice", "alice", {"admin"})).ok());
  ASSERT_TRUE(this->store_->CreateUser(this->MakeUser("id-pct", "Al%ce")).ok());
  ASSERT_TRUE(this->store_->CreateUser(this->MakeUser("id-und", "al_ce")).ok());
  ASSERT_TRUE(this->store_->CreateUser(this->MakeUser("id-alfred", "alfred", {"user"})).ok());
  ASSERT_TRUE(this->store_->CreateUser(this->MakeUser("id-albert", "ALBERT", {"user"})).ok());
  ASSERT_TRUE(this->store_->CreateUser(this->MakeUser("id-bob", "bob", {"user"})).ok());
  ASSERT_TRUE(this->store_->CreateUser(this->MakeUser("id-uml", "\xc3\xa4rger")).ok());  // "ärger"
  // U+10FFFF, the last code point: no prefix range may end early on it.
  ASSERT_TRUE(this->store_->CreateUser(this->MakeUser("id-ff", "\xf4\x8f\xbf\xbfz")).ok());
  ASSERT_TRUE(this->store_->SetUserDisabled("id-alfred", true).ok());

  const auto names = [&](const UserQuery& query) {
    Result<UserPage> page = this->store_->QueryUsers(query);
    EXPECT_TRUE(page.ok()) << page.status().ToString();
    std::vector<std::string> result;
    if (!page.ok()) return result;
    EXPECT_EQ(page->next_cursor, std::nullopt);
    for (const User& user : page->items) result.push_back(user.username_normalized);
    return result;
  };
  using Names = std::vector<std::string>;
  // Bytewise order: '%' < '_' < 'b' < 'f' < 'i'.
  EXPECT_EQ(names(this->MakeQuery("AL")), Names({"al%ce", "al_ce", "albert", "alfred", "alice"}));
  // '%' and '_' are literal characters, not wildcards.
  EXPECT_EQ(names(this->MakeQuery("al%")), Names({"al%ce"}));
  EXPECT_EQ(names(this->MakeQuery("Al_")), Names({"al_ce"}));
  EXPECT_EQ(names(this->MakeQuery("%")), Names());
  EXPECT_EQ(names(this->MakeQuery("alice")), Names({"alice"}));
  EXPECT_EQ(names(this->MakeQuery("alicex")), Names());
  EXPECT_EQ(names(this->MakeQuery("\xc3\xa4")), Names({"\xc3\xa4rger"}));
  EXPECT_EQ(names(this->MakeQuery("\xf4\x8f\xbf\xbf")), Names({"\xf4\x8f\xbf\xbfz"}));
  EXPECT_EQ(names(this->MakeQuery("\xf4\x8f\xbf\xbfz")), Names({"\xf4\x8f\xbf\xbfz"}));
  EXPECT_EQ(names(this->MakeQuery("")).size(), 8u);
  EXPECT_EQ(names(this->MakeQuery(std::nullopt)).size(), 8u);
  EXPECT_EQ(names(this->MakeQuery(std::nullopt, "admin")), Names({"alice"}));
  EXPECT_EQ(names(this->MakeQuery(std::nullopt, "user")), Names({"albert", "alfred", "bob"}));
  EXPECT_EQ(names(this->MakeQuery(std::nullopt, "ghost")), Names());
  EXPECT_EQ(names(this->MakeQuery(std::nullopt, std::nullopt, true)), Names({"alfred"}));
  EXPECT_EQ(names(this->MakeQuery("al", std::nullopt, false)),
            Names({"al%ce", "al_ce", "albert", "alice"}));
  EXPECT_EQ(names(this->MakeQuery("al", "user", false)), Names({"albert"}));

  // Users come back whole, with all their roles, not just the filtered one.
  Result<UserPage> admins = this->store_->QueryUsers(this->MakeQuery(std::nullopt, "admin"));
  ASSERT_TRUE(admins.ok());
  ASSERT_EQ(admins->items.size(), 1u);
  EXPECT_EQ(admins->items[0].id, "id-alice");
  EXPECT_EQ(admins->items[0].roles, std::vector<std::string>({"admin"}));
}

TYPED_TEST_P(StoreConformanceTest, QueryUsersPagesWithFilters) {
  for (const char* name : {"u-echo", "u-Bravo", "x-other", "u-delta", "u-alpha", "u-Charlie"}) {
    ASSERT_TRUE(
        this->store_->CreateUser(this->MakeUser(std::string("id-") + name, name, {"user"})).ok());
  }
  ASSERT_TRUE(this->store_->CreateUser(this->MakeUser("id-u-nobody", "u-nobody")).ok());
  ASSERT_TRUE(this->store_->SetUserDisabled("id-u-delta", true).ok());

  std::vector<std::string> seen;
  std::vector<std::size_t> page_sizes;
  UserQuery query = this->MakeQuery("U-", "user", false, 2);
  for (int guard = 0; guard < 10; ++guard) {
    Result<UserPage> page = this->store_->QueryUsers(query);
    ASSERT_TRUE(page.ok()) << page.status().ToString();
    page_sizes.push_back(page->items.size());
    for (const User& user : page->items) seen.push_back(user.username_normalized);
    if (!page->next_cursor.has_value()) break;
    query.cursor = *page->next_cursor;
  }
  EXPECT_EQ(seen, std::vector<std::string>({"u-alpha", "u-bravo", "u-charlie", "u-echo"}));
  EXPECT_EQ(page_sizes, std::vector<std::size_t>({2, 2}));

  EXPECT_TRUE(HasCode(
      this->store_->QueryUsers(this->MakeQuery(std::nullopt, std::nullopt, std::nullopt, 0)),
      StatusCode::kInvalidArgument));
  // Not a cursor this store hands out (cursors are normalized): malformed.
  UserQuery bad_cursor;
  bad_cursor.cursor = "U-Alpha";
  EXPECT_TRUE(HasCode(this->store_->QueryUsers(bad_cursor), StatusCode::kInvalidArgument));
  EXPECT_TRUE(HasCode(this->store_->ListUsers("U-Alpha", 2), StatusCode::kInvalidArgument));
}

TYPED_TEST_P(StoreConformanceTest, RecordPermissionUsesKeepsLatest) {
  ASSERT_TRUE(this->store_->CreateUser(this->MakeUser("u1", "alice")).ok());
  ASSERT_TRUE(this->store_->CreateUser(this->MakeUser("u2", "bob")).ok());
  ASSERT_TRUE(this->store_
                  ->RecordPermissionUses({{.user_id = "u2", .permission = "roles:read", .at = 5},
                                          {.user_id = "u1", .permission = "users:read", .at = 100},
                                          {.user_id = "u1", .permission = "users:read", .at = 50},
                                          {.user_id = "u1", .permission = "audit:read", .at = 7}})
                  .ok());
  ASSERT_TRUE(this->store_->RecordPermissionUses({}).ok());
  Result<std::vector<PermissionUse>> uses = this->store_->ListPermissionUses();
  ASSERT_TRUE(uses.ok()) << uses.status().ToString();
  EXPECT_EQ(*uses, std::vector<PermissionUse>({
                       {.user_id = "u1", .permission = "audit:read", .at = 7},
                       {.user_id = "u1", .permission = "users:read", .at = 100},
                       {.user_id = "u2", .permission = "roles:read", .at = 5},
                   }));

  ASSERT_TRUE(
      this->store_->RecordPermissionUses({{.user_id = "u1", .permission = "users:read", .at = 200}})
          .ok());
  ASSERT_TRUE(
      this->store_->RecordPermissionUses({{.user_id = "u1", .permission = "users:read", .at = 150}})
          .ok());
  uses = this->store_->ListPermissionUses();
  ASSERT_TRUE(uses.ok());
  ASSERT_EQ(uses->size(), 3u);
  EXPECT_EQ((*uses)[1], (PermissionUse{.user_id = "u1", .permission = "users:read", .at = 200}));
}

TYPED_TEST_P(StoreConformanceTest, RecordPermissionUsesSkipsUnknownUsers) {
  ASSERT_TRUE(this->store_->CreateUser(this->MakeUser("u1", "alice")).ok());
  ASSERT_TRUE(this->store_
                  ->RecordPermissionUses({{.user_id = "ghost", .permission = "users:read", .at = 1},
                                          {.user_id = "u1", .permission = "users:read", .at = 2},
                                          {.user_id = "ghost", .permission = "x:y", .at = 3}})
                  .ok());
  Result<std::vector<PermissionUse>> uses = this->store_->ListPermissionUses();
  ASSERT_TRUE(uses.ok()) << uses.status().ToString();
  EXPECT_EQ(*uses,
            std::vector<PermissionUse>({{.user_id = "u1", .permission = "users:read", .at = 2}}));
}

TYPED_TEST_P(StoreConformanceTest, CreateRoleDuplicateIsAlreadyExists) {
  Role auditor;
  auditor.name = "auditor";
  auditor.description = "Reads the audit log";
  auditor.permissions = {"users:read", "audit:read", "audit:read"};
  auditor.created_at = 100;
  ASSERT_TRUE(this->store_->CreateRole(auditor).ok());
  Result<Role> found = this->store_->FindRole("auditor");
  ASSERT_TRUE(found.ok()) << found.status().ToString();
  EXPECT_EQ(found->description, "Reads the audit log");
  EXPECT_EQ(found->permissions, std::vector<std::string>({"audit:read", "users:read"}));
  EXPECT_EQ(found->created_at, 100);

  Role again = auditor;
  again.description = "other";
  again.permissions = {"*"};
  EXPECT_TRUE(HasCode(this->store_->CreateRole(again), StatusCode::kAlreadyExists));
  found = this->store_->FindRole("auditor");
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(found->description, "Reads the audit log");
  EXPECT_EQ(found->permissions, std::vector<std::string>({"audit:read", "users:read"}));
  again.name = "admin";
  EXPECT_TRUE(HasCode(this->store_->CreateRole(again), StatusCode::kAlreadyExists));
}

TYPED_TEST_P(StoreConformanceTest, UsersWithRoleSorted) {
  for (const char* id : {"u3", "u1", "u2"}) {
    ASSERT_TRUE(
        this->store_->CreateUser(this->MakeUser(id, std::string("name-") + id, {"user"})).ok());
  }
  ASSERT_TRUE(this->store_->CreateUser(this->MakeUser("u0", "root", {"admin"})).ok());
  Result<std::vector<std::string>> holders = this->store_->UsersWithRole("user");
  ASSERT_TRUE(holders.ok()) << holders.status().ToString();
  EXPECT_EQ(*holders, std::vector<std::string>({"u1", "u2", "u3"}));
  Result<std::vector<std::string>> unknown = this->store_->UsersWithRole("ghost");
  ASSERT_TRUE(unknown.ok());
  EXPECT_TRUE(unknown->empty());
}

TYPED_TEST_P(StoreConformanceTest, ConcurrentAdminRemovalsLeaveExactlyOneHolder) {
  // Each of two admins removes themselves (role change or deletion) at the same time: the check
  // and the write share one transaction, so exactly one of each pair succeeds.
  constexpr int kRounds = 4;
  for (int round = 0; round < kRounds; ++round) {
    const std::string a = "a" + std::to_string(round);
    const std::string b = "b" + std::to_string(round);
    ASSERT_TRUE(this->store_->CreateUser(this->MakeUser(a, a, {"admin"})).ok());
    ASSERT_TRUE(this->store_->CreateUser(this->MakeUser(b, b, {"admin"})).ok());
    // Every earlier survivor steps down first, so the two are the only holders.
    Result<std::vector<std::string>> holders = this->store_->UsersWithRole("admin");
    ASSERT_TRUE(holders.ok());
    for (const std::string& id : *holders) {
      if (id != a && id != b) {
        ASSERT_TRUE(this->store_->SetUserRoles(id, {"user"}).ok());
      }
    }
    std::vector<Status> results(2);
    std::latch start(2);
    std::thread first([&] {
      start.arrive_and_wait();
      results[0] = this->store_->SetUserRoles(a, {"user"}).status();
    });
    std::thread second([&] {
      start.arrive_and_wait();
      results[1] = this->store_->DeleteUser(b);
    });
    first.join();
    second.join();
    EXPECT_NE(results[0].ok(), results[1].ok())
        << results[0].ToString() << " / " << results[1].ToString();
    for (const Status& s : results) {
      if (!s.ok()) {
        EXPECT_TRUE(HasCode(s, StatusCode::kFailedPrecondition));
      }
    }
    holders = this->store_->UsersWithRole("admin");
    ASSERT_TRUE(holders.ok());
    EXPECT_EQ(holders->size(), 1u);
  }
}

// ---------------------------------------------------------------- user import (issue #6)

TYPED_TEST_P(StoreConformanceTest, ImportUsersSkipsTakenAndUnknownRoleRowsAndCommitsTheRest) {
  ASSERT_TRUE(this->store_->CreateUser(this->MakeUser("u1", "alice")).ok());
  std::vector<NewUser> batch = {
      this->MakeUser("u2", "bob", {"user", "user"}),
      this->MakeUser("u3", "ALICE"),              // username taken (normalized)
      this->MakeUser("u1", "carol"),              // id taken
      this->MakeUser("u4", "dave", {"no-such"}),  // unknown role
      this->MakeUser("u5", "erin", {"admin"}),
  };
  batch[0].email = "bob@example.com";
  Result<std::vector<Status>> results = this->store_->ImportUsers(batch);
  ASSERT_TRUE(results.ok()) << results.status().ToString();
  ASSERT_EQ(results->size(), 5u);
  EXPECT_TRUE((*results)[0].ok()) << (*results)[0].ToString();
  EXPECT_TRUE(HasCode((*results)[1], StatusCode::kAlreadyExists));
  EXPECT_TRUE(HasCode((*results)[2], StatusCode::kAlreadyExists));
  EXPECT_TRUE(HasCode((*results)[3], StatusCode::kInvalidArgument));
  EXPECT_EQ((*results)[3].message(), "unknown role: no-such");
  EXPECT_TRUE((*results)[4].ok());

  Result<User> bob = this->store_->FindUserByUsername("BOB");
  ASSERT_TRUE(bob.ok()) << bob.status().ToString();
  EXPECT_EQ(bob->id, "u2");
  EXPECT_EQ(bob->email, std::optional<std::string>("bob@example.com"));
  EXPECT_EQ(bob->roles, std::vector<std::string>({"user"}));
  EXPECT_EQ(bob->credential_version, 1);
  EXPECT_FALSE(bob->disabled);
  Result<User> erin = this->store_->FindUserById("u5");
  ASSERT_TRUE(erin.ok());
  EXPECT_EQ(erin->roles, std::vector<std::string>({"admin"}));
  EXPECT_TRUE(HasCode(this->store_->FindUserById("u3"), StatusCode::kNotFound));
  EXPECT_TRUE(HasCode(this->store_->FindUserById("u4"), StatusCode::kNotFound));
  Result<User> alice = this->store_->FindUserById("u1");
  ASSERT_TRUE(alice.ok());
  EXPECT_EQ(alice->username, "alice");  // untouched by the clashing rows
  Result<std::int64_t> count = this->store_->CountUsers();
  ASSERT_TRUE(count.ok());
  EXPECT_EQ(*count, 3);
}

TYPED_TEST_P(StoreConformanceTest, ImportUsersDuplicateWithinBatch) {
  Result<std::vector<Status>> results = this->store_->ImportUsers({
      this->MakeUser("u1", "Alice"),
      this->MakeUser("u2", "alice"),  // same normalized name as row 0
      this->MakeUser("u1", "bob"),    // same id as row 0
      this->MakeUser("u3", "carol"),
  });
  ASSERT_TRUE(results.ok()) << results.status().ToString();
  ASSERT_EQ(results->size(), 4u);
  EXPECT_TRUE((*results)[0].ok());
  EXPECT_TRUE(HasCode((*results)[1], StatusCode::kAlreadyExists));
  EXPECT_TRUE(HasCode((*results)[2], StatusCode::kAlreadyExists));
  EXPECT_TRUE((*results)[3].ok());
  Result<std::int64_t> count = this->store_->CountUsers();
  ASSERT_TRUE(count.ok());
  EXPECT_EQ(*count, 2);
  // Imported users appear in the change feed like created ones.
  Result<std::vector<UserChange>> feed = this->store_->UserChangesSince(0, 10);
  ASSERT_TRUE(feed.ok());
  EXPECT_EQ(feed->size(), 2u);

  Result<std::vector<Status>> empty = this->store_->ImportUsers({});
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
}

// ---------------------------------------------------------------- API keys (issue #6)

TYPED_TEST_P(StoreConformanceTest, ApiKeyIsCreatedFoundAndDeleted) {
  ASSERT_TRUE(this->store_->CreateUser(this->MakeUser("u1", "alice")).ok());
  ApiKey key = this->MakeApiKey("abcdefghij01", "u1");
  key.scopes = {"users:read", "audit:read", "users:read"};
  key.expires_at = 1'800'000'000;
  ASSERT_TRUE(this->store_->CreateApiKey(key).ok());

  Result<ApiKey> found = this->store_->FindApiKey("abcdefghij01");
  ASSERT_TRUE(found.ok()) << found.status().ToString();
  EXPECT_EQ(found->id, "abcdefghij01");
  EXPECT_EQ(found->secret_hash, key.secret_hash);
  EXPECT_EQ(found->user_id, "u1");
  EXPECT_EQ(found->name, "ci deploy");
  EXPECT_EQ(found->scopes, std::vector<std::string>({"audit:read", "users:read"}));
  EXPECT_EQ(found->created_at, 1'700'000'000);
  EXPECT_EQ(found->expires_at, std::optional<UnixSeconds>(1'800'000'000));
  EXPECT_EQ(found->last_used_at, std::nullopt);

  EXPECT_TRUE(HasCode(this->store_->CreateApiKey(key), StatusCode::kAlreadyExists));
  EXPECT_TRUE(HasCode(this->store_->CreateApiKey(this->MakeApiKey("zzzzzzzzzzzz", "ghost")),
                      StatusCode::kNotFound));
  EXPECT_TRUE(HasCode(this->store_->FindApiKey("zzzzzzzzzzzz"), StatusCode::kNotFound));

  ASSERT_TRUE(this->store_->DeleteApiKey("abcdefghij01").ok());
  EXPECT_TRUE(HasCode(this->store_->FindApiKey("abcdefghij01"), StatusCode::kNotFound));
  EXPECT_TRUE(HasCode(this->store_->DeleteApiKey("abcdefghij01"), StatusCode::kNotFound));
}

TYPED_TEST_P(StoreConformanceTest, ApiKeyWithoutScopesOrExpiryRoundTrips) {
  ASSERT_TRUE(this->store_->CreateUser(this->MakeUser("u1", "alice")).ok());
  ASSERT_TRUE(this->store_->CreateApiKey(this->MakeApiKey("k00000000001", "u1")).ok());
  Result<ApiKey> found = this->store_->FindApiKey("k00000000001");
  ASSERT_TRUE(found.ok()) << found.status().ToString();
  EXPECT_TRUE(found->scopes.empty());
  EXPECT_EQ(found->expires_at, std::nullopt);
}

TYPED_TEST_P(StoreConformanceTest, ListApiKeysPagesByIdAndFiltersByOwner) {
  ASSERT_TRUE(this->store_->CreateUser(this->MakeUser("u1", "alice")).ok());
  ASSERT_TRUE(this->store_->CreateUser(this->MakeUser("u2", "bob")).ok());
  for (const char* id : {"k05", "k01", "k03"}) {
    ASSERT_TRUE(this->store_->CreateApiKey(this->MakeApiKey(id, "u1")).ok());
  }
  for (const char* id : {"k02", "k04"}) {
    ASSERT_TRUE(this->store_->CreateApiKey(this->MakeApiKey(id, "u2")).ok());
  }
  const auto ids = [](const ApiKeyPage& page) {
    std::vector<std::string> out;
    for (const ApiKey& key : page.items) out.push_back(key.id);
    return out;
  };
  Result<ApiKeyPage> first = this->store_->ListApiKeys(std::nullopt, "", 2);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(ids(*first), std::vector<std::string>({"k01", "k02"}));
  ASSERT_TRUE(first->next_cursor.has_value());
  Result<ApiKeyPage> second = this->store_->ListApiKeys(std::nullopt, *first->next_cursor, 2);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(ids(*second), std::vector<std::string>({"k03", "k04"}));
  ASSERT_TRUE(second->next_cursor.has_value());
  Result<ApiKeyPage> last = this->store_->ListApiKeys(std::nullopt, *second->next_cursor, 2);
  ASSERT_TRUE(last.ok());
  EXPECT_EQ(ids(*last), std::vector<std::string>({"k05"}));
  EXPECT_EQ(last->next_cursor, std::nullopt);

  Result<ApiKeyPage> alices = this->store_->ListApiKeys(std::string("u1"), "", 2);
  ASSERT_TRUE(alices.ok());
  EXPECT_EQ(ids(*alices), std::vector<std::string>({"k01", "k03"}));
  ASSERT_TRUE(alices->next_cursor.has_value());
  alices = this->store_->ListApiKeys(std::string("u1"), *alices->next_cursor, 2);
  ASSERT_TRUE(alices.ok());
  EXPECT_EQ(ids(*alices), std::vector<std::string>({"k05"}));
  EXPECT_EQ(alices->next_cursor, std::nullopt);
  Result<ApiKeyPage> nobody = this->store_->ListApiKeys(std::string("ghost"), "", 10);
  ASSERT_TRUE(nobody.ok());
  EXPECT_TRUE(nobody->items.empty());
  EXPECT_EQ(nobody->next_cursor, std::nullopt);
  EXPECT_TRUE(
      HasCode(this->store_->ListApiKeys(std::nullopt, "", 0), StatusCode::kInvalidArgument));
}

TYPED_TEST_P(StoreConformanceTest, DeleteApiKeyAppearsInChangeFeed) {
  ASSERT_TRUE(this->store_->CreateUser(this->MakeUser("u1", "alice")).ok());
  ASSERT_TRUE(this->store_->CreateApiKey(this->MakeApiKey("k01", "u1")).ok());
  Result<std::int64_t> before = this->store_->LatestUserChange();
  ASSERT_TRUE(before.ok());
  ASSERT_TRUE(this->store_->RecordApiKeyUses({{.id = "k01", .at = 5}}).ok());  // no entry
  ASSERT_TRUE(this->store_->DeleteApiKey("k01").ok());
  Result<std::vector<UserChange>> feed = this->store_->UserChangesSince(*before, 10);
  ASSERT_TRUE(feed.ok()) << feed.status().ToString();
  ASSERT_EQ(feed->size(), 1u);
  EXPECT_EQ((*feed)[0].user_id, "u1");
  // The owner's credential version is not touched: their other credentials keep working.
  Result<User> alice = this->store_->FindUserById("u1");
  ASSERT_TRUE(alice.ok());
  EXPECT_EQ(alice->credential_version, 1);
}

TYPED_TEST_P(StoreConformanceTest, DeleteUserDeletesTheirApiKeys) {
  ASSERT_TRUE(this->store_->CreateUser(this->MakeUser("u1", "alice")).ok());
  ASSERT_TRUE(this->store_->CreateUser(this->MakeUser("u2", "bob")).ok());
  ASSERT_TRUE(this->store_->CreateApiKey(this->MakeApiKey("k01", "u1")).ok());
  ASSERT_TRUE(this->store_->CreateApiKey(this->MakeApiKey("k02", "u1")).ok());
  ASSERT_TRUE(this->store_->CreateApiKey(this->MakeApiKey("k03", "u2")).ok());
  ASSERT_TRUE(this->store_->DeleteUser("u1").ok());
  EXPECT_TRUE(HasCode(this->store_->FindApiKey("k01"), StatusCode::kNotFound));
  EXPECT_TRUE(HasCode(this->store_->FindApiKey("k02"), StatusCode::kNotFound));
  EXPECT_TRUE(this->store_->FindApiKey("k03").ok());
  Result<ApiKeyPage> all = this->store_->ListApiKeys(std::nullopt, "", 10);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->items.size(), 1u);
  EXPECT_EQ(all->items[0].id, "k03");
}

TYPED_TEST_P(StoreConformanceTest, RecordApiKeyUsesKeepsLatest) {
  ASSERT_TRUE(this->store_->CreateUser(this->MakeUser("u1", "alice")).ok());
  ASSERT_TRUE(this->store_->CreateApiKey(this->MakeApiKey("k01", "u1")).ok());
  ASSERT_TRUE(this->store_->CreateApiKey(this->MakeApiKey("k02", "u1")).ok());
  ASSERT_TRUE(this->store_
                  ->RecordApiKeyUses({{.id = "k01", .at = 100},
                                      {.id = "k01", .at = 50},
                                      {.id = "ghost", .at = 70},
                                      {.id = "k02", .at = 7}})
                  .ok());
  ASSERT_TRUE(this->store_->RecordApiKeyUses({}).ok());
  Result<ApiKey> k01 = this->store_->FindApiKey("k01");
  ASSERT_TRUE(k01.ok());
  EXPECT_EQ(k01->last_used_at, std::optional<UnixSeconds>(100));
  Result<ApiKey> k02 = this->store_->FindApiKey("k02");
  ASSERT_TRUE(k02.ok());
  EXPECT_EQ(k02->last_used_at, std::optional<UnixSeconds>(7));
  ASSERT_TRUE(this->store_->RecordApiKeyUses({{.id = "k01", .at = 90}}).ok());
  ASSERT_TRUE(this->store_->RecordApiKeyUses({{.id = "k02", .at = 200}}).ok());
  k01 = this->store_->FindApiKey("k01");
  ASSERT_TRUE(k01.ok());
  EXPECT_EQ(k01->last_used_at, std::optional<UnixSeconds>(100));
  k02 = this->store_->FindApiKey("k02");
  ASSERT_TRUE(k02.ok());
  EXPECT_EQ(k02->last_used_at, std::optional<UnixSeconds>(200));
  EXPECT_TRUE(HasCode(this->store_->FindApiKey("ghost"), StatusCode::kNotFound));
}

// --- BrowserSignInStore ---

inline std::string Hex64(char c) { return std::string(64, c); }

inline AuthorizationCode MakeCode(std::string hash, std::string user = "u1",
                                  UnixSeconds expires_at = 1'700'000'060) {
  AuthorizationCode code;
  code.code_hash = std::move(hash);
  code.client_id = "web";
  code.user_id = std::move(user);
  code.redirect_uri = "https://app.example/cb";
  code.code_challenge = std::string(43, 'C');
  code.scope = "openid profile";
  code.nonce = "n-0S6_WzA2Mj";
  code.auth_time = 1'699'999'990;
  code.amr = "pwd otp";
  code.session_id = "s0000000000000001";
  code.created_at = 1'700'000'000;
  code.expires_at = expires_at;
  code.dpop_jkt = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs";
  return code;
}

inline BrowserSession MakeSession(std::string id, char token, std::string user = "u1",
                                  UnixSeconds created_at = 1'700'000'000,
                                  UnixSeconds expires_at = 1'700'086'400) {
  BrowserSession session;
  session.id = std::move(id);
  session.token_hash = Hex64(token);
  session.user_id = std::move(user);
  session.credential_version = 1;
  session.auth_time = created_at;
  session.amr = "pwd";
  session.created_at = created_at;
  session.last_seen_at = created_at;
  session.expires_at = expires_at;
  session.client_ip = "192.0.2.7";
  session.user_agent = "Mozilla/5.0 (test)";
  return session;
}

inline TotpEnrollment MakeTotp(std::string user, std::string secret = "sealed\x00\xff secret") {
  TotpEnrollment enrollment;
  enrollment.user_id = std::move(user);
  enrollment.sealed_secret = std::move(secret);
  enrollment.created_at = 1'700'000'000;
  return enrollment;
}

TYPED_TEST_P(StoreConformanceTest, AuthorizationCodeIsConsumedOnceAndKeepsTheFirstIssue) {
  ASSERT_TRUE(this->store_->CreateUser(this->MakeUser("u1", "alice")).ok());
  ASSERT_TRUE(this->store_->InsertAuthorizationCode(MakeCode(Hex64('a'))).ok());
  EXPECT_TRUE(HasCode(this->store_->InsertAuthorizationCode(MakeCode(Hex64('a'))),
                      StatusCode::kAlreadyExists));

  const CodeIssue first{
      .access_jti = "jti-1", .access_expires_at = 1'700'000'900, .refresh_family_id = "fam-1"};
  Result<ConsumedCode> consumed =
      this->store_->ConsumeAuthorizationCode(Hex64('a'), first, 1'700'000'010);
  ASSERT_TRUE(consumed.ok()) << consumed.status().ToString();
  EXPECT_TRUE(consumed->first_use);
  AuthorizationCode expected = MakeCode(Hex64('a'));
  expected.used_at = 1'700'000'010;
  expected.access_jti = "jti-1";
  expected.access_expires_at = 1'700'000'900;
  expected.refresh_family_id = "fam-1";
  const AuthorizationCode& got = consumed->code;
  EXPECT_EQ(got.code_hash, expected.code_hash);
  EXPECT_EQ(got.client_id, expected.client_id);
  EXPECT_EQ(got.user_id, expected.user_id);
  EXPECT_EQ(got.redirect_uri, expected.redirect_uri);
  EXPECT_EQ(got.code_challenge, expected.code_challenge);
  EXPECT_EQ(got.scope, expected.scope);
  EXPECT_EQ(got.nonce, expected.nonce);
  EXPECT_EQ(got.auth_time, expected.auth_time);
  EXPECT_EQ(got.amr, expected.amr);
  EXPECT_EQ(got.session_id, expected.session_id);
  EXPECT_EQ(got.created_at, expected.created_at);
  EXPECT_EQ(got.expires_at, expected.expires_at);
  EXPECT_EQ(got.used_at, expected.used_at);
  EXPECT_EQ(got.access_jti, expected.access_jti);
  EXPECT_EQ(got.access_expires_at, expected.access_expires_at);
  EXPECT_EQ(got.refresh_family_id, expected.refresh_family_id);
  EXPECT_EQ(got.dpop_jkt, expected.dpop_jkt);

  const CodeIssue second{
      .access_jti = "jti-2", .access_expires_at = 1'700'001'000, .refresh_family_id = std::nullopt};
  Result<ConsumedCode> replay =
      this->store_->ConsumeAuthorizationCode(Hex64('a'), second, 1'700'000'020);
  ASSERT_TRUE(replay.ok()) << replay.status().ToString();
  EXPECT_FALSE(replay->first_use);
  EXPECT_EQ(replay->code.used_at, std::optional<UnixSeconds>(1'700'000'010));
  EXPECT_EQ(replay->code.access_jti, std::optional<std::string>("jti-1"));
  EXPECT_EQ(replay->code.access_expires_at, std::optional<UnixSeconds>(1'700'000'900));
  EXPECT_EQ(replay->code.refresh_family_id, std::optional<std::string>("fam-1"));

  EXPECT_TRUE(HasCode(this->store_->ConsumeAuthorizationCode(Hex64('b'), first, 1'700'000'010),
                      StatusCode::kNotFound));
}

TYPED_TEST_P(StoreConformanceTest, AuthorizationCodeWithoutNonceOrRefreshRoundTrips) {
  ASSERT_TRUE(this->store_->CreateUser(this->MakeUser("u1", "alice")).ok());
  AuthorizationCode code = MakeCode(Hex64('c'));
  code.nonce = std::nullopt;
  code.dpop_jkt = std::nullopt;
  ASSERT_TRUE(this->store_->InsertAuthorizationCode(code).ok());
  Result<ConsumedCode> consumed = this->store_->ConsumeAuthorizationCode(
      Hex64('c'), {.access_jti = "j", .access_expires_at = 5, .refresh_family_id = std::nullopt},
      1'700'000'001);
  ASSERT_TRUE(consumed.ok()) << consumed.status().ToString();
  EXPECT_TRUE(consumed->first_use);
  EXPECT_EQ(consumed->code.nonce, std::nullopt);
  EXPECT_EQ(consumed->code.refresh_family_id, std::nullopt);
  EXPECT_EQ(consumed->code.dpop_jkt, std::nullopt);
}

TYPED_TEST_P(StoreConformanceTest, ConcurrentRedemptionsOfOneCodeLetExactlyOneWin) {
  ASSERT_TRUE(this->store_->CreateUser(this->MakeUser("u1", "alice")).ok());
  ASSERT_TRUE(this->store_->InsertAuthorizationCode(MakeCode(Hex64('d'))).ok());
  constexpr int kThreads = 6;
  std::atomic<int> winners{0};
  std::atomic<int> errors{0};
  std::latch start(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      start.arrive_and_wait();
      Result<ConsumedCode> consumed =
          this->store_->ConsumeAuthorizationCode(Hex64('d'),
                                                 {.access_jti = "jti-" + std::to_string(i),
                                                  .access_expires_at = 9,
                                                  .refresh_family_id = std::nullopt},
                                                 10 + i);
      if (!consumed.ok()) {
        // SQLite may answer kUnavailable when the busy timeout elapses; never a wrong answer.
        ++errors;
        return;
      }
      if (consumed->first_use) ++winners;
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(winners.load(), 1);
  EXPECT_EQ(errors.load(), 0);
}

TYPED_TEST_P(StoreConformanceTest, PruneAuthorizationCodesDeletesThoseExpiredAtOrBefore) {
  ASSERT_TRUE(this->store_->CreateUser(this->MakeUser("u1", "alice")).ok());
  ASSERT_TRUE(
      this->store_->InsertAuthorizationCode(MakeCode(Hex64('1'), "u1", 1'700'000'050)).ok());
  ASSERT_TRUE(
      this->store_->InsertAuthorizationCode(MakeCode(Hex64('2'), "u1", 1'700'000'060)).ok());
  ASSERT_TRUE(
      this->store_->InsertAuthorizationCode(MakeCode(Hex64('3'), "u1", 1'700'000'070)).ok());
  Result<int> pruned = this->store_->PruneAuthorizationCodes(1'700'000'060);
  ASSERT_TRUE(pruned.ok()) << pruned.status().ToString();
  EXPECT_EQ(*pruned, 2);
  const CodeIssue issue{
      .access_jti = "j", .access_expires_at = 1, .refresh_family_id = std::nullopt};
  EXPECT_TRUE(
      HasCode(this->store_->ConsumeAuthorizationCode(Hex64('2'), issue, 1), StatusCode::kNotFound));
  EXPECT_TRUE(this->store_->ConsumeAuthorizationCode(Hex64('3'), issue, 1).ok());
}

TYPED_TEST_P(StoreConformanceTest, DpopBindingsRoundTrip) {
  Client client = this->MakeClient("mobile");
  client.require_dpop = true;
  ASSERT_TRUE(this->store_->CreateClient(client).ok());
  Result<Client> found = this->store_->FindClient("mobile");
  ASSERT_TRUE(found.ok()) << found.status().ToString();
  EXPECT_TRUE(found->require_dpop);

  RefreshToken token = this->MakeRefresh("h1", "f1");
  token.dpop_jkt = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs";
  ASSERT_TRUE(this->store_->InsertRefreshToken(token).ok());
  Result<RefreshToken> bound = this->store_->FindRefreshToken("h1");
  ASSERT_TRUE(bound.ok()) << bound.status().ToString();
  EXPECT_EQ(bound->dpop_jkt, token.dpop_jkt);
}

TYPED_TEST_P(StoreConformanceTest, DpopProofIsRecordedOnceUntilItExpires) {
  const std::string key = Hex64('a');
  Result<bool> first = this->store_->RecordDpopProof(key, 1'000, 900);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_TRUE(*first);
  Result<bool> replay = this->store_->RecordDpopProof(key, 1'010, 999);
  ASSERT_TRUE(replay.ok());
  EXPECT_FALSE(*replay);
  // Once the record's time is over, the key may be recorded again (a new proof lifetime).
  Result<bool> later = this->store_->RecordDpopProof(key, 2'000, 1'000);
  ASSERT_TRUE(later.ok());
  EXPECT_TRUE(*later);
  EXPECT_FALSE(*this->store_->RecordDpopProof(key, 2'100, 1'500));
  ASSERT_TRUE(this->store_->RecordDpopProof(Hex64('b'), 1'200, 900).ok());
  Result<int> pruned = this->store_->PruneDpopProofs(1'200);
  ASSERT_TRUE(pruned.ok()) << pruned.status().ToString();
  EXPECT_EQ(*pruned, 1);
  EXPECT_TRUE(*this->store_->RecordDpopProof(Hex64('b'), 1'300, 1'201));
}

TYPED_TEST_P(StoreConformanceTest, ConcurrentRecordsOfOneDpopProofLetExactlyOneWin) {
  std::atomic<int> winners{0};
  std::atomic<int> errors{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&] {
      Result<bool> r = this->store_->RecordDpopProof(Hex64('c'), 5'000, 4'000);
      if (!r.ok()) {
        ++errors;
      } else if (*r) {
        ++winners;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(winners.load(), 1);
  EXPECT_EQ(errors.load(), 0);
}

TYPED_TEST_P(StoreConformanceTest, BrowserSessionIsCreatedFoundTouchedAndListedNewestFirst) {
  ASSERT_TRUE(this->store_->CreateUser(this->MakeUser("u1", "alice")).ok());
  ASSERT_TRUE(this->store_->CreateUser(this->MakeUser("u2", "bob")).ok());
  const BrowserSession older = MakeSession("sessionaaaaaaaa01", 'a', "u1", 1'700'000'000);
  const BrowserSession newer = MakeSession("sessionaaaaaaaa02", 'b', "u1", 1'700'000'100);
  const BrowserSession expired =
      MakeSession("sessionaaaaaaaa03", 'c', "u1", 1'700'000'200, 1'700'000'500);
  const BrowserSession bobs = MakeSession("sessionbbbbbbbb01", 'd', "u2");
  for (const BrowserSession& s : {older, newer, expired, bobs}) {
    ASSERT_TRUE(this->store_->CreateBrowserSession(s).ok());
  }
  // id clash, token_hash clash, unknown user.
  EXPECT_TRUE(HasCode(this->store_->CreateBrowserSession(MakeSession("sessionaaaaaaaa01", 'e')),
                      StatusCode::kAlreadyExists));
  EXPECT_TRUE(HasCode(this->store_->CreateBrowserSession(MakeSession("sessionaaaaaaaa09", 'a')),
                      StatusCode::kAlreadyExists));
  EXPECT_TRUE(
      HasCode(this->store_->CreateBrowserSession(MakeSession("sessionghost00001", 'f', "ghost")),
              StatusCode::kNotFound));

  Result<BrowserSession> found = this->store_->FindBrowserSession(Hex64('b'));
  ASSERT_TRUE(found.ok()) << found.status().ToString();
  EXPECT_EQ(*found, newer);
  EXPECT_TRUE(HasCode(this->store_->FindBrowserSession(Hex64('9')), StatusCode::kNotFound));

  ASSERT_TRUE(this->store_->TouchBrowserSession(older.id, 1'700'000'300).ok());
  ASSERT_TRUE(this->store_->TouchBrowserSession(older.id, 1'700'000'250).ok());  // earlier: kept
  found = this->store_->FindBrowserSession(Hex64('a'));
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(found->last_seen_at, 1'700'000'300);
  EXPECT_TRUE(
      HasCode(this->store_->TouchBrowserSession("nosuchsession0001", 5), StatusCode::kNotFound));

  Result<std::vector<BrowserSession>> listed =
      this->store_->ListBrowserSessions("u1", 1'700'000'500);
  ASSERT_TRUE(listed.ok()) << listed.status().ToString();
  ASSERT_EQ(listed->size(), 2u);
  EXPECT_EQ((*listed)[0].id, newer.id);
  EXPECT_EQ((*listed)[1].id, older.id);
  listed = this->store_->ListBrowserSessions("u1", 1'700'000'499);
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 3u);
  EXPECT_EQ((*listed)[0].id, expired.id);
  listed = this->store_->ListBrowserSessions("ghost", 0);
  ASSERT_TRUE(listed.ok());
  EXPECT_TRUE(listed->empty());
}

TYPED_TEST_P(StoreConformanceTest, DeleteBrowserSessionOnlyOfItsOwnUser) {
  ASSERT_TRUE(this->store_->CreateUser(this->MakeUser("u1", "alice")).ok());
  ASSERT_TRUE(this->store_->CreateUser(this->MakeUser("u2", "bob")).ok());
  ASSERT_TRUE(this->store_->CreateBrowserSession(MakeSession("sessionaaaaaaaa01", 'a', "u1")).ok());
  ASSERT_TRUE(this->store_->CreateBrowserSession(MakeSession("sessionaaaaaaaa02", 'b', "u1")).ok());
  ASSERT_TRUE(this->store_->CreateBrowserSession(MakeSession("sessionbbbbbbbb01", 'c', "u2")).ok());
  EXPECT_TRUE(HasCode(this->store_->DeleteBrowserSession("u1", "sessionbbbbbbbb01"),
                      StatusCode::kNotFound));
  EXPECT_TRUE(this->store_->FindBrowserSession(Hex64('c')).ok());
  ASSERT_TRUE(this->store_->DeleteBrowserSession("u1", "sessionaaaaaaaa01").ok());
  EXPECT_TRUE(HasCode(this->store_->FindBrowserSession(Hex64('a')), StatusCode::kNotFound));
  EXPECT_TRUE(HasCode(this->store_->DeleteBrowserSession("u1", "sessionaaaaaaaa01"),
                      StatusCode::kNotFound));

  ASSERT_TRUE(this->store_->CreateBrowserSession(MakeSession("sessionaaaaaaaa03", 'd', "u1")).ok());
  Result<int> deleted = this->store_->DeleteUserBrowserSessions("u1");
  ASSERT_TRUE(deleted.ok()) << deleted.status().ToString();
  EXPECT_EQ(*deleted, 2);
  deleted = this->store_->DeleteUserBrowserSessions("u1");
  ASSERT_TRUE(deleted.ok());
  EXPECT_EQ(*deleted, 0);
  EXPECT_TRUE(this->store_->FindBrowserSession(Hex64('c')).ok());
}

TYPED_TEST_P(StoreConformanceTest, PruneBrowserSessionsDeletesThoseExpiredAtOrBeforeNow) {
  ASSERT_TRUE(this->store_->CreateUser(this->MakeUser("u1", "alice")).ok());
  ASSERT_TRUE(
      this->store_->CreateBrowserSession(MakeSession("sessionaaaaaaaa01", 'a', "u1", 1, 100)).ok());
  ASSERT_TRUE(
      this->store_->CreateBrowserSession(MakeSession("sessionaaaaaaaa02", 'b', "u1", 1, 200)).ok());
  ASSERT_TRUE(
      this->store_->CreateBrowserSession(MakeSession("sessionaaaaaaaa03", 'c', "u1", 1, 300)).ok());
  Result<int> pruned = this->store_->PruneBrowserSessions(200);
  ASSERT_TRUE(pruned.ok()) << pruned.status().ToString();
  EXPECT_EQ(*pruned, 2);
  EXPECT_TRUE(HasCode(this->store_->FindBrowserSession(Hex64('b')), StatusCode::kNotFound));
  EXPECT_TRUE(this->store_->FindBrowserSession(Hex64('c')).ok());
}

TYPED_TEST_P(StoreConformanceTest, DeleteUserDeletesTheirCodesSessionsAndTotp) {
  ASSERT_TRUE(this->store_->CreateUser(this->MakeUser("u1", "alice")).ok());
  ASSERT_TRUE(this->store_->CreateUser(this->MakeUser("u2", "bob")).ok());
  ASSERT_TRUE(this->store_->InsertAuthorizationCode(MakeCode(Hex64('a'), "u1")).ok());
  ASSERT_TRUE(this->store_->InsertAuthorizationCode(MakeCode(Hex64('b'), "u2")).ok());
  ASSERT_TRUE(this->store_->CreateBrowserSession(MakeSession("sessionaaaaaaaa01", 'a', "u1")).ok());
  ASSERT_TRUE(this->store_->CreateBrowserSession(MakeSession("sessionbbbbbbbb01", 'b', "u2")).ok());
  ASSERT_TRUE(this->store_->PutPendingTotp(MakeTotp("u1")).ok());
  ASSERT_TRUE(this->store_->ConfirmTotp("u1", {Hex64('1')}, 10, 1'700'000'100).ok());
  ASSERT_TRUE(this->store_->DeleteUser("u1").ok());
  const CodeIssue issue{
      .access_jti = "j", .access_expires_at = 1, .refresh_family_id = std::nullopt};
  EXPECT_TRUE(
      HasCode(this->store_->ConsumeAuthorizationCode(Hex64('a'), issue, 1), StatusCode::kNotFound));
  EXPECT_TRUE(this->store_->ConsumeAuthorizationCode(Hex64('b'), issue, 1).ok());
  EXPECT_TRUE(HasCode(this->store_->FindBrowserSession(Hex64('a')), StatusCode::kNotFound));
  EXPECT_TRUE(this->store_->FindBrowserSession(Hex64('b')).ok());
  EXPECT_TRUE(HasCode(this->store_->FindTotp("u1"), StatusCode::kNotFound));
  // A user of the same id starts without the old recovery codes.
  ASSERT_TRUE(this->store_->CreateUser(this->MakeUser("u1", "alice")).ok());
  ASSERT_TRUE(this->store_->PutPendingTotp(MakeTotp("u1")).ok());
  Result<TotpEnrollment> fresh = this->store_->FindTotp("u1");
  ASSERT_TRUE(fresh.ok());
  EXPECT_TRUE(fresh->recovery_code_hashes.empty());
}

TYPED_TEST_P(StoreConformanceTest, DeleteClientLeavesAuthorizationCodesAlone) {
  ASSERT_TRUE(this->store_->CreateUser(this->MakeUser("u1", "alice")).ok());
  ASSERT_TRUE(this->store_->CreateClient(this->MakeClient("web")).ok());
  ASSERT_TRUE(this->store_->InsertAuthorizationCode(MakeCode(Hex64('a'))).ok());
  ASSERT_TRUE(this->store_->DeleteClient("web", 2).ok());
  Result<ConsumedCode> consumed = this->store_->ConsumeAuthorizationCode(
      Hex64('a'), {.access_jti = "j", .access_expires_at = 1, .refresh_family_id = std::nullopt},
      3);
  ASSERT_TRUE(consumed.ok()) << consumed.status().ToString();
  EXPECT_EQ(consumed->code.client_id, "web");
}

TYPED_TEST_P(StoreConformanceTest, ReplaceSealedTotpSecretsIsAllOrNothing) {
  ASSERT_TRUE(this->store_->CreateUser(this->MakeUser("u1", "alice")).ok());
  ASSERT_TRUE(this->store_->CreateUser(this->MakeUser("u2", "bob")).ok());
  ASSERT_TRUE(this->store_->PutPendingTotp(MakeTotp("u2", std::string("b\x00old", 5))).ok());
  ASSERT_TRUE(this->store_->PutPendingTotp(MakeTotp("u1", std::string("a\x00old", 5))).ok());
  auto listed = this->store_->ListSealedTotpSecrets();
  ASSERT_TRUE(listed.ok()) << listed.status().ToString();
  ASSERT_EQ(listed->size(), 2u);
  EXPECT_EQ((*listed)[0], std::make_pair(std::string("u1"), std::string("a\x00old", 5)));
  EXPECT_TRUE(HasCode(this->store_->ReplaceSealedTotpSecrets({{"u1", "new"}, {"ghost", "x"}}),
                      StatusCode::kNotFound));
  EXPECT_EQ(this->store_->FindTotp("u1")->sealed_secret, std::string("a\x00old", 5));
  const std::string resealed("\x01new\x00", 5);
  ASSERT_TRUE(this->store_->ReplaceSealedTotpSecrets({{"u1", resealed}, {"u2", "n2"}}).ok());
  EXPECT_EQ(this->store_->FindTotp("u1")->sealed_secret, resealed);
  EXPECT_EQ(this->store_->FindTotp("u2")->sealed_secret, "n2");
}

TYPED_TEST_P(StoreConformanceTest, PendingTotpIsReplacedUntilConfirmed) {
  ASSERT_TRUE(this->store_->CreateUser(this->MakeUser("u1", "alice")).ok());
  EXPECT_TRUE(HasCode(this->store_->FindTotp("u1"), StatusCode::kNotFound));
  EXPECT_TRUE(HasCode(this->store_->PutPendingTotp(MakeTotp("ghost")), StatusCode::kNotFound));

  TotpEnrollment first = MakeTotp("u1", std::string("first\x00\x01\xfe", 8));
  ASSERT_TRUE(this->store_->PutPendingTotp(first).ok());
  Result<TotpEnrollment> found = this->store_->FindTotp("u1");
  ASSERT_TRUE(found.ok()) << found.status().ToString();
  EXPECT_EQ(*found, first);

  TotpEnrollment second = MakeTotp("u1", std::string("second\x00\xff", 8));
  second.created_at = 1'700'000'050;
  ASSERT_TRUE(this->store_->PutPendingTotp(second).ok());
  found = this->store_->FindTotp("u1");
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(*found, second);

  ASSERT_TRUE(
      this->store_->ConfirmTotp("u1", {Hex64('2'), Hex64('1'), Hex64('1')}, 100, 1'700'000'100)
          .ok());
  found = this->store_->FindTotp("u1");
  ASSERT_TRUE(found.ok());
  EXPECT_TRUE(found->confirmed);
  EXPECT_EQ(found->confirmed_at, std::optional<UnixSeconds>(1'700'000'100));
  EXPECT_EQ(found->last_used_step, 100);
  EXPECT_EQ(found->sealed_secret, second.sealed_secret);
  EXPECT_EQ(found->recovery_code_hashes, std::vector<std::string>({Hex64('1'), Hex64('2')}));

  EXPECT_TRUE(HasCode(this->store_->PutPendingTotp(MakeTotp("u1")), StatusCode::kAlreadyExists));
  found = this->store_->FindTotp("u1");
  ASSERT_TRUE(found.ok());
  EXPECT_TRUE(found->confirmed);
  EXPECT_EQ(found->sealed_secret, second.sealed_secret);
}

TYPED_TEST_P(StoreConformanceTest, ConfirmTotpIsAbortedWhenConfirmedOrStepIsOld) {
  ASSERT_TRUE(this->store_->CreateUser(this->MakeUser("u1", "alice")).ok());
  EXPECT_TRUE(HasCode(this->store_->ConfirmTotp("u1", {}, 5, 1), StatusCode::kNotFound));
  TotpEnrollment pending = MakeTotp("u1");
  pending.last_used_step = 50;
  ASSERT_TRUE(this->store_->PutPendingTotp(pending).ok());
  EXPECT_TRUE(HasCode(this->store_->ConfirmTotp("u1", {Hex64('1')}, 50, 1), StatusCode::kAborted));
  Result<TotpEnrollment> found = this->store_->FindTotp("u1");
  ASSERT_TRUE(found.ok());
  EXPECT_FALSE(found->confirmed);
  EXPECT_TRUE(found->recovery_code_hashes.empty());
  ASSERT_TRUE(this->store_->ConfirmTotp("u1", {Hex64('1')}, 51, 2).ok());
  EXPECT_TRUE(HasCode(this->store_->ConfirmTotp("u1", {Hex64('2')}, 60, 3), StatusCode::kAborted));
  found = this->store_->FindTotp("u1");
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(found->last_used_step, 51);
  EXPECT_EQ(found->confirmed_at, std::optional<UnixSeconds>(2));
  EXPECT_EQ(found->recovery_code_hashes, std::vector<std::string>({Hex64('1')}));
}

TYPED_TEST_P(StoreConformanceTest, UseTotpStepIsACompareAndSet) {
  ASSERT_TRUE(this->store_->CreateUser(this->MakeUser("u1", "alice")).ok());
  EXPECT_TRUE(HasCode(this->store_->UseTotpStep("u1", 5), StatusCode::kNotFound));
  ASSERT_TRUE(this->store_->PutPendingTotp(MakeTotp("u1")).ok());
  ASSERT_TRUE(this->store_->ConfirmTotp("u1", {}, 100, 1).ok());
  EXPECT_TRUE(HasCode(this->store_->UseTotpStep("u1", 100), StatusCode::kAborted));
  EXPECT_TRUE(HasCode(this->store_->UseTotpStep("u1", 99), StatusCode::kAborted));
  ASSERT_TRUE(this->store_->UseTotpStep("u1", 101).ok());
  EXPECT_TRUE(HasCode(this->store_->UseTotpStep("u1", 101), StatusCode::kAborted));
  ASSERT_TRUE(this->store_->UseTotpStep("u1", 103).ok());
  Result<TotpEnrollment> found = this->store_->FindTotp("u1");
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(found->last_used_step, 103);
}

TYPED_TEST_P(StoreConformanceTest, ConcurrentUsesOfOneTotpStepLetExactlyOneWin) {
  ASSERT_TRUE(this->store_->CreateUser(this->MakeUser("u1", "alice")).ok());
  ASSERT_TRUE(this->store_->PutPendingTotp(MakeTotp("u1")).ok());
  ASSERT_TRUE(this->store_->ConfirmTotp("u1", {}, 1, 1).ok());
  constexpr int kThreads = 6;
  std::atomic<int> winners{0};
  std::atomic<int> aborted{0};
  std::latch start(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&] {
      start.arrive_and_wait();
      Status s = this->store_->UseTotpStep("u1", 2);
      if (s.ok()) ++winners;
      if (s.code() == StatusCode::kAborted) ++aborted;
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(winners.load(), 1);
  EXPECT_EQ(aborted.load(), kThreads - 1);
}

TYPED_TEST_P(StoreConformanceTest, RecoveryCodeIsUsedOnceAndDeleteTotpRemovesAll) {
  ASSERT_TRUE(this->store_->CreateUser(this->MakeUser("u1", "alice")).ok());
  ASSERT_TRUE(this->store_->CreateUser(this->MakeUser("u2", "bob")).ok());
  ASSERT_TRUE(this->store_->PutPendingTotp(MakeTotp("u1")).ok());
  ASSERT_TRUE(this->store_->ConfirmTotp("u1", {Hex64('1'), Hex64('2')}, 7, 1).ok());
  ASSERT_TRUE(this->store_->PutPendingTotp(MakeTotp("u2")).ok());
  ASSERT_TRUE(this->store_->ConfirmTotp("u2", {Hex64('3')}, 7, 1).ok());

  EXPECT_TRUE(HasCode(this->store_->UseRecoveryCode("u1", Hex64('3')), StatusCode::kNotFound));
  ASSERT_TRUE(this->store_->UseRecoveryCode("u1", Hex64('1')).ok());
  EXPECT_TRUE(HasCode(this->store_->UseRecoveryCode("u1", Hex64('1')), StatusCode::kNotFound));
  Result<TotpEnrollment> found = this->store_->FindTotp("u1");
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(found->recovery_code_hashes, std::vector<std::string>({Hex64('2')}));

  ASSERT_TRUE(this->store_->DeleteTotp("u1").ok());
  EXPECT_TRUE(HasCode(this->store_->FindTotp("u1"), StatusCode::kNotFound));
  EXPECT_TRUE(HasCode(this->store_->DeleteTotp("u1"), StatusCode::kNotFound));
  EXPECT_TRUE(HasCode(this->store_->UseRecoveryCode("u1", Hex64('2')), StatusCode::kNotFound));
  // Enrolling again starts clean.
  ASSERT_TRUE(this->store_->PutPendingTotp(MakeTotp("u1")).ok());
  found = this->store_->FindTotp("u1");
  ASSERT_TRUE(found.ok());
  EXPECT_FALSE(found->confirmed);
  EXPECT_TRUE(found->recovery_code_hashes.empty());
  // Bob's enrolment is untouched.
  found = this->store_->FindTotp("u2");
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(found->recovery_code_hashes, std::vector<std::string>({Hex64('3')}));
}

// Threat model F7: keyed recovery codes ("k1:" + 64 hex) and legacy ones (64 hex) live side by
// side (an enrolment made before the fix keeps its legacy codes until they are used); the schema
// refuses anything else.
TYPED_TEST_P(StoreConformanceTest, KeyedAndLegacyRecoveryCodesAreStoredAndUsedOnce) {
  ASSERT_TRUE(this->store_->CreateUser(this->MakeUser("u1", "alice")).ok());
  ASSERT_TRUE(this->store_->PutPendingTotp(MakeTotp("u1")).ok());
  EXPECT_FALSE(this->store_->ConfirmTotp("u1", {"k2:" + Hex64('1')}, 7, 1).ok());
  EXPECT_FALSE(this->store_->ConfirmTotp("u1", {"k1:" + Hex64('1') + "0"}, 7, 1).ok());
  EXPECT_FALSE(this->store_->ConfirmTotp("u1", {Hex64('1').substr(1)}, 7, 1).ok());
  Result<TotpEnrollment> found = this->store_->FindTotp("u1");
  ASSERT_TRUE(found.ok());
  EXPECT_FALSE(found->confirmed);  // nothing written by the refused attempts

  const std::string keyed = "k1:" + Hex64('a');
  ASSERT_TRUE(this->store_->ConfirmTotp("u1", {keyed, Hex64('b')}, 7, 1).ok());
  found = this->store_->FindTotp("u1");
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(found->recovery_code_hashes, std::vector<std::string>({Hex64('b'), keyed}));
  EXPECT_TRUE(HasCode(this->store_->UseRecoveryCode("u1", Hex64('a')), StatusCode::kNotFound));
  ASSERT_TRUE(this->store_->UseRecoveryCode("u1", keyed).ok());
  EXPECT_TRUE(HasCode(this->store_->UseRecoveryCode("u1", keyed), StatusCode::kNotFound));
  ASSERT_TRUE(this->store_->UseRecoveryCode("u1", Hex64('b')).ok());
  found = this->store_->FindTotp("u1");
  ASSERT_TRUE(found.ok());
  EXPECT_TRUE(found->recovery_code_hashes.empty());
}

// F7 upgrade: legacy values are listed (keyed ones are not) and replaced in one transaction; a
// value used meanwhile is skipped.
TYPED_TEST_P(StoreConformanceTest, LegacyRecoveryCodesAreListedAndReplacedInPlace) {
  ASSERT_TRUE(this->store_->CreateUser(this->MakeUser("u1", "alice")).ok());
  ASSERT_TRUE(this->store_->CreateUser(this->MakeUser("u2", "bob")).ok());
  ASSERT_TRUE(this->store_->PutPendingTotp(MakeTotp("u1")).ok());
  ASSERT_TRUE(this->store_->PutPendingTotp(MakeTotp("u2")).ok());
  const std::string keyed = "k1:" + Hex64('c');
  ASSERT_TRUE(this->store_->ConfirmTotp("u2", {Hex64('b'), keyed, Hex64('a')}, 7, 1).ok());
  ASSERT_TRUE(this->store_->ConfirmTotp("u1", {Hex64('d')}, 7, 1).ok());
  Result<std::vector<std::pair<std::string, std::string>>> legacy =
      this->store_->ListLegacyRecoveryCodeHashes();
  ASSERT_TRUE(legacy.ok()) << legacy.status().ToString();
  EXPECT_EQ(*legacy, (std::vector<std::pair<std::string, std::string>>{
                         {"u1", Hex64('d')}, {"u2", Hex64('a')}, {"u2", Hex64('b')}}));

  Result<int> replaced = this->store_->ReplaceRecoveryCodeHashes(
      {{"u2", Hex64('a'), "k1:" + Hex64('a')},
       {"u2", Hex64('9'), "k1:" + Hex64('9')},  // gone: skipped
       {"u1", Hex64('b'), "k1:" + Hex64('b')},  // another user's value: skipped
       {"u1", Hex64('d'), "k1:" + Hex64('d')}});
  ASSERT_TRUE(replaced.ok()) << replaced.status().ToString();
  EXPECT_EQ(*replaced, 2);
  Result<TotpEnrollment> found = this->store_->FindTotp("u2");
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(found->recovery_code_hashes,
            std::vector<std::string>({Hex64('b'), "k1:" + Hex64('a'), keyed}));
  found = this->store_->FindTotp("u1");
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(found->recovery_code_hashes, std::vector<std::string>({"k1:" + Hex64('d')}));
  legacy = this->store_->ListLegacyRecoveryCodeHashes();
  ASSERT_TRUE(legacy.ok());
  EXPECT_EQ(*legacy, (std::vector<std::pair<std::string, std::string>>{{"u2", Hex64('b')}}));

  // All or nothing: a value the schema refuses rolls the whole batch back.
  EXPECT_FALSE(this->store_
                   ->ReplaceRecoveryCodeHashes(
                       {{"u2", Hex64('b'), "k1:" + Hex64('b')}, {"u2", keyed, "bad"}})
                   .ok());
  legacy = this->store_->ListLegacyRecoveryCodeHashes();
  ASSERT_TRUE(legacy.ok());
  EXPECT_EQ(*legacy, (std::vector<std::pair<std::string, std::string>>{{"u2", Hex64('b')}}));
}

REGISTER_TYPED_TEST_SUITE_P(
    StoreConformanceTest, RotateIntoAnExistingHashChangesNothing,
    ConcurrentWritesEachKeepTheirOwnOutcome, GetThrottlesReadsEveryKeyInOrder,
    ThrottlesOfUsersReturnsExactlyTheirAccountAndPairRecords,
    ReplaceSealedPrivateKeysIsAllOrNothing, CreatedUserIsFoundByIdAndByUsernameInAnyCase,
    UserWithoutEmailOrRolesRoundTrips, UsernameDifferingOnlyInCaseIsAlreadyExists,
    DuplicateIdIsAlreadyExists, NonAsciiBytesAreNotCaseFolded,
    CreateUserWithUnknownRoleIsNotFoundAndWritesNothing, CreateUserSortsAndDeduplicatesRoles,
    UnknownUserIsNotFound, ListUsersPagesInNormalizedOrderUntilNoCursor,
    ListUsersExactPageHasNoCursorAndCarriesRoles, ListUsersWithZeroLimitIsInvalidArgument,
    CountUsersCountsEveryUser, UpdatePasswordHashReplacesHashAndKeepsCredentialVersion,
    RecordLoginSetsLastLoginAt, BuiltInRolesAreSeeded,
    UpsertRoleCreatesThenReplacesPermissionsKeepingCreatedAt, UnknownRoleIsNotFound,
    ListRolesIsOrderedByName, ListRolesPagePagesByNameWithPermissionsUntilNoCursor,
    ListRolesPageExactPageHasNoCursorAndBadInputIsInvalid,
    PermissionsOfUserIsSortedUniqueUnionOfRoles,
    SigningKeysAreListedOldestFirstWithOpaqueBytesIntact, DuplicateKidIsAlreadyExists,
    UnknownKeyStateIsInvalidArgument, UpdateSigningKeyStateSetsAndClearsDeactivatedAt,
    MigrateAgainAppliesNothingAndKeepsVersion, PingSucceedsAndBackendHasAName,
    ConcurrentCreatesWithDistinctNamesAllSucceed, ConcurrentCreatesOfOneNameLetExactlyOneWin,
    BumpCredentialVersionIncrementsByOneAndPersists,
    DisablingBumpsCredentialVersionAndEnablingDoesNot, ListUserStatesReturnsEveryUser,
    InsertedRefreshTokenIsFoundWithEveryField, FindSuccessorReturnsTheTokenNamingItsParent,
    RotateSucceedsOnceThenIsAborted, RotateOfRevokedTokenIsFailedPreconditionAndOfUnknownNotFound,
    RotateRejectsSuccessorWithWrongParentOrFamily, ConcurrentRotationsOfOneTokenLetExactlyOneWin,
    ReplaceUnusedSuccessorRevokesItAndInsertsTheReplacement,
    ReplaceUnusedSuccessorIsAbortedWhenSuccessorIsUsedOrRevoked,
    RevokeFamilyCountsOnlyNotYetRevokedTokensOfThatFamily,
    RevokeUserRefreshTokensCountsEveryFamilyOfThatUser,
    PruneRefreshTokensDeletesFamiliesExpiredAtOrBeforeNow,
    RevokedJtiIsIdempotentListedUntilExpiryAndPruned, RevokingAJtiAgainNeverShortensItsExpiry,
    CreatedClientIsFoundWithEveryFieldAndDuplicateIsAlreadyExists,
    NewClientWithoutBrowserMetadataGetsTheDefaults,
    PublicClientWithRedirectUrisRoundTripsVerbatimInOrder, ReplaceSealedTotpSecretsIsAllOrNothing,
    ClientWithUnknownAuthMethodOrAlgorithmIsRefusedByTheSchema,
    ClientWithNoGrantTypesOrScopesRoundTrips, ListClientsPagesByClientIdUntilNoCursor,
    DeleteClientRevokesItsRefreshTokensOnly, AppendedAuditEventsGetIncreasingIdsAndRoundTrip,
    AuditDetailsMustBeAJsonObject, ListAuditFiltersBySinceTypeAndUser,
    ListAuditPagesNewestFirstWithTheLastIdAsCursor, PutThrottleInsertsThenReplacesEveryField,
    CompareAndSwapThrottlesWritesAllOrNothing, ConcurrentCompareAndSwapIncrementsLoseNoUpdate,
    UnknownThrottleKeyIsNulloptAndEmptyKeyIsInvalidArgument, DeleteThrottleIsIdempotent,
    ListThrottlesReturnsRecordsUpdatedSinceOrderedByKey,
    PruneThrottlesDeletesRowsUpdatedBeforeTheCutoff,
    DeleteThrottlesForUserRemovesOnlyThatUsersPairsAndAccount,
    KnownSourceIsKnownSinceItsLatestSuccessOnly, PruneKnownSourcesDeletesThoseLastUsedBefore,
    ConcurrentThrottleUpsertsOfOneKeyLeaveOneWholeRecord, UpdateUserEmailSetsAndClearsIt,
    SetUserRolesRemovingARoleBumpsCredentialVersion, SetUserRolesAddingOnlyKeepsVersion,
    SetUserRolesRefusesToLeaveAdminWithoutHolder,
    SetUserRolesUnknownRoleIsInvalidArgumentAndWritesNothing,
    DeleteUserCascadesAndAppearsInChangeFeed, DeleteLastAdminIsFailedPrecondition,
    UpdateRoleRemovingPermissionBumpsHolders, UpdateRoleAddingPermissionBumpsNobody,
    DeleteRoleBumpsFormerHolders, UserChangesFeedSeesCreateDisableBumpDelete,
    PruneUserChangesDeletesOlderEntriesAndSeqKeepsGrowing, QueryUsersFiltersByPrefixRoleDisabled,
    QueryUsersPagesWithFilters, RecordPermissionUsesKeepsLatest,
    RecordPermissionUsesSkipsUnknownUsers, CreateRoleDuplicateIsAlreadyExists, UsersWithRoleSorted,
    ConcurrentAdminRemovalsLeaveExactlyOneHolder,
    ImportUsersSkipsTakenAndUnknownRoleRowsAndCommitsTheRest, ImportUsersDuplicateWithinBatch,
    ApiKeyIsCreatedFoundAndDeleted, ApiKeyWithoutScopesOrExpiryRoundTrips,
    ListApiKeysPagesByIdAndFiltersByOwner, DeleteApiKeyAppearsInChangeFeed,
    DeleteUserDeletesTheirApiKeys, RecordApiKeyUsesKeepsLatest,
    AuthorizationCodeIsConsumedOnceAndKeepsTheFirstIssue,
    AuthorizationCodeWithoutNonceOrRefreshRoundTrips,
    ConcurrentRedemptionsOfOneCodeLetExactlyOneWin,
    PruneAuthorizationCodesDeletesThoseExpiredAtOrBefore,
    BrowserSessionIsCreatedFoundTouchedAndListedNewestFirst, DeleteBrowserSessionOnlyOfItsOwnUser,
    PruneBrowserSessionsDeletesThoseExpiredAtOrBeforeNow,
    DeleteUserDeletesTheirCodesSessionsAndTotp, DeleteClientLeavesAuthorizationCodesAlone,
    PendingTotpIsReplacedUntilConfirmed, ConfirmTotpIsAbortedWhenConfirmedOrStepIsOld,
    UseTotpStepIsACompareAndSet, ConcurrentUsesOfOneTotpStepLetExactlyOneWin,
    RecoveryCodeIsUsedOnceAndDeleteTotpRemovesAll, KeyedAndLegacyRecoveryCodesAreStoredAndUsedOnce,
    LegacyRecoveryCodesAreListedAndReplacedInPlace, DpopBindingsRoundTrip,
    DpopProofIsRecordedOnceUntilItExpires, ConcurrentRecordsOfOneDpopProofLetExactlyOneWin);

}  // namespace portcullis::store::testing
