// The access-token verification path. Keep it short enough to review in one sitting.
#include <algorithm>
#include <array>
#include <cctype>
#include <optional>

#include "base/json.h"
#include "crypto/base64.h"
#include "jose/jws.h"

namespace portcullis::jose {
namespace {

// Header and payload JSON are tiny; deeper nesting is hostile.
constexpr std::size_t kMaxJsonDepth = 16;
// RFC 7515 §4.1: header members that would let the token choose its own verification key.
constexpr std::array<std::string_view, 6> kEmbeddedKeyMembers = {"jwk", "jku", "x5u",
                                                                 "x5c", "x5t", "x5t#S256"};

bool EqualsIgnoringAsciiCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

// Decodes a segment as a JSON object; nullopt for anything else.
std::optional<boost::json::object> DecodeJsonObject(std::string_view json_text,
                                                    std::size_t max_bytes) {
  Result<boost::json::value> value =
      ParseJson(json_text, JsonLimits{.max_bytes = max_bytes, .max_depth = kMaxJsonDepth});
  if (!value.ok() || !value->is_object()) return std::nullopt;
  return std::move(value->as_object());
}

// The header rules, in the order ParseJws documents. Fills jws.alg and jws.kid.
VerifyError CheckHeader(Jws& jws) {
  const boost::json::object& header = jws.header;
  const boost::json::value* alg = header.if_contains("alg");
  if (alg == nullptr) return VerifyError::kAlgMissing;
  if (!alg->is_string()) return VerifyError::kAlgNotAllowed;
  const std::string_view alg_name = alg->as_string();
  // Report "none" in any case distinctly: it is the classic attack, worth its own counter.
  if (EqualsIgnoringAsciiCase(alg_name, "none")) return VerifyError::kAlgNone;
  std::optional<Algorithm> parsed = ParseAlgorithm(alg_name);
  if (!parsed) return VerifyError::kAlgNotAllowed;
  jws.alg = *parsed;

  // RFC 7515 §4.1.11: we implement no extensions, so any "crit" must be rejected.
  if (header.contains("crit")) return VerifyError::kCritPresent;
  for (std::string_view member : kEmbeddedKeyMembers) {
    if (header.contains(member)) return VerifyError::kEmbeddedKey;
  }

  // RFC 9068 §4: typ is "at+jwt"; RFC 7515 §4.1.9 allows the "application/" prefix and media
  // types compare case-insensitively.
  const boost::json::value* typ = header.if_contains("typ");
  if (typ == nullptr || !typ->is_string()) return VerifyError::kTypInvalid;
  const std::string_view typ_value = typ->as_string();
  if (!EqualsIgnoringAsciiCase(typ_value, "at+jwt") &&
      !EqualsIgnoringAsciiCase(typ_value, "application/at+jwt")) {
    return VerifyError::kTypInvalid;
  }

  const boost::json::value* kid = header.if_contains("kid");
  if (kid == nullptr || !kid->is_string() || kid->as_string().empty()) {
    return VerifyError::kKidMissing;
  }
  jws.kid = std::string(kid->as_string());
  return VerifyError::kOk;
}

bool AudienceMatches(const std::vector<std::string>& token_aud,
                     const std::vector<std::string>& ours) {
  for (const std::string& a : token_aud) {
    if (std::find(ours.begin(), ours.end(), a) != ours.end()) return true;
  }
  return false;
}

// The claim rules after the signature has been verified.
VerifyError CheckClaims(const AccessTokenClaims& claims, const VerifyPolicy& policy,
                        UnixSeconds now) {
  if (claims.iss != policy.issuer) return VerifyError::kIssuerMismatch;
  if (!AudienceMatches(claims.aud, policy.audiences)) return VerifyError::kAudienceMismatch;
  // RFC 7519 §4.1.4: reject at or after exp, allowing leeway_s of clock skew.
  if (now - policy.leeway_s >= claims.exp) return VerifyError::kExpired;
  // RFC 7519 §4.1.5: reject before nbf, with the same leeway.
  if (claims.nbf > now + policy.leeway_s) return VerifyError::kNotYetValid;
  // RFC 7519 §4.1.6 allows any iat; a token from the future means a forged or skewed issuer.
  if (claims.iat > now + policy.leeway_s) return VerifyError::kIssuedInFuture;
  return VerifyError::kOk;
}

}  // namespace

ParseResult ParseJws(std::string_view compact, std::size_t max_bytes) {
  ParseResult result;
  if (compact.size() > max_bytes) {
    result.error = VerifyError::kTooLarge;
    return result;
  }
  const std::size_t first_dot = compact.find('.');
  const std::size_t second_dot =
      first_dot == std::string_view::npos ? first_dot : compact.find('.', first_dot + 1);
  if (second_dot == std::string_view::npos ||
      compact.find('.', second_dot + 1) != std::string_view::npos) {
    result.error = VerifyError::kMalformed;
    return result;
  }
  const std::string_view header_b64 = compact.substr(0, first_dot);
  const std::string_view payload_b64 = compact.substr(first_dot + 1, second_dot - first_dot - 1);
  const std::string_view signature_b64 = compact.substr(second_dot + 1);
  if (header_b64.empty() || payload_b64.empty() || signature_b64.empty()) {
    result.error = VerifyError::kMalformed;
    return result;
  }

  std::optional<std::string> header_json = crypto::Base64UrlDecode(header_b64);
  std::optional<std::string> payload_json = crypto::Base64UrlDecode(payload_b64);
  std::optional<std::string> signature = crypto::Base64UrlDecode(signature_b64);
  if (!header_json || !payload_json || !signature) {
    result.error = VerifyError::kNonCanonicalBase64;
    return result;
  }

  Jws& jws = result.jws;
  std::optional<boost::json::object> header = DecodeJsonObject(*header_json, max_bytes);
  if (!header) {
    result.error = VerifyError::kMalformedJson;
    return result;
  }
  jws.header = std::move(*header);
  result.error = CheckHeader(jws);
  if (result.error != VerifyError::kOk) return result;

  std::optional<boost::json::object> payload = DecodeJsonObject(*payload_json, max_bytes);
  if (!payload) {
    result.error = VerifyError::kMalformedJson;
    return result;
  }
  jws.payload = std::move(*payload);
  jws.signing_input = std::string(compact.substr(0, second_dot));
  jws.signature = std::move(*signature);
  return result;
}

VerifyResult VerifyAccessToken(std::string_view token, const KeyRing& keys,
                               const VerifyPolicy& policy, UnixSeconds now) {
  VerifyResult result;
  ParseResult parsed = ParseJws(token, policy.max_token_bytes);
  if (parsed.error != VerifyError::kOk) {
    result.error = parsed.error;
    return result;
  }
  const Jws& jws = parsed.jws;

  const PublicKey* key = keys.Find(jws.kid);
  if (key == nullptr) {
    result.error = VerifyError::kKeyNotFound;
    return result;
  }
  // RFC 8725 §3.1: the key decides the algorithm; the header may only agree with it.
  if (key->alg() != jws.alg) {
    result.error = VerifyError::kAlgMismatch;
    return result;
  }
  if (!key->VerifySignature(jws.signing_input, jws.signature)) {
    result.error = VerifyError::kSignatureInvalid;
    return result;
  }

  ClaimsParseResult claims = ParseAccessTokenClaims(jws.payload);
  if (claims.error != VerifyError::kOk) {
    result.error = claims.error;
    return result;
  }
  result.error = CheckClaims(claims.claims, policy, now);
  if (result.error == VerifyError::kOk) result.claims = std::move(claims.claims);
  return result;
}

}  // namespace portcullis::jose
