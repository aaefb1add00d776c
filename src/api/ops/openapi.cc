#include "api/ops/openapi.h"

#include <boost/json.hpp>

namespace portcullis::api {

namespace bhttp = boost::beast::http;

namespace {

std::string LowerMethod(bhttp::verb v) {
  std::string m(bhttp::to_string(v));
  for (char& c : m) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  return m;
}

boost::json::array PathParameters(const std::string& pattern) {
  boost::json::array params;
  std::size_t pos = 0;
  while ((pos = pattern.find('{', pos)) != std::string::npos) {
    std::size_t end = pattern.find('}', pos);
    if (end == std::string::npos) break;
    params.push_back(boost::json::object{{"name", pattern.substr(pos + 1, end - pos - 1)},
                                         {"in", "path"},
                                         {"required", true},
                                         {"schema", {{"type", "string"}}}});
    pos = end + 1;
  }
  return params;
}

boost::json::object Responses(const http::Route& route) {
  boost::json::object r;
  r["200"] = {{"description", "success"}};
  if (route.pattern.rfind("/oauth2/", 0) == 0) {
    r["400"] = {{"description", "RFC 6749 §5.2 error {\"error\",\"error_description\"}"}};
    r["401"] = {{"description", "invalid_client"}};
    r["503"] = {{"description", "temporarily_unavailable (hash pool full), with Retry-After"}};
  } else if (route.auth != http::AuthRequirement::kPublic) {
    r["401"] = {{"description", "missing or invalid credentials (problem+json, WWW-Authenticate)"}};
    r["403"] = {{"description", "missing permission (problem+json)"}};
  }
  return r;
}

}  // namespace

boost::json::object OpenApiDocument(const http::Router& router, std::string_view issuer) {
  boost::json::object paths;
  for (const http::Route& route : router.routes()) {
    boost::json::object op{{"operationId", route.name}, {"responses", Responses(route)}};
    boost::json::array params = PathParameters(route.pattern);
    if (!params.empty()) op["parameters"] = std::move(params);
    if (route.auth == http::AuthRequirement::kBearer) {
      op["security"] = boost::json::array{boost::json::object{{"bearer", boost::json::array{}}}};
    } else if (route.auth != http::AuthRequirement::kPublic) {
      // Alternatives: any one of them (DESIGN §4 "Credentials accepted wherever ...").
      op["security"] = boost::json::array{boost::json::object{{"bearer", boost::json::array{}}},
                                          boost::json::object{{"dpop", boost::json::array{}}},
                                          boost::json::object{{"basic", boost::json::array{}}},
                                          boost::json::object{{"apiKey", boost::json::array{}}}};
    }
    boost::json::value& path_item = paths[route.pattern];
    if (!path_item.is_object()) path_item = boost::json::object{};
    path_item.as_object()[LowerMethod(route.method)] = std::move(op);
  }
  std::string base(issuer);
  while (!base.empty() && base.back() == '/') base.pop_back();
  return boost::json::object{
      {"openapi", "3.1.0"},
      {"info", {{"title", "Portcullis"}, {"version", "0.1.0"}}},
      {"servers", boost::json::array{boost::json::object{{"url", base}}}},
      {"paths", std::move(paths)},
      {"components",
       {{"securitySchemes",
         {{"bearer", {{"type", "http"}, {"scheme", "bearer"}, {"bearerFormat", "JWT"}}},
          // RFC 9449: `Authorization: DPoP <token>` with a `DPoP` proof header (DESIGN §9).
          {"dpop", {{"type", "http"}, {"scheme", "DPoP"}, {"bearerFormat", "JWT"}}},
          {"basic", {{"type", "http"}, {"scheme", "basic"}}},
          {"apiKey", {{"type", "apiKey"}, {"in", "header"}, {"name", "X-API-Key"}}},
          {"oauth2",
           {{"type", "oauth2"},
            {"flows",
             {{"password",
               {{"tokenUrl", base + "/oauth2/token"}, {"scopes", boost::json::object{}}}}}}}}}}}},
  };
}

boost::asio::awaitable<http::Response> HandleOpenApi(ApiContext& ctx, http::Request&) {
  co_return http::JsonResponse(bhttp::status::ok,
                               OpenApiDocument(*ctx.router, ctx.config->tokens.issuer));
}

}  // namespace portcullis::api
