// Fuzzes percent-decoding and UTF-8 validation (form bodies, query strings, path parameters).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "http/encoding.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  (void)portcullis::http::IsValidUtf8(input);
  auto a = portcullis::http::PercentDecode(input, true);
  auto b = portcullis::http::PercentDecode(input, false);
  if (a && a->size() > input.size()) __builtin_trap();  // decoding never grows
  if (b && b->size() > input.size()) __builtin_trap();
  return 0;
}
