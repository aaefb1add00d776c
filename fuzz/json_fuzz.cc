// Fuzzes the strict JSON parser used for request bodies and JWS segments.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "base/json.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  (void)portcullis::ParseJson(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
