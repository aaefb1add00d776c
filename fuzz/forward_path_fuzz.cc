// Fuzzes forward-auth path normalization (DESIGN §4 "Forward-auth paths"): never crashes, and a
// normalized path is a fixed point (normalizing it again changes nothing), holds no "//", no
// "." or ".." segment, no backslash and no NUL, so no later decoding can change which rule applies.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "authz/forward_auth.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using portcullis::authz::NormalizedPath;
  using portcullis::authz::PathError;
  std::string_view input(reinterpret_cast<const char*>(data), size);
  NormalizedPath once = portcullis::authz::NormalizeForwardedPath(input);
  if (once.error != PathError::kOk) return 0;
  const std::string& p = once.path;
  if (p.empty() || p[0] != '/') std::abort();
  if (p.find("//") != std::string::npos || p.find('\\') != std::string::npos ||
      p.find('\0') != std::string::npos || p.find("/./") != std::string::npos ||
      p.find("/../") != std::string::npos || p.ends_with("/.") || p.ends_with("/..")) {
    std::abort();
  }
  NormalizedPath twice = portcullis::authz::NormalizeForwardedPath(p);
  if (twice.error != PathError::kOk || twice.path != p) std::abort();
  (void)portcullis::authz::PathGlobMatches("/api/**", p);
  (void)portcullis::authz::PathGlobMatches("/a/*/b/**", p);
  return 0;
}
