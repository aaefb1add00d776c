// password_tool: a test helper for the interoperability test (interop_test.py), not installed.
//
//   password_tool hash [memory_kib iterations]  < password   prints our PHC string
//   password_tool verify '<encoded>'            < password   prints the VerifyOutcome
//   password_tool needs-rehash '<encoded>'                   prints "true" or "false"
//
// The password is all of standard input, byte for byte (no newline is stripped).
// Exit status: 0 success / match, 1 mismatch, 2 anything else.
#include <charconv>
#include <cstdint>
#include <iostream>
#include <iterator>
#include <optional>
#include <string>
#include <string_view>

#include "password/hasher.h"

namespace {

using portcullis::password::Argon2Params;
using portcullis::password::Hasher;
using portcullis::password::VerifyOutcome;

std::optional<std::uint32_t> ParseUint32(std::string_view s) {
  std::uint32_t v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || ptr != s.data() + s.size()) return std::nullopt;
  return v;
}

std::string ReadStdin() {
  return std::string(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
}

int Usage() {
  std::cerr << "usage: password_tool hash [memory_kib iterations] | verify ENCODED | "
               "needs-rehash ENCODED\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return Usage();
  const std::string_view command = argv[1];
  Argon2Params params;
  if (command == "hash" && argc == 4) {
    auto m = ParseUint32(argv[2]);
    auto t = ParseUint32(argv[3]);
    if (!m || !t) return Usage();
    params.memory_kib = *m;
    params.iterations = *t;
  } else if (command == "hash" ? argc != 2 : argc != 3) {
    return Usage();
  }
  auto hasher = Hasher::Create(params);
  if (!hasher.ok()) {
    std::cerr << hasher.status().ToString() << "\n";
    return 2;
  }
  if (command == "hash") {
    auto encoded = hasher->Hash(ReadStdin());
    if (!encoded.ok()) {
      std::cerr << encoded.status().ToString() << "\n";
      return 2;
    }
    std::cout << *encoded << "\n";
    return 0;
  }
  if (command == "verify") {
    const VerifyOutcome outcome = hasher->Verify(argv[2], ReadStdin());
    std::cout << portcullis::password::ToString(outcome) << "\n";
    if (outcome == VerifyOutcome::kMatch) return 0;
    return outcome == VerifyOutcome::kMismatch ? 1 : 2;
  }
  if (command == "needs-rehash") {
    std::cout << (hasher->NeedsRehash(argv[2]) ? "true" : "false") << "\n";
    return 0;
  }
  return Usage();
}
