#include "authz/forward_auth.h"

#include <algorithm>
#include <utility>

#include "authz/permission.h"
#include "base/ascii.h"

namespace portcullis::authz {
namespace {

// RFC 1035 §2.3.4 (name) and a generous bound for a method token.
constexpr std::size_t kMaxHostBytes = 253;
constexpr std::size_t kMaxMethodBytes = 32;

bool IsAlpha(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// RFC 3986 §2.3.
bool IsUnreserved(char c) {
  return IsAlpha(c) || IsDigit(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool IsHostChar(char c) { return IsAlpha(c) || IsDigit(c) || c == '-' || c == '.' || c == '_'; }

bool IsIpv6LiteralChar(char c) { return HexValue(c) >= 0 || c == ':' || c == '.'; }

// RFC 9110 §5.6.2 tchar.
bool IsTokenChar(char c) {
  static constexpr std::string_view kSymbols = "!#$%&'*+-.^_`|~";
  return IsAlpha(c) || IsDigit(c) || kSymbols.find(c) != std::string_view::npos;
}

char AsciiToUpper(char c) { return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c; }

// Splits "a/b/c" on `sep` into views; "" gives one empty piece.
std::vector<std::string_view> Split(std::string_view text, char sep) {
  std::vector<std::string_view> out;
  while (true) {
    std::size_t at = text.find(sep);
    out.push_back(text.substr(0, at));
    if (at == std::string_view::npos) return out;
    text.remove_prefix(at + 1);
  }
}

// '*' matches any run of characters (possibly empty); everything else matches itself, after
// `fold` (identity or lower-casing). Iterative with one backtrack point: linear in practice.
template <typename Fold>
bool WildcardMatches(std::string_view glob, std::string_view text, Fold fold) {
  std::size_t g = 0, t = 0;
  std::size_t star = std::string_view::npos, star_t = 0;
  while (t < text.size()) {
    if (g < glob.size() && glob[g] == '*') {
      star = g++;
      star_t = t;
    } else if (g < glob.size() && fold(glob[g]) == fold(text[t])) {
      ++g;
      ++t;
    } else if (star != std::string_view::npos) {
      g = star + 1;
      t = ++star_t;
    } else {
      return false;
    }
  }
  while (g < glob.size() && glob[g] == '*') ++g;
  return g == glob.size();
}

char Identity(char c) { return c; }

}  // namespace

std::string_view ToString(PathError error) {
  switch (error) {
    case PathError::kOk:
      return "ok";
    case PathError::kNotAbsolute:
      return "not_absolute";
    case PathError::kTooLong:
      return "too_long";
    case PathError::kEncodedSlash:
      return "encoded_slash";
    case PathError::kEncodedBackslash:
      return "encoded_backslash";
    case PathError::kBackslash:
      return "backslash";
    case PathError::kNul:
      return "nul";
    case PathError::kBadPercentEncoding:
      return "bad_percent_encoding";
    case PathError::kControlCharacter:
      return "control_character";
  }
  return "unknown";
}

std::string_view ToString(Requirement requirement) {
  switch (requirement) {
    case Requirement::kPublic:
      return "public";
    case Requirement::kAuthenticated:
      return "authenticated";
    case Requirement::kPermissions:
      return "permissions";
  }
  return "unknown";
}

NormalizedPath NormalizeForwardedPath(std::string_view target) {
  NormalizedPath out;
  if (target.size() > kMaxForwardedUriBytes) {
    out.error = PathError::kTooLong;
    return out;
  }
  target = target.substr(0, target.find_first_of("?#"));
  if (target.empty()) {
    out.path = "/";
    return out;
  }
  if (target.front() != '/') {
    out.error = PathError::kNotAbsolute;
    return out;
  }

  // Pass 1: check every byte, decode unreserved escapes, upper-case the hex of the others.
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string decoded;
  decoded.reserve(target.size());
  for (std::size_t i = 0; i < target.size(); ++i) {
    const char c = target[i];
    const auto byte = static_cast<unsigned char>(c);
    PathError error = PathError::kOk;
    if (c == '\0') {
      error = PathError::kNul;
    } else if (c == '\\') {
      error = PathError::kBackslash;
    } else if (byte < 0x20 || byte == 0x7F) {
      error = PathError::kControlCharacter;
    }
    if (error != PathError::kOk) {
      out.error = error;
      return out;
    }
    if (c != '%') {
      decoded.push_back(c);
      continue;
    }
    const int hi = i + 2 < target.size() ? HexValue(target[i + 1]) : -1;
    const int lo = i + 2 < target.size() ? HexValue(target[i + 2]) : -1;
    if (hi < 0 || lo < 0) {
      out.error = PathError::kBadPercentEncoding;
      return out;
    }
    const char value = static_cast<char>(hi * 16 + lo);
    if (value == '/') error = PathError::kEncodedSlash;
    if (value == '\\') error = PathError::kEncodedBackslash;
    if (value == '\0') error = PathError::kNul;
    if (error != PathError::kOk) {
      out.error = error;
      return out;
    }
    if (IsUnreserved(value)) {
      decoded.push_back(value);
    } else {
      decoded.push_back('%');
      decoded.push_back(kHex[hi]);
      decoded.push_back(kHex[lo]);
    }
    i += 2;
  }

  // Pass 2: merge slashes (skip empty segments), then RFC 3986 §5.2.4 dot-segment removal on
  // what is left. A final "." or ".." leaves a trailing slash, as in the RFC's algorithm.
  std::vector<std::string_view> kept;
  bool trailing_slash = decoded.back() == '/';
  for (std::string_view segment : Split(std::string_view(decoded).substr(1), '/')) {
    if (segment.empty()) continue;
    if (segment == ".") {
      trailing_slash = true;
    } else if (segment == "..") {
      if (!kept.empty()) kept.pop_back();
      trailing_slash = true;
    } else {
      kept.push_back(segment);
      trailing_slash = false;
    }
  }
  if (decoded.back() == '/') trailing_slash = true;
  out.path = "/";
  for (std::size_t i = 0; i < kept.size(); ++i) {
    if (i > 0) out.path.push_back('/');
    out.path.append(kept[i]);
  }
  if (trailing_slash && !kept.empty()) out.path.push_back('/');
  return out;
}

std::optional<std::string> NormalizeForwardedHost(std::string_view host) {
  if (host.empty()) return std::string();
  std::string_view name;
  std::string_view port;
  if (host.front() == '[') {
    std::size_t close = host.find(']');
    if (close == std::string_view::npos || close == 1) return std::nullopt;
    name = host.substr(0, close + 1);
    if (!std::all_of(name.begin() + 1, name.end() - 1, IsIpv6LiteralChar)) return std::nullopt;
    std::string_view rest = host.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return std::nullopt;
      port = rest.substr(1);
      if (port.empty()) return std::nullopt;
    }
  } else {
    std::size_t colon = host.find(':');
    name = host.substr(0, colon);
    if (colon != std::string_view::npos) {
      port = host.substr(colon + 1);
      if (port.empty()) return std::nullopt;
    }
    if (!name.empty() && name.back() == '.') name.remove_suffix(1);  // "example.com."
    if (name.empty() || name.size() > kMaxHostBytes) return std::nullopt;
    if (!std::all_of(name.begin(), name.end(), IsHostChar)) return std::nullopt;
    if (name.front() == '.' || name.find("..") != std::string_view::npos) return std::nullopt;
  }
  if (!std::all_of(port.begin(), port.end(), IsDigit)) return std::nullopt;
  std::string out(name);
  for (char& c : out) c = AsciiToLower(c);
  return out;
}

std::optional<std::string> NormalizeForwardedMethod(std::string_view method) {
  if (method.empty() || method.size() > kMaxMethodBytes) return std::nullopt;
  if (!std::all_of(method.begin(), method.end(), IsTokenChar)) return std::nullopt;
  std::string out(method);
  for (char& c : out) c = AsciiToUpper(c);
  return out;
}

Status ValidateHostGlob(std::string_view glob) {
  if (glob == "*") return Status::Ok();
  if (glob.empty()) return InvalidArgumentError("a host glob must not be empty");
  if (glob.size() > kMaxHostBytes) return InvalidArgumentError("a host name has at most 253 bytes");
  if (glob.front() == '[') {
    if (glob.size() < 3 || glob.back() != ']' ||
        !std::all_of(glob.begin() + 1, glob.end() - 1, IsIpv6LiteralChar)) {
      return InvalidArgumentError("a bracketed IPv6 literal holds only hex digits, ':' and '.'");
    }
    return Status::Ok();
  }
  for (std::string_view label : Split(glob, '.')) {
    if (label.empty()) return InvalidArgumentError("a host glob has no empty labels");
    for (char c : label) {
      if (c == ':') return InvalidArgumentError("a host glob has no port (ports are ignored)");
      if (!IsHostChar(c) && c != '*') {
        return InvalidArgumentError(
            "a host glob holds only letters, digits, '-', '_', '.' and '*'");
      }
    }
    if (label.find("**") != std::string_view::npos) {
      return InvalidArgumentError("'**' has no meaning in a host glob; use '*'");
    }
  }
  return Status::Ok();
}

Status ValidatePathGlob(std::string_view glob) {
  if (glob.empty() || glob.front() != '/') {
    return InvalidArgumentError("a path glob starts with '/'");
  }
  if (glob.size() > kMaxForwardedUriBytes) {
    return InvalidArgumentError("a path glob has at most 8192 bytes");
  }
  const std::vector<std::string_view> segments = Split(glob.substr(1), '/');
  for (std::size_t i = 0; i < segments.size(); ++i) {
    std::string_view segment = segments[i];
    if (segment.empty() && i + 1 < segments.size()) {
      return InvalidArgumentError("a path glob has no empty segments (\"//\")");
    }
    if (segment == "." || segment == "..") {
      return InvalidArgumentError("a path glob has no \".\" or \"..\" segments");
    }
    for (char c : segment) {
      // Literals are unreserved characters only: a reserved character or an escape could be
      // spelled two ways by a client ("%3A" or ':'), and a rule must not depend on the spelling.
      if (!IsUnreserved(c) && c != '*') {
        return InvalidArgumentError(
            "a path glob holds only letters, digits, '-', '.', '_', '~', '*' and '/'");
      }
    }
    if (segment.find("**") != std::string_view::npos && segment != "**") {
      return InvalidArgumentError("'**' must be a whole path segment (\"/a/**\")");
    }
  }
  return Status::Ok();
}

bool HostGlobMatches(std::string_view glob, std::string_view host) {
  if (glob == "*") return true;
  const std::vector<std::string_view> glob_labels = Split(glob, '.');
  const std::vector<std::string_view> host_labels = Split(host, '.');
  if (glob_labels.size() != host_labels.size()) return false;
  for (std::size_t i = 0; i < glob_labels.size(); ++i) {
    if (!WildcardMatches(glob_labels[i], host_labels[i], AsciiToLower)) return false;
  }
  return true;
}

bool PathGlobMatches(std::string_view glob, std::string_view path) {
  if (glob.empty() || path.empty() || glob.front() != '/' || path.front() != '/') return false;
  const std::vector<std::string_view> g = Split(glob.substr(1), '/');
  const std::vector<std::string_view> p = Split(path.substr(1), '/');
  // matched[j]: the glob segments seen so far match the first j path segments.
  std::vector<char> matched(p.size() + 1, 0);
  matched[0] = 1;
  for (std::string_view segment : g) {
    std::vector<char> next(p.size() + 1, 0);
    if (segment == "**") {
      // Zero or more whole segments: next[j] = any matched[k] with k <= j.
      for (std::size_t j = 0; j <= p.size(); ++j) {
        next[j] = static_cast<char>(matched[j] || (j > 0 && next[j - 1]));
      }
    } else {
      for (std::size_t j = 0; j < p.size(); ++j) {
        if (matched[j] && WildcardMatches(segment, p[j], Identity)) next[j + 1] = 1;
      }
    }
    matched = std::move(next);
  }
  return matched[p.size()] != 0;
}

Result<ForwardRuleSet> ForwardRuleSet::Create(std::vector<ForwardRule> rules) {
  for (std::size_t i = 0; i < rules.size(); ++i) {
    const ForwardRule& rule = rules[i];
    const std::string key = "rule[" + std::to_string(i) + "].";
    if (Status s = ValidateHostGlob(rule.host); !s.ok()) {
      return InvalidArgumentError(key + "host: " + s.message());
    }
    if (Status s = ValidatePathGlob(rule.path); !s.ok()) {
      return InvalidArgumentError(key + "path: " + s.message());
    }
    if (rule.methods.empty()) return InvalidArgumentError(key + "methods: must not be empty");
    for (const std::string& m : rule.methods) {
      if (m != "*" && NormalizeForwardedMethod(m) != m) {
        return InvalidArgumentError(key + "methods: not an upper-case HTTP method or \"*\"");
      }
    }
    if ((rule.requirement == Requirement::kPermissions) == rule.permissions.empty()) {
      return InvalidArgumentError(key + "require: permissions are listed exactly when required");
    }
    for (const std::string& p : rule.permissions) {
      if (!IsValidPermission(p)) return InvalidArgumentError(key + "require: invalid permission");
    }
  }
  return ForwardRuleSet(std::move(rules));
}

const ForwardRule* ForwardRuleSet::Decide(std::string_view method, std::string_view host,
                                          std::string_view path) const {
  for (const ForwardRule& rule : rules_) {
    const bool method_matches =
        std::any_of(rule.methods.begin(), rule.methods.end(),
                    [method](const std::string& m) { return m == "*" || m == method; });
    if (method_matches && HostGlobMatches(rule.host, host) && PathGlobMatches(rule.path, path)) {
      return &rule;
    }
  }
  return nullptr;
}

std::optional<std::string_view> FirstMissingPermission(const ForwardRule& rule,
                                                       const std::vector<std::string>& held) {
  if (rule.requirement != Requirement::kPermissions) return std::nullopt;
  for (const std::string& p : rule.permissions) {
    if (!AnyGrants(held, p)) return std::string_view(p);
  }
  return std::nullopt;
}

}  // namespace portcullis::authz
