#include "base/json.h"

#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/error.hpp>
#include <boost/json/parse_options.hpp>
#include <boost/json/value_stack.hpp>
#include <cstdint>
#include <string>
#include <unordered_set>
#include <vector>

namespace portcullis {
namespace {

namespace json = boost::json;

// Longest key quoted back in an error message; keys come from untrusted input.
constexpr std::size_t kMaxQuotedKeyBytes = 64;

// A basic_parser handler that builds the value like Boost's own parser, and additionally keeps the
// member names seen in each open object so a repeated name is an error rather than a silent
// overwrite.
class StrictHandler {
 public:
  static constexpr std::size_t max_object_size = json::object::max_size();
  static constexpr std::size_t max_array_size = json::array::max_size();
  static constexpr std::size_t max_key_size = json::string::max_size();
  static constexpr std::size_t max_string_size = json::string::max_size();

  json::value_stack stack;
  // Set when parsing stopped on a duplicate member name.
  bool duplicate = false;
  std::string duplicate_key;

  bool on_document_begin(json::error_code&) { return true; }
  bool on_document_end(json::error_code&) { return true; }
  bool on_object_begin(json::error_code&) {
    keys_.emplace_back();
    return true;
  }
  bool on_object_end(std::size_t n, json::error_code&) {
    keys_.pop_back();
    stack.push_object(n);
    return true;
  }
  bool on_array_begin(json::error_code&) { return true; }
  bool on_array_end(std::size_t n, json::error_code&) {
    stack.push_array(n);
    return true;
  }
  bool on_key_part(json::string_view s, std::size_t, json::error_code&) {
    key_.append(s.data(), s.size());
    stack.push_chars(s);
    return true;
  }
  bool on_key(json::string_view s, std::size_t, json::error_code& ec) {
    key_.append(s.data(), s.size());
    if (!keys_.back().insert(key_).second) {
      duplicate = true;
      duplicate_key = std::move(key_);
      ec = json::error::syntax;
      return false;
    }
    key_.clear();
    stack.push_key(s);
    return true;
  }
  bool on_string_part(json::string_view s, std::size_t, json::error_code&) {
    stack.push_chars(s);
    return true;
  }
  bool on_string(json::string_view s, std::size_t, json::error_code&) {
    stack.push_string(s);
    return true;
  }
  bool on_number_part(json::string_view, json::error_code&) { return true; }
  bool on_int64(std::int64_t i, json::string_view, json::error_code&) {
    stack.push_int64(i);
    return true;
  }
  bool on_uint64(std::uint64_t u, json::string_view, json::error_code&) {
    stack.push_uint64(u);
    return true;
  }
  bool on_double(double d, json::string_view, json::error_code&) {
    stack.push_double(d);
    return true;
  }
  bool on_bool(bool b, json::error_code&) {
    stack.push_bool(b);
    return true;
  }
  bool on_null(json::error_code&) {
    stack.push_null();
    return true;
  }
  // Comments are disabled in the options; these are never called.
  bool on_comment_part(json::string_view, json::error_code&) { return true; }
  bool on_comment(json::string_view, json::error_code&) { return true; }

 private:
  std::vector<std::unordered_set<std::string>> keys_;
  std::string key_;
};

std::string QuoteKey(std::string_view key) {
  std::string out = "\"";
  for (char c : key.substr(0, kMaxQuotedKeyBytes)) {
    const auto u = static_cast<unsigned char>(c);
    // Keep the message printable ASCII whatever the key holds.
    out += (u >= 0x20 && u < 0x7f && c != '"' && c != '\\') ? c : '?';
  }
  if (key.size() > kMaxQuotedKeyBytes) out += "...";
  out += '"';
  return out;
}

}  // namespace

Result<json::value> ParseJson(std::string_view text, const JsonLimits& limits) {
  if (text.size() > limits.max_bytes) {
    return InvalidArgumentError("JSON text of " + std::to_string(text.size()) +
                                " bytes exceeds the limit of " + std::to_string(limits.max_bytes));
  }
  json::parse_options options;  // Defaults: no comments, no trailing commas, strict UTF-8.
  options.max_depth = limits.max_depth;
  options.allow_comments = false;
  options.allow_trailing_commas = false;
  options.allow_invalid_utf8 = false;

  json::basic_parser<StrictHandler> parser(options);
  parser.handler().stack.reset();
  json::error_code ec;
  const std::size_t consumed = parser.write_some(false, text.data(), text.size(), ec);
  const std::string at = " at offset " + std::to_string(consumed);
  if (ec) {
    if (parser.handler().duplicate) {
      return InvalidArgumentError("duplicate key " + QuoteKey(parser.handler().duplicate_key) + at);
    }
    if (ec == json::error::too_deep) {
      return InvalidArgumentError("nesting deeper than " + std::to_string(limits.max_depth) + at);
    }
    return InvalidArgumentError("invalid JSON (" + ec.message() + ")" + at);
  }
  if (consumed < text.size()) {
    return InvalidArgumentError("unexpected data after the JSON value" + at);
  }
  return parser.handler().stack.release();
}

}  // namespace portcullis
