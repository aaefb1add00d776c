#include "authn/username.h"

namespace portcullis::authn {

bool IsValidUsername(std::string_view username) {
  if (username.empty() || username.size() > kMaxUsernameLength) return false;
  auto alnum = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
  };
  if (!alnum(username.front())) return false;
  for (char c : username) {
    if (!alnum(c) && c != '.' && c != '_' && c != '@' && c != '-') return false;
  }
  return true;
}

}  // namespace portcullis::authn
