// Request framing checks the server makes beyond Beast's parser (DESIGN §10 "HTTP strictness"),
// so that no request is read one way here and another way by a proxy in front of us (request
// smuggling, RFC 9112 §11.2).
//
// What Beast 1.81's parser already refuses (error category boost::beast::http, answered 400 and
// closed by the server): a Content-Length after `Transfer-Encoding: chunked` (bad_content_length),
// a Transfer-Encoding after a Content-Length or a second chunked one (bad_transfer_encoding), and
// Content-Length values that differ, in one list or across fields (multiple_content_length);
// bare LF line ends and whitespace before a field's colon (bad_value / bad_field).
//
// What it lets through and these checks refuse: obs-fold (Beast unfolds it into one value), a
// Content-Length with a Transfer-Encoding whose final coding is not chunked (Beast then ignores
// the Transfer-Encoding), repeated identical Content-Length values, a repeated Host, and transfer
// codings other than a single `chunked`.
//
// Thread-safety: pure functions.
#pragma once

#include <boost/beast/http/message.hpp>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace portcullis::http {

// Why a request head is refused. Stable numbers (log field `framing_error`).
enum class FramingError : std::uint8_t {
  kOk = 0,
  // Header syntax
  kObsFold = 1,  // a header line starts with SP or HTAB (RFC 9112 §5.2: reject, not unfold)
  // Message length (RFC 9112 §6)
  kContentLengthWithTransferEncoding = 10,  // both present (§6.1: MUST be treated as an error)
  kRepeatedContentLength = 11,              // more than one value, even equal ones (RFC 9110 §8.6)
  kInvalidContentLength = 12,               // not 1*DIGIT
  kChunkedNotFinal = 13,                    // Transfer-Encoding whose last coding is not chunked
  kUnsupportedTransferCoding = 14,          // a coding besides chunked (answered 501)
  kTransferEncodingInHttp10 = 15,           // §6.1: an HTTP/1.0 message's framing is faulty
  // Host (RFC 9112 §3.2)
  kRepeatedHost = 20,  // more than one Host field
  kInvalidHost = 21,   // a Host value that is a list or holds whitespace, '/', '\' or '@'
};

// A short stable name, e.g. "obs_fold".
std::string_view ToString(FramingError error);

// The offset just past the CRLF CRLF that ends the first request head in `bytes` (as Beast's
// parser finds it), or nullopt when the head is not complete yet.
std::optional<std::size_t> FindHeadEnd(std::string_view bytes);

// True when `head` (a request line and header fields with CRLF line ends) holds a line that
// starts with SP or HTAB: obs-fold, or whitespace between the request line and the first field.
bool HasObsFold(std::string_view head);

// The checks on a parsed request head that Beast does not make (see the file comment); kOk when
// none fails. Does not check obs-fold: the parsed head no longer shows it (see HasObsFold).
FramingError CheckFraming(const boost::beast::http::request_header<>& head);

}  // namespace portcullis::http
