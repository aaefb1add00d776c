#include "authn/authorize_request.h"

#include <gtest/gtest.h>

namespace portcullis::authn {
namespace {

// A verifier and its challenge computed independently (Python: base64.urlsafe_b64encode(
// hashlib.sha256(verifier).digest()) without padding).
constexpr std::string_view kVerifier = "M25iVXpKU3puUjFaYWg3T1NDTDQtcW1ROUY5YXlwaDJ";
constexpr std::string_view kChallenge = "nmPN4Ewafjig6LvJtmY0EGUcXUK4vXUGLJexSqoL3-c";

store::Client App() {
  store::Client c;
  c.client_id = "app";
  c.grant_types = {"authorization_code", "refresh_token"};
  c.redirect_uris = {"https://app.example/cb", "http://127.0.0.1:9000/cb"};
  c.token_endpoint_auth_method = "none";
  return c;
}

AuthorizeParams Good() {
  AuthorizeParams p;
  p.response_type = "code";
  p.client_id = "app";
  p.redirect_uri = "https://app.example/cb";
  p.scope = "openid profile articles:read";
  p.state = "xyz";
  p.nonce = "n-0S6_WzA2Mj";
  p.code_challenge = std::string(kChallenge);
  p.code_challenge_method = "S256";
  return p;
}

TEST(Pkce, S256MatchesAnIndependentComputation) {
  EXPECT_TRUE(VerifyPkceS256(kVerifier, kChallenge));
  std::string wrong(kVerifier);
  wrong[0] = 'e';
  EXPECT_FALSE(VerifyPkceS256(wrong, kChallenge));
  std::string other(kChallenge);
  other[42] = other[42] == 'A' ? 'B' : 'A';
  EXPECT_FALSE(VerifyPkceS256(kVerifier, other));
}

TEST(Pkce, VerifierAndChallengeShapes) {
  EXPECT_TRUE(IsValidCodeVerifier(std::string(43, 'a')));
  EXPECT_TRUE(IsValidCodeVerifier(std::string(128, '~')));
  EXPECT_FALSE(IsValidCodeVerifier(std::string(42, 'a')));
  EXPECT_FALSE(IsValidCodeVerifier(std::string(129, 'a')));
  EXPECT_FALSE(IsValidCodeVerifier(std::string(42, 'a') + "+"));
  EXPECT_FALSE(IsValidCodeChallenge(std::string(44, 'a')));
  EXPECT_FALSE(IsValidCodeChallenge(std::string(42, 'a') + "="));
  // The challenge itself is not a valid verifier for itself.
  EXPECT_FALSE(VerifyPkceS256(kChallenge, kChallenge));
}

TEST(AuthorizeRequest, AcceptsAGoodRequest) {
  store::Client client = App();
  AuthorizeCheck c = CheckAuthorizeRequest(Good(), &client);
  ASSERT_EQ(c.outcome, AuthorizeOutcome::kOk) << c.description;
  EXPECT_EQ(c.request.redirect_uri, "https://app.example/cb");
  EXPECT_EQ(c.request.oidc_scopes, (std::vector<std::string>{"openid", "profile"}));
  EXPECT_EQ(c.request.permission_scopes, (std::vector<std::string>{"articles:read"}));
  EXPECT_TRUE(c.request.permissions_requested);
  EXPECT_EQ(c.request.state, "xyz");
  EXPECT_EQ(c.request.nonce, "n-0S6_WzA2Mj");
  EXPECT_EQ(c.request.code_challenge, kChallenge);
  EXPECT_EQ(c.request.dpop_jkt, std::nullopt);
}

TEST(AuthorizeRequest, DpopJktIsCarriedToTheCode) {  // RFC 9449 §10
  store::Client client = App();
  AuthorizeParams p = Good();
  p.dpop_jkt = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs";  // RFC 7638 §3.1's example
  AuthorizeCheck c = CheckAuthorizeRequest(p, &client);
  ASSERT_EQ(c.outcome, AuthorizeOutcome::kOk) << c.description;
  EXPECT_EQ(c.request.dpop_jkt, p.dpop_jkt);
}

TEST(AuthorizeRequest, NeverRedirectsForAnUnknownClientOrUnregisteredUri) {
  store::Client client = App();
  AuthorizeParams p = Good();
  EXPECT_EQ(CheckAuthorizeRequest(p, nullptr).outcome, AuthorizeOutcome::kErrorPage);
  p.client_id.reset();
  EXPECT_EQ(CheckAuthorizeRequest(p, &client).outcome, AuthorizeOutcome::kErrorPage);
  for (const char* uri :
       {"https://app.example/cb/", "https://APP.example/cb", "https://app.example/cb?x=1",
        "https://evil.example/cb", "https://app.example/cb#f", ""}) {
    p = Good();
    p.redirect_uri = uri;
    EXPECT_EQ(CheckAuthorizeRequest(p, &client).outcome, AuthorizeOutcome::kErrorPage) << uri;
  }
  p = Good();
  p.redirect_uri.reset();
  EXPECT_EQ(CheckAuthorizeRequest(p, &client).outcome, AuthorizeOutcome::kErrorPage);
  // Even a bad response_type is not redirected when the URI is not registered.
  p = Good();
  p.redirect_uri = "https://evil.example/cb";
  p.response_type = "token";
  EXPECT_EQ(CheckAuthorizeRequest(p, &client).outcome, AuthorizeOutcome::kErrorPage);
}

struct RedirectCase {
  const char* name;
  void (*mutate)(AuthorizeParams&);
  const char* error;
};

TEST(AuthorizeRequest, RedirectsEveryOtherErrorWithItsCode) {
  const RedirectCase cases[] = {
      {"response_type token", [](AuthorizeParams& p) { p.response_type = "token"; },
       "unsupported_response_type"},
      {"no response_type", [](AuthorizeParams& p) { p.response_type.reset(); }, "invalid_request"},
      {"no challenge", [](AuthorizeParams& p) { p.code_challenge.reset(); }, "invalid_request"},
      {"plain", [](AuthorizeParams& p) { p.code_challenge_method = "plain"; }, "invalid_request"},
      {"no method", [](AuthorizeParams& p) { p.code_challenge_method.reset(); }, "invalid_request"},
      {"short challenge", [](AuthorizeParams& p) { p.code_challenge = "abc"; }, "invalid_request"},
      {"unknown scope", [](AuthorizeParams& p) { p.scope = "openid no/such"; }, "invalid_scope"},
      {"prompt", [](AuthorizeParams& p) { p.prompt = "bogus"; }, "invalid_request"},
      {"prompt none+login", [](AuthorizeParams& p) { p.prompt = "none login"; }, "invalid_request"},
      {"max_age", [](AuthorizeParams& p) { p.max_age = "-1"; }, "invalid_request"},
      {"max_age text", [](AuthorizeParams& p) { p.max_age = "1e3"; }, "invalid_request"},
      {"request", [](AuthorizeParams& p) { p.request = "eyJ..."; }, "request_not_supported"},
      {"request_uri", [](AuthorizeParams& p) { p.request_uri = "https://x"; },
       "request_uri_not_supported"},
      {"response_mode", [](AuthorizeParams& p) { p.response_mode = "fragment"; },
       "invalid_request"},
      {"nonce", [](AuthorizeParams& p) { p.nonce = std::string(kMaxNonceBytes + 1, 'n'); },
       "invalid_request"},
      {"dpop_jkt short", [](AuthorizeParams& p) { p.dpop_jkt = std::string(42, 'A'); },
       "invalid_request"},
      {"dpop_jkt long", [](AuthorizeParams& p) { p.dpop_jkt = std::string(44, 'A'); },
       "invalid_request"},
      {"dpop_jkt padded", [](AuthorizeParams& p) { p.dpop_jkt = std::string(42, 'A') + "="; },
       "invalid_request"},
      {"dpop_jkt base64", [](AuthorizeParams& p) { p.dpop_jkt = std::string(42, 'A') + "+"; },
       "invalid_request"},
  };
  store::Client client = App();
  for (const RedirectCase& rc : cases) {
    AuthorizeParams p = Good();
    rc.mutate(p);
    AuthorizeCheck c = CheckAuthorizeRequest(p, &client);
    EXPECT_EQ(c.outcome, AuthorizeOutcome::kRedirect) << rc.name;
    EXPECT_EQ(c.error, rc.error) << rc.name;
    EXPECT_EQ(c.request.redirect_uri, "https://app.example/cb") << rc.name;
    EXPECT_EQ(c.request.state, "xyz") << rc.name;
  }
}

TEST(AuthorizeRequest, ClientWithoutTheCodeGrantIsUnauthorized) {
  store::Client client = App();
  client.grant_types = {"client_credentials"};
  AuthorizeCheck c = CheckAuthorizeRequest(Good(), &client);
  EXPECT_EQ(c.outcome, AuthorizeOutcome::kRedirect);
  EXPECT_EQ(c.error, "unauthorized_client");
}

TEST(AuthorizeRequest, PromptAndMaxAge) {
  store::Client client = App();
  AuthorizeParams p = Good();
  p.prompt = "login";
  p.max_age = "0";
  AuthorizeCheck c = CheckAuthorizeRequest(p, &client);
  ASSERT_EQ(c.outcome, AuthorizeOutcome::kOk);
  EXPECT_TRUE(c.request.prompt_login);
  EXPECT_FALSE(c.request.prompt_none);
  EXPECT_EQ(c.request.max_age, 0);
  p.prompt = "none";
  p.max_age = "3600";
  c = CheckAuthorizeRequest(p, &client);
  ASSERT_EQ(c.outcome, AuthorizeOutcome::kOk);
  EXPECT_TRUE(c.request.prompt_none);
  EXPECT_EQ(c.request.max_age, 3600);
}

TEST(AuthorizeRequest, ScopeWithoutPermissionsAndDuplicates) {
  store::Client client = App();
  AuthorizeParams p = Good();
  p.scope = "openid openid email";
  AuthorizeCheck c = CheckAuthorizeRequest(p, &client);
  ASSERT_EQ(c.outcome, AuthorizeOutcome::kOk);
  EXPECT_EQ(c.request.oidc_scopes, (std::vector<std::string>{"openid", "email"}));
  EXPECT_FALSE(c.request.permissions_requested);
}

}  // namespace
}  // namespace portcullis::authn
