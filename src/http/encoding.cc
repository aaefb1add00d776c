#include "http/encoding.h"

#include <cstdint>
#include <cstring>

namespace portcullis::http {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::optional<std::string> PercentDecode(std::string_view text, bool plus_as_space) {
  // Runs of plain characters are copied whole into a string sized once (decoding never
  // lengthens): push_back per character cost ~20 instructions each, and a token in a form body
  // is ~500 characters without a single escape.
  std::string out(text.size(), '\0');
  char* dst = out.data();
  const char* p = text.data();
  const char* const end = p + text.size();
  while (p != end) {
    const char* run = p;
    while (p != end && *p != '%' && *p != '+') ++p;
    std::memcpy(dst, run, static_cast<std::size_t>(p - run));
    dst += p - run;
    if (p == end) break;
    if (*p == '+') {
      *dst++ = plus_as_space ? ' ' : '+';
      ++p;
      continue;
    }
    if (end - p < 3) return std::nullopt;
    const int hi = HexValue(p[1]);
    const int lo = HexValue(p[2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    *dst++ = static_cast<char>(hi * 16 + lo);
    p += 3;
  }
  out.resize(static_cast<std::size_t>(dst - out.data()));
  return out;
}

bool IsValidUtf8(std::string_view text) {
  std::size_t i = 0;
  while (i < text.size()) {
    // ASCII eight bytes at a time: tokens and nearly every form value are all ASCII.
    while (i + sizeof(std::uint64_t) <= text.size()) {
      std::uint64_t word;
      std::memcpy(&word, text.data() + i, sizeof word);
      if ((word & 0x8080808080808080ULL) != 0) break;
      i += sizeof word;
    }
    if (i == text.size()) break;
    const auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t n = 0;
    std::uint32_t cp = 0;
    if ((c & 0xE0) == 0xC0) {
      n = 2;
      cp = c & 0x1Fu;
    } else if ((c & 0xF0) == 0xE0) {
      n = 3;
      cp = c & 0x0Fu;
    } else if ((c & 0xF8) == 0xF0) {
      n = 4;
      cp = c & 0x07u;
    } else {
      return false;
    }
    if (i + n > text.size()) return false;
    for (std::size_t k = 1; k < n; ++k) {
      const auto cc = static_cast<unsigned char>(text[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3Fu);
    }
    // Overlong encodings, UTF-16 surrogates and values beyond Unicode are not UTF-8.
    if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
        cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
      return false;
    }
    i += n;
  }
  return true;
}

}  // namespace portcullis::http
