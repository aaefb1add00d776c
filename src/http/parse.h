// Parsing request input: form bodies, query strings, JSON bodies.
//
// Every function returns a clear kInvalidArgument for bad client input and never throws. Error
// messages may name a parameter but never quote a value (values can be passwords or tokens), so
// handlers can pass them to ErrorResponse as the detail.
//
// Thread-safety: pure functions.
//
//   Result<FormFields> form = ParseForm(req);
//   if (!form.ok()) co_return ErrorResponse(req, bad_request, "invalid_request",
//                                           form.status().message());
//   const std::string* grant_type = form->Get("grant_type");
#pragma once

#include <boost/json/object.hpp>
#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"
#include "http/request.h"

namespace portcullis::http {

// Most name=value pairs accepted in one form body or query string.
inline constexpr std::size_t kMaxFormFields = 64;

struct FormFields {
  // Decoded (name, value) pairs in the order sent; names are unique.
  std::vector<std::pair<std::string, std::string>> fields;

  // The value of `name`, or nullptr if absent.
  const std::string* Get(std::string_view name) const;
};

// Parses an application/x-www-form-urlencoded string (query or body): pairs separated by '&'
// (empty pieces skipped), '=' separating name and value (a piece without '=' has an empty value),
// '+' decoded as space and %XX escapes. Fails with kInvalidArgument on a bad escape, invalid UTF-8,
// an empty name, more than kMaxFormFields pairs, or a name given twice (RFC 6749 §3.2: parameters
// MUST NOT be included more than once).
Result<FormFields> ParseQuery(std::string_view text);

// Parses the body of `req` as a form. Requires Content-Type application/x-www-form-urlencoded
// (case-insensitive; a charset parameter is allowed if it is UTF-8); otherwise kInvalidArgument.
// Then as ParseQuery.
Result<FormFields> ParseForm(const Request& req);

// Parses the body of `req` as a JSON object with base/json.h's strict ParseJson (duplicate keys,
// invalid UTF-8 and trailing data rejected). Requires Content-Type application/json (a UTF-8
// charset parameter allowed) and a top-level object; otherwise kInvalidArgument.
Result<boost::json::object> ParseJsonBody(const Request& req);

// True when the Content-Type value `header` names `media_type` (case-insensitive) with no
// parameters other than charset=utf-8.
bool HasMediaType(std::string_view header, std::string_view media_type);

}  // namespace portcullis::http
