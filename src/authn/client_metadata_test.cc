#include "authn/client_metadata.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace portcullis::authn {
namespace {

TEST(CheckRedirectUriTest, HttpsAnywhereAndHttpOnLoopbackAreAccepted) {
  for (const char* uri : {
           "https://app.example/cb",
           "https://app.example:8443/cb?x=1&y=%2F",
           "HTTPS://APP.EXAMPLE/CB",
           "https://app.example",
           "https://203.0.113.7/cb",
           "https://[2001:db8::1]/cb",
           "http://localhost/cb",
           "http://LocalHost:3000/cb",
           "http://127.0.0.1:8080/cb",
           "http://127.1.2.3/cb",
           "http://[::1]:9000/cb",
       }) {
    EXPECT_EQ(CheckRedirectUri(uri), RedirectUriError::kOk) << uri;
  }
}

TEST(CheckRedirectUriTest, EveryRejectionHasItsReason) {
  const struct {
    std::string uri;
    RedirectUriError want;
  } cases[] = {
      {"", RedirectUriError::kEmpty},
      {"https://app.example/" + std::string(kMaxRedirectUriBytes, 'a'), RedirectUriError::kTooLong},
      {"/cb", RedirectUriError::kNotAbsoluteUri},
      {"app.example/cb", RedirectUriError::kNotAbsoluteUri},
      {"//app.example/cb", RedirectUriError::kNotAbsoluteUri},
      {"https://app.example/c b", RedirectUriError::kNotAbsoluteUri},
      {"https://app.example/cb\n", RedirectUriError::kNotAbsoluteUri},
      {"https://app.example/\xc3\xa9", RedirectUriError::kNotAbsoluteUri},
      {"https://app.example/%zz", RedirectUriError::kNotAbsoluteUri},
      {"ftp://app.example/cb", RedirectUriError::kSchemeNotAllowed},
      {"javascript:alert(1)", RedirectUriError::kSchemeNotAllowed},
      {"com.example.app:/cb", RedirectUriError::kSchemeNotAllowed},
      {"data:text/html,hi", RedirectUriError::kSchemeNotAllowed},
      {"http://app.example/cb", RedirectUriError::kHttpNotLoopback},
      {"http://10.0.0.1/cb", RedirectUriError::kHttpNotLoopback},
      {"http://128.0.0.1/cb", RedirectUriError::kHttpNotLoopback},
      {"http://[::2]/cb", RedirectUriError::kHttpNotLoopback},
      {"http://localhost.evil.example/cb", RedirectUriError::kHttpNotLoopback},
      {"http://localhost./cb", RedirectUriError::kHttpNotLoopback},
      {"http://local%68ost/cb", RedirectUriError::kHttpNotLoopback},
      {"http://0x7f.1/cb", RedirectUriError::kHttpNotLoopback},
      {"https://app.example/cb#frag", RedirectUriError::kFragment},
      {"https://app.example/cb#", RedirectUriError::kFragment},
      {"https://user@app.example/cb", RedirectUriError::kUserinfo},
      {"https://user:pw@app.example/cb", RedirectUriError::kUserinfo},
      {"https://@app.example/cb", RedirectUriError::kUserinfo},
      {"http://user@localhost/cb", RedirectUriError::kUserinfo},
      {"https:/cb", RedirectUriError::kNoHost},
      {"https:cb", RedirectUriError::kNoHost},
      {"https:///cb", RedirectUriError::kNoHost},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(CheckRedirectUri(c.uri), c.want) << c.uri;
  }
}

TEST(CheckRedirectUriTest, LengthLimitIsInclusive) {
  std::string uri = "https://app.example/";
  uri.append(kMaxRedirectUriBytes - uri.size(), 'a');
  EXPECT_EQ(CheckRedirectUri(uri), RedirectUriError::kOk);
  uri.push_back('a');
  EXPECT_EQ(CheckRedirectUri(uri), RedirectUriError::kTooLong);
}

ClientMetadata Confidential() { return ClientMetadata{.grant_types = {"client_credentials"}}; }

ClientMetadata Public() {
  return ClientMetadata{.grant_types = {"authorization_code", "refresh_token"},
                        .redirect_uris = {"https://app.example/cb", "http://127.0.0.1:8080/cb"},
                        .token_endpoint_auth_method = "none",
                        .post_logout_redirect_uris = {"https://app.example/bye"},
                        .id_token_signed_response_alg = "EdDSA"};
}

ClientMetadataError ErrorOf(const ClientMetadata& m) { return ValidateClientMetadata(m).error; }

TEST(ValidateClientMetadataTest, DefaultsAndTheHappyPathsAreAccepted) {
  EXPECT_EQ(ErrorOf(Confidential()), ClientMetadataError::kOk);
  EXPECT_EQ(ErrorOf(Public()), ClientMetadataError::kOk);
  ClientMetadata web{.grant_types = {"authorization_code", "refresh_token", "client_credentials"},
                     .redirect_uris = {"https://web.example/callback"},
                     .token_endpoint_auth_method = "client_secret_post",
                     .id_token_signed_response_alg = "ES256"};
  EXPECT_EQ(ErrorOf(web), ClientMetadataError::kOk);
  ClientMetadata legacy{.grant_types = {"password", "refresh_token"}};
  EXPECT_EQ(ErrorOf(legacy), ClientMetadataError::kOk);
  EXPECT_TRUE(ValidateClientMetadata(Public()).detail.empty());
}

TEST(ValidateClientMetadataTest, UnknownAuthMethodAndAlgorithmAreRejected) {
  for (const char* method : {"", "private_key_jwt", "client_secret_jwt", "NONE", "basic"}) {
    ClientMetadata m = Confidential();
    m.token_endpoint_auth_method = method;
    EXPECT_EQ(ErrorOf(m), ClientMetadataError::kUnknownAuthMethod) << method;
  }
  for (const char* alg : {"", "none", "HS256", "rs256", "RS384", "PS256", "ES384", "Ed25519"}) {
    ClientMetadata m = Confidential();
    m.id_token_signed_response_alg = alg;
    EXPECT_EQ(ErrorOf(m), ClientMetadataError::kUnknownIdTokenAlg) << alg;
  }
}

TEST(ValidateClientMetadataTest, GrantTypesMustBeKnownAndPresent) {
  ClientMetadata none = Confidential();
  none.grant_types.clear();
  EXPECT_EQ(ErrorOf(none), ClientMetadataError::kNoGrantTypes);
  for (const char* g :
       {"implicit", "AUTHORIZATION_CODE", "urn:ietf:params:oauth:grant-type:jwt", ""}) {
    ClientMetadata m = Confidential();
    m.grant_types.push_back(g);
    ClientMetadataCheck check = ValidateClientMetadata(m);
    EXPECT_EQ(check.error, ClientMetadataError::kUnknownGrantType) << g;
    EXPECT_NE(check.detail.find("unsupported grant type"), std::string::npos);
  }
}

TEST(ValidateClientMetadataTest, AuthorizationCodeNeedsARedirectUri) {
  ClientMetadata m{.grant_types = {"authorization_code"}};
  EXPECT_EQ(ErrorOf(m), ClientMetadataError::kAuthorizationCodeNeedsRedirectUri);
  m.post_logout_redirect_uris = {"https://app.example/bye"};  // not a redirect URI
  EXPECT_EQ(ErrorOf(m), ClientMetadataError::kAuthorizationCodeNeedsRedirectUri);
  ClientMetadata pub = Public();
  pub.redirect_uris.clear();
  EXPECT_EQ(ErrorOf(pub), ClientMetadataError::kAuthorizationCodeNeedsRedirectUri);
}

TEST(ValidateClientMetadataTest, PublicClientMayOnlyUseCodeAndRefresh) {
  for (const char* g : {"client_credentials", "password"}) {
    ClientMetadata m = Public();
    m.grant_types.push_back(g);
    EXPECT_EQ(ErrorOf(m), ClientMetadataError::kPublicClientGrantNotAllowed) << g;
  }
  ClientMetadata refresh_only = Public();
  refresh_only.grant_types = {"refresh_token"};
  EXPECT_EQ(ErrorOf(refresh_only), ClientMetadataError::kPublicClientNeedsAuthorizationCode);
}

TEST(ValidateClientMetadataTest, BadOrDuplicateOrTooManyUrisAreRejectedNamingTheList) {
  ClientMetadata bad = Public();
  bad.redirect_uris.push_back("http://app.example/cb");
  ClientMetadataCheck check = ValidateClientMetadata(bad);
  EXPECT_EQ(check.error, ClientMetadataError::kBadRedirectUri);
  EXPECT_EQ(check.detail,
            "redirect_uris[2] is not allowed: http is allowed only for localhost, 127.0.0.0/8 "
            "and [::1]");

  ClientMetadata bad_logout = Public();
  bad_logout.post_logout_redirect_uris = {"https://app.example/bye#x"};
  check = ValidateClientMetadata(bad_logout);
  EXPECT_EQ(check.error, ClientMetadataError::kBadPostLogoutRedirectUri);
  EXPECT_EQ(check.detail, "post_logout_redirect_uris[0] is not allowed: must not have a fragment");

  ClientMetadata dup = Public();
  dup.redirect_uris.push_back(dup.redirect_uris[0]);
  EXPECT_EQ(ErrorOf(dup), ClientMetadataError::kDuplicateUri);
  ClientMetadata dup_logout = Public();
  dup_logout.post_logout_redirect_uris.push_back(dup_logout.post_logout_redirect_uris[0]);
  EXPECT_EQ(ErrorOf(dup_logout), ClientMetadataError::kDuplicateUri);

  // Different strings for the same resource are different URIs (exact match later).
  ClientMetadata near = Public();
  near.redirect_uris = {"https://app.example/cb", "https://app.example/cb/",
                        "https://APP.example/cb", "https://app.example:443/cb"};
  EXPECT_EQ(ErrorOf(near), ClientMetadataError::kOk);

  ClientMetadata many = Public();
  many.redirect_uris.clear();
  for (std::size_t i = 0; i <= kMaxRedirectUris; ++i) {
    many.redirect_uris.push_back("https://app.example/cb" + std::to_string(i));
  }
  EXPECT_EQ(ErrorOf(many), ClientMetadataError::kTooManyUris);
  many.redirect_uris.pop_back();
  EXPECT_EQ(ErrorOf(many), ClientMetadataError::kOk);
  ClientMetadata many_logout = Public();
  many_logout.post_logout_redirect_uris = many.redirect_uris;
  many_logout.post_logout_redirect_uris.push_back("https://app.example/one-too-many");
  EXPECT_EQ(ErrorOf(many_logout), ClientMetadataError::kTooManyUris);
}

TEST(ValidateClientMetadataTest, RedirectUrisWithoutTheCodeGrantAreStillChecked) {
  ClientMetadata m = Confidential();
  m.redirect_uris = {"ftp://app.example/cb"};
  EXPECT_EQ(ErrorOf(m), ClientMetadataError::kBadRedirectUri);
}

TEST(DefaultGrantTypesTest, PublicClientsGetTheCodeGrantOthersClientCredentials) {
  EXPECT_EQ(DefaultGrantTypes("none"), std::vector<std::string>{"authorization_code"});
  EXPECT_EQ(DefaultGrantTypes("client_secret_basic"),
            std::vector<std::string>{"client_credentials"});
  EXPECT_EQ(DefaultGrantTypes("client_secret_post"),
            std::vector<std::string>{"client_credentials"});
}

TEST(ClientMetadataErrorTest, EveryReasonHasAName) {
  for (int i = 0; i <= 11; ++i) {
    EXPECT_NE(ToString(static_cast<ClientMetadataError>(i)), "unknown") << i;
  }
  for (int i = 0; i <= 8; ++i) {
    EXPECT_NE(ToString(static_cast<RedirectUriError>(i)), "unknown") << i;
  }
}

}  // namespace
}  // namespace portcullis::authn
