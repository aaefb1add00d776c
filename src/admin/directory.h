// Directory: the one home of user and role administration (DESIGN §4 "Administration"), shared
// by the admin API (src/api/admin), self-registration (/v1/register) and the CLI. It validates
// input, applies the authority rules, writes through the store, keeps the in-memory user-state
// cache in step with every credential-version bump, and audits every change with its actor and
// before/after. Handlers and CLI commands only parse, call one method, and render.
//
// Authority rules (the self-escalation rules; pure functions below, unit-tested):
//   - an actor can never grant a permission they don't hold: every permission of every role
//     they add to a user, and every permission they add to a role, must be granted by one of
//     their own (authz::AnyGrants);
//   - a user can't change their own roles, delete or disable themselves;
//   - the role "admin" always keeps a holder (the store refuses atomically), and the built-in
//     roles "admin" and "user" can be edited but not deleted.
// The permission needed to call each operation at all (users:write, roles:write, ...) is checked
// by the caller (api::RequirePermission); the CLI acts with "*".
//
// Errors are Status codes with user-facing messages that never contain a secret:
// kInvalidArgument (400), kPermissionDenied (403), kNotFound (404), kAlreadyExists and
// kFailedPrecondition (409), kUnavailable / kInternal (503). Nothing is written on failure.
//
// Blocking (database writes, and Argon2id hashing in CreateUser/RegisterUser): call it off the
// network threads. Thread-safety: every method may be called concurrently.
//
//   admin::Directory directory(store, audit, clock, &user_states, hasher, policy);
//   Result<store::User> user = directory.SetUserRoles(actor, user_id, {"editor"}, context);
#pragma once

#include <boost/json/object.hpp>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "audit/audit_log.h"
#include "authn/api_key_cache.h"
#include "base/clock.h"
#include "base/secret.h"
#include "base/status.h"
#include "password/hasher.h"
#include "password/policy.h"
#include "store/store.h"
#include "token/user_state_cache.h"

namespace portcullis::admin {

// The built-in roles (migration 0001): both can be edited, neither can be deleted.
inline constexpr std::string_view kAdminRole = store::kAdminRole;
inline constexpr std::string_view kUserRole = "user";

// Who makes a change.
struct Actor {
  std::string id;                        // user id or client id; "cli" for the command line
  bool is_user = false;                  // self-change rules apply when the target is `id`
  std::vector<std::string> permissions;  // what the actor holds right now

  // The command line: acts with "*", is no user.
  static Actor Cli();
};

struct NewUserInput {
  std::string username;
  SecretString password;
  std::optional<std::string> email;
  // nullopt: the default roles (registration.default_roles for RegisterUser, {"user"} for
  // CreateUser).
  std::optional<std::vector<std::string>> roles;
};

// PATCH /v1/users/{id}: absent fields are left alone; `email` = nullopt-inside clears it.
struct UserPatch {
  std::optional<bool> disabled;
  std::optional<std::optional<std::string>> email;
};

struct RoleInput {
  std::string name;
  std::string description;
  std::vector<std::string> permissions;
};

// PATCH /v1/roles/{name}: absent fields are left alone; `permissions` replaces the whole set.
struct RolePatch {
  std::optional<std::string> description;
  std::optional<std::vector<std::string>> permissions;
};

// ---------------------------------------------------------------- pure rules

// A role name: 1-64 characters of [a-z0-9_.-], starting with a letter or digit.
bool IsValidRoleName(std::string_view name);

// An email address as we accept it: 3-254 bytes, exactly one '@' with a non-empty local part
// and a domain containing a '.', valid UTF-8 (internationalized addresses are fine), no
// whitespace, control characters or quotes, ASCII or Unicode. (Deliverability is not our
// business; this only keeps junk out.)
bool IsValidEmail(std::string_view email);

// The entries of `wanted` that no permission in `held` grants (empty = the actor may grant all).
std::vector<std::string> UnheldPermissions(const std::vector<std::string>& held,
                                           const std::vector<std::string>& wanted);

// Sorted, unique copy.
std::vector<std::string> SortedUnique(std::vector<std::string> v);

// ---------------------------------------------------------------- the service

class Directory {
 public:
  // `user_states` may be null (the CLI: a running server learns of changes from the store's user
  // change feed). Every reference must outlive the Directory.
  Directory(store::Store& store, audit::AuditLog& audit, const Clock& clock,
            token::UserStateCache* user_states, const password::Hasher& hasher,
            password::PolicyOptions policy);

