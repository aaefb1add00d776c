// HTTP Basic credentials (RFC 7617), and the RFC 6749 §2.3.1 variant for OAuth2 client
// authentication, where client_id and client_secret are form-urlencoded before base64.
//
// Pure parsing: no lookup, no comparison. Thread-safety: pure functions.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "base/secret.h"

namespace portcullis::authn {

struct BasicCredentials {
  std::string user;       // username or client_id
  SecretString password;  // password or client secret
};

// Parses an `Authorization` header value "Basic <base64(user:password)>" (scheme
// case-insensitive, strict base64 with padding, the first ':' splits). With `form_urlencoded`
// (OAuth2 clients), both parts are then percent-decoded ('+' is a space). nullopt when malformed:
// not Basic, bad base64, no ':', empty user, control characters, or bad percent-encoding.
std::optional<BasicCredentials> ParseBasicCredentials(std::string_view authorization,
                                                      bool form_urlencoded);

// True if the header value uses the Basic scheme (whatever follows).
bool IsBasicScheme(std::string_view authorization);

}  // namespace portcullis::authn
