#include "http/router.h"

#include <algorithm>
#include <boost/beast/http/field.hpp>
#include <cstdlib>
#include <optional>

#include "base/log.h"
#include "http/encoding.h"
#include "http/response.h"

namespace portcullis::http {
namespace beast_http = boost::beast::http;

namespace {

[[noreturn]] void FailRoute(std::string_view pattern, std::string_view why) {
  log::Error("http.router.bad_route", {{"pattern", pattern}, {"reason", why}});
  std::abort();
}

std::vector<std::string_view> SplitPath(std::string_view path) {
  // "/a/b" -> {"a","b"}; "/" -> {""}; "/a/" -> {"a",""}.
  std::vector<std::string_view> out;
  std::size_t start = 1;
  while (true) {
    const std::size_t slash = path.find('/', start);
    if (slash == std::string_view::npos) {
      out.push_back(path.substr(start));
      return out;
    }
    out.push_back(path.substr(start, slash - start));
    start = slash + 1;
  }
}

// Percent-decodes one path segment ('+' stays '+'); nullopt on a bad escape or invalid UTF-8.
std::optional<std::string> DecodeSegment(std::string_view s) {
  std::optional<std::string> out = PercentDecode(s, /*plus_as_space=*/false);
  if (!out || !IsValidUtf8(*out)) return std::nullopt;
  return out;
}

bool SegmentsMatch(const std::vector<std::string>& pattern, const std::vector<bool>& is_param,
                   const std::vector<std::string_view>& path) {
  if (pattern.size() != path.size()) return false;
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    if (is_param[i]) {
      if (path[i].empty()) return false;
    } else if (pattern[i] != path[i]) {
      return false;
    }
  }
  return true;
}

// True when `a` is more specific than `b`: the first segment where they differ in kind is a
// literal in `a`.
bool MoreSpecific(const std::vector<bool>& a, const std::vector<bool>& b) {
  for (std::size_t i = 0; i < a.size() && i < b.size(); ++i) {
    if (a[i] != b[i]) return !a[i];
  }
  return false;
}

std::string ShapeOf(const std::vector<std::string>& segments, const std::vector<bool>& is_param) {
  std::string shape;
  for (std::size_t i = 0; i < segments.size(); ++i) {
    shape += '/';
    shape += is_param[i] ? std::string("{}") : segments[i];
  }
  return shape;
}

}  // namespace

std::string_view ToString(AuthRequirement requirement) {
  switch (requirement) {
    case AuthRequirement::kPublic:
      return "public";
    case AuthRequirement::kBearer:
      return "bearer";
    case AuthRequirement::kAnyCredential:
      return "any_credential";
    case AuthRequirement::kClientOrUser:
      return "client_or_user";
  }
  return "unknown";
}

void Router::Add(Route route) {
  const std::string_view pattern = route.pattern;
  if (pattern.empty() || pattern.front() != '/') FailRoute(pattern, "must start with '/'");
  if (!route.handler) FailRoute(pattern, "null handler");
  Compiled compiled;
  for (std::string_view segment : SplitPath(pattern)) {
    const bool opens = segment.find('{') != std::string_view::npos;
    const bool closes = segment.find('}') != std::string_view::npos;
    if (opens || closes) {
      if (segment.size() < 3 || segment.front() != '{' || segment.back() != '}' ||
          segment.substr(1, segment.size() - 2).find_first_of("{}") != std::string_view::npos) {
        FailRoute(pattern, "a parameter must be a whole segment \"{name}\"");
      }
      compiled.segments.emplace_back(segment.substr(1, segment.size() - 2));
      compiled.is_param.push_back(true);
    } else {
      compiled.segments.emplace_back(segment);
      compiled.is_param.push_back(false);
    }
  }
  const std::string shape = ShapeOf(compiled.segments, compiled.is_param);
  for (std::size_t i = 0; i < routes_.size(); ++i) {
    if (routes_[i].method == route.method &&
        ShapeOf(compiled_[i].segments, compiled_[i].is_param) == shape) {
      FailRoute(pattern, "duplicate route for this method");
    }
  }
  const std::size_t length = compiled.segments.size();
  if (by_length_.size() <= length) by_length_.resize(length + 1);
  LengthIndex& index = by_length_[length];
  if (compiled.is_param.back()) {
    index.param_last.push_back(routes_.size());
  } else {
    // Keeps insertion order among equal keys, so the Allow header lists methods as added.
    const std::pair<std::string, std::size_t> entry{compiled.segments.back(), routes_.size()};
    index.by_last.insert(std::upper_bound(index.by_last.begin(), index.by_last.end(), entry),
                         entry);
  }
  routes_.push_back(std::move(route));
  compiled_.push_back(std::move(compiled));
}

