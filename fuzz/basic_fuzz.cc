// Fuzzes the HTTP Basic credential parser in both modes (users; OAuth2 clients, form-encoded).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "authn/basic_credentials.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  (void)portcullis::authn::ParseBasicCredentials(input, false);
  (void)portcullis::authn::ParseBasicCredentials(input, true);
  return 0;
}
