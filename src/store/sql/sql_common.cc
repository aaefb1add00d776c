#include "store/sql/sql_common.h"

#include <algorithm>
#include <boost/json/array.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <limits>

#include "base/json.h"

namespace portcullis::store::sql {

bool IsValidKeyState(std::string_view state) {
  return state == "active" || state == "verify_only" || state == "retired";
}

Status WithContext(const Status& status, std::string_view context) {
  return Status(status.code(), std::string(context) + ": " + status.message());
}

Status NewerSchemaError(int current, int latest) {
  return FailedPreconditionError("database schema version " + std::to_string(current) +
                                 " is newer than this binary supports (" + std::to_string(latest) +
                                 "); upgrade portcullis");
}

std::string StringsToJson(const std::vector<std::string>& values) {
  boost::json::array array;
  array.reserve(values.size());
  for (const std::string& value : values) array.emplace_back(value);
  return boost::json::serialize(array);
}

Result<std::vector<std::string>> StringsFromJson(std::string_view text, std::string_view column) {
  Result<boost::json::value> parsed = ParseJson(text);
  if (!parsed.ok() || !parsed->is_array()) {
    return InternalError(std::string(column) + " is not a JSON array");
  }
  std::vector<std::string> values;
  for (const boost::json::value& item : parsed->as_array()) {
    if (!item.is_string()) {
      return InternalError(std::string(column) + " holds a non-string");
    }
    values.emplace_back(item.as_string().data(), item.as_string().size());
  }
  return values;
}

std::vector<std::string> SortedUnique(std::vector<std::string> values) {
  std::sort(values.begin(), values.end());
  values.erase(std::unique(values.begin(), values.end()), values.end());
  return values;
}

namespace {

// The code points of `text`, or nullopt when it is not well-formed UTF-8.
std::optional<std::vector<char32_t>> DecodeUtf8(std::string_view text) {
  std::vector<char32_t> out;
  for (std::size_t i = 0; i < text.size();) {
    const auto b0 = static_cast<unsigned char>(text[i]);
    int length = 0;
    char32_t cp = 0;
    if (b0 < 0x80) {
      length = 1;
      cp = b0;
    } else if (b0 >= 0xc2 && b0 <= 0xdf) {
      length = 2;
      cp = b0 & 0x1f;
    } else if (b0 >= 0xe0 && b0 <= 0xef) {
      length = 3;
      cp = b0 & 0x0f;
    } else if (b0 >= 0xf0 && b0 <= 0xf4) {
      length = 4;
      cp = b0 & 0x07;
    } else {
      return std::nullopt;
    }
    if (i + static_cast<std::size_t>(length) > text.size()) return std::nullopt;
    for (int k = 1; k < length; ++k) {
      const auto b = static_cast<unsigned char>(text[i + k]);
      if ((b & 0xc0) != 0x80) return std::nullopt;
      cp = (cp << 6) | (b & 0x3f);
    }
    const char32_t min = length == 1 ? 0 : length == 2 ? 0x80 : length == 3 ? 0x800 : 0x10000;
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return std::nullopt;
    out.push_back(cp);
    i += static_cast<std::size_t>(length);
  }
  return out;
}

void AppendUtf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xc0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xe0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  } else {
    out.push_back(static_cast<char>(0xf0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3f)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  }
}

}  // namespace

std::optional<std::string> PrefixUpperBound(std::string prefix) {
  if (std::optional<std::vector<char32_t>> cps = DecodeUtf8(prefix)) {
    // UTF-8 orders like its code points, so the next code point after the last one bounds the
    // same range as the bytewise bound, and stays well-formed (PostgreSQL text must be).
    while (!cps->empty()) {
      char32_t last = cps->back() + 1;
      if (last == 0xd800) last = 0xe000;  // surrogates are not characters
      if (last <= 0x10ffff) {
        cps->back() = last;
        std::string bound;
        for (char32_t cp : *cps) AppendUtf8(bound, cp);
        return bound;
      }
      cps->pop_back();
    }
    return std::nullopt;
  }
  while (!prefix.empty() && static_cast<unsigned char>(prefix.back()) == 0xff) prefix.pop_back();
  if (prefix.empty()) return std::nullopt;
  prefix.back() = static_cast<char>(static_cast<unsigned char>(prefix.back()) + 1);
  return prefix;
}

bool IsWellFormedUserCursor(std::string_view cursor) {
  return std::none_of(cursor.begin(), cursor.end(),
                      [](char c) { return c == '\0' || (c >= 'A' && c <= 'Z'); });
}

int ChangesAsInt(std::int64_t changes) {
  return static_cast<int>(std::min<std::int64_t>(changes, std::numeric_limits<int>::max()));
}

std::int64_t PageFetchLimit(std::size_t limit) {
  constexpr auto kMaxLimit = static_cast<std::size_t>(std::numeric_limits<std::int64_t>::max() - 1);
  return static_cast<std::int64_t>(std::min(limit, kMaxLimit)) + 1;
}

}  // namespace portcullis::store::sql
