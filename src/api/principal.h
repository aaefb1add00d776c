// Principal: who is calling, as established by the credential pipeline. Built from an access
// token's claims on the Bearer path without any database read.
#pragma once

#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "authn/authn_error.h"
#include "http/parse.h"
#include "http/request.h"
#include "http/response.h"
#include "jose/verify_error.h"

namespace portcullis::api {

struct Principal {
  enum class Kind { kUser, kClient };
  Kind kind = Kind::kUser;
  std::string id;                       // user id, or client_id for client tokens
  std::optional<std::string> username;  // users only
  std::string client_id;                // the client the token was issued to
  std::vector<std::string> roles;
  std::vector<std::string> permissions;  // the token's scope
  std::string auth_method;               // "bearer"
};

}  // namespace portcullis::api
