// Strict JSON parsing for untrusted input: HTTP request bodies and JWS headers and payloads.
//
// Boost.JSON's parse() silently keeps the last of two members with the same name, which lets an
// attacker smuggle a second "alg" or "sub" past one reader and not another. ParseJson rejects
// anything ambiguous instead: duplicate member names (at any depth, compared after unescaping),
// invalid UTF-8, lone UTF-16 surrogate escapes, comments, trailing commas, NaN/Infinity, nesting
// deeper than a limit, and anything but whitespace after the value.
//
// Thread-safety: pure functions; safe from any thread.
//
//   Result<boost::json::value> v = ParseJson(body, JsonLimits{.max_bytes = 64 * 1024});
//   if (!v.ok()) return BadRequest(v.status().message());
#pragma once

#include <boost/json/value.hpp>
#include <cstddef>
#include <string_view>

#include "base/status.h"

namespace portcullis {

// Limits applied before and during parsing.
struct JsonLimits {
  // Longest accepted text, in bytes.
  std::size_t max_bytes = 1 << 20;
  // Deepest accepted nesting of arrays and objects; a scalar at top level has depth 0.
  std::size_t max_depth = 32;
};

// Parses exactly one JSON text (RFC 8259) with the strictness described above. On failure returns
// kInvalidArgument whose message names the problem and the byte offset where the parser stopped
// (for a duplicate, the closing quote of the repeated name),
// e.g. "duplicate key \"a\" at offset 9" for {"a":1,"a":2}. The message may quote a key but never a
// string value.
Result<boost::json::value> ParseJson(std::string_view text, const JsonLimits& limits = {});

}  // namespace portcullis
