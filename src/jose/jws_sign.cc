#include <boost/json/serialize.hpp>

#include "crypto/base64.h"
#include "jose/jws.h"

namespace portcullis::jose {
namespace {

// The compact JWS of `payload` with the header {"alg":<key alg>,"kid":<key kid>,"typ":<typ>}.
Result<std::string> SignCompact(std::string_view typ, const boost::json::object& payload,
                                const PrivateKey& key) {
  boost::json::object header;  // Insertion order is serialization order.
  header["alg"] = ToString(key.alg());
  header["kid"] = key.kid();
  header["typ"] = typ;
  std::string token = crypto::Base64UrlEncode(boost::json::serialize(header));
  token += '.';
  token += crypto::Base64UrlEncode(boost::json::serialize(payload));
  Result<std::string> signature = key.Sign(token);
  if (!signature.ok()) return signature.status();
  token += '.';
  token += crypto::Base64UrlEncode(*signature);
  return token;
}

}  // namespace

Result<std::string> SignAccessToken(const AccessTokenClaims& claims, const PrivateKey& key) {
  return SignCompact("at+jwt", ClaimsToJson(claims), key);
}

Result<std::string> SignIdToken(const boost::json::object& claims, const PrivateKey& key) {
  return SignCompact("JWT", claims, key);
}

}  // namespace portcullis::jose
