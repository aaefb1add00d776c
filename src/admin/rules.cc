// The pure authority and validation rules of admin/directory.h.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "admin/directory.h"
#include "authz/permission.h"

namespace portcullis::admin {
namespace {

constexpr std::size_t kMaxRoleNameLength = 64;
constexpr std::size_t kMinEmailBytes = 3;
constexpr std::size_t kMaxEmailBytes = 254;  // RFC 5321 §4.5.3.1.3 path limit minus "<>"

bool IsLowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

// Decodes the UTF-8 sequence starting at s[i] into `cp` and advances `i`; false on invalid UTF-8
// (overlong forms, surrogates, values above U+10FFFF, truncated sequences).
bool NextCodePoint(std::string_view s, std::size_t& i, std::uint32_t& cp) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  std::size_t extra = 0;
  std::uint32_t min = 0;
  if (b0 < 0x80) {
    cp = b0;
    ++i;
    return true;
  } else if ((b0 & 0xE0) == 0xC0) {
    extra = 1;
    cp = b0 & 0x1Fu;
    min = 0x80;
  } else if ((b0 & 0xF0) == 0xE0) {
    extra = 2;
    cp = b0 & 0x0Fu;
    min = 0x800;
  } else if ((b0 & 0xF8) == 0xF0) {
    extra = 3;
    cp = b0 & 0x07u;
    min = 0x10000;
  } else {
    return false;
  }
  if (i + extra >= s.size()) return false;  // truncated
  for (std::size_t k = 1; k <= extra; ++k) {
    const auto b = static_cast<unsigned char>(s[i + k]);
    if ((b & 0xC0) != 0x80) return false;
    cp = (cp << 6) | (b & 0x3Fu);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
  i += extra + 1;
  return true;
}

// Whitespace, control characters and quotes (ASCII and Unicode): never part of an address we
// accept.
bool IsForbiddenInEmail(std::uint32_t cp) {
  if (cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp <= 0x9F)) return true;  // controls
  switch (cp) {
    case ' ':
    case '"':
    case '\'':
    case '`':
    case 0x00A0:  // no-break space
    case 0x1680:
    case 0x2028:  // line separator
    case 0x2029:  // paragraph separator
    case 0x202F:
    case 0x205F:
    case 0x3000:
    case 0xFEFF:  // zero-width no-break space (BOM)
    case 0x2018:  // curly quotes
    case 0x2019:
    case 0x201C:
    case 0x201D:
      return true;
    default:
      break;
  }
  return cp >= 0x2000 && cp <= 0x200B;  // en quad .. zero-width space
}

}  // namespace

Actor Actor::Cli() {
  Actor actor;
  actor.id = "cli";
  actor.is_user = false;
  actor.permissions = {"*"};
  return actor;
}

bool IsValidRoleName(std::string_view name) {
  if (name.empty() || name.size() > kMaxRoleNameLength) return false;
  if (!IsLowerAlnum(name.front())) return false;
  return std::all_of(name.begin(), name.end(),
                     [](char c) { return IsLowerAlnum(c) || c == '_' || c == '.' || c == '-'; });
}

bool IsValidEmail(std::string_view email) {
  if (email.size() < kMinEmailBytes || email.size() > kMaxEmailBytes) return false;
  for (std::size_t i = 0; i < email.size();) {
    std::uint32_t cp = 0;
    if (!NextCodePoint(email, i, cp) || IsForbiddenInEmail(cp)) return false;
  }
  const std::size_t at = email.find('@');
  if (at == std::string_view::npos || at == 0) return false;
  if (email.find('@', at + 1) != std::string_view::npos) return false;
  const std::string_view domain = email.substr(at + 1);
  return domain.find('.') != std::string_view::npos;
}

std::vector<std::string> UnheldPermissions(const std::vector<std::string>& held,
                                           const std::vector<std::string>& wanted) {
  std::vector<std::string> unheld;
  for (const std::string& permission : wanted) {
    if (!authz::AnyGrants(held, permission)) unheld.push_back(permission);
  }
  return SortedUnique(std::move(unheld));
}

std::vector<std::string> SortedUnique(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
  return v;
}

}  // namespace portcullis::admin
