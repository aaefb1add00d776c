// Fuzzes what the server does with a request head and body before routing (src/http/server/
// server.cc): Beast's request parser with the server's own limits (ServerOptions'
// max_header_bytes and max_body_bytes), fed in chunks as a socket would deliver them, then the
// server's per-request derivations and our parsers of what it carries: X-Forwarded-For resolution
// (ResolveClientIp over base/ip.cc), X-Request-Id sanitizing, target splitting, the query string,
// HTTP Basic credentials and API keys (authn), the form and JSON bodies.
//
// The framing checks of DESIGN §10 (http/server/framing.h) run as the server runs them: obs-fold
// on the raw head bytes, CheckFraming on the parsed head.
//
// Not reached: the Bearer/ApiKey scheme split of api/credentials.cc. It lives in portcullis_api,
// which needs the whole server; clang 14 cannot compile its coroutines with -fsanitize=undefined
// ("Cannot represent a difference across sections", llvm/llvm-project#49689), so this target
// links the HTTP parsing sources alone (fuzz/CMakeLists.txt).
//
// Input: byte 0 picks the chunk size (0 = everything at once), the rest is the wire bytes.
// Invariants: nothing crashes, leaks or throws; the request id is always a valid one; the client
// address is the peer or a canonical IP literal; a head with both Content-Length and
// Transfer-Encoding, or with two Host fields, never passes the framing checks.
#include <algorithm>
#include <boost/asio/buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

#include "authn/api_key.h"
#include "authn/basic_credentials.h"
#include "base/ip.h"
#include "http/parse.h"
#include "http/request.h"
#include "http/server/framing.h"
#include "http/server/request_meta.h"
#include "http/server/server.h"

namespace {

namespace bhttp = boost::beast::http;
using portcullis::http::Request;

std::string_view View(boost::beast::string_view s) { return {s.data(), s.size()}; }

// 10.0.0.0/8 and ::1 are trusted proxies, as a deployment behind a local proxy would configure.
bool IsTrustedProxy(std::string_view ip) {
  static const auto* nets = new std::vector<portcullis::Cidr>{*portcullis::ParseCidr("10.0.0.0/8"),
                                                              *portcullis::ParseCidr("::1")};
  std::optional<portcullis::IpAddress> addr = portcullis::ParseIp(ip);
  if (!addr) return false;
  return std::any_of(nets->begin(), nets->end(), [&](const auto& n) { return n.Contains(*addr); });
}

// Feeds `wire` to `parser` in chunks of `chunk` bytes (0: all at once), keeping unconsumed bytes as
// the server's flat_buffer does. True when a whole message was parsed.
bool Parse(bhttp::request_parser<bhttp::string_body>& parser, std::string_view wire,
           std::size_t chunk) {
  std::string pending;
  std::size_t offset = 0;
  parser.eager(true);
  while (!parser.is_done()) {
    const std::size_t take =
        chunk == 0 ? wire.size() - offset : std::min(chunk, wire.size() - offset);
    pending.append(wire.substr(offset, take));
    offset += take;
    boost::beast::error_code ec;
    const std::size_t used = parser.put(boost::asio::buffer(pending), ec);
    pending.erase(0, used);
    if (ec == bhttp::error::need_more) {
      if (offset == wire.size()) {
        // End of stream. Before any byte the server reads end_of_stream and never calls put_eof
        // (Beast asserts got_some()).
        if (!parser.got_some()) return false;
        parser.put_eof(ec);
        return !ec && parser.is_done();
      }
      continue;
    }
    if (ec) return false;
    if (used == 0 && take == 0 && !parser.is_done()) return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::size_t chunk = data[0];
  const std::string_view wire(reinterpret_cast<const char*>(data) + 1, size - 1);

  const portcullis::http::ServerOptions defaults;
  bhttp::request_parser<bhttp::string_body> parser;
  parser.header_limit(
      static_cast<std::uint32_t>(std::min<std::size_t>(defaults.max_header_bytes, UINT32_MAX)));
  parser.body_limit(defaults.max_body_bytes);
  if (std::optional<std::size_t> end = portcullis::http::FindHeadEnd(wire)) {
    (void)portcullis::http::HasObsFold(wire.substr(0, *end));
  }
  if (!Parse(parser, wire, chunk)) return 0;
  {
    const auto& head = parser.get().base();
    const portcullis::http::FramingError framing = portcullis::http::CheckFraming(head);
    (void)portcullis::http::ToString(framing);
    const bool ambiguous = (head.count(bhttp::field::content_length) != 0 &&
                            head.count(bhttp::field::transfer_encoding) != 0) ||
                           head.count(bhttp::field::host) > 1;
    if (ambiguous && framing == portcullis::http::FramingError::kOk) std::abort();
  }

  Request req;
  req.message = parser.release();
  req.peer_ip = (chunk & 1) != 0 ? "10.1.2.3" : "203.0.113.9";
  std::string forwarded_for;
  for (auto [it, end] = req.message.equal_range("X-Forwarded-For"); it != end; ++it) {
    if (!forwarded_for.empty()) forwarded_for += ',';
    forwarded_for += View(it->value());
  }
  req.client_ip = portcullis::http::ResolveClientIp(req.peer_ip, forwarded_for, IsTrustedProxy);
  if (req.client_ip != req.peer_ip) {
    std::optional<std::string> canonical = portcullis::http::CanonicalIp(req.client_ip);
    if (!canonical || *canonical != req.client_ip) std::abort();
  }
  req.request_id = portcullis::http::RequestIdFor(req.Header("X-Request-Id"));
  if (!portcullis::http::IsValidRequestId(req.request_id)) std::abort();
  portcullis::http::SplitTarget(View(req.message.target()), req.path, req.query);
  (void)portcullis::http::ParseQuery(req.query);

  const std::string_view authorization = req.Header("Authorization");
  (void)portcullis::authn::ParseApiKey(req.Header("X-API-Key"));
  (void)portcullis::authn::ParseBasicCredentials(authorization, /*form_urlencoded=*/false);
  (void)portcullis::http::ParseForm(req);
  (void)portcullis::http::ParseJsonBody(req);
  return 0;
}
