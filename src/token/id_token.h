// OpenID Connect ID tokens (OpenID Connect Core §2, DESIGN.md §8): the claims, and the check of
// an id_token_hint at RP-initiated logout. Signing is KeyManager::SignIdToken (header typ "JWT",
// the client's id_token_signed_response_alg), so an ID token is never accepted as an access token
// (those must say typ "at+jwt").
//
// Thread-safety: values and pure functions.
//
//   IdTokenClaims c{.iss = issuer, .sub = user.id, .aud = client_id, ...};
//   Result<std::string> jwt = keys.SignIdToken(alg, IdTokenPayload(c));
#pragma once

#include <boost/json/object.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/clock.h"
#include "jose/key_ring.h"

namespace portcullis::token {

struct IdTokenClaims {
  std::string iss;
  std::string sub;
  std::string aud;  // the client_id
  UnixSeconds exp = 0;
  UnixSeconds iat = 0;
  UnixSeconds auth_time = 0;
  std::optional<std::string> nonce;               // when the authorization request carried one
  std::string azp;                                // the client_id (authorized party)
  std::vector<std::string> amr;                   // "pwd", "otp"
  std::optional<std::string> preferred_username;  // scope profile
  std::optional<std::string> email;               // scope email (when the user has one)
  std::optional<std::string> sid;                 // the browser session's id
};

// The JSON payload, members in the order of the struct; absent optionals are omitted.
boost::json::object IdTokenPayload(const IdTokenClaims& claims);

// What an id_token_hint tells RP-initiated logout, once its signature checks out.
struct IdTokenHint {
  std::string sub;
  std::string aud;  // the client it was issued to
  std::optional<std::string> sid;
};

// Verifies an ID token we issued, as sent back as id_token_hint: compact JWS, typ "JWT", the key
// named by kid in `keys` with the token's alg equal to the key's, a valid signature, iss equal to
// `issuer`, a single string aud. Expiry is NOT checked (OpenID Connect RP-Initiated Logout §2:
// an expired ID token is a fine hint). nullopt when any check fails.
std::optional<IdTokenHint> VerifyIdTokenHint(std::string_view token, const jose::KeyRing& keys,
                                             std::string_view issuer);

}  // namespace portcullis::token