boost::asio::awaitable<Response> Router::Dispatch(Request& req) const {
  const std::vector<std::string_view> path = req.path.empty() || req.path.front() != '/'
                                                 ? std::vector<std::string_view>{}
                                                 : SplitPath(req.path);
  const beast_http::verb method = req.message.method();

  // Best route for this method (HEAD falls back to GET), and every method of matching patterns.
  std::optional<std::size_t> best;
  std::optional<std::size_t> best_get;
  std::optional<std::size_t> any_match;
  const auto for_each_candidate = [&](const auto& visit) {
    if (path.empty() || path.size() >= by_length_.size()) return;
    const LengthIndex& index = by_length_[path.size()];
    const std::string_view last = path.back();
    auto it = std::lower_bound(index.by_last.begin(), index.by_last.end(), last,
                               [](const std::pair<std::string, std::size_t>& e,
                                  std::string_view k) { return e.first < k; });
    for (; it != index.by_last.end() && it->first == last; ++it) visit(it->second);
    for (const std::size_t i : index.param_last) visit(i);
  };
  const auto consider = [&](std::size_t i) {
    if (!SegmentsMatch(compiled_[i].segments, compiled_[i].is_param, path)) return;
    if (!any_match || MoreSpecific(compiled_[i].is_param, compiled_[*any_match].is_param)) {
      any_match = i;
    }
    const beast_http::verb m = routes_[i].method;
    if (m == method && (!best || MoreSpecific(compiled_[i].is_param, compiled_[*best].is_param))) {
      best = i;
    }
    if (m == beast_http::verb::get &&
        (!best_get || MoreSpecific(compiled_[i].is_param, compiled_[*best_get].is_param))) {
      best_get = i;
    }
  };
  for_each_candidate(consider);
  if (!best && method == beast_http::verb::head) best = best_get;

  if (!any_match) {
    req.route = "unmatched";
    co_return ErrorResponse(req, beast_http::status::not_found, "invalid_request",
                            "no resource at this path");
  }
  if (!best) {
    req.route = routes_[*any_match].pattern;
    // The methods of every matching route, in the order the routes were added.
    std::vector<std::size_t> matched;
    for_each_candidate([&](std::size_t i) {
      if (SegmentsMatch(compiled_[i].segments, compiled_[i].is_param, path)) matched.push_back(i);
    });
    std::sort(matched.begin(), matched.end());
    std::vector<beast_http::verb> allowed;
    for (const std::size_t i : matched) {
      const beast_http::verb m = routes_[i].method;
      if (std::find(allowed.begin(), allowed.end(), m) == allowed.end()) allowed.push_back(m);
    }
    const bool has_get =
        std::find(allowed.begin(), allowed.end(), beast_http::verb::get) != allowed.end();
    const bool has_head =
        std::find(allowed.begin(), allowed.end(), beast_http::verb::head) != allowed.end();
    if (has_get && !has_head) allowed.push_back(beast_http::verb::head);
    std::string allow;
    for (beast_http::verb m : allowed) {
      if (!allow.empty()) allow += ", ";
      auto name = beast_http::to_string(m);
      allow.append(name.data(), name.size());
    }
    Response res = ErrorResponse(req, beast_http::status::method_not_allowed, "invalid_request",
                                 "method not allowed for this path");
    res.set(beast_http::field::allow, allow);
    co_return res;
  }

  const Route& route = routes_[*best];
  const Compiled& compiled = compiled_[*best];
  req.route = route.pattern;
  req.path_params.clear();
  for (std::size_t i = 0; i < compiled.segments.size(); ++i) {
    if (!compiled.is_param[i]) continue;
    std::optional<std::string> value = DecodeSegment(path[i]);
    if (!value) {
      co_return ErrorResponse(req, beast_http::status::bad_request, "invalid_request",
                              "invalid percent-encoding or UTF-8 in the path");
    }
    req.path_params.emplace(compiled.segments[i], std::move(*value));
  }
  co_return co_await route.handler(req);
}

}  // namespace portcullis::http
