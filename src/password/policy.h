// Password policy for new passwords (registration, password change, admin-created users),
// following NIST SP 800-63B §5.1.1.2: a minimum and maximum length counted in Unicode code points,
// every printable character allowed, no composition rules, and a check against a list of
// commonly used passwords.
//
// Deviations from SP 800-63B, on purpose: passwords are not Unicode-normalized (they are checked
// and hashed as the UTF-8 bytes received), and the username comparison and the common-password
// lookup fold ASCII letters only.
//
// Thread-safety: pure functions (the common-password table is built once, thread-safely).
//
//   PolicyError e = CheckPassword(username, password, options);
//   if (e != PolicyError::kOk) return BadRequest(DescribePolicyError(e, options));
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace portcullis::password {

struct PolicyOptions {
  std::size_t min_length = 12;   // code points
  std::size_t max_length = 256;  // code points
  bool reject_common = true;     // reject passwords on the built-in common-password list
};

// Why a password was refused; checked in this order, the first failure is reported.
enum class PolicyError : std::uint8_t {
  kOk = 0,
  kTooShort = 1,
  kTooLong = 2,
  kEqualsUsername = 3,     // equal to the username, ignoring ASCII case
  kCommon = 4,             // on the common-password list, ignoring ASCII case
  kInvalidCharacters = 5,  // invalid UTF-8, or a control character (U+0000-001F, U+007F-009F)
};

// Checks `password` for `username` against `options`. Validity of the characters is checked
// first, then the length, then the username, then the common list.
PolicyError CheckPassword(std::string_view username, std::string_view password,
                          const PolicyOptions& options);

// A user-facing sentence without numbers, e.g. "password is too short".
std::string_view Describe(PolicyError error);

// A user-facing sentence with the limits of `options`, e.g.
// "password must be at least 12 characters".
std::string DescribePolicyError(PolicyError error, const PolicyOptions& options);

// "ok", "too_short", "too_long", "equals_username", "common", "invalid_characters" (for logs).
std::string_view ToString(PolicyError error);

// True when `password`, ASCII-lowercased, is on the built-in list of common passwords.
bool IsCommonPassword(std::string_view password);

}  // namespace portcullis::password
