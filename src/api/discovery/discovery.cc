#include "api/discovery/discovery.h"

#include <boost/json.hpp>

#include "jose/algorithm.h"

namespace portcullis::api {

namespace bhttp = boost::beast::http;

boost::json::object AuthorizationServerMetadata(const config::Config& config) {
  std::string issuer = config.tokens.issuer;
  while (!issuer.empty() && issuer.back() == '/') issuer.pop_back();
  boost::json::array grants{"authorization_code"};
  if (config.oauth2.password_grant) grants.emplace_back("password");
  grants.emplace_back("refresh_token");
  grants.emplace_back("client_credentials");
  boost::json::array auth_methods{"client_secret_basic", "client_secret_post", "none"};
  return boost::json::object{
      {"issuer", config.tokens.issuer},
      {"authorization_endpoint", issuer + "/oauth2/authorize"},
      {"token_endpoint", issuer + "/oauth2/token"},
      {"userinfo_endpoint", issuer + "/oauth2/userinfo"},
      {"end_session_endpoint", issuer + "/oauth2/logout"},
      {"jwks_uri", issuer + "/.well-known/jwks.json"},
      {"introspection_endpoint", issuer + "/oauth2/introspect"},
      {"revocation_endpoint", issuer + "/oauth2/revoke"},
      {"grant_types_supported", grants},
      {"response_types_supported", boost::json::array{"code"}},
      {"response_modes_supported", boost::json::array{"query"}},
      {"code_challenge_methods_supported", boost::json::array{"S256"}},
      {"subject_types_supported", boost::json::array{"public"}},
      {"id_token_signing_alg_values_supported", boost::json::array{"RS256", "EdDSA", "ES256"}},
      {"claims_supported",
       boost::json::array{"iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "azp", "amr",
                          "sid", "preferred_username", "email"}},
      {"prompt_values_supported", boost::json::array{"none", "login"}},
      {"authorization_response_iss_parameter_supported", true},
      {"request_parameter_supported", false},
      {"request_uri_parameter_supported", false},
      {"token_endpoint_auth_methods_supported", auth_methods},
      {"introspection_endpoint_auth_methods_supported",
       boost::json::array{"client_secret_basic", "client_secret_post"}},
      {"revocation_endpoint_auth_methods_supported", auth_methods},
      {"access_token_signing_alg_values_supported",
       boost::json::array{boost::json::string(config.tokens.signing_alg)}},
      {"scopes_supported", boost::json::array{"openid", "profile", "email", "offline_access"}},
      // RFC 9449 §5.1.
      {"dpop_signing_alg_values_supported", boost::json::array{"ES256", "EdDSA"}},
  };
}

boost::asio::awaitable<http::Response> HandleMetadata(ApiContext& ctx, http::Request&) {
  http::Response res =
      http::JsonResponse(bhttp::status::ok, AuthorizationServerMetadata(*ctx.config));
  res.set(bhttp::field::cache_control, "public, max-age=300");
  co_return res;
}

boost::asio::awaitable<http::Response> HandleJwks(ApiContext& ctx, http::Request&) {
  http::Response res = http::JsonResponse(bhttp::status::ok, ctx.keys->key_ring()->ToJwks());
  // Short cache: verifiers refetch soon enough to see a rotated key before it signs.
  res.set(bhttp::field::cache_control, "public, max-age=300");
  co_return res;
}

}  // namespace portcullis::api
