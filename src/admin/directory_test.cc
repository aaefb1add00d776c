#include "admin/directory.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <string>
#include <vector>

#include "admin/admin_test_fixture.h"
#include "jose/verify_error.h"
#include "password/policy.h"

namespace portcullis::admin {
namespace {

using testing::HasCode;
using Strings = std::vector<std::string>;
using jose::VerifyError;

class DirectoryTest : public testing::DirectoryFixture {
 protected:
  NewUserInput Input(const std::string& username,
                     std::optional<Strings> roles = std::nullopt) const {
    NewUserInput input;
    input.username = username;
    input.password = SecretString(kPassword);
    input.roles = std::move(roles);
    return input;
  }

  std::int64_t UserCount() {
    Result<std::int64_t> n = store_->CountUsers();
    EXPECT_TRUE(n.ok());
    return n.ok() ? *n : -1;
  }
};

// ---------------------------------------------------------------- CreateUser / RegisterUser

TEST_F(DirectoryTest, CreateUserWithRoleBeyondActorsPermissionsIsDeniedAndWritesNothing) {
  AddRole("editor", {"articles:read", "articles:write"});
  Actor actor = UserActor("boss", {"users:write", "articles:read"});
  Result<store::User> user =
      directory_->CreateUser(actor, Input("bob", Strings{"editor"}), Context("boss"));
  ASSERT_TRUE(HasCode(user, StatusCode::kPermissionDenied));
  EXPECT_EQ(user.status().message(),
            "role \"editor\" carries permissions you do not hold: articles:write");
  EXPECT_EQ(UserCount(), 0);
  EXPECT_TRUE(AuditOf("user.created").empty());
}

TEST_F(DirectoryTest, CreateUserWithHeldRolesSucceedsAndIsCachedAndAudited) {
  AddRole("editor", {"articles:read"});
  Actor actor = UserActor("boss", {"users:write", "articles:*"});
  NewUserInput input = Input("Bob", Strings{"editor", "user", "editor"});
  input.email = "bob@example.com";
  Result<store::User> user = directory_->CreateUser(actor, input, Context("boss"));
  ASSERT_TRUE(user.ok()) << user.status().ToString();
  EXPECT_EQ(user->username, "Bob");
  EXPECT_EQ(user->roles, (Strings{"editor", "user"}));
  EXPECT_EQ(user->created_at, kStart);
  EXPECT_EQ(user->password_hash.rfind("$argon2id$", 0), 0u);
  EXPECT_EQ(cache_.Check(user->id, 1), VerifyError::kOk);

  std::vector<store::AuditEvent> events = AuditOf("user.created");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].actor, "boss");
  EXPECT_EQ(events[0].subject, user->id);
  EXPECT_EQ(events[0].request_id, "req-1");
  boost::json::object details = Details(events[0]);
  EXPECT_EQ(details.at("after").at("username"), "Bob");
  EXPECT_EQ(details.at("after").at("email"), "bob@example.com");
  EXPECT_EQ(details.at("after").at("roles"), (boost::json::array{"editor", "user"}));
  EXPECT_EQ(events[0].details_json.find("argon2"), std::string::npos);
  EXPECT_EQ(events[0].details_json.find(std::string(kPassword)), std::string::npos);
}

TEST_F(DirectoryTest, CreateUserWithoutRolesGetsTheUserRole) {
  Result<store::User> user = directory_->CreateUser(Actor::Cli(), Input("carol"), Context());
  ASSERT_TRUE(user.ok()) << user.status().ToString();
  EXPECT_EQ(user->roles, Strings{"user"});
}

TEST_F(DirectoryTest, CreateUserWithUnknownRoleIsInvalidArgumentNamingIt) {
  Result<store::User> user =
      directory_->CreateUser(Actor::Cli(), Input("bob", Strings{"user", "ghost"}), Context());
  ASSERT_TRUE(HasCode(user, StatusCode::kInvalidArgument));
  EXPECT_EQ(user.status().message(), "unknown role \"ghost\"");
  EXPECT_EQ(UserCount(), 0);
}

