// The versions of the libraries linked into this binary, with the oldest version we consider safe
// for each (DESIGN §1 "keep dependencies updated"). `portcullis version --json` prints them and
// `serve` logs a warning at start-up for any below its minimum.
#pragma once

#include <string>
#include <vector>

namespace portcullis::app {

struct LibraryVersion {
  std::string name;     // "openssl", "libsodium", "sqlite", "boost"
  std::string version;  // as the library reports it at run time, e.g. "3.0.19"
  std::string minimum;  // oldest version without known issues affecting us
  bool below_minimum = false;
};

std::vector<LibraryVersion> LinkedLibraries();

// Compares dotted numeric versions ("3.0.9" < "3.0.13"); non-numeric suffixes are ignored.
bool VersionLess(const std::string& a, const std::string& b);

}  // namespace portcullis::app
