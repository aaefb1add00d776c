// `portcullis user show|disable|enable|roles`, `portcullis role add|list|grant|revoke|delete` and
// `portcullis access-review` (issue #5). Each command parses, calls one admin::Directory method
// (or BuildAccessReview) acting as admin::Actor::Cli(), and renders; the Directory validates,
// applies the authority rules and audits with actor "cli". A running server on the same database
// learns of user changes from the store's user change feed within about two seconds.
#include <algorithm>
#include <boost/json.hpp>
#include <cstdio>
#include <iostream>
#include <memory>
#include <string_view>

#include "admin/directory.h"
#include "api/user_json.h"
#include "app/app.h"
#include "audit/audit_log.h"
#include "base/time_format.h"
#include "cli/commands.h"

namespace portcullis::cli {
namespace {

// Everything a command needs; built once per invocation. Not movable: the Directory holds
// references to the other members.
struct Session {
  config::Config config;
  std::unique_ptr<store::Store> store;
  SystemClock clock;
  std::unique_ptr<audit::AuditLog> audit;
  std::unique_ptr<password::Hasher> hasher;
  std::unique_ptr<admin::Directory> directory;
  admin::Actor actor = admin::Actor::Cli();
  audit::AuditContext context;
};

// Loads the configuration, opens (and migrates) the store and builds the Directory. On failure
// prints the reason and sets `exit_code`.
std::unique_ptr<Session> OpenSession(const CommonOptions& options, int& exit_code) {
  std::optional<Database> db = OpenDatabaseOrReport(options, &exit_code);
  if (!db) return nullptr;
  exit_code = 1;
  Result<password::Hasher> hasher = password::Hasher::Create(app::HasherParams(db->config));
  if (!hasher.ok()) {
    std::cerr << "portcullis: " << hasher.status().message() << "\n";
    return nullptr;
  }
  auto session = std::make_unique<Session>();
  session->config = std::move(db->config);
  session->store = std::move(db->store);
  session->audit = std::make_unique<audit::AuditLog>(*session->store, session->clock);
  session->hasher = std::make_unique<password::Hasher>(std::move(*hasher));
  // user_states = nullptr: this process has no token cache; a running server re-reads changed
  // users from the change feed.
  session->directory = std::make_unique<admin::Directory>(
      *session->store, *session->audit, session->clock, /*user_states=*/nullptr, *session->hasher,
      app::PolicyFrom(session->config));
  session->context = CliAuditContext();
  exit_code = 0;
  return session;
}

// Prints one line for a failed Directory or store call and returns the exit code. `not_found` is
// the message for kNotFound ("no such user: alice"); the Directory's other messages are written
// for users and never contain a secret, so they are shown as they are.
int Report(const Status& status, std::string_view not_found) {
  std::string text;
  switch (status.code()) {
    case StatusCode::kNotFound:
      text = std::string(not_found);
      break;
    case StatusCode::kUnavailable:
      text = "the database is busy, try again: " + status.message();
      break;
    case StatusCode::kInternal:
      text = "internal error: " + status.message();
      break;
    case StatusCode::kOk:
    case StatusCode::kInvalidArgument:
    case StatusCode::kAlreadyExists:
    case StatusCode::kPermissionDenied:
    case StatusCode::kUnauthenticated:
    case StatusCode::kResourceExhausted:
    case StatusCode::kFailedPrecondition:
    case StatusCode::kAborted:
      text = status.message().empty() ? std::string(ToString(status.code())) : status.message();
      break;
  }
  std::cerr << "portcullis: " << text << "\n";
  return 1;
}

std::string NoSuchUser(std::string_view username) {
  return "no such user: " + std::string(username);
}
std::string NoSuchRole(std::string_view name) { return "no such role: " + std::string(name); }

std::string Join(const std::vector<std::string>& items, std::string_view empty = "-") {
  if (items.empty()) return std::string(empty);
  std::string out;
  for (const std::string& item : items) {
    if (!out.empty()) out += ", ";
    out += item;
  }
  return out;
}

std::string TimeOr(std::optional<UnixSeconds> t, std::string_view absent) {
  return t ? FormatRfc3339(*t) : std::string(absent);
}

boost::json::array ToJsonArray(const std::vector<std::string>& items) {
  boost::json::array out;
  for (const std::string& item : items) out.emplace_back(item);
  return out;
}

// The end of the account lock of `user`, if one is in force. The CLI has no live throttle, so it
// reads the store's throttle records (a running server writes every change through). Only the
// "account:" record is consulted: per-(user, source) pair locks are per client IP and say nothing
// about the account as a whole, and the account lock is what an administrator needs to see here.
std::optional<UnixSeconds> AccountLockedUntil(store::ThrottleStore& throttles,
                                              const store::User& user, UnixSeconds now) {
  Result<std::optional<store::ThrottleRecord>> record =
      throttles.GetThrottle("account:" + store::NormalizeUsername(user.username));
  if (!record.ok() || !record->has_value() || (*record)->locked_until <= now) return std::nullopt;
  return (*record)->locked_until;
}

// The user as `user show` prints it: the API's user shape plus the effective permissions.
int PrintUser(Session& session, const store::User& user, bool json) {
  Result<std::vector<std::string>> permissions = session.store->PermissionsOfUser(user.id);
  if (!permissions.ok()) return Report(permissions.status(), NoSuchUser(user.username));
  std::optional<UnixSeconds> locked_until =
      AccountLockedUntil(*session.store, user, session.clock.Now());
  if (json) {
    boost::json::object out = api::UserToJson(user, locked_until);
    out["permissions"] = ToJsonArray(*permissions);
    std::cout << boost::json::serialize(out) << "\n";
    return 0;
  }
  std::printf("id:           %s\n", user.id.c_str());
  std::printf("username:     %s\n", user.username.c_str());
  std::printf("email:        %s\n", user.email ? user.email->c_str() : "-");
  std::printf("roles:        %s\n", Join(user.roles).c_str());
  std::printf("permissions:  %s\n", Join(*permissions).c_str());
  std::printf("disabled:     %s\n", user.disabled ? "yes" : "no");
  std::printf("locked until: %s\n", TimeOr(locked_until, "-").c_str());
  std::printf("created:      %s\n", FormatRfc3339(user.created_at).c_str());
  std::printf("last login:   %s\n", TimeOr(user.last_login_at, "never").c_str());
  return 0;
}

// The role set after a grant (`add` = true: old ∪ given) or revoke (old \ given), sorted.
std::vector<std::string> ChangedPermissions(const std::vector<std::string>& old_permissions,
                                            const std::vector<std::string>& given, bool add) {
  std::vector<std::string> result;
  if (add) {
    result = old_permissions;
    result.insert(result.end(), given.begin(), given.end());
  } else {
    for (const std::string& p : old_permissions) {
      if (std::find(given.begin(), given.end(), p) == given.end()) result.push_back(p);
    }
  }
  return admin::SortedUnique(std::move(result));
}

int ChangeRolePermissions(const CommonOptions& options, const std::string& name,
                          const std::vector<std::string>& given, bool add) {
  int exit_code = 0;
  std::unique_ptr<Session> session = OpenSession(options, exit_code);
  if (!session) return exit_code;
  Result<store::Role> role = session->directory->GetRole(name);
  if (!role.ok()) return Report(role.status(), NoSuchRole(name));
  std::vector<std::string> old_permissions = admin::SortedUnique(role->permissions);
  std::vector<std::string> new_permissions = ChangedPermissions(old_permissions, given, add);
  if (new_permissions == old_permissions) {
    // Nothing to write (and nothing to audit).
    std::cout << "role " << role->name
              << " unchanged: " << (add ? "it already has " : "it has none of ")
              << "these permissions\n";
    return 0;
  }
  admin::RolePatch patch;
  patch.permissions = new_permissions;
  Result<store::Role> updated =
      session->directory->UpdateRole(session->actor, name, patch, session->context);
  if (!updated.ok()) return Report(updated.status(), NoSuchRole(name));
  std::cout << "role " << updated->name << " permissions: " << Join(updated->permissions) << "\n";
  if (!add) {
    std::cout << "(holders' tokens issued before this change no longer work; they must sign in "
                 "again)\n";
  }
  return 0;
}

void PrintReviewReport(const admin::AccessReview& review) {
  std::printf("Access review generated %s; \"unused\" = no recorded use in the last %d days\n",
              FormatRfc3339(review.generated_at).c_str(), review.unused_days);
  std::printf("\nUsers (%zu)\n", review.users.size());
  for (const admin::AccessReviewEntry& entry : review.users) {
    const store::User& u = entry.user;
    std::string status = u.disabled ? "disabled" : "active";
    if (entry.locked_until) status += ", locked until " + FormatRfc3339(*entry.locked_until);
    std::printf("\n%s (id %s)\n", u.username.c_str(), u.id.c_str());
    std::printf("  status:              %s\n", status.c_str());
    std::printf("  email:               %s\n", u.email ? u.email->c_str() : "-");
    std::printf("  roles:               %s\n", Join(u.roles).c_str());
    std::printf("  permissions:         %s\n", Join(entry.permissions).c_str());
    std::printf("  created:             %s\n", FormatRfc3339(u.created_at).c_str());
    std::printf("  last login:          %s\n", TimeOr(u.last_login_at, "never").c_str());
    std::printf("  last permission use: %s\n", TimeOr(entry.last_permission_use, "never").c_str());
    std::printf("  unused roles:        %s\n", Join(entry.unused_roles, "none").c_str());
    std::printf("  unused permissions:  %s\n", Join(entry.unused_permissions, "none").c_str());
  }
  std::printf("\nRoles (%zu)\n", review.roles.size());
  std::printf("  %-24s  %-7s  %s\n", "NAME", "HOLDERS", "PERMISSIONS");
  for (const store::Role& r : review.roles) {
    const auto holders = std::count_if(
        review.users.begin(), review.users.end(), [&r](const admin::AccessReviewEntry& e) {
          return std::find(e.user.roles.begin(), e.user.roles.end(), r.name) != e.user.roles.end();
        });
    std::printf("  %-24s  %-7td  %s\n", r.name.c_str(), holders, Join(r.permissions).c_str());
  }
  std::printf("\nRoles without holders: %s\n", Join(review.roles_without_holders, "none").c_str());
}

}  // namespace

int RunUserShow(const CommonOptions& options, const std::string& username, bool json) {
  int exit_code = 0;
  std::unique_ptr<Session> session = OpenSession(options, exit_code);
  if (!session) return exit_code;
  Result<store::User> user = session->directory->GetUserByUsername(username);
  if (!user.ok()) return Report(user.status(), NoSuchUser(username));
  return PrintUser(*session, *user, json);
}

int RunUserSetDisabled(const CommonOptions& options, const std::string& username, bool disabled) {
  int exit_code = 0;
  std::unique_ptr<Session> session = OpenSession(options, exit_code);
  if (!session) return exit_code;
  Result<store::User> user = session->directory->GetUserByUsername(username);
  if (!user.ok()) return Report(user.status(), NoSuchUser(username));
  admin::UserPatch patch;
  patch.disabled = disabled;
  Result<store::User> updated =
      session->directory->UpdateUser(session->actor, user->id, patch, session->context);
  if (!updated.ok()) return Report(updated.status(), NoSuchUser(username));
  if (disabled) {
    std::cout << "disabled " << updated->username
              << " (their tokens stop working; a running server applies this within ~2 s)\n";
  } else {
    std::cout << "enabled " << updated->username << "\n";
  }
  return 0;
}

int RunUserRoles(const CommonOptions& options, const std::string& username,
                 const std::vector<std::string>& roles, bool json) {
  int exit_code = 0;
  std::unique_ptr<Session> session = OpenSession(options, exit_code);
  if (!session) return exit_code;
  Result<store::User> user = session->directory->GetUserByUsername(username);
  if (!user.ok()) return Report(user.status(), NoSuchUser(username));
  if (!roles.empty()) {
    Result<store::User> updated =
        session->directory->SetUserRoles(session->actor, user->id, roles, session->context);
    if (!updated.ok()) return Report(updated.status(), NoSuchUser(username));
    user = std::move(updated);
  }
  if (json) return PrintUser(*session, *user, /*json=*/true);
  if (roles.empty()) {
    for (const std::string& role : user->roles) std::cout << role << "\n";
  } else {
    std::cout << "roles of " << user->username << ": " << Join(user->roles, "none") << "\n";
  }
  return 0;
}

int RunRoleAdd(const CommonOptions& options, const RoleAddOptions& add) {
  int exit_code = 0;
  std::unique_ptr<Session> session = OpenSession(options, exit_code);
  if (!session) return exit_code;
  admin::RoleInput input;
  input.name = add.name;
  input.description = add.description;
  input.permissions = add.permissions;
  Result<store::Role> role =
      session->directory->CreateRole(session->actor, input, session->context);
  if (!role.ok()) return Report(role.status(), NoSuchRole(add.name));
  std::cout << "created role " << role->name << " with permissions: " << Join(role->permissions)
            << "\n";
  return 0;
}

int RunRoleList(const CommonOptions& options, bool json) {
  int exit_code = 0;
  std::unique_ptr<Session> session = OpenSession(options, exit_code);
  if (!session) return exit_code;
  Result<std::vector<store::Role>> roles = session->directory->ListRoles();
  if (!roles.ok()) return Report(roles.status(), "no roles");
  std::vector<std::size_t> holders;
  for (const store::Role& r : *roles) {
    Result<std::vector<std::string>> users = session->store->UsersWithRole(r.name);
    if (!users.ok()) return Report(users.status(), NoSuchRole(r.name));
    holders.push_back(users->size());
  }
  if (json) {
    boost::json::array out;
    for (std::size_t i = 0; i < roles->size(); ++i) {
      const store::Role& r = (*roles)[i];
      out.push_back(boost::json::object{{"name", r.name},
                                        {"description", r.description},
                                        {"permissions", ToJsonArray(r.permissions)},
                                        {"created_at", FormatRfc3339(r.created_at)},
                                        {"holders", holders[i]}});
    }
    std::cout << boost::json::serialize(out) << "\n";
    return 0;
  }
  std::printf("%-24s  %-7s  %-32s  %s\n", "NAME", "HOLDERS", "DESCRIPTION", "PERMISSIONS");
  for (std::size_t i = 0; i < roles->size(); ++i) {
    const store::Role& r = (*roles)[i];
    std::printf("%-24s  %-7zu  %-32s  %s\n", r.name.c_str(), holders[i],
                r.description.empty() ? "-" : r.description.c_str(), Join(r.permissions).c_str());
  }
  return 0;
}

int RunRoleGrant(const CommonOptions& options, const std::string& name,
                 const std::vector<std::string>& permissions) {
  return ChangeRolePermissions(options, name, permissions, /*add=*/true);
}

int RunRoleRevoke(const CommonOptions& options, const std::string& name,
                  const std::vector<std::string>& permissions) {
  return ChangeRolePermissions(options, name, permissions, /*add=*/false);
}

int RunRoleDelete(const CommonOptions& options, const std::string& name) {
  int exit_code = 0;
  std::unique_ptr<Session> session = OpenSession(options, exit_code);
  if (!session) return exit_code;
  Status s = session->directory->DeleteRole(session->actor, name, session->context);
  if (!s.ok()) return Report(s, NoSuchRole(name));
  std::cout << "deleted role " << name << "\n";
  return 0;
}

int RunAccessReview(const CommonOptions& options, const AccessReviewOptions& review_options) {
  int exit_code = 0;
  std::unique_ptr<Session> session = OpenSession(options, exit_code);
  if (!session) return exit_code;
  const UnixSeconds now = session->clock.Now();
  store::Store& store = *session->store;
  Result<admin::AccessReview> review =
      admin::BuildAccessReview(store, now, review_options.unused_days,
                               [&store, now](const store::User& u) -> std::optional<UnixSeconds> {
                                 return AccountLockedUntil(store, u, now);
                               });
  if (!review.ok()) return Report(review.status(), "nothing to review");
  if (review_options.json) {
    std::cout << boost::json::serialize(admin::AccessReviewToJson(*review)) << "\n";
    return 0;
  }
  PrintReviewReport(*review);
  return 0;
}

}  // namespace portcullis::cli