TEST_F(DirectoryTest, CreateUserWithMalformedRoleIsInvalidArgument) {
  Result<store::User> user =
      directory_->CreateUser(Actor::Cli(), Input("bob", Strings{"Bad Role"}), Context());
  ASSERT_TRUE(HasCode(user, StatusCode::kInvalidArgument));
  EXPECT_EQ(user.status().message().rfind("invalid role name", 0), 0u);
}

TEST_F(DirectoryTest, CreateUserWithWeakPasswordReportsThePolicy) {
  NewUserInput input = Input("bob");
  input.password = SecretString(std::string_view("short"));
  Result<store::User> user = directory_->CreateUser(Actor::Cli(), input, Context());
  ASSERT_TRUE(HasCode(user, StatusCode::kInvalidArgument));
  EXPECT_EQ(user.status().message(),
            password::DescribePolicyError(password::PolicyError::kTooShort, {}));
}

TEST_F(DirectoryTest, CreateUserWithInvalidUsernameOrEmailIsInvalidArgument) {
  Result<store::User> bad_name = directory_->CreateUser(Actor::Cli(), Input("-bob"), Context());
  EXPECT_TRUE(HasCode(bad_name, StatusCode::kInvalidArgument));
  NewUserInput input = Input("bob");
  input.email = "bob at example.com";
  Result<store::User> bad_email = directory_->CreateUser(Actor::Cli(), input, Context());
  ASSERT_TRUE(HasCode(bad_email, StatusCode::kInvalidArgument));
  EXPECT_EQ(bad_email.status().message(), "invalid email address");
  EXPECT_EQ(UserCount(), 0);
}

TEST_F(DirectoryTest, CreateUserWithTakenUsernameIsAlreadyExists) {
  AddUser("bob", {"user"});
  Result<store::User> again = directory_->CreateUser(Actor::Cli(), Input("BOB"), Context());
  ASSERT_TRUE(HasCode(again, StatusCode::kAlreadyExists));
  EXPECT_EQ(again.status().message(), "a user with that username already exists");
}

TEST_F(DirectoryTest, RegisterUserUsesDefaultRolesIgnoresInputRolesAndIsItsOwnActor) {
  Result<store::User> user =
      directory_->RegisterUser(Input("dave", Strings{"admin"}), {"user"}, Context(""));
  ASSERT_TRUE(user.ok()) << user.status().ToString();
  EXPECT_EQ(user->roles, Strings{"user"});
  EXPECT_EQ(cache_.Check(user->id, 1), VerifyError::kOk);
  std::vector<store::AuditEvent> events = AuditOf("user.created");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].actor, user->id);
  EXPECT_EQ(Details(events[0]).at("registered"), true);
}

// ---------------------------------------------------------------- SetUserRoles

TEST_F(DirectoryTest, ChangingOwnRolesIsDenied) {
  store::User me = AddUser("me", {"admin"});
  Result<store::User> r =
      directory_->SetUserRoles(UserActor(me.id, {"*"}), me.id, {"admin", "user"}, Context(me.id));
  ASSERT_TRUE(HasCode(r, StatusCode::kPermissionDenied));
  EXPECT_EQ(r.status().message(), "you cannot change your own roles");
}

