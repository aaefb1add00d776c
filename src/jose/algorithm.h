// Algorithm: the closed set of JWS algorithms Portcullis signs and accepts (RFC 7518 §3.1,
// RFC 8037 §3.1). "none" and the HMAC family are deliberately absent: a token naming them can
// never be parsed into an Algorithm.
//
// Thread-safety: pure functions.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

namespace portcullis::jose {

enum class Algorithm : std::uint8_t {
  kEdDsa,  // Ed25519 (RFC 8037); Ed448 is not supported.
  kEs256,  // ECDSA P-256 with SHA-256, raw R||S signatures (RFC 7518 §3.4).
  kRs256,  // RSASSA-PKCS1-v1_5 with SHA-256, keys of at least 2048 bits (RFC 7518 §3.3).
};

// Every Algorithm, in declaration order (kAllAlgorithms[i] has the underlying value i).
inline constexpr std::array<Algorithm, 3> kAllAlgorithms = {Algorithm::kEdDsa, Algorithm::kEs256,
                                                            Algorithm::kRs256};

// The JOSE "alg" name: "EdDSA", "ES256" or "RS256".
std::string_view ToString(Algorithm alg);

// The Algorithm named exactly (case-sensitively) by `name`; nullopt for anything else,
// including "none", "HS256" and "es256".
std::optional<Algorithm> ParseAlgorithm(std::string_view name);

}  // namespace portcullis::jose
