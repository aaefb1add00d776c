#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <string>
#include <vector>

#include "admin/admin_test_fixture.h"
#include "admin/directory.h"

namespace portcullis::admin {
namespace {

using testing::HasCode;
using Strings = std::vector<std::string>;

constexpr std::int64_t kDay = 86400;

class AccessReviewTest : public testing::DirectoryFixture {
 protected:
  void RecordUse(const std::string& user_id, const std::string& permission, UnixSeconds at) {
    ASSERT_TRUE(store_->RecordPermissionUses({{user_id, permission, at}}).ok());
  }

  Result<AccessReview> Review(int unused_days) {
    return BuildAccessReview(*store_, kStart, unused_days, nullptr);
  }

  static const AccessReviewEntry* Find(const AccessReview& review, const std::string& username) {
    for (const AccessReviewEntry& e : review.users) {
      if (e.user.username == username) return &e;
    }
    return nullptr;
  }
};

TEST_F(AccessReviewTest, NegativeWindowIsInvalidArgument) {
  Result<AccessReview> review = Review(-1);
  ASSERT_TRUE(HasCode(review, StatusCode::kInvalidArgument));
  EXPECT_EQ(review.status().message(), "unused_days must not be negative");
}

TEST_F(AccessReviewTest, PermissionsAndRolesUnusedWithinTheWindowAreListed) {
  AddRole("editor", {"articles:read", "articles:write"});
  AddRole("viewer", {"reports:read"});
  store::User alice = AddUser("alice", {"editor", "viewer"});
  RecordUse(alice.id, "articles:read", kStart - 10 * kDay);
  RecordUse(alice.id, "reports:read", kStart - 100 * kDay);

  Result<AccessReview> month = Review(30);
  ASSERT_TRUE(month.ok()) << month.status().ToString();
  const AccessReviewEntry* entry = Find(*month, "alice");
  ASSERT_NE(entry, nullptr);
  EXPECT_EQ(entry->permissions, (Strings{"articles:read", "articles:write", "reports:read"}));
  EXPECT_EQ(entry->unused_permissions, (Strings{"articles:write", "reports:read"}));
  EXPECT_EQ(entry->unused_roles, Strings{"viewer"});
  EXPECT_EQ(entry->last_permission_use, kStart - 10 * kDay);

  Result<AccessReview> year = Review(365);
  ASSERT_TRUE(year.ok()) << year.status().ToString();
  entry = Find(*year, "alice");
  ASSERT_NE(entry, nullptr);
  EXPECT_EQ(entry->unused_permissions, Strings{"articles:write"});
  EXPECT_EQ(entry->unused_roles, Strings{});

  // The window starts exactly unused_days before now: a use at that second counts.
  Result<AccessReview> ten = Review(10);
  ASSERT_TRUE(ten.ok());
  EXPECT_EQ(Find(*ten, "alice")->unused_roles, Strings{"viewer"});
  Result<AccessReview> nine = Review(9);
  ASSERT_TRUE(nine.ok());
  EXPECT_EQ(Find(*nine, "alice")->unused_roles, (Strings{"editor", "viewer"}));
}

TEST_F(AccessReviewTest, WildcardIsUsedWhenItGrantedARecordedCheck) {
  store::User root = AddUser("root", {"admin"});
  store::User idle = AddUser("idle", {"admin", "user"});
  RecordUse(root.id, "users:read", kStart - kDay);
  Result<AccessReview> review = Review(30);
  ASSERT_TRUE(review.ok()) << review.status().ToString();
  const AccessReviewEntry* used = Find(*review, "root");
  ASSERT_NE(used, nullptr);
  EXPECT_EQ(used->permissions, Strings{"*"});
  EXPECT_EQ(used->unused_permissions, Strings{});
  EXPECT_EQ(used->unused_roles, Strings{});
  const AccessReviewEntry* unused = Find(*review, "idle");
  ASSERT_NE(unused, nullptr);
  EXPECT_EQ(unused->unused_permissions, Strings{"*"});
  // "user" grants no permission at all, so it never granted a check either.
  EXPECT_EQ(unused->unused_roles, (Strings{"admin", "user"}));
  EXPECT_EQ(unused->last_permission_use, std::nullopt);
}

TEST_F(AccessReviewTest, UsersAreOrderedByUsernameAndRolesWithoutHoldersListed) {
  AddRole("auditor", {"audit:read"});
  AddRole("editor", {"articles:write"});
  AddUser("zed", {"editor"});
  AddUser("Alice", {"user"});
  AddUser("bob", {"user"});
  auto locked = [](const store::User& u) -> std::optional<UnixSeconds> {
    return u.username == "bob" ? std::optional<UnixSeconds>(kStart + 60) : std::nullopt;
  };
  Result<AccessReview> review = BuildAccessReview(*store_, kStart, 90, locked);
  ASSERT_TRUE(review.ok()) << review.status().ToString();
  EXPECT_EQ(review->generated_at, kStart);
  EXPECT_EQ(review->unused_days, 90);
  ASSERT_EQ(review->users.size(), 3u);
  EXPECT_EQ(review->users[0].user.username, "Alice");
  EXPECT_EQ(review->users[1].user.username, "bob");
  EXPECT_EQ(review->users[2].user.username, "zed");
  EXPECT_EQ(review->users[1].locked_until, kStart + 60);
  EXPECT_EQ(review->users[0].locked_until, std::nullopt);
  EXPECT_EQ(review->roles.size(), 4u);  // admin, auditor, editor, user
  EXPECT_EQ(review->roles_without_holders, (Strings{"admin", "auditor"}));
}

TEST_F(AccessReviewTest, ReviewReadsEveryPageOfUsers) {
  for (int i = 0; i < 501; ++i) {
    store::NewUser user;
    user.id = "id-" + std::to_string(i);
    user.username = "user" + std::to_string(1000 + i);
    user.password_hash = "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaA";
    user.roles = {"user"};
    ASSERT_TRUE(store_->CreateUser(user).ok());
  }
  Result<AccessReview> review = Review(30);
  ASSERT_TRUE(review.ok()) << review.status().ToString();
  EXPECT_EQ(review->users.size(), 501u);
  EXPECT_EQ(review->users.back().user.username, "user1500");
}

TEST_F(AccessReviewTest, JsonHasTheDocumentedShape) {
  AddRole("editor", {"articles:write"});
  store::User alice = AddUser("alice", {"editor"});
  RecordUse(alice.id, "articles:write", kStart - kDay);
  Result<AccessReview> review = Review(30);
  ASSERT_TRUE(review.ok()) << review.status().ToString();
  boost::json::object json = AccessReviewToJson(*review);
  EXPECT_EQ(json.at("generated_at"), "2023-11-14T22:13:20Z");
  EXPECT_EQ(json.at("unused_days"), 30);
  const boost::json::object& user = json.at("users").as_array().at(0).as_object();
  for (const char* key :
       {"id", "username", "email", "roles", "permissions", "disabled", "locked_until", "created_at",
        "last_login_at", "last_permission_use", "unused_roles", "unused_permissions", "api_keys"}) {
    EXPECT_TRUE(user.contains(key)) << key;
  }
  EXPECT_EQ(user.size(), 13u);
  EXPECT_EQ(user.at("api_keys"), boost::json::array{});
  EXPECT_EQ(user.at("username"), "alice");
  EXPECT_EQ(user.at("last_permission_use"), "2023-11-13T22:13:20Z");
  EXPECT_EQ(user.at("locked_until"), nullptr);
  EXPECT_EQ(user.at("unused_roles"), boost::json::array{});
  const boost::json::array& roles = json.at("roles").as_array();
  ASSERT_EQ(roles.size(), 3u);
  EXPECT_EQ(roles.at(1).at("name"), "editor");
  EXPECT_EQ(roles.at(1).at("holders"), 1);
  EXPECT_EQ(roles.at(0).at("holders"), 0);
  EXPECT_EQ(json.at("roles_without_holders"), (boost::json::array{"admin", "user"}));
}

TEST_F(AccessReviewTest, EachUserListsTheirApiKeysWithLastUseAndNoSecret) {
  AddRole("editor", {"articles:write"});
  store::User alice = AddUser("alice", {"editor"});
  store::User bob = AddUser("bob", {});
  store::ApiKey key;
  key.id = "k00000000002";
  key.secret_hash = std::string(64, 'c');
  key.user_id = alice.id;
  key.name = "deploy";
  key.scopes = {"articles:write"};
  key.created_at = kStart - 2 * kDay;
  key.expires_at = kStart + kDay;
  ASSERT_TRUE(store_->CreateApiKey(key).ok());
  key.id = "k00000000001";
  key.name = "backup";
  key.expires_at = std::nullopt;
  ASSERT_TRUE(store_->CreateApiKey(key).ok());
  ASSERT_TRUE(store_->RecordApiKeyUses({{"k00000000002", kStart - kDay}}).ok());

  Result<AccessReview> review = Review(30);
  ASSERT_TRUE(review.ok()) << review.status().ToString();
  const AccessReviewEntry* a = Find(*review, "alice");
  ASSERT_NE(a, nullptr);
  ASSERT_EQ(a->api_keys.size(), 2u);
  EXPECT_EQ(a->api_keys[0].id, "k00000000001");
  EXPECT_EQ(a->api_keys[1].last_used_at, std::optional<UnixSeconds>(kStart - kDay));
  const AccessReviewEntry* b = Find(*review, "bob");
  ASSERT_NE(b, nullptr);
  EXPECT_TRUE(b->api_keys.empty());

  boost::json::object json = AccessReviewToJson(*review);
  const boost::json::array& keys = json.at("users").as_array().at(0).at("api_keys").as_array();
  ASSERT_EQ(keys.size(), 2u);
  const boost::json::object& deploy = keys.at(1).as_object();
  EXPECT_EQ(deploy.size(), 5u);
  EXPECT_EQ(deploy.at("id"), "k00000000002");
  EXPECT_EQ(deploy.at("name"), "deploy");
  EXPECT_EQ(deploy.at("scopes"), (boost::json::array{"articles:write"}));
  EXPECT_EQ(deploy.at("expires_at"), "2023-11-15T22:13:20Z");
  EXPECT_EQ(deploy.at("last_used_at"), "2023-11-13T22:13:20Z");
  EXPECT_EQ(keys.at(0).at("expires_at"), nullptr);
  EXPECT_EQ(keys.at(0).at("last_used_at"), nullptr);
  EXPECT_EQ(boost::json::serialize(json).find(std::string(64, 'c')), std::string::npos);
}

}  // namespace
}  // namespace portcullis::admin
