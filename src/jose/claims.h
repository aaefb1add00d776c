// AccessTokenClaims: the payload of a Portcullis access token (RFC 9068 §2.2, RFC 7519 §4).
//
// ClaimsToJson and ParseAccessTokenClaims convert between the struct and the JSON payload. Parsing
// checks presence and JSON types only; it does not compare iss/aud or times with anything (see
// VerifyAccessToken in jose/jws.h), nor revocation or uv (the token layer does).
//
// Thread-safety: values and pure functions.
#pragma once

#include <boost/json/object.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/clock.h"
#include "jose/verify_error.h"

namespace portcullis::jose {

struct AccessTokenClaims {
  std::string iss;               // issuer URL, exact
  std::string sub;               // user id, or client_id for client_credentials tokens
  std::vector<std::string> aud;  // one element is serialized as a string (RFC 7519 §4.1.3)
  UnixSeconds exp = 0;
  UnixSeconds iat = 0;
  UnixSeconds nbf = 0;
  std::string jti;                      // unique token id, the revocation key
  std::string client_id;                // RFC 9068 §2.2
  std::string scope;                    // space-separated granted permissions
  std::vector<std::string> roles;       // role names
  std::optional<std::string> username;  // absent for client tokens
  std::int64_t uv = 0;                  // the user's credential version when issued
  // RFC 9449 §6.1 "cnf":{"jkt"}: the thumbprint of the key a DPoP-bound token is bound to;
  // absent for Bearer tokens.
  std::optional<std::string> cnf_jkt;

  friend bool operator==(const AccessTokenClaims&, const AccessTokenClaims&) = default;
};

// The JSON payload, members in a fixed order: iss sub aud exp iat nbf jti client_id scope roles
// username? uv cnf?. "aud" is a string when it has exactly one element, else an array.
boost::json::object ClaimsToJson(const AccessTokenClaims& claims);

struct ClaimsParseResult {
  VerifyError error = VerifyError::kOk;
  AccessTokenClaims claims;  // meaningful only when error == kOk
};

// Reads the claims. kClaimMissing when iss, sub, aud, exp, iat, nbf or jti is absent;
// kClaimInvalid when any claim has the wrong type: strings for iss/sub/jti (non-empty), client_id,
// scope, username; a non-empty string or non-empty array of strings for aud; integers for exp,
// iat, nbf, uv; an array of strings for roles; "cnf", when present, exactly {"jkt": non-empty
// string}. Deviation from RFC 7519 §2: NumericDate must be an
// integer (our issuer never writes fractions). Unknown claims are ignored.
ClaimsParseResult ParseAccessTokenClaims(const boost::json::object& payload);

}  // namespace portcullis::jose
