#include "authn/totp.h"

#include <qrencode.h>

#include <algorithm>
#include <array>
#include <memory>

#include "base/secret.h"
#include "crypto/constant_time.h"
#include "crypto/sha256.h"

namespace portcullis::authn {
namespace {

constexpr std::string_view kBase32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
// No 0/o, 1/l/i: easy to read aloud and to type.
constexpr std::string_view kRecoveryAlphabet = "abcdefghjkmnpqrstuvwxyz23456789";
constexpr int kQuietZone = 4;
// Versioned, so a later change of the recovery-code MAC can tell its values apart.
constexpr std::string_view kRecoveryCodeKeyLabel = "portcullis recovery-code v1";
constexpr std::string_view kRecoveryCodeKeyedPrefix = "k1:";
constexpr std::string_view kLowerHex = "0123456789abcdef";

std::string PercentEncode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '.' || c == '_' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::string XmlEscape(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

}  // namespace

std::string Base32Encode(std::string_view bytes) {
  std::string out;
  std::uint32_t buffer = 0;
  int bits = 0;
  for (unsigned char c : bytes) {
    buffer = (buffer << 8) | c;
    bits += 8;
    while (bits >= 5) {
      out += kBase32[(buffer >> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += kBase32[(buffer << (5 - bits)) & 31];
  return out;
}

std::optional<std::string> Base32Decode(std::string_view text) {
  while (!text.empty() && text.back() == '=') text.remove_suffix(1);
  std::string out;
  std::uint32_t buffer = 0;
  int bits = 0;
  for (char c : text) {
    int v;
    if (c >= 'A' && c <= 'Z') {
      v = c - 'A';
    } else if (c >= 'a' && c <= 'z') {
      v = c - 'a';
    } else if (c >= '2' && c <= '7') {
      v = c - '2' + 26;
    } else {
      return std::nullopt;
    }
    buffer = (buffer << 5) | static_cast<std::uint32_t>(v);
    bits += 5;
    if (bits >= 8) {
      out += static_cast<char>((buffer >> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return out;
}

std::string Hotp(std::string_view secret, std::uint64_t counter, int digits) {
  std::array<char, 8> message{};
  for (int i = 7; i >= 0; --i) {
    message[static_cast<std::size_t>(i)] = static_cast<char>(counter & 0xff);
    counter >>= 8;
  }
  const std::string mac = crypto::HmacSha1(secret, std::string_view(message.data(), 8));
  const int offset = static_cast<unsigned char>(mac[19]) & 0x0f;
  const std::uint32_t binary =
      (static_cast<std::uint32_t>(static_cast<unsigned char>(mac[offset]) & 0x7f) << 24) |
      (static_cast<std::uint32_t>(static_cast<unsigned char>(mac[offset + 1])) << 16) |
      (static_cast<std::uint32_t>(static_cast<unsigned char>(mac[offset + 2])) << 8) |
      static_cast<std::uint32_t>(static_cast<unsigned char>(mac[offset + 3]));
  std::uint32_t modulus = 1;
  for (int i = 0; i < digits; ++i) modulus *= 10;
  std::string value = std::to_string(binary % modulus);
  return std::string(static_cast<std::size_t>(digits) - value.size(), '0') + value;
}

std::int64_t TotpStep(UnixSeconds now) {
  return now >= 0 ? now / kTotpPeriodS : (now - kTotpPeriodS + 1) / kTotpPeriodS;
}

TotpCheck VerifyTotp(std::string_view secret, std::string_view code, UnixSeconds now,
                     std::int64_t last_used_step) {
  TotpCheck check;
  if (code.size() != static_cast<std::size_t>(kTotpDigits)) {
    check.result = TotpResult::kMalformed;
    return check;
  }
  for (char c : code) {
    if (c < '0' || c > '9') {
      check.result = TotpResult::kMalformed;
      return check;
    }
  }
  const std::int64_t current = TotpStep(now);
  std::optional<std::int64_t> matched;
  for (std::int64_t step = current - 1; step <= current + 1; ++step) {
    if (step < 0) continue;
    const bool equal =
        crypto::ConstantTimeEqual(Hotp(secret, static_cast<std::uint64_t>(step)), code);
    if (equal && !matched) matched = step;
  }
  if (!matched) {
    check.result = TotpResult::kWrong;
  } else if (*matched <= last_used_step) {
    check.result = TotpResult::kReplayed;
  } else {
    check.result = TotpResult::kOk;
    check.step = *matched;
  }
  return check;
}

std::string NewTotpSecret(crypto::Random& random) {
  std::string secret(kTotpSecretBytes, '\0');
  random.Fill(
      std::span<std::uint8_t>(reinterpret_cast<std::uint8_t*>(secret.data()), secret.size()));
  return secret;
}

std::string OtpauthUri(std::string_view issuer, std::string_view account, std::string_view secret) {
  std::string uri = "otpauth://totp/";
  uri += PercentEncode(issuer);
  uri += ':';
  uri += PercentEncode(account);
  uri += "?secret=";
  uri += Base32Encode(secret);
  uri += "&issuer=";
  uri += PercentEncode(issuer);
  uri += "&algorithm=SHA1&digits=6&period=30";
  return uri;
}

Result<std::string> QrSvg(std::string_view text, std::string_view title) {
  const std::string input(text);
  std::unique_ptr<QRcode, decltype(&QRcode_free)> qr(
      QRcode_encodeString(input.c_str(), 0, QR_ECLEVEL_M, QR_MODE_8, 1), &QRcode_free);
  if (!qr) return InternalError("QR encoding failed");
  const int width = qr->width;
  const int size = width + 2 * kQuietZone;
  std::string path;
  for (int y = 0; y < width; ++y) {
    for (int x = 0; x < width; ++x) {
      if (qr->data[y * width + x] & 1) {
        path += 'M' + std::to_string(x + kQuietZone) + ' ' + std::to_string(y + kQuietZone) +
                "h1v1h-1z";
      }
    }
  }
  std::string svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 " +
                    std::to_string(size) + ' ' + std::to_string(size) + "\" width=\"" +
                    std::to_string(size * 4) + "\" height=\"" + std::to_string(size * 4) +
                    "\" shape-rendering=\"crispEdges\" role=\"img\"><title>" + XmlEscape(title) +
                    "</title><rect width=\"100%\" height=\"100%\" fill=\"#fff\"/><path d=\"" +
                    path + "\" fill=\"#000\"/></svg>";
  return svg;
}

std::vector<std::string> NewRecoveryCodes(crypto::Random& random) {
  std::vector<std::string> codes;
  // Rejection sampling: bytes >= 248 (8 * 31) are redrawn, so every symbol is equally likely.
  const std::size_t limit = 256 - 256 % kRecoveryAlphabet.size();
  while (codes.size() < static_cast<std::size_t>(kRecoveryCodeCount)) {
    std::string code;
    while (code.size() < 11) {
      std::array<std::uint8_t, 16> bytes{};
      random.Fill(bytes);
      for (std::uint8_t b : bytes) {
        if (b >= limit || code.size() >= 11) continue;
        if (code.size() == 5) code += '-';
        code += kRecoveryAlphabet[b % kRecoveryAlphabet.size()];
      }
    }
    if (std::find(codes.begin(), codes.end(), code) == codes.end()) codes.push_back(code);
  }
  return codes;
}

std::string NormalizeRecoveryCode(std::string_view code) {
  std::string out;
  for (char c : code) {
    if (c == '-' || c == ' ') continue;
    out += (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  }
  return out;
}

std::string KeyedRecoveryCodeHash(std::string_view totp_secret, std::string_view code) {
  return WrapLegacyRecoveryCodeHash(totp_secret, LegacyRecoveryCodeHash(code));
}

std::string WrapLegacyRecoveryCodeHash(std::string_view totp_secret, std::string_view legacy_hash) {
  // A key of its own (not the TOTP secret itself), so the recovery-code MACs and the HOTP values
  // never share a key. The MAC is over the legacy digest rather than the code so that stored
  // legacy values can be upgraded without knowing the codes.
  std::string key = crypto::HmacSha256(totp_secret, kRecoveryCodeKeyLabel);
  const std::string mac = crypto::HmacSha256(key, legacy_hash);
  SecureZero(key.data(), key.size());
  std::string out(kRecoveryCodeKeyedPrefix);
  for (unsigned char c : mac) {
    out += kLowerHex[c >> 4];
    out += kLowerHex[c & 15];
  }
  return out;
}

std::string LegacyRecoveryCodeHash(std::string_view code) {
  return crypto::Sha256Hex(NormalizeRecoveryCode(code));
}

}  // namespace portcullis::authn
