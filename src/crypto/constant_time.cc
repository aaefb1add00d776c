#include "crypto/constant_time.h"

#include <openssl/crypto.h>

namespace portcullis::crypto {

bool ConstantTimeEqual(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;  // Lengths are not secret; see the header.
  if (a.empty()) return true;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace portcullis::crypto
