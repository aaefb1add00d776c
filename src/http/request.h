// The request and response types every HTTP layer shares.
//
// http/server/ reads bytes into a Request (Beast message plus what the server learned about the
// connection: peer and client address, TLS, request id); the Router fills in the matched route and
// path parameters; handlers read it and return a Response. Handlers never see sockets.
//
// Thread-safety: plain values; a Request belongs to one connection's coroutine.
//
//   boost::asio::awaitable<Response> GetUser(Request& req) {
//     const std::string& id = req.path_params.at("id");
//     ...
//   }
#pragma once

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <functional>
#include <map>
#include <string>
#include <string_view>

namespace portcullis::http {

using HttpRequest = boost::beast::http::request<boost::beast::http::string_body>;
using Response = boost::beast::http::response<boost::beast::http::string_body>;

struct Request {
  HttpRequest message;
  // The raw path as sent (no percent-decoding), without the query string.
  std::string path;
  // The raw query string without the leading '?'; empty when absent.
  std::string query;
  // Filled by the Router: parameter name -> percent-decoded segment value.
  std::map<std::string, std::string, std::less<>> path_params;
  // The client's address: peer_ip, or the X-Forwarded-For address when the peer is a trusted
  // proxy (see ResolveClientIp in http/server/request_meta.h).
  std::string client_ip;
  // The socket peer's address.
  std::string peer_ip;
  // The X-Request-Id echoed on the response (the client's when sane, else generated).
  std::string request_id;
  // True when the request arrived over TLS.
  bool tls = false;
  // True when the socket peer is one of server.trusted_proxies: only then are X-Forwarded-Proto
  // and X-Forwarded-Host believed (e.g. for the URL a DPoP proof must name).
  bool from_trusted_proxy = false;
  // The matched route pattern, e.g. "/v1/users/{id}", or "unmatched". Safe as a metric label.
  std::string route;

  // The value of header `name` (case-insensitive), or "" if absent. For a repeated header, the
  // first occurrence.
  std::string_view Header(std::string_view name) const;
};

// Splits an origin-form request target "/a/b?x=1" into path "/a/b" and query "x=1". The query is
// everything after the first '?'; a fragment is not expected from clients and is kept as is.
void SplitTarget(std::string_view target, std::string& path, std::string& query);

}  // namespace portcullis::http
