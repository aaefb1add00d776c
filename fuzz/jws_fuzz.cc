// Fuzzes the JWS parser and the whole access-token verifier with arbitrary bytes: neither may
// crash, leak, or accept anything (the key ring holds a key nobody can sign for here).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "jose/jws.h"
#include "jose/key.h"
#include "jose/key_ring.h"

namespace {

const portcullis::jose::KeyRing& Ring() {
  static const portcullis::jose::KeyRing* ring = [] {
    auto* r = new portcullis::jose::KeyRing();
    auto key = portcullis::jose::PrivateKey::Generate(portcullis::jose::Algorithm::kEdDsa, "k1");
    if (key.ok()) r->Add(key->public_key());
    return r;
  }();
  return *ring;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  (void)portcullis::jose::ParseJws(input, 8 * 1024);
  portcullis::jose::VerifyPolicy policy{"https://issuer.test", {"portcullis"}, 30, 8 * 1024};
  portcullis::jose::VerifyResult r =
      portcullis::jose::VerifyAccessToken(input, Ring(), policy, 1'800'000'000);
  if (r.error == portcullis::jose::VerifyError::kOk) __builtin_trap();  // forged token accepted
  return 0;
}
