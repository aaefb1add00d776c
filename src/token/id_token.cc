#include "token/id_token.h"

#include <boost/json.hpp>

#include "base/json.h"
#include "crypto/base64.h"
#include "jose/algorithm.h"

namespace portcullis::token {
namespace {

constexpr std::size_t kMaxHintBytes = 16 * 1024;

std::optional<boost::json::object> DecodeObject(std::string_view segment) {
  std::optional<std::string> bytes = crypto::Base64UrlDecode(segment);
  if (!bytes) return std::nullopt;
  Result<boost::json::value> v = ParseJson(*bytes);
  if (!v.ok() || !v->is_object()) return std::nullopt;
  return v->as_object();
}

const boost::json::string* StringMember(const boost::json::object& o, std::string_view name) {
  const boost::json::value* v = o.if_contains(name);
  return (v != nullptr && v->is_string()) ? &v->get_string() : nullptr;
}

}  // namespace

boost::json::object IdTokenPayload(const IdTokenClaims& c) {
  boost::json::object o;
  o["iss"] = c.iss;
  o["sub"] = c.sub;
  o["aud"] = c.aud;
  o["exp"] = c.exp;
  o["iat"] = c.iat;
  o["auth_time"] = c.auth_time;
  if (c.nonce) o["nonce"] = *c.nonce;
  o["azp"] = c.azp;
  boost::json::array amr;
  for (const std::string& m : c.amr) amr.emplace_back(m);
  o["amr"] = std::move(amr);
  if (c.preferred_username) o["preferred_username"] = *c.preferred_username;
  if (c.email) o["email"] = *c.email;
  if (c.sid) o["sid"] = *c.sid;
  return o;
}

std::optional<IdTokenHint> VerifyIdTokenHint(std::string_view token, const jose::KeyRing& keys,
                                             std::string_view issuer) {
  if (token.empty() || token.size() > kMaxHintBytes) return std::nullopt;
  const std::size_t dot1 = token.find('.');
  if (dot1 == std::string_view::npos) return std::nullopt;
  const std::size_t dot2 = token.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || token.find('.', dot2 + 1) != std::string_view::npos) {
    return std::nullopt;
  }
  std::optional<boost::json::object> header = DecodeObject(token.substr(0, dot1));
  std::optional<boost::json::object> payload =
      DecodeObject(token.substr(dot1 + 1, dot2 - dot1 - 1));
  std::optional<std::string> signature = crypto::Base64UrlDecode(token.substr(dot2 + 1));
  if (!header || !payload || !signature || signature->empty()) return std::nullopt;
  const boost::json::string* typ = StringMember(*header, "typ");
  const boost::json::string* alg = StringMember(*header, "alg");
  const boost::json::string* kid = StringMember(*header, "kid");
  if (typ == nullptr || *typ != "JWT" || alg == nullptr || kid == nullptr) return std::nullopt;
  if (header->contains("crit") || header->contains("jwk") || header->contains("jku")) {
    return std::nullopt;
  }
  const jose::PublicKey* key = keys.Find(std::string_view(*kid));
  if (key == nullptr || jose::ToString(key->alg()) != std::string_view(*alg)) return std::nullopt;
  if (!key->VerifySignature(token.substr(0, dot2), *signature)) return std::nullopt;
  const boost::json::string* iss = StringMember(*payload, "iss");
  const boost::json::string* sub = StringMember(*payload, "sub");
  const boost::json::string* aud = StringMember(*payload, "aud");
  if (iss == nullptr || *iss != issuer || sub == nullptr || aud == nullptr) return std::nullopt;
  IdTokenHint hint{std::string(*sub), std::string(*aud), std::nullopt};
  if (const boost::json::string* sid = StringMember(*payload, "sid")) hint.sid = std::string(*sid);
  return hint;
}

}  // namespace portcullis::token
