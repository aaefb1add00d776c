// Fuzzes DPoP proof validation (jose/dpop.h): the input is a `DPoP` header value, verified as
// VerifyDpopProof would be at the token endpoint (POST, no access token) and on a resource request
// (GET with access token "tok", so "ath" is required), at a fixed time. The same bytes go through
// NormalizeHtu. Invariants: an accepted proof has a 43-character thumbprint, a non-empty jti
// within the policy's bound and an iat inside the window; VerifyDpopProof never returns one of the
// caller's (stateful) errors; NormalizeHtu is a fixed point on its own output.
// Seeds (fuzz/corpus/dpop/) hold valid EdDSA and ES256 proofs for exactly these requests.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

#include "jose/dpop.h"

namespace {

using portcullis::jose::DpopError;

constexpr portcullis::UnixSeconds kNow = 1'800'000'000;

void Check(const portcullis::jose::DpopResult& r, const portcullis::jose::DpopPolicy& policy) {
  if (r.error >= DpopError::kReplayed) std::abort();
  if (!r.ok()) return;
  if (r.proof.jkt.size() != 43 || r.proof.jti.empty() ||
      r.proof.jti.size() > policy.max_jti_bytes || r.proof.iat < kNow - policy.max_age_s ||
      r.proof.iat > kNow + policy.leeway_s) {
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const portcullis::jose::DpopPolicy policy;
  Check(
      portcullis::jose::VerifyDpopProof(
          input, {.method = "POST", .url = "https://auth.example/oauth2/token", .access_token = ""},
          policy, kNow),
      policy);
  Check(portcullis::jose::VerifyDpopProof(
            input, {.method = "GET", .url = "https://api.example/v1/me", .access_token = "tok"},
            policy, kNow),
        policy);

  if (std::optional<std::string> htu = portcullis::jose::NormalizeHtu(input)) {
    std::optional<std::string> again = portcullis::jose::NormalizeHtu(*htu);
    if (!again || *again != *htu) std::abort();
  }
  return 0;
}
