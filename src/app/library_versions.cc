#include "app/library_versions.h"

#include <openssl/crypto.h>
#include <sodium.h>
#include <sqlite3.h>

#include <boost/version.hpp>
#include <cstdlib>
#include <sstream>

namespace portcullis::app {
namespace {

std::vector<long> Parts(const std::string& v) {
  std::vector<long> out;
  std::istringstream in(v);
  std::string part;
  while (std::getline(in, part, '.')) out.push_back(std::strtol(part.c_str(), nullptr, 10));
  return out;
}

LibraryVersion Make(std::string name, std::string version, std::string minimum) {
  LibraryVersion v{std::move(name), std::move(version), std::move(minimum), false};
  v.below_minimum = VersionLess(v.version, v.minimum);
  return v;
}

}  // namespace

bool VersionLess(const std::string& a, const std::string& b) {
  std::vector<long> x = Parts(a), y = Parts(b);
  for (std::size_t i = 0; i < std::max(x.size(), y.size()); ++i) {
    long xi = i < x.size() ? x[i] : 0, yi = i < y.size() ? y[i] : 0;
    if (xi != yi) return xi < yi;
  }
  return false;
}

std::vector<LibraryVersion> LinkedLibraries() {
  std::string boost = std::to_string(BOOST_VERSION / 100000) + "." +
                      std::to_string(BOOST_VERSION / 100 % 1000) + "." +
                      std::to_string(BOOST_VERSION % 100);
  // Minimums: OpenSSL 3.0.13 fixes CVE-2024-0727 and CVE-2023-6237 in the 3.0 series; libsodium
  // 1.0.18 is the oldest with the Argon2id API we use at full strength; SQLite 3.40.1 (Debian 12)
  // fixes CVE-2022-46908; Boost 1.81 is the first with the Beast/URL APIs we build on.
  return {Make("openssl", OpenSSL_version(OPENSSL_VERSION_STRING), "3.0.13"),
          Make("libsodium", sodium_version_string(), "1.0.18"),
          Make("sqlite", sqlite3_libversion(), "3.40.1"), Make("boost", boost, "1.81.0")};
}

}  // namespace portcullis::app
