// Helpers shared by the /v1 handlers (admin/, apikeys/, me/): authorization of a route,
// ?limit= parsing, JSON array conversions, and the mapping of a service Status to a problem
// response. Handlers stay a page long: parse, authorize, call one service off the network thread,
// render.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/json.hpp>
#include <cstddef>
#include <initializer_list>
#include <iterator>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "admin/directory.h"
#include "api/api_context.h"
#include "api/principal.h"
#include "http/parse.h"
#include "http/request.h"
#include "http/response.h"

namespace portcullis::api {

inline constexpr std::size_t kDefaultPageLimit = 50;
inline constexpr std::size_t kMaxPageLimit = 500;

http::Response BadRequestProblem(std::string_view detail);
http::Response NotFoundProblem(std::string_view detail);
http::Response UnavailableProblem();

// Authenticates the caller and checks `permission` (recording the use for the access review):
// the Principal, or the response to send (401/403/429/503).
boost::asio::awaitable<std::variant<Principal, http::Response>> Authorize(
    ApiContext& ctx, const http::Request& req, std::string_view permission);

// ?limit= (default 50, capped at 500; DESIGN §4): the limit, or a 400.
std::variant<std::size_t, http::Response> ParseLimit(const http::FormFields& query);

// One page of a short list the store returns whole and in its order (signing keys, a user's
// browser sessions), paged like the store's lists (DESIGN §4 "Lists"): the items that come after
// the cursor (`comes_after(item)`, true for every item when the cursor is empty; the items that
// do must be a suffix of `all`), at most `limit` of them, and the next cursor (`cursor_of` the
// page's last item) when more follow.
template <typename T, typename ComesAfter, typename CursorOf>
std::pair<std::vector<T>, std::optional<std::string>> PageOfList(std::vector<T> all,
                                                                 std::size_t limit,
                                                                 ComesAfter comes_after,
                                                                 CursorOf cursor_of) {
  auto first = all.begin();
  while (first != all.end() && !comes_after(*first)) ++first;
  std::vector<T> page(std::make_move_iterator(first), std::make_move_iterator(all.end()));
  std::optional<std::string> next;
  if (page.size() > limit) {
    page.resize(limit);
    next = cursor_of(page.back());
  }
  return {std::move(page), std::move(next)};
}

// A JSON array of strings, or nullopt if `v` is anything else.
std::optional<std::vector<std::string>> StringArray(const boost::json::value& v);
boost::json::array ToJsonArray(const std::vector<std::string>& v);

// 400 naming the first member of `body` not in `allowed` (no mass assignment on admin writes).
std::optional<http::Response> RejectUnknownFields(const boost::json::object& body,
                                                  std::initializer_list<std::string_view> allowed);

// The response for a failed service call: kInvalidArgument 400, kPermissionDenied 403,
// kNotFound 404, kAlreadyExists/kFailedPrecondition 409, else 503 (the message of a 503 is not
// shown: it may name internals).
http::Response ProblemFromStatus(const Status& status);

// The actor of an administrative change made by `principal`.
admin::Actor ActorOf(const Principal& principal);

}  // namespace portcullis::api
