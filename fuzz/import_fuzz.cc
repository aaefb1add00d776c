// Fuzzes the user-import reader (CSV and JSONL): never crashes, always terminates, and every
// record is either a validated row or a rejection with a line number.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <sstream>
#include <string>

#include "admin/user_import.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace portcullis::admin;
  const std::string input(reinterpret_cast<const char*>(data), size);
  for (ImportFormat format : {ImportFormat::kCsv, ImportFormat::kJsonl}) {
    std::istringstream in(input);
    auto reader = ImportReader::Create(in, format);
    if (!reader.ok()) continue;
    std::size_t records = 0;
    while (std::optional<ImportRecord> record = (*reader)->Next()) {
      if (++records > size + 2) std::abort();  // more records than bytes: no progress
      if (const auto* row = std::get_if<ImportRow>(&*record)) {
        if (!ValidateImportRow(*row).ok()) std::abort();
      }
    }
  }
  return 0;
}