TEST_F(DirectoryTest, AddingHeldRoleSucceedsWithoutBumpingAndIsAudited) {
  AddRole("editor", {"articles:write"});
  store::User bob = AddUser("bob", {"user"});
  Actor actor = UserActor("boss", {"users:write", "articles:*"});
  Result<store::User> r =
      directory_->SetUserRoles(actor, bob.id, {"user", "editor"}, Context("boss"));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->roles, (Strings{"editor", "user"}));
  EXPECT_EQ(r->credential_version, 1);
  EXPECT_EQ(store_->FindUserById(bob.id)->roles, (Strings{"editor", "user"}));

  std::vector<store::AuditEvent> events = AuditOf("user.roles_changed");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].actor, "boss");
  EXPECT_EQ(events[0].subject, bob.id);
  boost::json::object details = Details(events[0]);
  EXPECT_EQ(details.at("before").at("roles"), (boost::json::array{"user"}));
  EXPECT_EQ(details.at("after").at("roles"), (boost::json::array{"editor", "user"}));
}

TEST_F(DirectoryTest, AddingRoleWithUnheldPermissionIsDeniedAndWritesNothing) {
  AddRole("editor", {"articles:write"});
  store::User bob = AddUser("bob", {"user"});
  Actor actor = UserActor("boss", {"users:write", "articles:read"});
  Result<store::User> r =
      directory_->SetUserRoles(actor, bob.id, {"user", "editor"}, Context("boss"));
  ASSERT_TRUE(HasCode(r, StatusCode::kPermissionDenied));
  EXPECT_EQ(store_->FindUserById(bob.id)->roles, Strings{"user"});
  EXPECT_TRUE(AuditOf("user.roles_changed").empty());
}

TEST_F(DirectoryTest, KeepingARoleTheActorCouldNotGrantIsAllowed) {
  AddRole("editor", {"articles:write"});
  AddRole("viewer", {"articles:read"});
  store::User bob = AddUser("bob", {"editor"});
  Actor actor = UserActor("boss", {"users:write", "articles:read"});
  Result<store::User> r =
      directory_->SetUserRoles(actor, bob.id, {"editor", "viewer"}, Context("boss"));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->roles, (Strings{"editor", "viewer"}));
}

TEST_F(DirectoryTest, RemovingRoleBumpsCredentialVersionAndUpdatesCache) {
  AddRole("editor", {"articles:write"});
  store::User bob = AddUser("bob", {"editor", "user"});
  ASSERT_EQ(cache_.Check(bob.id, 1), VerifyError::kOk);
  // Removing needs no authority over the role's permissions.
  Actor actor = UserActor("boss", {"users:write"});
  Result<store::User> r = directory_->SetUserRoles(actor, bob.id, {"user"}, Context("boss"));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->roles, Strings{"user"});
  EXPECT_EQ(r->credential_version, 2);
  EXPECT_EQ(cache_.Check(bob.id, 1), VerifyError::kStaleCredentials);
  EXPECT_EQ(cache_.Check(bob.id, 2), VerifyError::kOk);
  EXPECT_EQ(Details(AuditOf("user.roles_changed").at(0)).at("credential_version_bumped"), true);
}

TEST_F(DirectoryTest, UnchangedRolesWriteAndAuditNothing) {
  store::User bob = AddUser("bob", {"user"});
  Result<store::User> r = directory_->SetUserRoles(Actor::Cli(), bob.id, {"user"}, Context());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->credential_version, 1);
  EXPECT_TRUE(AuditOf("user.roles_changed").empty());
}

TEST_F(DirectoryTest, SetUserRolesWithUnknownRoleOrUserIsRefused) {
  store::User bob = AddUser("bob", {"user"});
  Result<store::User> unknown_role =
      directory_->SetUserRoles(Actor::Cli(), bob.id, {"user", "ghost"}, Context());
  ASSERT_TRUE(HasCode(unknown_role, StatusCode::kInvalidArgument));
  EXPECT_EQ(unknown_role.status().message(), "unknown role \"ghost\"");
  Result<store::User> unknown_user =
      directory_->SetUserRoles(Actor::Cli(), "nobody", {"user"}, Context());
  ASSERT_TRUE(HasCode(unknown_user, StatusCode::kNotFound));
  EXPECT_EQ(unknown_user.status().message(), "no such user");
}

