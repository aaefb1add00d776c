#include "jose/algorithm.h"

namespace portcullis::jose {

std::string_view ToString(Algorithm alg) {
  switch (alg) {
    case Algorithm::kEdDsa:
      return "EdDSA";
    case Algorithm::kEs256:
      return "ES256";
    case Algorithm::kRs256:
      return "RS256";
  }
  return "invalid";
}

std::optional<Algorithm> ParseAlgorithm(std::string_view name) {
  for (Algorithm alg : {Algorithm::kEdDsa, Algorithm::kEs256, Algorithm::kRs256}) {
    if (name == ToString(alg)) return alg;
  }
  return std::nullopt;
}

}  // namespace portcullis::jose
