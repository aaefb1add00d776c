// Fuzzes the PHC string parser (stored hashes, imported hashes).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "password/phc.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto phc =
      portcullis::password::ParsePhc(std::string_view(reinterpret_cast<const char*>(data), size));
  if (phc) (void)portcullis::password::FormatPhc(*phc);
  return 0;
}
