#include "password/policy.h"

#include <algorithm>
#include <optional>
#include <vector>

#include "base/secret.h"

namespace portcullis::password {
namespace {

// Generated at build time from common_passwords.txt (lowercase, one literal per entry).
constexpr std::string_view kCommonPasswords[] = {
#include "common_passwords.inc"
};

char AsciiLower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool EqualsIgnoringAsciiCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return AsciiLower(x) == AsciiLower(y);
         });
}

bool IsControl(std::uint32_t code_point) {
  return code_point < 0x20 || (code_point >= 0x7F && code_point <= 0x9F);
}

// Number of code points in `s`, or nullopt if `s` is not valid UTF-8 (RFC 3629: no overlong
// forms, no surrogates, nothing above U+10FFFF) or contains a control character.
std::optional<std::size_t> CountPrintableCodePoints(std::string_view s) {
  std::size_t count = 0;
  std::size_t i = 0;
  while (i < s.size()) {
    const auto lead = static_cast<unsigned char>(s[i]);
    std::size_t length = 0;
    std::uint32_t code_point = 0;
    std::uint32_t min = 0;
    if (lead < 0x80) {
      length = 1;
      code_point = lead;
    } else if ((lead & 0xE0) == 0xC0) {
      length = 2;
      code_point = lead & 0x1Fu;
      min = 0x80;
    } else if ((lead & 0xF0) == 0xE0) {
      length = 3;
      code_point = lead & 0x0Fu;
      min = 0x800;
    } else if ((lead & 0xF8) == 0xF0) {
      length = 4;
      code_point = lead & 0x07u;
      min = 0x10000;
    } else {
      return std::nullopt;
    }
    if (i + length > s.size()) return std::nullopt;
    for (std::size_t k = 1; k < length; ++k) {
      const auto next = static_cast<unsigned char>(s[i + k]);
      if ((next & 0xC0) != 0x80) return std::nullopt;
      code_point = (code_point << 6) | (next & 0x3Fu);
    }
    if (code_point < min || code_point > 0x10FFFF ||
        (code_point >= 0xD800 && code_point <= 0xDFFF) || IsControl(code_point)) {
      return std::nullopt;
    }
    ++count;
    i += length;
  }
  return count;
}

// The list sorted once for binary search (the file keeps frequency order, which is more useful to
// a reader).
const std::vector<std::string_view>& SortedCommonPasswords() {
  static const std::vector<std::string_view> sorted = [] {
    std::vector<std::string_view> v(std::begin(kCommonPasswords), std::end(kCommonPasswords));
    std::sort(v.begin(), v.end());
    return v;
  }();
  return sorted;
}

}  // namespace

// Longer passwords cannot be on the list, so they are not copied and lowercased.
constexpr std::size_t kMaxEntryBytes = 64;
static_assert(std::ranges::all_of(kCommonPasswords,
                                  [](std::string_view e) { return e.size() <= kMaxEntryBytes; }),
              "common_passwords.txt has an entry longer than kMaxEntryBytes");

bool IsCommonPassword(std::string_view password) {
  const std::vector<std::string_view>& list = SortedCommonPasswords();
  if (password.size() > kMaxEntryBytes) return false;
  std::string lower(password);
  std::transform(lower.begin(), lower.end(), lower.begin(), AsciiLower);
  const bool found = std::binary_search(list.begin(), list.end(), std::string_view(lower));
  SecureZero(lower.data(), lower.size());
  return found;
}

PolicyError CheckPassword(std::string_view username, std::string_view password,
                          const PolicyOptions& options) {
  const std::optional<std::size_t> length = CountPrintableCodePoints(password);
  if (!length) return PolicyError::kInvalidCharacters;
  if (*length < options.min_length) return PolicyError::kTooShort;
  if (*length > options.max_length) return PolicyError::kTooLong;
  if (!username.empty() && EqualsIgnoringAsciiCase(username, password)) {
    return PolicyError::kEqualsUsername;
  }
  if (options.reject_common && IsCommonPassword(password)) return PolicyError::kCommon;
  return PolicyError::kOk;
}

std::string_view Describe(PolicyError error) {
  switch (error) {
    case PolicyError::kOk:
      return "password is acceptable";
    case PolicyError::kTooShort:
      return "password is too short";
    case PolicyError::kTooLong:
      return "password is too long";
    case PolicyError::kEqualsUsername:
      return "password must not be the same as the username";
    case PolicyError::kCommon:
      return "password is too common; choose a less predictable one";
    case PolicyError::kInvalidCharacters:
      return "password must be valid UTF-8 without control characters";
  }
  return "password is not acceptable";
}

std::string DescribePolicyError(PolicyError error, const PolicyOptions& options) {
  switch (error) {
    case PolicyError::kTooShort:
      return "password must be at least " + std::to_string(options.min_length) + " characters";
    case PolicyError::kTooLong:
      return "password must be at most " + std::to_string(options.max_length) + " characters";
    case PolicyError::kOk:
    case PolicyError::kEqualsUsername:
    case PolicyError::kCommon:
    case PolicyError::kInvalidCharacters:
      break;
  }
  return std::string(Describe(error));
}

std::string_view ToString(PolicyError error) {
  switch (error) {
    case PolicyError::kOk:
      return "ok";
    case PolicyError::kTooShort:
      return "too_short";
    case PolicyError::kTooLong:
      return "too_long";
    case PolicyError::kEqualsUsername:
      return "equals_username";
    case PolicyError::kCommon:
      return "common";
    case PolicyError::kInvalidCharacters:
      return "invalid_characters";
  }
  return "unknown";
}

}  // namespace portcullis::password
