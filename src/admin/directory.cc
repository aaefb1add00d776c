// Directory: user and role administration. Every method validates all of its input and applies
// the authority rules before the first write, so a refused request writes nothing.
#include "admin/directory.h"

#include <algorithm>
#include <boost/json.hpp>
#include <cstddef>
#include <iterator>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "authn/username.h"
#include "authz/permission.h"
#include "base/log.h"
#include "crypto/random.h"

namespace portcullis::admin {
namespace {

constexpr std::size_t kMaxDescriptionBytes = 256;
constexpr std::size_t kMaxPermissionsPerRole = 256;

constexpr std::string_view kNoSuchUser = "no such user";
constexpr std::string_view kNoSuchRole = "no such role";
constexpr std::string_view kAdminNeedsHolder = "the role \"admin\" must keep at least one holder";

// A store failure the caller can't fix: the detail goes to the log (it may name SQL), the caller
// gets a generic kUnavailable.
Status StoreFailure(std::string_view operation, const Status& status) {
  log::Error("admin.store_failed", {{"operation", operation}, {"error", status.ToString()}});
  return UnavailableError("the database is unavailable; retry shortly");
}

// kNotFound becomes `not_found`; everything unexpected becomes StoreFailure.
Status MapLookupError(std::string_view operation, const Status& status,
                      std::string_view not_found) {
  if (status.code() == StatusCode::kNotFound) return NotFoundError(std::string(not_found));
  return StoreFailure(operation, status);
}

std::string Join(const std::vector<std::string>& v) {
  std::string out;
  for (const std::string& s : v) {
    if (!out.empty()) out += ", ";
    out += s;
  }
  return out;
}

boost::json::array ToArray(const std::vector<std::string>& v) {
  boost::json::array out;
  for (const std::string& s : v) out.emplace_back(s);
  return out;
}

boost::json::value OptionalString(const std::optional<std::string>& s) {
  return s ? boost::json::value(*s) : boost::json::value(nullptr);
}

// The entries of sorted `a` that are not in sorted `b`.
std::vector<std::string> Difference(const std::vector<std::string>& a,
                                    const std::vector<std::string>& b) {
  std::vector<std::string> out;
  std::set_difference(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(out));
  return out;
}

Status InvalidRoleName() {
  return InvalidArgumentError(
      "invalid role name: use 1-64 characters of a-z 0-9 _ . -, starting with a letter or digit");
}

// Role names must be well-formed before any of them is looked up.
Status ValidateRoleNames(const std::vector<std::string>& roles) {
  for (const std::string& role : roles) {
    if (!IsValidRoleName(role)) return InvalidRoleName();
  }
  return Status::Ok();
}

// Looks each role up: kInvalidArgument naming the first unknown one; with `actor`, also
// kPermissionDenied when a role carries a permission the actor doesn't hold.
Status CheckRolesToAdd(store::RoleStore& roles, const std::vector<std::string>& names,
                       const Actor* actor) {
  for (const std::string& name : names) {
    Result<store::Role> role = roles.FindRole(name);
    if (!role.ok()) {
      if (role.status().code() == StatusCode::kNotFound) {
        return InvalidArgumentError("unknown role \"" + name + "\"");
      }
      return StoreFailure("find_role", role.status());
    }
    if (actor == nullptr) continue;
    std::vector<std::string> unheld = UnheldPermissions(actor->permissions, role->permissions);
    if (!unheld.empty()) {
      return {StatusCode::kPermissionDenied,
              "role \"" + name + "\" carries permissions you do not hold: " + Join(unheld)};
    }
  }
  return Status::Ok();
}

// Description and permission list of a role (create or patch).
Status ValidateDescription(const std::string& description) {
  if (description.size() > kMaxDescriptionBytes) {
    return InvalidArgumentError("description must be at most 256 bytes");
  }
  return Status::Ok();
}

Status ValidatePermissions(const std::vector<std::string>& permissions) {
  if (permissions.size() > kMaxPermissionsPerRole) {
    return InvalidArgumentError("a role has at most 256 permissions");
  }
  for (const std::string& p : permissions) {
    if (!authz::IsValidPermission(p)) {
      return InvalidArgumentError("invalid permission \"" + p +
                                  "\": use resource:action of a-z 0-9 _ . - and * segments");
    }
  }
  return Status::Ok();
}

Status PermissionDenied(std::string message) {
  return {StatusCode::kPermissionDenied, std::move(message)};
}

Status NotHeld(const std::vector<std::string>& unheld) {
  return {StatusCode::kPermissionDenied,
          "you cannot grant permissions you do not hold: " + Join(unheld)};
}

bool IsSelf(const Actor& actor, std::string_view user_id) {
  return actor.is_user && actor.id == user_id;
}

}  // namespace

Directory::Directory(store::Store& store, audit::AuditLog& audit, const Clock& clock,
                     token::UserStateCache* user_states, const password::Hasher& hasher,
                     password::PolicyOptions policy)
    : store_(store),
      audit_(audit),
      clock_(clock),
      user_states_(user_states),
      hasher_(hasher),
      policy_(policy) {}

void Directory::UpdateCache(const std::vector<store::UserState>& states) {
  if (user_states_ == nullptr) return;
  for (const store::UserState& s : states) {
    user_states_->Set(s.id, s.credential_version, s.disabled);
  }
}

// ---------------------------------------------------------------- users

namespace {

// What CreateUser and RegisterUser share (the Directory's collaborators).
struct CreateDeps {
  store::Store& store;
  audit::AuditLog& audit;
  const Clock& clock;
  token::UserStateCache* user_states;
  const password::Hasher& hasher;
  const password::PolicyOptions& policy;
};

// Validates, checks the authority of `actor` (null: registration, no check; the new user is the
// audit actor), hashes, creates, caches and audits.
Result<store::User> CreateUserChecked(const CreateDeps& deps, const Actor* actor,
                                      const NewUserInput& input, std::vector<std::string> roles,
                                      const audit::AuditContext& context) {
  if (!authn::IsValidUsername(input.username)) {
    return InvalidArgumentError(
        "invalid username: use 1-64 characters of A-Z a-z 0-9 . _ @ -, starting with a letter or "
        "digit");
  }
  if (password::PolicyError e =
          password::CheckPassword(input.username, input.password.reveal(), deps.policy);
      e != password::PolicyError::kOk) {
    return InvalidArgumentError(password::DescribePolicyError(e, deps.policy));
  }
  if (input.email && !IsValidEmail(*input.email)) {
    return InvalidArgumentError("invalid email address");
  }
  roles = SortedUnique(std::move(roles));
  if (Status s = ValidateRoleNames(roles); !s.ok()) return s;
  if (Status s = CheckRolesToAdd(deps.store, roles, actor); !s.ok()) return s;

  // Only now, with everything else validated, spend the Argon2id time.
  Result<std::string> hash = deps.hasher.Hash(input.password.reveal());
  if (!hash.ok()) {
    log::Error("admin.hash_failed", {{"error", hash.status().ToString()}});
    return UnavailableError("could not hash the password; retry shortly");
  }
  store::NewUser new_user;
  new_user.id = crypto::RandomUuid(crypto::OsRandomInstance());
  new_user.username = input.username;
  new_user.email = input.email;
  new_user.password_hash = std::move(*hash);
  new_user.roles = roles;
  new_user.created_at = deps.clock.Now();
  Result<store::User> created = deps.store.CreateUser(new_user);
  if (!created.ok()) {
    switch (created.status().code()) {
      case StatusCode::kAlreadyExists:
        return AlreadyExistsError("a user with that username already exists");
      case StatusCode::kNotFound:  // a role was deleted since we looked
        return InvalidArgumentError("unknown role");
      default:
        return StoreFailure("create_user", created.status());
    }
  }
  // Before the caller can issue the user's first token (token/user_state_cache.h).
  if (deps.user_states != nullptr) {
    deps.user_states->Set(created->id, created->credential_version, created->disabled);
  }
  audit::AuditContext audit_context = context;
  if (actor == nullptr) audit_context.actor = created->id;
  deps.audit.Record("user.created", audit_context, created->id,
                    {{"after",
                      {{"username", created->username},
                       {"email", OptionalString(created->email)},
                       {"roles", ToArray(created->roles)}}},
                     {"registered", actor == nullptr}});
  return created;
}

}  // namespace

Result<store::User> Directory::CreateUser(const Actor& actor, const NewUserInput& input,
                                          const audit::AuditContext& context) {
  std::vector<std::string> roles =
      input.roles ? *input.roles : std::vector<std::string>{std::string(kUserRole)};
  return CreateUserChecked({store_, audit_, clock_, user_states_, hasher_, policy_}, &actor, input,
                           std::move(roles), context);
}

Result<store::User> Directory::RegisterUser(const NewUserInput& input,
                                            const std::vector<std::string>& default_roles,
                                            const audit::AuditContext& context) {
  return CreateUserChecked({store_, audit_, clock_, user_states_, hasher_, policy_}, nullptr, input,
                           default_roles, context);
}

Result<store::User> Directory::GetUser(std::string_view id) {
  Result<store::User> user = store_.FindUserById(id);
  if (!user.ok()) return MapLookupError("find_user", user.status(), kNoSuchUser);
  return user;
}

Result<store::User> Directory::GetUserByUsername(std::string_view username) {
  Result<store::User> user = store_.FindUserByUsername(username);
  if (!user.ok()) return MapLookupError("find_user", user.status(), kNoSuchUser);
  return user;
}

Result<store::UserPage> Directory::ListUsers(const store::UserQuery& query) {
  if (query.limit == 0) return InvalidArgumentError("limit must be a positive integer");
  Result<store::UserPage> page = store_.QueryUsers(query);
  if (!page.ok()) {
    if (page.status().code() == StatusCode::kInvalidArgument) {
      return InvalidArgumentError("invalid cursor");
    }
    return StoreFailure("query_users", page.status());
  }
  return page;
}

Result<store::User> Directory::UpdateUser(const Actor& actor, std::string_view id,
                                          const UserPatch& patch,
                                          const audit::AuditContext& context) {
  if (!patch.disabled && !patch.email) return InvalidArgumentError("nothing to change");
  if (patch.disabled && *patch.disabled && IsSelf(actor, id)) {
    return PermissionDenied("you cannot disable yourself");
  }
  if (patch.email && *patch.email && !IsValidEmail(**patch.email)) {
    return InvalidArgumentError("invalid email address");
  }
  Result<store::User> before = store_.FindUserById(id);
  if (!before.ok()) return MapLookupError("find_user", before.status(), kNoSuchUser);

  store::User after = *before;
  boost::json::object was;
  boost::json::object now;
  if (patch.email && *patch.email != before->email) {
    if (Status s = store_.UpdateUserEmail(id, *patch.email); !s.ok()) {
      return MapLookupError("update_user_email", s, kNoSuchUser);
    }
    after.email = *patch.email;
    was["email"] = OptionalString(before->email);
    now["email"] = OptionalString(after.email);
  }
  std::optional<int> revoked;
  Status revoke_status;
  if (patch.disabled) {
    const bool disable = *patch.disabled;
    if (disable != before->disabled) {
      Result<store::UserState> state = store_.SetUserDisabled(id, disable);
      if (!state.ok()) return MapLookupError("set_user_disabled", state.status(), kNoSuchUser);
      UpdateCache({*state});
      after.disabled = state->disabled;
      after.credential_version = state->credential_version;
      was["disabled"] = before->disabled;
      now["disabled"] = after.disabled;
    }
    // Also when already disabled: a retry after a failed revocation finishes the job.
    if (disable) {
      Result<int> n = store_.RevokeUserRefreshTokens(id, clock_.Now());
      // Browser sessions end too (DESIGN §8); they are refused anyway while the user is disabled.
      Result<int> sessions = store_.DeleteUserBrowserSessions(id);
      if (!sessions.ok()) n = sessions.status();
      if (n.ok()) {
        revoked = *n;
      } else {
        revoke_status = StoreFailure("revoke_user_refresh_tokens", n.status());
      }
    }
  }
  if (!was.empty()) {
    boost::json::object details{{"before", std::move(was)}, {"after", std::move(now)}};
    if (revoked) details["refresh_tokens_revoked"] = *revoked;
    audit_.Record("user.updated", context, after.id, details);
  }
  // The change is made and audited; the caller retries to finish revoking refresh tokens.
  if (!revoke_status.ok()) return revoke_status;
  return after;
}

Status Directory::DeleteUser(const Actor& actor, std::string_view id,
                             const audit::AuditContext& context) {
  if (IsSelf(actor, id)) return PermissionDenied("you cannot delete yourself");
  Result<store::User> before = store_.FindUserById(id);
  if (!before.ok()) return MapLookupError("find_user", before.status(), kNoSuchUser);
  if (Status s = store_.DeleteUser(id); !s.ok()) {
    if (s.code() == StatusCode::kFailedPrecondition) {
      return FailedPreconditionError(std::string(kAdminNeedsHolder));
    }
    return MapLookupError("delete_user", s, kNoSuchUser);
  }
  if (user_states_ != nullptr) user_states_->Remove(id);
  audit_.Record("user.deleted", context, before->id,
                {{"before",
                  {{"username", before->username},
                   {"email", OptionalString(before->email)},
                   {"roles", ToArray(before->roles)},
                   {"disabled", before->disabled}}}});
  return Status::Ok();
}

Result<store::User> Directory::SetUserRoles(const Actor& actor, std::string_view id,
                                            const std::vector<std::string>& roles,
                                            const audit::AuditContext& context) {
  if (IsSelf(actor, id)) {
    return PermissionDenied("you cannot change your own roles");
  }
  if (Status s = ValidateRoleNames(roles); !s.ok()) return s;
  std::vector<std::string> wanted = SortedUnique(roles);
  Result<store::User> before = store_.FindUserById(id);
  if (!before.ok()) return MapLookupError("find_user", before.status(), kNoSuchUser);
  const std::vector<std::string> held = SortedUnique(before->roles);
  // Only roles being added need the authority check; dropping one is always allowed.
  if (Status s = CheckRolesToAdd(store_, Difference(wanted, held), &actor); !s.ok()) return s;
  if (wanted == held) return before;

  Result<store::UserState> state = store_.SetUserRoles(id, wanted);
  if (!state.ok()) {
    switch (state.status().code()) {
      case StatusCode::kFailedPrecondition:
        return FailedPreconditionError(std::string(kAdminNeedsHolder));
      case StatusCode::kInvalidArgument:  // a role was deleted since we looked
        return InvalidArgumentError("unknown role");
      default:
        return MapLookupError("set_user_roles", state.status(), kNoSuchUser);
    }
  }
  UpdateCache({*state});
  store::User after = *before;
  after.roles = wanted;
  after.credential_version = state->credential_version;
  after.disabled = state->disabled;
  audit_.Record(
      "user.roles_changed", context, after.id,
      {{"before", {{"roles", ToArray(held)}}},
       {"after", {{"roles", ToArray(wanted)}}},
       {"credential_version_bumped", after.credential_version != before->credential_version}});
  return after;
}

// ---------------------------------------------------------------- roles

Result<store::Role> Directory::CreateRole(const Actor& actor, const RoleInput& input,
                                          const audit::AuditContext& context) {
  if (!IsValidRoleName(input.name)) return InvalidRoleName();
  if (Status s = ValidateDescription(input.description); !s.ok()) return s;
  if (Status s = ValidatePermissions(input.permissions); !s.ok()) return s;
  store::Role role;
  role.name = input.name;
  role.description = input.description;
  role.permissions = SortedUnique(input.permissions);
  role.created_at = clock_.Now();
  if (std::vector<std::string> unheld = UnheldPermissions(actor.permissions, role.permissions);
      !unheld.empty()) {
    return NotHeld(unheld);
  }
  if (Status s = store_.CreateRole(role); !s.ok()) {
    if (s.code() == StatusCode::kAlreadyExists) {
      return AlreadyExistsError("a role with that name already exists");
    }
    return StoreFailure("create_role", s);
  }
  audit_.Record(
      "role.created", context, role.name,
      {{"after", {{"description", role.description}, {"permissions", ToArray(role.permissions)}}}});
  return role;
}

Result<store::Role> Directory::GetRole(std::string_view name) {
  Result<store::Role> role = store_.FindRole(name);
  if (!role.ok()) return MapLookupError("find_role", role.status(), kNoSuchRole);
  return role;
}

Result<std::vector<store::Role>> Directory::ListRoles() {
  Result<std::vector<store::Role>> roles = store_.ListRoles();
  if (!roles.ok()) return StoreFailure("list_roles", roles.status());
  return roles;
}

Result<store::RolePage> Directory::ListRolesPage(std::string_view cursor, std::size_t limit) {
  if (!cursor.empty() && !IsValidRoleName(cursor)) return InvalidArgumentError("invalid cursor");
  Result<store::RolePage> page = store_.ListRolesPage(cursor, limit);
  if (!page.ok() && page.status().code() == StatusCode::kInvalidArgument) {
    return InvalidArgumentError("invalid cursor");
  }
  if (!page.ok()) return StoreFailure("list_roles", page.status());
  return page;
}

Result<store::Role> Directory::UpdateRole(const Actor& actor, std::string_view name,
                                          const RolePatch& patch,
                                          const audit::AuditContext& context) {
  if (!patch.description && !patch.permissions) return InvalidArgumentError("nothing to change");
  if (patch.description) {
    if (Status s = ValidateDescription(*patch.description); !s.ok()) return s;
  }
  if (patch.permissions) {
    if (Status s = ValidatePermissions(*patch.permissions); !s.ok()) return s;
  }
  Result<store::Role> before = store_.FindRole(name);
  if (!before.ok()) return MapLookupError("find_role", before.status(), kNoSuchRole);
  const std::vector<std::string> old_permissions = SortedUnique(before->permissions);

  store::Role after = *before;
  after.permissions = old_permissions;
  boost::json::object was;
  boost::json::object now;
  if (patch.description && *patch.description != before->description) {
    after.description = *patch.description;
    was["description"] = before->description;
    now["description"] = after.description;
  }
  if (patch.permissions) {
    std::vector<std::string> wanted = SortedUnique(*patch.permissions);
    if (std::vector<std::string> unheld =
            UnheldPermissions(actor.permissions, Difference(wanted, old_permissions));
        !unheld.empty()) {
      return NotHeld(unheld);
    }
    if (wanted != old_permissions) {
      after.permissions = std::move(wanted);
      was["permissions"] = ToArray(old_permissions);
      now["permissions"] = ToArray(after.permissions);
    }
  }
  if (was.empty()) return after;

  Result<std::vector<store::UserState>> bumped = store_.UpdateRole(after);
  if (!bumped.ok()) return MapLookupError("update_role", bumped.status(), kNoSuchRole);
  UpdateCache(*bumped);
  audit_.Record("role.updated", context, after.name,
                {{"before", std::move(was)},
                 {"after", std::move(now)},
                 {"holders_invalidated", bumped->size()}});
  return after;
}

Status Directory::DeleteRole(const Actor& /*actor*/, std::string_view name,
                             const audit::AuditContext& context) {
  if (name == kAdminRole || name == kUserRole) {
    return FailedPreconditionError("the built-in role \"" + std::string(name) +
                                   "\" cannot be deleted");
  }
  Result<store::Role> before = store_.FindRole(name);
  if (!before.ok()) return MapLookupError("find_role", before.status(), kNoSuchRole);
  Result<std::vector<store::UserState>> bumped = store_.DeleteRole(name);
  if (!bumped.ok()) return MapLookupError("delete_role", bumped.status(), kNoSuchRole);
  UpdateCache(*bumped);
  std::vector<std::string> holders;
  for (const store::UserState& s : *bumped) holders.push_back(s.id);
  audit_.Record("role.deleted", context, before->name,
                {{"before",
                  {{"description", before->description},
                   {"permissions", ToArray(before->permissions)},
                   {"holders", ToArray(SortedUnique(std::move(holders)))}}}});
  return Status::Ok();
}

}  // namespace portcullis::admin
