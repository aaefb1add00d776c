// Router: maps (method, path) to a handler; the explicit route table of the API layer.
//
// Patterns are '/'-separated segments, each either a literal ("users") or a parameter ("{id}")
// that matches one non-empty segment. Matching is exact: no trailing-slash tolerance, no implicit
// redirects, no case folding; literal segments compare against the raw (undecoded) path.
// Parameter values are percent-decoded before the handler sees them. When several patterns match
// a path, the most specific wins: comparing segment by segment from the left, a literal beats a
// parameter ("/v1/keys/rotate" beats "/v1/keys/{id}").
//
// Dispatch answers itself, with ErrorResponse bodies:
//   404 when no pattern matches the path (req.route = "unmatched");
//   405 with `Allow` listing the path's methods when patterns match but none for this method;
//   400 when a parameter segment has invalid percent-encoding or invalid UTF-8.
// HEAD is served by the GET handler where no HEAD route exists (the server drops the body).
//
// Thread-safety: build with Add before serving; Dispatch is const and may run concurrently.
// Handlers must themselves be safe to call from several threads.
//
//   Router router;
//   router.Add({verb::get, "/v1/users/{id}", GetUser, AuthRequirement::kBearer, "users.get"});
//   Response res = co_await router.Dispatch(req);
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/beast/http/verb.hpp>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "http/request.h"

namespace portcullis::http {

using Handler = std::function<boost::asio::awaitable<Response>(Request&)>;

// Who may call a route. Declared per route; the api layer enforces it (middleware).
enum class AuthRequirement : std::uint8_t {
  kPublic = 0,         // anyone
  kBearer = 1,         // an access token (Authorization: Bearer)
  kAnyCredential = 2,  // Bearer, Basic or API key
  kClientOrUser = 3,   // OAuth client authentication or a user credential
};

std::string_view ToString(AuthRequirement requirement);

struct Route {
  boost::beast::http::verb method;
  std::string pattern;
  Handler handler;
  AuthRequirement auth;
  // A stable name for logs and docs, e.g. "users.get".
  std::string name;
};

class Router {
 public:
  // Adds a route. A malformed pattern (not starting with '/', a '{' that is not a whole
  // "{name}" segment, an empty parameter name), a null handler, or a duplicate (method, pattern)
  // — also one differing only in parameter names — is a programming error: logged, then abort().
  void Add(Route route);

  // Matches req.path and req.message.method(), sets req.route and req.path_params, and awaits the
  // handler; or answers 404/405/400 as described above. Does not catch the handler's exceptions
  // (the server does).
  boost::asio::awaitable<Response> Dispatch(Request& req) const;

  // The routes in the order they were added.
  const std::vector<Route>& routes() const { return routes_; }

 private:
  struct Compiled {
    std::vector<std::string> segments;  // "{name}" segments are parameters
    std::vector<bool> is_param;
  };
  std::vector<Route> routes_;
  std::vector<Compiled> compiled_;  // parallel to routes_
  // Indexes of routes_ by segment count, ascending: only patterns as long as the path can match.
  // Within a length, patterns whose last segment is a literal are grouped by it (sorted), those
  // ending in a parameter kept apart: Dispatch compares a path only with the routes that end in
  // its last segment and the few that end in a parameter, not with every route of that length.
  struct LengthIndex {
    std::vector<std::pair<std::string, std::size_t>> by_last;  // (last literal, route), sorted
    std::vector<std::size_t> param_last;                       // routes ending in a parameter
  };
  std::vector<LengthIndex> by_length_;
};

}  // namespace portcullis::http
