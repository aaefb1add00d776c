#include "jose/claims.h"

#include <boost/json/array.hpp>
#include <boost/json/value.hpp>
#include <limits>

namespace portcullis::jose {
namespace {

namespace json = boost::json;

// Outcome of reading one member: absent, present with a bad type, or read.
enum class Read { kAbsent, kInvalid, kOk };

Read ReadString(const json::object& o, std::string_view name, bool non_empty, std::string& out) {
  const json::value* v = o.if_contains(name);
  if (v == nullptr) return Read::kAbsent;
  if (!v->is_string() || (non_empty && v->as_string().empty())) return Read::kInvalid;
  out = std::string(v->as_string());
  return Read::kOk;
}

Read ReadInteger(const json::object& o, std::string_view name, std::int64_t& out) {
  const json::value* v = o.if_contains(name);
  if (v == nullptr) return Read::kAbsent;
  if (v->is_int64()) {
    out = v->as_int64();
    return Read::kOk;
  }
  // Boost stores non-negative integers above INT64_MAX as uint64; no valid time is that large.
  return Read::kInvalid;
}

Read ReadStringArray(const json::value& v, std::vector<std::string>& out) {
  if (!v.is_array()) return Read::kInvalid;
  out.clear();
  for (const json::value& item : v.as_array()) {
    if (!item.is_string()) return Read::kInvalid;
    out.emplace_back(item.as_string());
  }
  return Read::kOk;
}

Read ReadAudience(const json::object& o, std::vector<std::string>& out) {
  const json::value* v = o.if_contains("aud");
  if (v == nullptr) return Read::kAbsent;
  if (v->is_string()) {
    if (v->as_string().empty()) return Read::kInvalid;
    out = {std::string(v->as_string())};
    return Read::kOk;
  }
  if (ReadStringArray(*v, out) != Read::kOk || out.empty()) return Read::kInvalid;
  return Read::kOk;
}

// Folds one member's outcome into the overall error; the first failure wins.
void Note(Read read, bool required, VerifyError& error) {
  if (error != VerifyError::kOk) return;
  if (read == Read::kInvalid) error = VerifyError::kClaimInvalid;
  if (read == Read::kAbsent && required) error = VerifyError::kClaimMissing;
}

}  // namespace

json::object ClaimsToJson(const AccessTokenClaims& claims) {
  json::object o;
  o["iss"] = claims.iss;
  o["sub"] = claims.sub;
  if (claims.aud.size() == 1) {
    o["aud"] = claims.aud.front();
  } else {
    json::array aud;
    for (const std::string& a : claims.aud) aud.emplace_back(a);
    o["aud"] = std::move(aud);
  }
  o["exp"] = claims.exp;
  o["iat"] = claims.iat;
  o["nbf"] = claims.nbf;
  o["jti"] = claims.jti;
  o["client_id"] = claims.client_id;
  o["scope"] = claims.scope;
  json::array roles;
  for (const std::string& r : claims.roles) roles.emplace_back(r);
  o["roles"] = std::move(roles);
  if (claims.username) o["username"] = *claims.username;
  o["uv"] = claims.uv;
  if (claims.cnf_jkt) o["cnf"] = json::object{{"jkt", *claims.cnf_jkt}};
  return o;
}

ClaimsParseResult ParseAccessTokenClaims(const json::object& payload) {
  ClaimsParseResult result;
  AccessTokenClaims& c = result.claims;
  VerifyError& error = result.error;
  Note(ReadString(payload, "iss", true, c.iss), true, error);
  Note(ReadString(payload, "sub", true, c.sub), true, error);
  Note(ReadAudience(payload, c.aud), true, error);
  Note(ReadInteger(payload, "exp", c.exp), true, error);
  Note(ReadInteger(payload, "iat", c.iat), true, error);
  Note(ReadInteger(payload, "nbf", c.nbf), true, error);
  Note(ReadString(payload, "jti", true, c.jti), true, error);
  Note(ReadString(payload, "client_id", false, c.client_id), false, error);
  Note(ReadString(payload, "scope", false, c.scope), false, error);
  if (const json::value* roles = payload.if_contains("roles")) {
    Note(ReadStringArray(*roles, c.roles), false, error);
  }
  std::string username;
  const Read username_read = ReadString(payload, "username", false, username);
  Note(username_read, false, error);
  if (username_read == Read::kOk) c.username = std::move(username);
  Note(ReadInteger(payload, "uv", c.uv), false, error);
  // RFC 7800 / RFC 9449 §6.1: the only confirmation method we know is "jkt"; a "cnf" we cannot
  // honour must not be ignored (the token would lose its binding), so anything else is invalid.
  if (const json::value* cnf = payload.if_contains("cnf")) {
    std::string jkt;
    if (!cnf->is_object() || cnf->as_object().size() != 1 ||
        ReadString(cnf->as_object(), "jkt", true, jkt) != Read::kOk) {
      Note(Read::kInvalid, false, error);
    } else {
      c.cnf_jkt = std::move(jkt);
    }
  }
  if (error != VerifyError::kOk) result.claims = AccessTokenClaims{};
  return result;
}

}  // namespace portcullis::jose
