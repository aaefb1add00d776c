#include "crypto/base64.h"

#include <array>
#include <cstdint>

namespace portcullis::crypto {
namespace {

constexpr std::string_view kStandardAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr std::string_view kUrlAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
constexpr std::uint8_t kInvalid = 0xff;

using DecodeTable = std::array<std::uint8_t, 256>;

constexpr DecodeTable MakeDecodeTable(std::string_view alphabet) {
  DecodeTable table{};
  for (auto& entry : table) entry = kInvalid;
  for (std::size_t i = 0; i < alphabet.size(); ++i) {
    table[static_cast<unsigned char>(alphabet[i])] = static_cast<std::uint8_t>(i);
  }
  return table;
}

constexpr DecodeTable kStandardTable = MakeDecodeTable(kStandardAlphabet);
constexpr DecodeTable kUrlTable = MakeDecodeTable(kUrlAlphabet);

std::string Encode(std::string_view bytes, std::string_view alphabet, bool pad) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  auto at = [&](std::size_t k) -> std::uint32_t { return static_cast<unsigned char>(bytes[k]); };
  for (; i + 3 <= bytes.size(); i += 3) {
    const std::uint32_t v = at(i) << 16 | at(i + 1) << 8 | at(i + 2);
    out += alphabet[v >> 18 & 63];
    out += alphabet[v >> 12 & 63];
    out += alphabet[v >> 6 & 63];
    out += alphabet[v & 63];
  }
  const std::size_t rest = bytes.size() - i;
  if (rest == 1) {
    const std::uint32_t v = at(i) << 16;
    out += alphabet[v >> 18 & 63];
    out += alphabet[v >> 12 & 63];
    if (pad) out += "==";
  } else if (rest == 2) {
    const std::uint32_t v = at(i) << 16 | at(i + 1) << 8;
    out += alphabet[v >> 18 & 63];
    out += alphabet[v >> 12 & 63];
    out += alphabet[v >> 6 & 63];
    if (pad) out += '=';
  }
  return out;
}

// Decodes unpadded characters; the caller has removed any padding.
std::optional<std::string> DecodeUnpadded(std::string_view encoded, const DecodeTable& table) {
  if (encoded.size() % 4 == 1) return std::nullopt;  // No byte string encodes to this length.
  std::string out;
  out.reserve(encoded.size() / 4 * 3 + 2);
  std::uint32_t buffer = 0;
  int bits = 0;
  for (char c : encoded) {
    const std::uint8_t v = table[static_cast<unsigned char>(c)];
    if (v == kInvalid) return std::nullopt;
    buffer = (buffer << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((buffer >> bits) & 0xff);
    }
  }
  // RFC 4648 §3.5: canonical encodings leave the unused low bits of the last character zero.
  if (bits > 0 && (buffer & ((1u << bits) - 1)) != 0) return std::nullopt;
  return out;
}

}  // namespace

std::string Base64UrlEncode(std::string_view bytes) { return Encode(bytes, kUrlAlphabet, false); }

std::optional<std::string> Base64UrlDecode(std::string_view encoded) {
  return DecodeUnpadded(encoded, kUrlTable);  // '=' is not in the table, so it is rejected.
}

std::string Base64Encode(std::string_view bytes) { return Encode(bytes, kStandardAlphabet, true); }

std::optional<std::string> Base64Decode(std::string_view encoded) {
  if (encoded.size() % 4 != 0) return std::nullopt;
  std::size_t padding = 0;
  while (padding < 2 && padding < encoded.size() && encoded[encoded.size() - 1 - padding] == '=') {
    ++padding;
  }
  // Any other '=' (a third one, or one mid-string) is outside the table and fails below.
  return DecodeUnpadded(encoded.substr(0, encoded.size() - padding), kStandardTable);
}

}  // namespace portcullis::crypto