TEST_F(DirectoryTest, RemovingTheLastAdminIsFailedPrecondition) {
  store::User root = AddUser("root", {"admin"});
  Result<store::User> r = directory_->SetUserRoles(Actor::Cli(), root.id, {"user"}, Context());
  ASSERT_TRUE(HasCode(r, StatusCode::kFailedPrecondition));
  EXPECT_EQ(r.status().message(), "the role \"admin\" must keep at least one holder");
  EXPECT_EQ(store_->FindUserById(root.id)->roles, Strings{"admin"});
  EXPECT_EQ(cache_.Check(root.id, 1), VerifyError::kOk);
}

// ---------------------------------------------------------------- UpdateUser / DeleteUser

TEST_F(DirectoryTest, DisablingBumpsVersionRevokesRefreshTokensAndUpdatesCache) {
  store::User bob = AddUser("bob", {"user"});
  store::RefreshToken token;
  token.token_hash = std::string(64, 'a');
  token.family_id = "fam";
  token.user_id = bob.id;
  token.client_id = "default";
  token.issued_at = kStart;
  token.expires_at = kStart + 3600;
  token.family_expires_at = kStart + 86400;
  ASSERT_TRUE(store_->InsertRefreshToken(token).ok());

  UserPatch patch;
  patch.disabled = true;
  Result<store::User> r =
      directory_->UpdateUser(UserActor("boss", {"users:write"}), bob.id, patch, Context("boss"));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->disabled);
  EXPECT_EQ(r->credential_version, 2);
  EXPECT_EQ(cache_.Check(bob.id, 2), VerifyError::kSubjectDisabled);
  EXPECT_EQ(store_->FindRefreshToken(token.token_hash)->revoked_at, kStart);

  std::vector<store::AuditEvent> events = AuditOf("user.updated");
  ASSERT_EQ(events.size(), 1u);
  boost::json::object details = Details(events[0]);
  EXPECT_EQ(details.at("before"), (boost::json::object{{"disabled", false}}));
  EXPECT_EQ(details.at("after"), (boost::json::object{{"disabled", true}}));
  EXPECT_EQ(details.at("refresh_tokens_revoked"), 1);
}

TEST_F(DirectoryTest, DisablingOneselfIsDenied) {
  store::User me = AddUser("me", {"admin"});
  UserPatch patch;
  patch.disabled = true;
  Result<store::User> r = directory_->UpdateUser(UserActor(me.id, {"*"}), me.id, patch, Context());
  ASSERT_TRUE(HasCode(r, StatusCode::kPermissionDenied));
  EXPECT_EQ(r.status().message(), "you cannot disable yourself");
  EXPECT_FALSE(store_->FindUserById(me.id)->disabled);
}

TEST_F(DirectoryTest, EmailIsValidatedSetAndClearedWithBeforeAfterAudit) {
  store::User bob = AddUser("bob", {"user"});
  UserPatch bad;
  bad.email = std::optional<std::string>("not an email");
  EXPECT_TRUE(HasCode(directory_->UpdateUser(Actor::Cli(), bob.id, bad, Context()),
                      StatusCode::kInvalidArgument));

  UserPatch set;
  set.email = std::optional<std::string>("bob@example.com");
  Result<store::User> r = directory_->UpdateUser(Actor::Cli(), bob.id, set, Context());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->email, "bob@example.com");
  EXPECT_EQ(r->credential_version, 1);

  UserPatch clear;
  clear.email = std::optional<std::string>();
  r = directory_->UpdateUser(Actor::Cli(), bob.id, clear, Context());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->email, std::nullopt);
  EXPECT_EQ(store_->FindUserById(bob.id)->email, std::nullopt);

  std::vector<store::AuditEvent> events = AuditOf("user.updated");
  ASSERT_EQ(events.size(), 2u);
  boost::json::object cleared = Details(events[0]);  // newest first
  EXPECT_EQ(cleared.at("before"), (boost::json::object{{"email", "bob@example.com"}}));
  EXPECT_EQ(cleared.at("after"), (boost::json::object{{"email", nullptr}}));
}

