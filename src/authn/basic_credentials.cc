#include "authn/basic_credentials.h"

#include "base/ascii.h"
#include "crypto/base64.h"

namespace portcullis::authn {
namespace {

constexpr std::size_t kMaxBasicHeaderBytes = 4096;

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::optional<std::string> FormDecode(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '+') {
      out += ' ';
    } else if (in[i] == '%') {
      if (i + 2 >= in.size()) return std::nullopt;  // needs two hex digits
      int hi = HexValue(in[i + 1]), lo = HexValue(in[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else {
      out += in[i];
    }
  }
  return out;
}

bool HasControlCharacters(std::string_view s) {
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7F) return true;
  }
  return false;
}

}  // namespace

bool IsBasicScheme(std::string_view authorization) {
  std::size_t space = authorization.find(' ');
  return space != std::string_view::npos &&
         EqualsIgnoreAsciiCase(authorization.substr(0, space), "basic");
}

std::optional<BasicCredentials> ParseBasicCredentials(std::string_view authorization,
                                                      bool form_urlencoded) {
  if (authorization.size() > kMaxBasicHeaderBytes || !IsBasicScheme(authorization)) {
    return std::nullopt;
  }
  std::string_view encoded = authorization.substr(authorization.find(' ') + 1);
  while (!encoded.empty() && encoded.front() == ' ') encoded.remove_prefix(1);
  while (!encoded.empty() && encoded.back() == ' ') encoded.remove_suffix(1);
  std::optional<std::string> decoded = crypto::Base64Decode(encoded);
  if (!decoded) return std::nullopt;
  SecretString plain(std::move(*decoded));
  std::string_view text = plain.reveal();
  std::size_t colon = text.find(':');
  if (colon == std::string_view::npos || colon == 0) return std::nullopt;
  std::string user(text.substr(0, colon));
  std::string password(text.substr(colon + 1));
  if (form_urlencoded) {
    std::optional<std::string> u = FormDecode(user), p = FormDecode(password);
    SecureZero(password.data(), password.size());
    if (!u || !p) return std::nullopt;
    user = std::move(*u);
    password = std::move(*p);
  }
  if (user.empty() || HasControlCharacters(user) || HasControlCharacters(password)) {
    SecureZero(password.data(), password.size());
    return std::nullopt;
  }
  return BasicCredentials{std::move(user), SecretString(std::move(password))};
}

}  // namespace portcullis::authn
