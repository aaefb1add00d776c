// portcullis/claims.h: the verified claims of a Portcullis access token (RFC 9068 profile).
//
// Only a Verifier produces these from a token that passed every check; a default-constructed
// Claims grants nothing.
//
// Thread-safety: a plain value.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace portcullis {

struct Claims {
  std::string iss;
  std::string sub;  // user id, or client_id for client_credentials tokens
  std::vector<std::string> aud;
  std::int64_t exp = 0;
  std::int64_t iat = 0;
  std::int64_t nbf = 0;
  std::string jti;
  std::string client_id;
  std::vector<std::string> scopes;  // granted permissions, "scope" split on spaces
  std::vector<std::string> roles;
  std::optional<std::string> username;  // absent for client tokens
  std::optional<std::string> cnf_jkt;   // set when the token is DPoP-bound (RFC 9449 §6.1)

  // True when any granted permission covers `permission` under the server's wildcard rules
  // (e.g. "orders:*" grants "orders:refund"). Uses the server's own matcher (authz/permission.h).
  bool HasPermission(std::string_view permission) const;
};

// Free-function form of Claims::HasPermission, as DESIGN §11 names it.
bool HasPermission(const Claims& claims, std::string_view permission);

}  // namespace portcullis