TEST_F(DirectoryTest, EmptyPatchIsInvalidArgumentAndUnknownUserIsNotFound) {
  store::User bob = AddUser("bob", {"user"});
  Result<store::User> empty = directory_->UpdateUser(Actor::Cli(), bob.id, {}, Context());
  ASSERT_TRUE(HasCode(empty, StatusCode::kInvalidArgument));
  EXPECT_EQ(empty.status().message(), "nothing to change");
  UserPatch patch;
  patch.disabled = false;
  Result<store::User> missing = directory_->UpdateUser(Actor::Cli(), "nobody", patch, Context());
  ASSERT_TRUE(HasCode(missing, StatusCode::kNotFound));
  EXPECT_EQ(missing.status().message(), "no such user");
}

TEST_F(DirectoryTest, DeleteUserForgetsThemInCacheAndAudits) {
  AddUser("root", {"admin"});
  store::User bob = AddUser("bob", {"user"});
  ASSERT_TRUE(directory_->DeleteUser(Actor::Cli(), bob.id, Context()).ok());
  EXPECT_TRUE(HasCode(store_->FindUserById(bob.id), StatusCode::kNotFound));
  EXPECT_EQ(cache_.Check(bob.id, 1), VerifyError::kUnknownSubject);
  std::vector<store::AuditEvent> events = AuditOf("user.deleted");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].subject, bob.id);
  boost::json::object details = Details(events[0]);
  EXPECT_EQ(details.at("before").at("username"), "bob");
  EXPECT_EQ(details.at("before").at("roles"), (boost::json::array{"user"}));
  EXPECT_TRUE(
      HasCode(directory_->DeleteUser(Actor::Cli(), bob.id, Context()), StatusCode::kNotFound));
}

TEST_F(DirectoryTest, DeletingOneselfOrTheLastAdminIsRefused) {
  store::User root = AddUser("root", {"admin"});
  Status self = directory_->DeleteUser(UserActor(root.id, {"*"}), root.id, Context());
  ASSERT_TRUE(HasCode(self, StatusCode::kPermissionDenied));
  EXPECT_EQ(self.message(), "you cannot delete yourself");
  Status last = directory_->DeleteUser(Actor::Cli(), root.id, Context());
  ASSERT_TRUE(HasCode(last, StatusCode::kFailedPrecondition));
  EXPECT_EQ(last.message(), "the role \"admin\" must keep at least one holder");
  EXPECT_TRUE(store_->FindUserById(root.id).ok());
  EXPECT_TRUE(AuditOf("user.deleted").empty());
}

TEST_F(DirectoryTest, GetAndListUsers) {
  store::User bob = AddUser("bob", {"user"});
  AddUser("alice", {"user"});
  EXPECT_EQ(directory_->GetUser(bob.id)->username, "bob");
  EXPECT_EQ(directory_->GetUserByUsername("BOB")->id, bob.id);
  Result<store::User> missing = directory_->GetUser("nobody");
  ASSERT_TRUE(HasCode(missing, StatusCode::kNotFound));
  EXPECT_EQ(missing.status().message(), "no such user");
  store::UserQuery query;
  query.limit = 10;
  Result<store::UserPage> page = directory_->ListUsers(query);
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  ASSERT_EQ(page->items.size(), 2u);
  EXPECT_EQ(page->items[0].username, "alice");
  query.limit = 0;
  EXPECT_TRUE(HasCode(directory_->ListUsers(query), StatusCode::kInvalidArgument));
}

// ---------------------------------------------------------------- roles

