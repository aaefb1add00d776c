// Permissions: `resource:action` strings with `*` wildcards per segment (DESIGN §4).
//
// The one matcher that decides whether a held permission grants a required one. Segments are
// compared exactly (case-sensitive); `*` as a whole segment matches any one segment; a held `*`
// on its own matches everything. There are no partial-segment wildcards: `art*:read` is literal.
//
//   PermissionGrants("articles:*", "articles:read")  -> true
//   PermissionGrants("articles:read", "articles:*")  -> false (holding one action is not all)
//
// Thread-safety: pure functions.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace portcullis::authz {

// True if `held` grants `required`.
bool PermissionGrants(std::string_view held, std::string_view required);

// True if any of `held` grants `required`.
bool AnyGrants(const std::vector<std::string>& held, std::string_view required);

// A permission string is 1..128 characters of [a-z0-9_.-*] segments separated by ':'; each
// segment non-empty; `*` only as a whole segment.
bool IsValidPermission(std::string_view permission);

// RFC 6749 §3.3, the scope granted to a token: no requested scope = everything `held`; otherwise
// every requested value must be granted by a held permission (else nullopt: invalid_scope) and
// the token carries exactly the requested values, duplicates dropped, in request order (a
// narrower token: asking for "articles:read" while holding "articles:*" grants "articles:read").
std::optional<std::vector<std::string>> GrantScopes(
    const std::vector<std::string>& held, const std::optional<std::vector<std::string>>& requested);

// Splits an OAuth2 `scope` value (RFC 6749 §3.3: space-delimited) into its tokens; empty tokens
// from repeated spaces are dropped.
std::vector<std::string> SplitScope(std::string_view scope);
std::string JoinScope(const std::vector<std::string>& scopes);

}  // namespace portcullis::authz
