#include "authz/permission.h"

#include <algorithm>

namespace portcullis::authz {
namespace {

constexpr std::size_t kMaxPermissionBytes = 128;

std::string_view NextSegment(std::string_view& rest) {
  std::size_t colon = rest.find(':');
  std::string_view seg = rest.substr(0, colon);
  rest = colon == std::string_view::npos ? std::string_view() : rest.substr(colon + 1);
  return seg;
}

}  // namespace

bool PermissionGrants(std::string_view held, std::string_view required) {
  if (held == "*") return true;
  std::string_view h = held, r = required;
  while (true) {
    bool h_done = h.empty(), r_done = r.empty();
    if (h_done || r_done) return h_done && r_done;
    std::string_view hs = NextSegment(h), rs = NextSegment(r);
    if (hs != "*" && hs != rs) return false;
  }
}

bool AnyGrants(const std::vector<std::string>& held, std::string_view required) {
  return std::any_of(held.begin(), held.end(),
                     [&](const std::string& p) { return PermissionGrants(p, required); });
}

std::optional<std::vector<std::string>> GrantScopes(
    const std::vector<std::string>& held,
    const std::optional<std::vector<std::string>>& requested) {
  if (!requested) return held;
  std::vector<std::string> granted;
  for (const std::string& s : *requested) {
    if (!AnyGrants(held, s)) return std::nullopt;
    if (std::find(granted.begin(), granted.end(), s) == granted.end()) granted.push_back(s);
  }
  return granted;
}

bool IsValidPermission(std::string_view permission) {
  if (permission.empty() || permission.size() > kMaxPermissionBytes) return false;
  std::string_view rest = permission;
  while (true) {
    std::size_t colon = rest.find(':');
    std::string_view seg = rest.substr(0, colon);
    if (seg.empty()) return false;
    if (seg.find('*') != std::string_view::npos && seg != "*") return false;
    for (char c : seg) {
      bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
                c == '-' || c == '*';
      if (!ok) return false;
    }
    if (colon == std::string_view::npos) return true;
    rest = rest.substr(colon + 1);
  }
}

std::vector<std::string> SplitScope(std::string_view scope) {
  std::vector<std::string> out;
  std::size_t i = 0;
  while (i < scope.size()) {
    std::size_t j = scope.find(' ', i);
    if (j == std::string_view::npos) j = scope.size();
    if (j > i) out.emplace_back(scope.substr(i, j - i));
    i = j + 1;
  }
  return out;
}

std::string JoinScope(const std::vector<std::string>& scopes) {
  std::string out;
  for (const std::string& s : scopes) {
    if (!out.empty()) out += ' ';
    out += s;
  }
  return out;
}

}  // namespace portcullis::authz