  // --- users

  // POST /v1/users: validates username (authn::IsValidUsername), password policy, email and
  // roles (each must exist: kInvalidArgument naming it; the actor must hold every permission of
  // every role: kPermissionDenied), hashes the password, creates the user, audits
  // "user.created". kAlreadyExists if the username is taken.
  Result<store::User> CreateUser(const Actor& actor, const NewUserInput& input,
                                 const audit::AuditContext& context);

  // POST /v1/register: like CreateUser with `default_roles` (input.roles is ignored) and no
  // authority check; the actor of the audit event is the new user's id.
  Result<store::User> RegisterUser(const NewUserInput& input,
                                   const std::vector<std::string>& default_roles,
                                   const audit::AuditContext& context);

  // The user with this id. kNotFound.
  Result<store::User> GetUser(std::string_view id);

  // The user with this username (CLI). kNotFound.
  Result<store::User> GetUserByUsername(std::string_view username);

  // A page of users (store::UserStore::QueryUsers).
  Result<store::UserPage> ListUsers(const store::UserQuery& query);

  // PATCH: disabled (disabling bumps the credential version and revokes the user's refresh
  // tokens; an actor can't disable themselves: kPermissionDenied) and email (validated).
  // Audits "user.updated" with before/after of the changed fields. An empty patch is
  // kInvalidArgument.
  Result<store::User> UpdateUser(const Actor& actor, std::string_view id, const UserPatch& patch,
                                 const audit::AuditContext& context);

  // Deletes the user (kPermissionDenied for oneself, kFailedPrecondition for the last admin),
  // forgets them in the state cache, audits "user.deleted" with the deleted user's username,
  // email and roles.
  Status DeleteUser(const Actor& actor, std::string_view id, const audit::AuditContext& context);

  // PUT /v1/users/{id}/roles: replaces the user's roles. kPermissionDenied when the target is
  // the actor, or when a role being added carries a permission the actor doesn't hold;
  // kInvalidArgument for an unknown or malformed role; kFailedPrecondition when it would leave
  // "admin" without a holder. Removing a role bumps the credential version (store) and updates
  // the cache. Audits "user.roles_changed" with before/after (only when something changed).
  Result<store::User> SetUserRoles(const Actor& actor, std::string_view id,
                                   const std::vector<std::string>& roles,
                                   const audit::AuditContext& context);

  // --- roles

  // Validates name, description (<= 256 bytes), permissions (authz::IsValidPermission, at most
  // 256), the actor holds every permission; creates; audits "role.created". kAlreadyExists.
  Result<store::Role> CreateRole(const Actor& actor, const RoleInput& input,
                                 const audit::AuditContext& context);

  Result<store::Role> GetRole(std::string_view name);
  Result<std::vector<store::Role>> ListRoles();
  // A page of roles (store::RoleStore::ListRolesPage). kInvalidArgument ("invalid cursor") when
  // `cursor` is neither empty nor a role name (IsValidRoleName): no page hands such a cursor out.
  Result<store::RolePage> ListRolesPage(std::string_view cursor, std::size_t limit);

  // Applies the patch. Added permissions must be held by the actor (kPermissionDenied); removed
  // ones bump every holder's credential version (store) and update the cache. Audits
  // "role.updated" with before/after and the number of holders whose tokens were invalidated.
  // An empty patch is kInvalidArgument.
  Result<store::Role> UpdateRole(const Actor& actor, std::string_view name, const RolePatch& patch,
                                 const audit::AuditContext& context);

