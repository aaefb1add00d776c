#include "http/response.h"

#include <boost/beast/http/field.hpp>
#include <boost/json/serialize.hpp>
#include <string>

namespace portcullis::http {
namespace beast_http = boost::beast::http;

namespace {

constexpr std::string_view kOAuthPathPrefix = "/oauth2/";

Response MakeResponse(beast_http::status status, std::string_view content_type, std::string body) {
  Response res{status, 11};
  res.set(beast_http::field::content_type,
          boost::beast::string_view(content_type.data(), content_type.size()));
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

}  // namespace

Response JsonResponse(beast_http::status status, const boost::json::value& body) {
  return MakeResponse(status, "application/json", boost::json::serialize(body));
}

Response ProblemResponse(beast_http::status status, std::string_view title,
                         std::string_view detail) {
  boost::json::object body;
  body["type"] = "about:blank";
  body["title"] = title;
  body["status"] = static_cast<unsigned>(status);
  body["detail"] = detail;
  return MakeResponse(status, "application/problem+json", boost::json::serialize(body));
}

Response OAuthErrorResponse(beast_http::status status, std::string_view error,
                            std::string_view description) {
  boost::json::object body;
  body["error"] = error;
  if (!description.empty()) body["error_description"] = description;
  Response res = MakeResponse(status, "application/json", boost::json::serialize(body));
  // RFC 6749 §5.1/§5.2: token endpoint responses must not be cached.
  res.set(beast_http::field::cache_control, "no-store");
  res.set(beast_http::field::pragma, "no-cache");
  return res;
}

Response ErrorResponse(const Request& req, beast_http::status status, std::string_view oauth_error,
                       std::string_view detail) {
  if (req.path.starts_with(kOAuthPathPrefix)) {
    return OAuthErrorResponse(status, oauth_error, detail);
  }
  auto reason = beast_http::obsolete_reason(status);
  return ProblemResponse(status, std::string_view(reason.data(), reason.size()), detail);
}

void AppendWireResponse(const Response& res, std::string& out) {
  const unsigned version = res.version();
  const unsigned code = res.result_int();
  const std::string_view reason = res.reason();
  out.append("HTTP/");
  out.push_back(static_cast<char>('0' + version / 10 % 10));
  out.push_back('.');
  out.push_back(static_cast<char>('0' + version % 10));
  out.push_back(' ');
  out.push_back(static_cast<char>('0' + code / 100 % 10));
  out.push_back(static_cast<char>('0' + code / 10 % 10));
  out.push_back(static_cast<char>('0' + code % 10));
  out.push_back(' ');
  out.append(reason.data(), reason.size());
  out.append("\r\n");
  for (const auto& field : res) {
    const auto name = field.name_string();
    const auto value = field.value();
    out.append(name.data(), name.size());
    out.append(": ");
    out.append(value.data(), value.size());
    out.append("\r\n");
  }
  out.append("\r\n");
  out.append(res.body());
}

}  // namespace portcullis::http
