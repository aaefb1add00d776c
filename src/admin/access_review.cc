// The access review (GET /v1/access-review, `portcullis access-review`): who holds what, and which
// roles and permissions went unused within a window.
#include <algorithm>
#include <boost/json.hpp>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "admin/directory.h"
#include "authz/permission.h"
#include "base/log.h"
#include "base/time_format.h"

namespace portcullis::admin {
namespace {

constexpr std::size_t kUserPageSize = 500;
constexpr std::int64_t kSecondsPerDay = 86400;

Status ReviewStoreFailure(std::string_view operation, const Status& status) {
  log::Error("admin.store_failed", {{"operation", operation}, {"error", status.ToString()}});
  return UnavailableError("the database is unavailable; retry shortly");
}

boost::json::array ToArray(const std::vector<std::string>& v) {
  boost::json::array out;
  for (const std::string& s : v) out.emplace_back(s);
  return out;
}

boost::json::value OptionalTime(const std::optional<UnixSeconds>& t) {
  return t ? boost::json::value(FormatRfc3339(*t)) : boost::json::value(nullptr);
}

// The review entry of one user, given the roles by name and the user's recorded uses.
AccessReviewEntry ReviewUser(store::User user,
                             const std::unordered_map<std::string, const store::Role*>& roles,
                             const std::vector<store::PermissionUse>& uses, UnixSeconds since) {
  AccessReviewEntry entry;
  // The required permissions checked within the window.
  std::vector<std::string> recent;
  for (const store::PermissionUse& use : uses) {
    if (!entry.last_permission_use || use.at > *entry.last_permission_use) {
      entry.last_permission_use = use.at;
    }
    if (use.at >= since) recent.push_back(use.permission);
  }
  std::vector<std::string> held;
  for (const std::string& role_name : user.roles) {
    auto it = roles.find(role_name);
    if (it == roles.end()) continue;  // deleted between the two reads
    held.insert(held.end(), it->second->permissions.begin(), it->second->permissions.end());
  }
  entry.permissions = SortedUnique(std::move(held));
  std::vector<std::string> used;
  for (const std::string& permission : entry.permissions) {
    bool granted_one = false;
    for (const std::string& required : recent) {
      if (authz::PermissionGrants(permission, required)) {
        granted_one = true;
        break;
      }
    }
    if (granted_one) {
      used.push_back(permission);
    } else {
      entry.unused_permissions.push_back(permission);
    }
  }
  for (const std::string& role_name : user.roles) {
    auto it = roles.find(role_name);
    if (it == roles.end()) continue;
    bool role_used = false;
    for (const std::string& permission : it->second->permissions) {
      if (std::binary_search(used.begin(), used.end(), permission)) {
        role_used = true;
        break;
      }
    }
    if (!role_used) entry.unused_roles.push_back(role_name);
  }
  entry.unused_roles = SortedUnique(std::move(entry.unused_roles));
  entry.user = std::move(user);
  return entry;
}

}  // namespace

Result<AccessReview> BuildAccessReview(
    store::Store& store, UnixSeconds now, int unused_days,
    const std::function<std::optional<UnixSeconds>(const store::User&)>& locked_until,
    authn::ApiKeyUsage* recorded_key_uses) {
  if (unused_days < 0) return InvalidArgumentError("unused_days must not be negative");
  AccessReview review;
  review.generated_at = now;
  review.unused_days = unused_days;
  const UnixSeconds since = now - static_cast<std::int64_t>(unused_days) * kSecondsPerDay;

  Result<std::vector<store::Role>> roles = store.ListRoles();
  if (!roles.ok()) return ReviewStoreFailure("list_roles", roles.status());
  review.roles = std::move(*roles);
  std::unordered_map<std::string, const store::Role*> roles_by_name;
  for (const store::Role& role : review.roles) roles_by_name.emplace(role.name, &role);

  Result<std::vector<store::PermissionUse>> uses = store.ListPermissionUses();
  if (!uses.ok()) return ReviewStoreFailure("list_permission_uses", uses.status());
  std::unordered_map<std::string, std::vector<store::PermissionUse>> uses_by_user;
  for (store::PermissionUse& use : *uses) uses_by_user[use.user_id].push_back(std::move(use));

  // Every API key, by owner (issue #6: each user's keys with their last use).
  std::unordered_map<std::string, std::vector<store::ApiKey>> keys_by_user;
  std::string key_cursor;
  while (true) {
    Result<store::ApiKeyPage> keys = store.ListApiKeys(std::nullopt, key_cursor, kUserPageSize);
    if (!keys.ok()) return ReviewStoreFailure("list_api_keys", keys.status());
    if (recorded_key_uses != nullptr) {
      keys->items = recorded_key_uses->WithRecordedUses(std::move(keys->items));
    }
    for (store::ApiKey& key : keys->items) {
      key.secret_hash.clear();  // never needed here; keep it out of every copy
      keys_by_user[key.user_id].push_back(std::move(key));
    }
    if (!keys->next_cursor) break;
    key_cursor = *keys->next_cursor;
  }

  static const std::vector<store::PermissionUse> kNoUses;
  std::map<std::string, std::size_t> holders;  // role name -> holders seen
  store::UserQuery query;
  query.limit = kUserPageSize;
  while (true) {
    Result<store::UserPage> page = store.QueryUsers(query);
    if (!page.ok()) return ReviewStoreFailure("query_users", page.status());
    for (store::User& user : page->items) {
      for (const std::string& role_name : user.roles) ++holders[role_name];
      auto it = uses_by_user.find(user.id);
      const std::vector<store::PermissionUse>& user_uses =
          it == uses_by_user.end() ? kNoUses : it->second;
      std::optional<UnixSeconds> locked = locked_until ? locked_until(user) : std::nullopt;
      review.users.push_back(ReviewUser(std::move(user), roles_by_name, user_uses, since));
      review.users.back().locked_until = locked;
      if (auto keys = keys_by_user.find(review.users.back().user.id); keys != keys_by_user.end()) {
        review.users.back().api_keys = std::move(keys->second);
      }
    }
    if (!page->next_cursor) break;
    query.cursor = *page->next_cursor;
  }
  // Every user was read above, so a role none of them holds has no holder (the same answer as
  // UsersWithRole, from one consistent pass instead of a query per role).
  for (const store::Role& role : review.roles) {
    if (holders.find(role.name) == holders.end()) review.roles_without_holders.push_back(role.name);
  }
  return review;
}

boost::json::object AccessReviewToJson(const AccessReview& review) {
  std::map<std::string, std::int64_t> holders;
  boost::json::array users;
  for (const AccessReviewEntry& entry : review.users) {
    const store::User& user = entry.user;
    for (const std::string& role : user.roles) ++holders[role];
    boost::json::object u;
    u["id"] = user.id;
    u["username"] = user.username;
    u["email"] = user.email ? boost::json::value(*user.email) : boost::json::value(nullptr);
    u["roles"] = ToArray(user.roles);
    u["permissions"] = ToArray(entry.permissions);
    u["disabled"] = user.disabled;
    u["locked_until"] = OptionalTime(entry.locked_until);
    u["created_at"] = FormatRfc3339(user.created_at);
    u["last_login_at"] = OptionalTime(user.last_login_at);
    u["last_permission_use"] = OptionalTime(entry.last_permission_use);
    u["unused_roles"] = ToArray(entry.unused_roles);
    u["unused_permissions"] = ToArray(entry.unused_permissions);
    boost::json::array keys;
    for (const store::ApiKey& key : entry.api_keys) {
      keys.push_back(boost::json::object{{"id", key.id},
                                         {"name", key.name},
                                         {"scopes", ToArray(key.scopes)},
                                         {"expires_at", OptionalTime(key.expires_at)},
                                         {"last_used_at", OptionalTime(key.last_used_at)}});
    }
    u["api_keys"] = std::move(keys);
    users.push_back(std::move(u));
  }
  boost::json::array roles;
  for (const store::Role& role : review.roles) {
    auto it = holders.find(role.name);
    roles.push_back(boost::json::object{{"name", role.name},
                                        {"description", role.description},
                                        {"permissions", ToArray(role.permissions)},
                                        {"holders", it == holders.end() ? 0 : it->second}});
  }
  return {{"generated_at", FormatRfc3339(review.generated_at)},
          {"unused_days", review.unused_days},
          {"users", std::move(users)},
          {"roles", std::move(roles)},
          {"roles_without_holders", ToArray(review.roles_without_holders)}};
}

}  // namespace portcullis::admin