TEST_F(DirectoryTest, CreateRoleWithUnheldPermissionIsDeniedAndWritesNothing) {
  Actor actor = UserActor("boss", {"roles:write", "articles:read"});
  RoleInput input{"editor", "Edits", {"articles:read", "articles:write"}};
  Result<store::Role> r = directory_->CreateRole(actor, input, Context("boss"));
  ASSERT_TRUE(HasCode(r, StatusCode::kPermissionDenied));
  EXPECT_EQ(r.status().message(), "you cannot grant permissions you do not hold: articles:write");
  EXPECT_TRUE(HasCode(store_->FindRole("editor"), StatusCode::kNotFound));
}

TEST_F(DirectoryTest, CreateRoleWithHeldPermissionsIsStoredAndAudited) {
  Actor actor = UserActor("boss", {"roles:write", "articles:*"});
  RoleInput input{"editor", "Edits", {"articles:write", "articles:read", "articles:read"}};
  Result<store::Role> r = directory_->CreateRole(actor, input, Context("boss"));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->permissions, (Strings{"articles:read", "articles:write"}));
  EXPECT_EQ(store_->FindRole("editor")->permissions, (Strings{"articles:read", "articles:write"}));
  std::vector<store::AuditEvent> events = AuditOf("role.created");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].subject, "editor");
  EXPECT_EQ(Details(events[0]).at("after").at("permissions"),
            (boost::json::array{"articles:read", "articles:write"}));
  EXPECT_TRUE(HasCode(directory_->CreateRole(actor, input, Context()), StatusCode::kAlreadyExists));
}

TEST_F(DirectoryTest, CreateRoleValidatesNameDescriptionAndPermissions) {
  EXPECT_TRUE(HasCode(directory_->CreateRole(Actor::Cli(), {"Editor", "", {}}, Context()),
                      StatusCode::kInvalidArgument));
  EXPECT_TRUE(HasCode(
      directory_->CreateRole(Actor::Cli(), {"editor", std::string(257, 'd'), {}}, Context()),
      StatusCode::kInvalidArgument));
  Result<store::Role> bad_permission =
      directory_->CreateRole(Actor::Cli(), {"editor", "", {"articles:re*d"}}, Context());
  ASSERT_TRUE(HasCode(bad_permission, StatusCode::kInvalidArgument));
  EXPECT_EQ(bad_permission.status().message().rfind("invalid permission \"articles:re*d\"", 0), 0u);
  Strings many;
  for (int i = 0; i < 257; ++i) many.push_back("p:" + std::to_string(i));
  EXPECT_TRUE(HasCode(directory_->CreateRole(Actor::Cli(), {"editor", "", many}, Context()),
                      StatusCode::kInvalidArgument));
  EXPECT_TRUE(HasCode(directory_->GetRole("editor"), StatusCode::kNotFound));
}

TEST_F(DirectoryTest, UpdateRoleAddingUnheldPermissionIsDenied) {
  AddRole("editor", {"articles:read"});
  Actor actor = UserActor("boss", {"roles:write", "articles:read"});
  RolePatch patch;
  patch.permissions = Strings{"articles:read", "articles:delete"};
  Result<store::Role> r = directory_->UpdateRole(actor, "editor", patch, Context("boss"));
  ASSERT_TRUE(HasCode(r, StatusCode::kPermissionDenied));
  EXPECT_EQ(r.status().message(), "you cannot grant permissions you do not hold: articles:delete");
  EXPECT_EQ(store_->FindRole("editor")->permissions, Strings{"articles:read"});
}

