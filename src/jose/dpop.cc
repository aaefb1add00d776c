// DPoP proof validation (RFC 9449 §4.3). Keep it short enough to review in one sitting.
#include "jose/dpop.h"

#include <array>
#include <boost/json/object.hpp>
#include <cmath>
#include <limits>

#include "base/ascii.h"
#include "base/json.h"
#include "crypto/base64.h"
#include "crypto/constant_time.h"
#include "crypto/sha256.h"
#include "jose/algorithm.h"
#include "jose/key.h"

namespace portcullis::jose {
namespace {

constexpr std::size_t kMaxJsonDepth = 8;
// A proof names its key only by value: any reference to another key is refused.
constexpr std::array<std::string_view, 6> kKeyReferenceMembers = {"jku", "x5u",      "x5c",
                                                                  "x5t", "x5t#S256", "kid"};

std::optional<boost::json::object> DecodeJsonObject(std::string_view encoded,
                                                    std::size_t max_bytes) {
  std::optional<std::string> text = crypto::Base64UrlDecode(encoded);
  if (!text) return std::nullopt;
  Result<boost::json::value> value =
      ParseJson(*text, JsonLimits{.max_bytes = max_bytes, .max_depth = kMaxJsonDepth});
  if (!value.ok() || !value->is_object()) return std::nullopt;
  return std::move(value->as_object());
}

const std::string* StringMember(const boost::json::object& o, std::string_view name,
                                std::string& storage) {
  const boost::json::value* v = o.if_contains(name);
  if (v == nullptr || !v->is_string()) return nullptr;
  storage = std::string(v->as_string());
  return &storage;
}

// A NumericDate (RFC 7519 §2): an integer, or a finite number whose integer part is used.
std::optional<UnixSeconds> NumericDate(const boost::json::value& v) {
  if (v.is_int64()) return v.as_int64();
  if (v.is_uint64()) {
    if (v.as_uint64() > static_cast<std::uint64_t>(std::numeric_limits<UnixSeconds>::max())) {
      return std::nullopt;
    }
    return static_cast<UnixSeconds>(v.as_uint64());
  }
  if (v.is_double()) {
    const double d = v.as_double();
    if (!std::isfinite(d) || d < 0 || d > 1e15) return std::nullopt;
    return static_cast<UnixSeconds>(std::floor(d));
  }
  return std::nullopt;
}

bool IsAsciiDigit(char c) { return c >= '0' && c <= '9'; }

bool IsUnreserved(char c) {
  return IsAsciiDigit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

std::string AsciiLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = AsciiToLower(c);
  return out;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// RFC 3986 §3.2.2: a bracketed IP-literal (hex digits, ':' and '.'), or a reg-name / IPv4 address
// of unreserved characters, sub-delims and %XX escapes. No ':' outside brackets, so the port is
// always the text after the last ':' and normalizing an output again gives the same output.
bool IsValidHost(std::string_view host) {
  if (host.empty()) return false;
  if (host.front() == '[') {
    if (host.size() < 3 || host.back() != ']') return false;
    for (char c : host.substr(1, host.size() - 2)) {
      if (HexValue(c) < 0 && c != ':' && c != '.') return false;
    }
    return true;
  }
  constexpr std::string_view kSubDelims = "!$&'()*+,;=";
  for (std::size_t i = 0; i < host.size(); ++i) {
    const char c = host[i];
    if (IsUnreserved(c) || kSubDelims.find(c) != std::string_view::npos) continue;
    if (c == '%' && i + 2 < host.size() && HexValue(host[i + 1]) >= 0 &&
        HexValue(host[i + 2]) >= 0) {
      i += 2;
      continue;
    }
    return false;
  }
  return true;
}

}  // namespace

std::string_view ToString(DpopError error) {
  switch (error) {
    case DpopError::kOk:
      return "ok";
    case DpopError::kTooLarge:
      return "too_large";
    case DpopError::kMalformed:
      return "malformed";
    case DpopError::kNonCanonicalBase64:
      return "non_canonical_base64";
    case DpopError::kMalformedJson:
      return "malformed_json";
    case DpopError::kTypInvalid:
      return "typ_invalid";
    case DpopError::kAlgNone:
      return "alg_none";
    case DpopError::kAlgNotAllowed:
      return "alg_not_allowed";
    case DpopError::kCritPresent:
      return "crit_present";
    case DpopError::kJwkMissing:
      return "jwk_missing";
    case DpopError::kJwkInvalid:
      return "jwk_invalid";
    case DpopError::kKeyReference:
      return "key_reference";
    case DpopError::kSignatureInvalid:
      return "signature_invalid";
    case DpopError::kClaimMissing:
      return "claim_missing";
    case DpopError::kClaimInvalid:
      return "claim_invalid";
    case DpopError::kHtmMismatch:
      return "htm_mismatch";
    case DpopError::kHtuMismatch:
      return "htu_mismatch";
    case DpopError::kIatTooOld:
      return "iat_too_old";
    case DpopError::kIatInFuture:
      return "iat_in_future";
    case DpopError::kAthMissing:
      return "ath_missing";
    case DpopError::kAthMismatch:
      return "ath_mismatch";
    case DpopError::kReplayed:
      return "replayed";
    case DpopError::kKeyMismatch:
      return "key_mismatch";
    case DpopError::kNonceRequired:
      return "nonce_required";
    case DpopError::kMultipleProofs:
      return "multiple_proofs";
  }
  return "unknown";
}

std::string AccessTokenHash(std::string_view access_token) {
  const std::array<std::uint8_t, 32> digest = crypto::Sha256(access_token);
  return crypto::Base64UrlEncode({reinterpret_cast<const char*>(digest.data()), digest.size()});
}

std::optional<std::string> NormalizeHtu(std::string_view url) {
  const std::size_t colon = url.find("://");
  if (colon == std::string_view::npos) return std::nullopt;
  std::string scheme = AsciiLower(url.substr(0, colon));
  if (scheme != "http" && scheme != "https") return std::nullopt;
  std::string_view rest = url.substr(colon + 3);
  rest = rest.substr(0, rest.find_first_of("?#"));
  const std::size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? "/" : rest.substr(slash);
  if (authority.empty() || authority.find('@') != std::string_view::npos) return std::nullopt;

  // host [":" port]; an IPv6 literal is bracketed.
  std::string_view host = authority;
  std::string_view port;
  const std::size_t bracket = authority.rfind(']');
  const std::size_t port_colon = authority.rfind(':');
  if (port_colon != std::string_view::npos &&
      (bracket == std::string_view::npos || port_colon > bracket)) {
    host = authority.substr(0, port_colon);
    port = authority.substr(port_colon + 1);
    if (port.empty() || port.size() > 5) return std::nullopt;
    for (char c : port) {
      if (!IsAsciiDigit(c)) return std::nullopt;
    }
    while (port.size() > 1 && port.front() == '0') port.remove_prefix(1);
    if (std::stoi(std::string(port)) > 65535) return std::nullopt;
  }
  if (!IsValidHost(host)) return std::nullopt;
  if ((scheme == "http" && port == "80") || (scheme == "https" && port == "443")) port = {};

  std::string out = scheme + "://" + AsciiLower(host);
  if (!port.empty()) {
    out += ':';
    out += port;
  }
  for (std::size_t i = 0; i < path.size(); ++i) {
    const char c = path[i];
    if (static_cast<unsigned char>(c) <= 0x20 || static_cast<unsigned char>(c) >= 0x7f) {
      return std::nullopt;
    }
    if (c != '%') {
      out += c;
      continue;
    }
    if (i + 2 >= path.size()) return std::nullopt;
    const int hi = HexValue(path[i + 1]);
    const int lo = HexValue(path[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    const char decoded = static_cast<char>(hi * 16 + lo);
    if (IsUnreserved(decoded)) {
      out += decoded;
    } else {
      constexpr std::string_view kHex = "0123456789ABCDEF";
      out += '%';
      out += kHex[static_cast<std::size_t>(hi)];
      out += kHex[static_cast<std::size_t>(lo)];
    }
    i += 2;
  }
  return out;
}

DpopResult VerifyDpopProof(std::string_view proof, const DpopRequest& request,
                           const DpopPolicy& policy, UnixSeconds now) {
  DpopResult result;
  auto fail = [&result](DpopError e) {
    result.error = e;
    return result;
  };
  if (proof.size() > policy.max_proof_bytes) return fail(DpopError::kTooLarge);
  const std::size_t first_dot = proof.find('.');
  const std::size_t second_dot =
      first_dot == std::string_view::npos ? first_dot : proof.find('.', first_dot + 1);
  if (second_dot == std::string_view::npos ||
      proof.find('.', second_dot + 1) != std::string_view::npos) {
    return fail(DpopError::kMalformed);
  }
  const std::string_view header_b64 = proof.substr(0, first_dot);
  const std::string_view payload_b64 = proof.substr(first_dot + 1, second_dot - first_dot - 1);
  const std::string_view signature_b64 = proof.substr(second_dot + 1);
  if (header_b64.empty() || payload_b64.empty() || signature_b64.empty()) {
    return fail(DpopError::kMalformed);
  }
  std::optional<std::string> signature = crypto::Base64UrlDecode(signature_b64);
  if (!signature || !crypto::Base64UrlDecode(header_b64) || !crypto::Base64UrlDecode(payload_b64)) {
    return fail(DpopError::kNonCanonicalBase64);
  }
  std::optional<boost::json::object> header = DecodeJsonObject(header_b64, policy.max_proof_bytes);
  if (!header) return fail(DpopError::kMalformedJson);

  // Header: RFC 9449 §4.2 and §4.3 checks 4–7.
  std::string storage;
  const std::string* typ = StringMember(*header, "typ", storage);
  if (typ == nullptr || *typ != "dpop+jwt") return fail(DpopError::kTypInvalid);
  const boost::json::value* alg_value = header->if_contains("alg");
  if (alg_value == nullptr || !alg_value->is_string()) return fail(DpopError::kAlgNotAllowed);
  const std::string_view alg_name = alg_value->as_string();
  if (EqualsIgnoreAsciiCase(alg_name, "none")) return fail(DpopError::kAlgNone);
  std::optional<Algorithm> alg = ParseAlgorithm(alg_name);
  if (!alg || *alg == Algorithm::kRs256) return fail(DpopError::kAlgNotAllowed);
  if (header->contains("crit")) return fail(DpopError::kCritPresent);
  for (std::string_view member : kKeyReferenceMembers) {
    if (header->contains(member)) return fail(DpopError::kKeyReference);
  }
  const boost::json::value* jwk = header->if_contains("jwk");
  if (jwk == nullptr || !jwk->is_object()) return fail(DpopError::kJwkMissing);
  Result<PublicKey> key = PublicKey::FromProofJwk(jwk->as_object(), *alg);
  if (!key.ok()) return fail(DpopError::kJwkInvalid);
  if (!key->VerifySignature(proof.substr(0, second_dot), *signature)) {
    return fail(DpopError::kSignatureInvalid);
  }

  std::optional<boost::json::object> payload =
      DecodeJsonObject(payload_b64, policy.max_proof_bytes);
  if (!payload) return fail(DpopError::kMalformedJson);
  const boost::json::value* jti = payload->if_contains("jti");
  const boost::json::value* htm = payload->if_contains("htm");
  const boost::json::value* htu = payload->if_contains("htu");
  const boost::json::value* iat = payload->if_contains("iat");
  if (jti == nullptr || htm == nullptr || htu == nullptr || iat == nullptr) {
    return fail(DpopError::kClaimMissing);
  }
  if (!jti->is_string() || jti->as_string().empty() ||
      jti->as_string().size() > policy.max_jti_bytes || !htm->is_string() || !htu->is_string()) {
    return fail(DpopError::kClaimInvalid);
  }
  std::optional<UnixSeconds> issued = NumericDate(*iat);
  if (!issued) return fail(DpopError::kClaimInvalid);
  const boost::json::value* nonce = payload->if_contains("nonce");
  if (nonce != nullptr && (!nonce->is_string() || nonce->as_string().empty())) {
    return fail(DpopError::kClaimInvalid);
  }

  if (std::string_view(htm->as_string()) != request.method) return fail(DpopError::kHtmMismatch);
  std::optional<std::string> htu_normalized = NormalizeHtu(htu->as_string());
  if (!htu_normalized) return fail(DpopError::kClaimInvalid);
  if (*htu_normalized != request.url) return fail(DpopError::kHtuMismatch);
  if (*issued < now - policy.max_age_s) return fail(DpopError::kIatTooOld);
  if (*issued > now + policy.leeway_s) return fail(DpopError::kIatInFuture);

  if (!request.access_token.empty()) {
    const boost::json::value* ath = payload->if_contains("ath");
    if (ath == nullptr) return fail(DpopError::kAthMissing);
    if (!ath->is_string()) return fail(DpopError::kClaimInvalid);
    if (!crypto::ConstantTimeEqual(ath->as_string(), AccessTokenHash(request.access_token))) {
      return fail(DpopError::kAthMismatch);
    }
  }

  result.proof.jkt = key->Thumbprint();
  result.proof.jti = std::string(jti->as_string());
  result.proof.iat = *issued;
  if (nonce != nullptr) result.proof.nonce = std::string(nonce->as_string());
  return result;
}

}  // namespace portcullis::jose
