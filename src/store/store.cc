#include "store/store.h"

namespace portcullis::store {

std::string NormalizeUsername(std::string_view username) {
  std::string normalized(username);
  // ASCII only: locale-dependent tolower() would fold differently per host.
  for (char& c : normalized) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return normalized;
}

}  // namespace portcullis::store