TEST_F(DirectoryTest, UpdateRoleRemovingPermissionBumpsHoldersInCache) {
  AddRole("editor", {"articles:read", "articles:write"});
  store::User bob = AddUser("bob", {"editor"});
  store::User carol = AddUser("carol", {"user"});
  // Removing needs no authority over the removed permission.
  Actor actor = UserActor("boss", {"roles:write"});
  RolePatch patch;
  patch.permissions = Strings{"articles:read"};
  patch.description = "Reads";
  Result<store::Role> r = directory_->UpdateRole(actor, "editor", patch, Context("boss"));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->permissions, Strings{"articles:read"});
  EXPECT_EQ(r->description, "Reads");
  EXPECT_EQ(cache_.Check(bob.id, 1), VerifyError::kStaleCredentials);
  EXPECT_EQ(cache_.Check(carol.id, 1), VerifyError::kOk);

  std::vector<store::AuditEvent> events = AuditOf("role.updated");
  ASSERT_EQ(events.size(), 1u);
  boost::json::object details = Details(events[0]);
  EXPECT_EQ(details.at("before").at("permissions"),
            (boost::json::array{"articles:read", "articles:write"}));
  EXPECT_EQ(details.at("after").at("permissions"), (boost::json::array{"articles:read"}));
  EXPECT_EQ(details.at("before").at("description"), "editor role");
  EXPECT_EQ(details.at("holders_invalidated"), 1);
}

TEST_F(DirectoryTest, UpdateRoleEmptyPatchOrUnknownRoleIsRefused) {
  Result<store::Role> empty = directory_->UpdateRole(Actor::Cli(), "user", {}, Context());
  ASSERT_TRUE(HasCode(empty, StatusCode::kInvalidArgument));
  RolePatch patch;
  patch.description = "x";
  Result<store::Role> missing = directory_->UpdateRole(Actor::Cli(), "ghost", patch, Context());
  ASSERT_TRUE(HasCode(missing, StatusCode::kNotFound));
  EXPECT_EQ(missing.status().message(), "no such role");
}

TEST_F(DirectoryTest, DeletingBuiltInRolesIsRefused) {
  for (const char* name : {"admin", "user"}) {
    Status s = directory_->DeleteRole(Actor::Cli(), name, Context());
    ASSERT_TRUE(HasCode(s, StatusCode::kFailedPrecondition)) << name;
    EXPECT_EQ(s.message(), "the built-in role \"" + std::string(name) + "\" cannot be deleted");
    EXPECT_TRUE(store_->FindRole(name).ok());
  }
}

TEST_F(DirectoryTest, DeleteRoleBumpsHoldersAndAuditsThem) {
  AddRole("editor", {"articles:write"});
  store::User bob = AddUser("bob", {"editor", "user"});
  ASSERT_TRUE(directory_->DeleteRole(Actor::Cli(), "editor", Context()).ok());
  EXPECT_TRUE(HasCode(store_->FindRole("editor"), StatusCode::kNotFound));
  EXPECT_EQ(store_->FindUserById(bob.id)->roles, Strings{"user"});
  EXPECT_EQ(cache_.Check(bob.id, 1), VerifyError::kStaleCredentials);
  std::vector<store::AuditEvent> events = AuditOf("role.deleted");
  ASSERT_EQ(events.size(), 1u);
  boost::json::object details = Details(events[0]);
  EXPECT_EQ(details.at("before").at("permissions"), (boost::json::array{"articles:write"}));
  EXPECT_EQ(details.at("before").at("holders"), (boost::json::array{bob.id}));
  Status again = directory_->DeleteRole(Actor::Cli(), "editor", Context());
  ASSERT_TRUE(HasCode(again, StatusCode::kNotFound));
  EXPECT_EQ(again.message(), "no such role");
}

TEST_F(DirectoryTest, DirectoryWithoutCacheStillWrites) {
  Directory cli_directory(*store_, *audit_, clock_, nullptr, *hasher_, password::PolicyOptions{});
  NewUserInput input = Input("erin", Strings{"user"});
  Result<store::User> user = cli_directory.CreateUser(Actor::Cli(), input, Context());
  ASSERT_TRUE(user.ok()) << user.status().ToString();
  EXPECT_EQ(cache_.Check(user->id, 1), VerifyError::kUnknownSubject);
  EXPECT_TRUE(cli_directory.DeleteUser(Actor::Cli(), user->id, Context()).ok());
}

}  // namespace
}  // namespace portcullis::admin
