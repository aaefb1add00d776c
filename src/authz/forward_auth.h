// Forward-auth rules (DESIGN §4 "Forward auth", "Forward-auth paths"): which requests a reverse
// proxy may pass on, decided from the original method, host and path.
//
// The pipeline, all pure functions:
//   1. NormalizeForwardedPath turns the forwarded URI into the one path every rule sees (or a
//      PathError: the request is denied before any rule is consulted);
//   2. NormalizeForwardedHost and NormalizeForwardedMethod do the same for host and method;
//   3. ForwardRuleSet::Decide returns the first rule whose host, path and method match — none
//      means deny (default deny);
//   4. FirstMissingPermission says whether an authenticated caller holds what the rule requires.
// Authentication itself and the HTTP mapping live in api/forward_auth/.
//
// Globs (validated once at start-up by ValidateHostGlob / ValidatePathGlob):
//   host: "*" alone matches every host; otherwise dot-separated labels, compared
//         case-insensitively, where '*' matches a run of characters within one label
//         ("*.example.com" matches "a.example.com", not "example.com" nor "a.b.example.com").
//   path: '/'-separated segments; '*' matches a run of characters (possibly empty) within one
//         segment; a segment "**" matches zero or more whole segments, so "/api/**" matches
//         "/api", "/api/" and "/api/x/y" but not "/apix".
//
// Thread-safety: pure functions; a ForwardRuleSet is immutable after Create and may be shared.
//
//   Result<ForwardRuleSet> rules = ForwardRuleSet::Create(std::move(list));
//   NormalizedPath path = NormalizeForwardedPath(uri);
//   if (path.error != PathError::kOk) return deny;
//   const ForwardRule* rule = rules->Decide(method, host, path.path);
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace portcullis::authz {

// Longest forwarded URI accepted (the server's header limit is 8 KiB by default).
inline constexpr std::size_t kMaxForwardedUriBytes = 8 * 1024;

// Why a forwarded path is refused. Every value but kOk is a 403. Stable numbers (log fields).
enum class PathError : std::uint16_t {
  kOk = 0,
  // Shape
  kNotAbsolute = 1,  // does not start with '/' (absolute-form or relative URIs included)
  kTooLong = 2,      // longer than kMaxForwardedUriBytes
  // Ambiguous characters a backend may decode differently than we do
  kEncodedSlash = 10,        // %2F in any case
  kEncodedBackslash = 11,    // %5C in any case
  kBackslash = 12,           // a raw '\'
  kNul = 13,                 // a raw NUL or %00
  kBadPercentEncoding = 14,  // '%' not followed by two hex digits
  kControlCharacter = 15,    // another raw byte below 0x20, or 0x7F
};

// "ok", "not_absolute", "encoded_slash", ... (snake_case, for logs and metric labels).
std::string_view ToString(PathError error);

struct NormalizedPath {
  PathError error = PathError::kOk;
  std::string path;  // the normalized path; empty unless error == kOk
};

// Normalizes the path of a forwarded request target (DESIGN §4), in this order:
//   - the query ('?') and fragment ('#') are cut off;
//   - an empty target means "/" (RFC 3986 §6.2.3: an empty http path is equivalent to "/");
//   - the rest must start with '/' and hold no raw NUL, backslash or control character;
//   - percent-escapes of unreserved characters (ALPHA DIGIT - . _ ~) are decoded, other escapes
//     are kept with upper-case hex (RFC 3986 §6.2.2.1-2); %2F, %5C and %00 are refused, since
//     backends disagree on whether they separate segments;
//   - repeated slashes are merged, then dot-segments are removed (RFC 3986 §5.2.4), so
//     "/a//../b" is "/b" (as nginx's merge_slashes and Go's path.Clean see it);
//   - a trailing slash is kept ("/a/" stays "/a/"; "/a/." and "/a/b/.." end in '/').
// ".." above the root is dropped ("/../a" is "/a").
NormalizedPath NormalizeForwardedPath(std::string_view target);

// The host of X-Forwarded-Host / Host ready for matching: lower-cased, port removed ("[::1]:80"
// keeps its brackets), one trailing dot removed. "" stays "" (matched only by "*"). nullopt when
// the value cannot be a host (characters outside [A-Za-z0-9.-_] and the IPv6 literal form, e.g. a
// comma-separated list, a space or a '/').
std::optional<std::string> NormalizeForwardedHost(std::string_view host);

// The forwarded method ready for matching: ASCII upper-cased. nullopt when empty or not an RFC
// 9110 token.
std::optional<std::string> NormalizeForwardedMethod(std::string_view method);

// Ok, or kInvalidArgument whose message says what is wrong (without quoting the glob). A host
// glob is "*", a bracketed IPv6 literal, or non-empty labels of [A-Za-z0-9-_*] separated by '.';
// no port.
Status ValidateHostGlob(std::string_view glob);
// Ok, or kInvalidArgument as above. A path glob starts with '/', holds no "//", "." or ".."
// segment (a normalized path never does), no "?", "#", "\", control character or space, '**'
// only as a whole segment and no "***", and a '%' only as an upper-case escape that
// NormalizeForwardedPath would keep (not an unreserved character, not %2F, %5C or %00).
Status ValidatePathGlob(std::string_view glob);

// True if the (normalized) `host` matches `glob`. Precondition: ValidateHostGlob(glob).ok().
bool HostGlobMatches(std::string_view glob, std::string_view host);
// True if the normalized `path` matches `glob`. Precondition: ValidatePathGlob(glob).ok().
bool PathGlobMatches(std::string_view glob, std::string_view path);

// What a matching request needs.
enum class Requirement : std::uint8_t {
  kPublic = 0,         // nothing: allowed without authenticating, no identity headers
  kAuthenticated = 1,  // any valid credential
  kPermissions = 2,    // a valid credential holding every one of `permissions`
};

std::string_view ToString(Requirement requirement);

// One forward-auth rule, as configured by a [[forward_auth.rule]] table.
struct ForwardRule {
  std::string host = "*";                    // host glob
  std::string path = "/**";                  // path glob
  std::vector<std::string> methods = {"*"};  // upper-case methods; "*" matches any
  Requirement requirement = Requirement::kAuthenticated;
  std::vector<std::string> permissions;  // non-empty exactly when requirement == kPermissions
};

// The rules of one server, validated and in order.
class ForwardRuleSet {
 public:
  // Validates every rule; kInvalidArgument naming the first bad one as "rule[N].field: reason"
  // (N counts from 0): a bad glob, an empty or non-upper-case method list, an invalid permission,
  // or permissions that disagree with the requirement.
  static Result<ForwardRuleSet> Create(std::vector<ForwardRule> rules);

  // The first rule (in configuration order) whose method, host and path match, or nullptr: deny.
  // `method`, `host` and `path` must come from the Normalize* functions above.
  const ForwardRule* Decide(std::string_view method, std::string_view host,
                            std::string_view path) const;

  // The position of `rule` (a Decide result) in the list, for logs.
  std::size_t IndexOf(const ForwardRule& rule) const {
    return static_cast<std::size_t>(&rule - rules_.data());
  }

  const std::vector<ForwardRule>& rules() const { return rules_; }

 private:
  explicit ForwardRuleSet(std::vector<ForwardRule> rules) : rules_(std::move(rules)) {}
  std::vector<ForwardRule> rules_;
};

// The first permission of `rule` (kPermissions) that `held` does not grant, in rule order;
// nullopt when all are granted (always for the other requirements). Uses PermissionGrants.
std::optional<std::string_view> FirstMissingPermission(const ForwardRule& rule,
                                                       const std::vector<std::string>& held);

}  // namespace portcullis::authz
