#include "api/user_json.h"

#include <boost/json.hpp>

#include "base/time_format.h"

namespace portcullis::api {

boost::json::object UserToJson(const store::User& user, std::optional<UnixSeconds> locked_until) {
  boost::json::array roles;
  for (const std::string& r : user.roles) roles.emplace_back(r);
  boost::json::object out;
  out["id"] = user.id;
  out["username"] = user.username;
  out["email"] = user.email ? boost::json::value(*user.email) : boost::json::value(nullptr);
  out["roles"] = std::move(roles);
  out["disabled"] = user.disabled;
  out["locked_until"] =
      locked_until ? boost::json::value(FormatRfc3339(*locked_until)) : boost::json::value(nullptr);
  out["created_at"] = FormatRfc3339(user.created_at);
  out["last_login_at"] = user.last_login_at ? boost::json::value(FormatRfc3339(*user.last_login_at))
                                            : boost::json::value(nullptr);
  return out;
}

}  // namespace portcullis::api
