// Percent-decoding (RFC 3986 §2.1) and UTF-8 validation for untrusted request input.
//
// Thread-safety: pure functions.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace portcullis::http {

// Decodes %XX escapes (either hex case). With `plus_as_space` (form and query encoding,
// application/x-www-form-urlencoded) '+' becomes ' '. Returns nullopt on a '%' not followed by two
// hex digits. Does not validate UTF-8; see IsValidUtf8.
std::optional<std::string> PercentDecode(std::string_view text, bool plus_as_space);

// True when `text` is well-formed UTF-8 (RFC 3629): no overlong forms, surrogates or code points
// above U+10FFFF.
bool IsValidUtf8(std::string_view text);

}  // namespace portcullis::http
