#include "http/server/framing.h"

#include <algorithm>
#include <boost/beast/http/field.hpp>
#include <cctype>
#include <string>
#include <vector>

namespace portcullis::http {
namespace {

namespace bhttp = boost::beast::http;

std::string_view View(boost::beast::string_view s) { return {s.data(), s.size()}; }

std::string_view TrimOws(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool IsDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// The transfer codings of every Transfer-Encoding field, in order, lower-cased; empty list
// elements are skipped (RFC 9110 §5.6.1).
std::vector<std::string> TransferCodings(const bhttp::request_header<>& head) {
  std::vector<std::string> codings;
  for (auto [it, end] = head.equal_range(bhttp::field::transfer_encoding); it != end; ++it) {
    std::string_view rest = View(it->value());
    while (true) {
      const std::size_t comma = rest.find(',');
      const std::string_view element = TrimOws(rest.substr(0, comma));
      if (!element.empty()) codings.push_back(Lower(element));
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
  }
  return codings;
}

}  // namespace

std::string_view ToString(FramingError error) {
  switch (error) {
    case FramingError::kOk:
      return "ok";
    case FramingError::kObsFold:
      return "obs_fold";
    case FramingError::kContentLengthWithTransferEncoding:
      return "content_length_with_transfer_encoding";
    case FramingError::kRepeatedContentLength:
      return "repeated_content_length";
    case FramingError::kInvalidContentLength:
      return "invalid_content_length";
    case FramingError::kChunkedNotFinal:
      return "chunked_not_final";
    case FramingError::kUnsupportedTransferCoding:
      return "unsupported_transfer_coding";
    case FramingError::kTransferEncodingInHttp10:
      return "transfer_encoding_in_http10";
    case FramingError::kRepeatedHost:
      return "repeated_host";
    case FramingError::kInvalidHost:
      return "invalid_host";
  }
  return "unknown";
}

std::optional<std::size_t> FindHeadEnd(std::string_view bytes) {
  const std::size_t at = bytes.find("\r\n\r\n");
  if (at == std::string_view::npos) return std::nullopt;
  return at + 4;
}

bool HasObsFold(std::string_view head) {
  for (std::size_t at = head.find("\r\n"); at != std::string_view::npos;
       at = head.find("\r\n", at + 2)) {
    if (at + 2 < head.size() && (head[at + 2] == ' ' || head[at + 2] == '\t')) return true;
  }
  return false;
}

FramingError CheckFraming(const bhttp::request_header<>& head) {
  const bool has_transfer_encoding = head.count(bhttp::field::transfer_encoding) > 0;
  std::size_t content_lengths = 0;
  for (auto [it, end] = head.equal_range(bhttp::field::content_length); it != end; ++it) {
    // Each list element counts: "5, 5" is two values.
    std::string_view rest = View(it->value());
    while (true) {
      const std::size_t comma = rest.find(',');
      if (!IsDigits(TrimOws(rest.substr(0, comma)))) return FramingError::kInvalidContentLength;
      ++content_lengths;
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
  }
  if (content_lengths > 0 && has_transfer_encoding) {
    return FramingError::kContentLengthWithTransferEncoding;
  }
  // RFC 9110 §8.6 lets a recipient either refuse repeated equal values or collapse them; we
  // refuse, as nginx does: no legitimate sender repeats it, and refusing leaves nothing for two
  // parsers to disagree on.
  if (content_lengths > 1) return FramingError::kRepeatedContentLength;

  if (has_transfer_encoding) {
    if (head.version() < 11) return FramingError::kTransferEncodingInHttp10;
    const std::vector<std::string> codings = TransferCodings(head);
    // RFC 9112 §6.3: a request whose final coding is not chunked has no reliable length: 400.
    if (codings.empty() || codings.back() != "chunked") return FramingError::kChunkedNotFinal;
    if (codings.size() > 1) {
      // Chunked twice (RFC 9112 §7: MUST NOT) is malformed; any other coding (gzip, ...) we
      // cannot decode: RFC 9112 §6.1 suggests 501.
      const bool chunked_twice =
          std::count(codings.begin(), codings.end(), std::string("chunked")) > 1;
      return chunked_twice ? FramingError::kChunkedNotFinal
                           : FramingError::kUnsupportedTransferCoding;
    }
  }

  // RFC 9112 §3.2: more than one Host, or an invalid Host value, MUST be answered 400.
  std::size_t hosts = 0;
  for (auto [it, end] = head.equal_range(bhttp::field::host); it != end; ++it) {
    if (++hosts > 1) return FramingError::kRepeatedHost;
    const std::string_view value = View(it->value());
    if (value.find_first_of(", \t/\\@") != std::string_view::npos) {
      return FramingError::kInvalidHost;
    }
  }
  return FramingError::kOk;
}

}  // namespace portcullis::http
