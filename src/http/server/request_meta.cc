#include "http/server/request_meta.h"

#include <arpa/inet.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/rand.h>

#include <array>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <vector>

#include "base/log.h"

namespace portcullis::http {
namespace {

constexpr std::size_t kRequestIdBytes = 16;

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

bool IsValidRequestId(std::string_view id) {
  if (id.empty() || id.size() > kMaxRequestIdLength) return false;
  for (char c : id) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

std::string GenerateRequestId() {
  // Random bytes are drawn from the OS CSPRNG (OpenSSL) a few kilobytes at a time per thread,
  // not per request: RAND_bytes takes locks and checks the process id on every call.
  constexpr std::size_t kBatchBytes = 256 * kRequestIdBytes;
  thread_local std::array<unsigned char, kBatchBytes> random_batch{};
  thread_local std::size_t used = kBatchBytes;
  if (used + kRequestIdBytes > kBatchBytes) {
    if (RAND_bytes(random_batch.data(), static_cast<int>(random_batch.size())) != 1) {
      // A request id is not a secret; an all-zero id is better than failing the request.
      ERR_clear_error();
      log::Error("http.request_id.rand_failed", {});
      random_batch.fill(0);
    }
    used = 0;
  }
  std::array<unsigned char, kRequestIdBytes> bytes{};
  std::memcpy(bytes.data(), random_batch.data() + used, bytes.size());
  OPENSSL_cleanse(random_batch.data() + used, bytes.size());  // each id is handed out once
  used += kRequestIdBytes;
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * bytes.size());
  for (unsigned char b : bytes) {
    out.push_back(kHex[b >> 4]);
    out.push_back(kHex[b & 0x0F]);
  }
  return out;
}

std::string RequestIdFor(std::string_view client_value) {
  if (IsValidRequestId(client_value)) return std::string(client_value);
  return GenerateRequestId();
}

std::optional<std::string> CanonicalIp(std::string_view text) {
  constexpr std::size_t kMaxIpText = INET6_ADDRSTRLEN;
  if (text.empty() || text.size() >= kMaxIpText) return std::nullopt;
  char input[kMaxIpText] = {};
  std::memcpy(input, text.data(), text.size());
  char output[kMaxIpText] = {};
  in_addr v4{};
  if (inet_pton(AF_INET, input, &v4) == 1) {
    if (inet_ntop(AF_INET, &v4, output, sizeof(output)) == nullptr) return std::nullopt;
    return std::string(output);
  }
  in6_addr v6{};
  if (inet_pton(AF_INET6, input, &v6) != 1) return std::nullopt;
  if (IN6_IS_ADDR_V4MAPPED(&v6)) {
    std::memcpy(&v4, &v6.s6_addr[12], sizeof(v4));
    if (inet_ntop(AF_INET, &v4, output, sizeof(output)) == nullptr) return std::nullopt;
    return std::string(output);
  }
  if (inet_ntop(AF_INET6, &v6, output, sizeof(output)) == nullptr) return std::nullopt;
  return std::string(output);
}

std::string ResolveClientIp(std::string_view peer_ip, std::string_view forwarded_for,
                            const std::function<bool(std::string_view)>& is_trusted_proxy) {
  if (!is_trusted_proxy || Trim(forwarded_for).empty() || !is_trusted_proxy(peer_ip)) {
    return std::string(peer_ip);
  }
  std::vector<std::string_view> entries;
  std::size_t begin = 0;
  while (true) {
    const std::size_t comma = forwarded_for.find(',', begin);
    entries.push_back(Trim(forwarded_for.substr(begin, comma - begin)));
    if (comma == std::string_view::npos) break;
    begin = comma + 1;
  }
  std::string leftmost;
  for (auto it = entries.rbegin(); it != entries.rend(); ++it) {
    std::optional<std::string> ip = CanonicalIp(*it);
    if (!ip) return std::string(peer_ip);
    if (!is_trusted_proxy(*ip)) return *ip;
    leftmost = std::move(*ip);
  }
  return leftmost;
}

std::string HttpDate(std::chrono::system_clock::time_point when) {
  static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  const std::time_t t = std::chrono::system_clock::to_time_t(when);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[40];
  std::snprintf(buf, sizeof(buf), "%s, %02d %s %04d %02d:%02d:%02d GMT", kDays[tm.tm_wday % 7],
                tm.tm_mday, kMonths[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                tm.tm_sec);
  return buf;
}

}  // namespace portcullis::http