  // Deletes a role (built-in roles: kFailedPrecondition), bumping every holder's credential
  // version; audits "role.deleted" with the role's permissions and former holders.
  Status DeleteRole(const Actor& actor, std::string_view name, const audit::AuditContext& context);

 private:
  // After a store call that bumped these users' versions.
  void UpdateCache(const std::vector<store::UserState>& states);

  store::Store& store_;
  audit::AuditLog& audit_;
  const Clock& clock_;
  token::UserStateCache* user_states_;
  const password::Hasher& hasher_;
  password::PolicyOptions policy_;
};

// ---------------------------------------------------------------- access review

struct AccessReviewEntry {
  store::User user;
  std::vector<std::string> permissions;  // effective: union of the roles' permissions
  std::optional<UnixSeconds> locked_until;
  // Roles / held permissions that granted no recorded permission check within the window.
  std::vector<std::string> unused_roles;
  std::vector<std::string> unused_permissions;
  std::optional<UnixSeconds> last_permission_use;  // the latest recorded check, any permission
  std::vector<store::ApiKey> api_keys;             // the user's API keys, ordered by id
};

struct AccessReview {
  UnixSeconds generated_at = 0;
  int unused_days = 0;
  std::vector<AccessReviewEntry> users;  // ordered by username
  std::vector<store::Role> roles;        // every role
  std::vector<std::string> roles_without_holders;
};

// Reads every user, role and recorded permission use. A held permission is "used" when it
// granted (authz::PermissionGrants) a permission check recorded for that user at or after
// now - unused_days * 86400; a role is used when any of its permissions is. `locked_until`
// tells the lock state of a user (the API passes the live throttle; the CLI reads the store).
// `recorded_key_uses` (the server's, not yet flushed; null in the CLI) is merged into the API
// keys' last_used_at (authn::ApiKeyUsage::WithRecordedUses).
Result<AccessReview> BuildAccessReview(
    store::Store& store, UnixSeconds now, int unused_days,
    const std::function<std::optional<UnixSeconds>(const store::User&)>& locked_until,
    authn::ApiKeyUsage* recorded_key_uses = nullptr);

// {"generated_at","unused_days","users":[{"id","username","email","roles","permissions",
//  "disabled","locked_until","created_at","last_login_at","last_permission_use",
//  "unused_roles","unused_permissions","api_keys":[{"id","name","scopes","expires_at",
//  "last_used_at"}]}],"roles":[{"name","description","permissions",
//  "holders" (how many users hold it)}],"roles_without_holders":[...]}. Times are RFC 3339 or null.
boost::json::object AccessReviewToJson(const AccessReview& review);

// ---------------------------------------------------------------- permission-use tracking

// Remembers which permission checks each user passed, in memory, cheaply enough for the request
// path (one short mutex section; repeated uses within `resolution_s` are not re-recorded), and
// hands the batch to the store off the hot path (Flush, from housekeeping). A use is forgotten at
// the flush after the one that wrote it, so memory holds only the (user, permission) pairs used
// since the last two flushes; with flushes at least `resolution_s` apart (housekeeping: once a
// minute) that re-records nothing, and the store keeps the later time anyway.
class PermissionUsage {
 public:
  explicit PermissionUsage(std::int64_t resolution_s = 60) : resolution_s_(resolution_s) {}

  // Notes that `user_id` passed a check requiring `permission` at `at`.
  void Record(std::string_view user_id, std::string_view permission, UnixSeconds at);

  // Writes everything recorded since the last flush (RecordPermissionUses); on a store error the
  // batch is kept for the next flush. Forgets the uses the previous flush wrote and nothing has
  // renewed since. Returns how many uses were written.
  Result<std::size_t> Flush(store::UserStore& store);

  std::size_t SizeForTesting();

 private:
  std::int64_t resolution_s_;
  std::mutex mu_;
  // key: user_id + '\n' + permission -> (last recorded at, flushed?)
  std::unordered_map<std::string, std::pair<UnixSeconds, bool>> uses_;  // guarded by mu_
};

}  // namespace portcullis::admin
