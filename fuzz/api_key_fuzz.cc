// Fuzzes the API-key parser: never crashes; whatever it accepts has exactly the DESIGN §4 shape
// (pcs_ + 12 [a-z0-9] + _ + 43 [A-Za-z0-9]).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "authn/api_key.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  auto parsed = portcullis::authn::ParseApiKey(input);
  if (!parsed) return 0;
  if (input.size() != 4 + 12 + 1 + 43 || parsed->id.size() != 12 || parsed->secret.size() != 43) {
    std::abort();
  }
  for (char c : parsed->id) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) std::abort();
  }
  for (char c : parsed->secret) {
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))) {
      std::abort();
    }
  }
  return 0;
}
