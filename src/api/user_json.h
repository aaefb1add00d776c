// The JSON shape of a user (DESIGN §4 "JSON shapes"), shared by the admin API and the CLI:
// {"id","username","email","roles","disabled","locked_until","created_at","last_login_at"}.
// Timestamps are RFC 3339 UTC strings or null. Never includes the password hash.
#pragma once

#include <boost/json/object.hpp>

#include "store/store.h"

namespace portcullis::api {

// `locked_until`: the end of the latest lock on this user (any source, or the account), if any.
boost::json::object UserToJson(const store::User& user,
                               std::optional<UnixSeconds> locked_until = std::nullopt);

}  // namespace portcullis::api
