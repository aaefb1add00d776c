// Username rules, shared by every place that creates a user (CLI, admin API, registration).
#pragma once

#include <string_view>

namespace portcullis::authn {

constexpr std::size_t kMaxUsernameLength = 64;

// 1..64 characters of [A-Za-z0-9._@-], starting with a letter or digit. Usernames compare
// case-insensitively (store::NormalizeUsername).
bool IsValidUsername(std::string_view username);

}  // namespace portcullis::authn
