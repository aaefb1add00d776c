// Building responses: the one place that renders JSON and error bodies.
//
// Two error shapes (DESIGN §4): RFC 9457 problem+json for /v1/ and everything else, RFC 6749 §5.2
// `{"error","error_description"}` under /oauth2/. ErrorResponse picks the shape from the path so
// no handler ever builds an error body by hand. Detail strings go to clients verbatim: they must
// be generic and never contain secrets or internal reasons (those go to the log).
//
// The server adds X-Request-Id, Date, HSTS, Connection and Content-Length afterwards; these
// functions set the body, Content-Type and any caching headers the shape requires.
//
// Thread-safety: pure functions.
//
//   co_return JsonResponse(status::ok, {{"id", user.id}});
//   co_return ErrorResponse(req, status::bad_request, "invalid_request", "missing username");
#pragma once

#include <boost/beast/http/status.hpp>
#include <boost/json/value.hpp>
#include <string>
#include <string_view>

#include "http/request.h"

namespace portcullis::http {

// A response with `body` serialized as application/json.
Response JsonResponse(boost::beast::http::status status, const boost::json::value& body);

// RFC 9457 problem details: Content-Type application/problem+json, body
// {"type":"about:blank","title":title,"status":<code>,"detail":detail}.
Response ProblemResponse(boost::beast::http::status status, std::string_view title,
                         std::string_view detail);

// RFC 6749 §5.2 error: body {"error":error,"error_description":description}, with
// Cache-Control: no-store and Pragma: no-cache. An empty description is omitted.
Response OAuthErrorResponse(boost::beast::http::status status, std::string_view error,
                            std::string_view description);

// The error response for `req`: under "/oauth2/" an OAuthErrorResponse with code `oauth_error`;
// elsewhere a ProblemResponse whose title is the status's reason phrase ("Not Found").
Response ErrorResponse(const Request& req, boost::beast::http::status status,
                       std::string_view oauth_error, std::string_view detail);

// Appends the HTTP/1.x wire form of `res` to `out`: status line, header fields in their order,
// a blank line, the body — the bytes Beast's serializer writes for a response that is not
// chunked. The server writes each response from one flat per-connection buffer with it (one
// contiguous send instead of Beast's iteration over a concatenated buffer sequence).
// Precondition: !res.chunked().
void AppendWireResponse(const Response& res, std::string& out);

}  // namespace portcullis::http
