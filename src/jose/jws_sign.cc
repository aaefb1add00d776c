#include <boost/json/serialize.hpp>

#include "crypto/base64.h"
#include "jose/jws.h"

namespace portcullis::jose {

Result<std::string> SignAccessToken(const AccessTokenClaims& claims, const PrivateKey& key) {
  boost::json::object header;  // Insertion order is serialization order.
  header["alg"] = ToString(key.alg());
  header["kid"] = key.kid();
  header["typ"] = "at+jwt";
  std::string token = crypto::Base64UrlEncode(boost::json::serialize(header));
  token += '.';
  token += crypto::Base64UrlEncode(boost::json::serialize(ClaimsToJson(claims)));
  Result<std::string> signature = key.Sign(token);
  if (!signature.ok()) return signature.status();
  token += '.';
  token += crypto::Base64UrlEncode(*signature);
  return token;
}

}  // namespace portcullis::jose
