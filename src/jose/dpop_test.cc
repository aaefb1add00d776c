#include "jose/dpop.h"

#include <gtest/gtest.h>

#include <boost/json/serialize.hpp>
#include <string>

#include "crypto/base64.h"
#include "jose/key.h"

namespace portcullis::jose {
namespace {

using crypto::Base64UrlEncode;

constexpr UnixSeconds kNow = 1'700'000'000;
constexpr char kUrl[] = "https://auth.example/v1/me";
constexpr char kToken[] = "eyJhbGciOiJFZERTQSJ9.e30.c2ln";

// The public JWK a client puts in its proof: no kid, alg or use.
boost::json::object ProofJwk(const PrivateKey& key) {
  boost::json::object jwk = key.public_key().ToJwk();
  jwk.erase("kid");
  jwk.erase("alg");
  jwk.erase("use");
  return jwk;
}

boost::json::object Header(const PrivateKey& key) {
  return {{"typ", "dpop+jwt"}, {"alg", std::string(ToString(key.alg()))}, {"jwk", ProofJwk(key)}};
}

boost::json::object Claims() {
  return {{"jti", "proof-1"},
          {"htm", "GET"},
          {"htu", kUrl},
          {"iat", kNow},
          {"ath", AccessTokenHash(kToken)}};
}

std::string Sign(const PrivateKey& key, const boost::json::object& header,
                 const boost::json::object& claims) {
  std::string input = Base64UrlEncode(boost::json::serialize(header)) + "." +
                      Base64UrlEncode(boost::json::serialize(claims));
  Result<std::string> signature = key.Sign(input);
  return input + "." + Base64UrlEncode(*signature);
}

DpopRequest Resource() { return {.method = "GET", .url = kUrl, .access_token = kToken}; }

DpopResult Check(std::string_view proof, DpopRequest request = Resource(), UnixSeconds now = kNow) {
  return VerifyDpopProof(proof, request, DpopPolicy{}, now);
}

class DpopTest : public ::testing::Test {
 protected:
  PrivateKey es = *PrivateKey::Generate(Algorithm::kEs256, "es");
  PrivateKey ed = *PrivateKey::Generate(Algorithm::kEdDsa, "ed");
  PrivateKey rs = *PrivateKey::Generate(Algorithm::kRs256, "rs");
};

TEST_F(DpopTest, AcceptsValidEs256AndEdDsaProofsAndReportsTheThumbprint) {
  for (const PrivateKey* key : {&es, &ed}) {
    DpopResult r = Check(Sign(*key, Header(*key), Claims()));
    ASSERT_TRUE(r.ok()) << ToString(r.error);
    EXPECT_EQ(r.proof.jkt, key->public_key().Thumbprint());
    EXPECT_EQ(r.proof.jti, "proof-1");
    EXPECT_EQ(r.proof.iat, kNow);
    EXPECT_FALSE(r.proof.nonce.has_value());
  }
}

TEST_F(DpopTest, TokenEndpointProofNeedsNoAth) {
  boost::json::object claims = Claims();
  claims.erase("ath");
  claims["htm"] = "POST";
  claims["htu"] = "https://auth.example/oauth2/token";
  DpopResult r =
      Check(Sign(es, Header(es), claims),
            {.method = "POST", .url = "https://auth.example/oauth2/token", .access_token = {}});
  EXPECT_TRUE(r.ok()) << ToString(r.error);
}

TEST_F(DpopTest, ReportsTheNonce) {
  boost::json::object claims = Claims();
  claims["nonce"] = "n-1";
  DpopResult r = Check(Sign(es, Header(es), claims));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.proof.nonce, "n-1");
}

TEST_F(DpopTest, ThumbprintMatchesRfc7638Example) {
  // RFC 7638 §3.1.
  boost::json::object jwk{
      {"kty", "RSA"},
      {"n",
       "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_"
       "BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_"
       "FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-"
       "bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"},
      {"e", "AQAB"},
      {"alg", "RS256"},
      {"kid", "2011-04-29"}};
  Result<PublicKey> key = PublicKey::FromJwk(jwk);
  ASSERT_TRUE(key.ok()) << key.status().ToString();
  EXPECT_EQ(key->Thumbprint(), "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
}

TEST_F(DpopTest, RefusesMalformedProofs) {
  EXPECT_EQ(Check(std::string(5000, 'a')).error, DpopError::kTooLarge);
  EXPECT_EQ(Check("a.b").error, DpopError::kMalformed);
  EXPECT_EQ(Check("a..c").error, DpopError::kMalformed);
  EXPECT_EQ(Check("a.b.c.d").error, DpopError::kMalformed);
  EXPECT_EQ(Check("a=.b.c").error, DpopError::kNonCanonicalBase64);
  EXPECT_EQ(Check(Base64UrlEncode("[1]") + ".e30.c2ln").error, DpopError::kMalformedJson);
  EXPECT_EQ(Check(Base64UrlEncode("{\"a\":1,\"a\":2}") + ".e30.c2ln").error,
            DpopError::kMalformedJson);
}

TEST_F(DpopTest, RefusesBadHeaders) {
  auto with = [&](std::string_view member, boost::json::value value) {
    boost::json::object h = Header(es);
    h[member] = std::move(value);
    return Check(Sign(es, h, Claims())).error;
  };
  auto without = [&](std::string_view member) {
    boost::json::object h = Header(es);
    h.erase(member);
    return Check(Sign(es, h, Claims())).error;
  };
  EXPECT_EQ(without("typ"), DpopError::kTypInvalid);
  EXPECT_EQ(with("typ", "at+jwt"), DpopError::kTypInvalid);
  EXPECT_EQ(with("typ", "JWT"), DpopError::kTypInvalid);
  EXPECT_EQ(without("alg"), DpopError::kAlgNotAllowed);
  EXPECT_EQ(with("alg", "none"), DpopError::kAlgNone);
  EXPECT_EQ(with("alg", "NONE"), DpopError::kAlgNone);
  EXPECT_EQ(with("alg", "HS256"), DpopError::kAlgNotAllowed);
  EXPECT_EQ(with("alg", "RS256"), DpopError::kAlgNotAllowed);
  EXPECT_EQ(with("alg", 7), DpopError::kAlgNotAllowed);
  EXPECT_EQ(with("crit", boost::json::array{"exp"}), DpopError::kCritPresent);
  EXPECT_EQ(with("kid", "k1"), DpopError::kKeyReference);
  EXPECT_EQ(with("x5c", boost::json::array{"MIIB"}), DpopError::kKeyReference);
  EXPECT_EQ(with("jku", "https://evil.example/jwks"), DpopError::kKeyReference);
  EXPECT_EQ(without("jwk"), DpopError::kJwkMissing);
  EXPECT_EQ(with("jwk", "not-an-object"), DpopError::kJwkMissing);
  // A key of another algorithm than "alg" says, or a private key, or another alg member.
  EXPECT_EQ(with("jwk", ProofJwk(ed)), DpopError::kJwkInvalid);
  boost::json::object private_jwk = ProofJwk(es);
  private_jwk["d"] = "AAAA";
  EXPECT_EQ(with("jwk", private_jwk), DpopError::kJwkInvalid);
  boost::json::object alg_jwk = ProofJwk(es);
  alg_jwk["alg"] = "EdDSA";
  EXPECT_EQ(with("jwk", alg_jwk), DpopError::kJwkInvalid);
  // RS256 proofs are refused even when signed correctly.
  EXPECT_EQ(Check(Sign(rs, Header(rs), Claims())).error, DpopError::kAlgNotAllowed);
}

TEST_F(DpopTest, RefusesABadSignatureOrAKeyThatDidNotSign) {
  std::string proof = Sign(es, Header(es), Claims());
  proof[proof.size() - 5] = proof[proof.size() - 5] == 'A' ? 'B' : 'A';
  EXPECT_EQ(Check(proof).error, DpopError::kSignatureInvalid);
  // Signed by ed, but claiming es's key.
  boost::json::object h = Header(es);
  PrivateKey other = *PrivateKey::Generate(Algorithm::kEs256, "o");
  EXPECT_EQ(Check(Sign(other, h, Claims())).error, DpopError::kSignatureInvalid);
}

TEST_F(DpopTest, RefusesMissingOrInvalidClaims) {
  for (std::string_view claim : {"jti", "htm", "htu", "iat"}) {
    boost::json::object c = Claims();
    c.erase(claim);
    EXPECT_EQ(Check(Sign(es, Header(es), c)).error, DpopError::kClaimMissing) << claim;
  }
  auto with = [&](std::string_view member, boost::json::value value) {
    boost::json::object c = Claims();
    c[member] = std::move(value);
    return Check(Sign(es, Header(es), c)).error;
  };
  EXPECT_EQ(with("jti", ""), DpopError::kClaimInvalid);
  EXPECT_EQ(with("jti", 5), DpopError::kClaimInvalid);
  EXPECT_EQ(with("jti", boost::json::string(std::string(300, 'j'))), DpopError::kClaimInvalid);
  EXPECT_EQ(with("htm", boost::json::array{"GET"}), DpopError::kClaimInvalid);
  EXPECT_EQ(with("iat", "1700000000"), DpopError::kClaimInvalid);
  EXPECT_EQ(with("nonce", ""), DpopError::kClaimInvalid);
  EXPECT_EQ(with("htu", "ftp://auth.example/v1/me"), DpopError::kClaimInvalid);
  EXPECT_EQ(with("ath", 1), DpopError::kClaimInvalid);
  // A fractional iat is a NumericDate too (RFC 7519 §2).
  EXPECT_EQ(with("iat", 1700000000.5), DpopError::kOk);
}

TEST_F(DpopTest, BindsTheProofToTheRequest) {
  auto with = [&](std::string_view member, boost::json::value value) {
    boost::json::object c = Claims();
    c[member] = std::move(value);
    return Check(Sign(es, Header(es), c)).error;
  };
  EXPECT_EQ(with("htm", "POST"), DpopError::kHtmMismatch);
  EXPECT_EQ(with("htm", "get"), DpopError::kHtmMismatch);
  EXPECT_EQ(with("htu", "https://auth.example/v1/users"), DpopError::kHtuMismatch);
  EXPECT_EQ(with("htu", "http://auth.example/v1/me"), DpopError::kHtuMismatch);
  EXPECT_EQ(with("htu", "https://other.example/v1/me"), DpopError::kHtuMismatch);
  // Normalized per RFC 9449 §4.3: case of scheme and host, default port, query and fragment.
  EXPECT_EQ(with("htu", "HTTPS://Auth.Example:443/v1/me?x=1#f"), DpopError::kOk);
  EXPECT_EQ(with("htu", "https://auth.example/v1/%6De"), DpopError::kOk);
  EXPECT_EQ(with("iat", kNow - 61), DpopError::kIatTooOld);
  EXPECT_EQ(with("iat", kNow - 60), DpopError::kOk);
  EXPECT_EQ(with("iat", kNow + 6), DpopError::kIatInFuture);
  EXPECT_EQ(with("iat", kNow + 5), DpopError::kOk);
  EXPECT_EQ(with("ath", boost::json::string(AccessTokenHash("another token"))),
            DpopError::kAthMismatch);
  boost::json::object c = Claims();
  c.erase("ath");
  EXPECT_EQ(Check(Sign(es, Header(es), c)).error, DpopError::kAthMissing);
}

TEST(NormalizeHtuTest, NormalizesPerRfc3986) {
  EXPECT_EQ(NormalizeHtu("https://a.example"), "https://a.example/");
  EXPECT_EQ(NormalizeHtu("HTTP://A.Example:80/x"), "http://a.example/x");
  EXPECT_EQ(NormalizeHtu("https://a.example:8443/x?y#z"), "https://a.example:8443/x");
  EXPECT_EQ(NormalizeHtu("https://a.example:08443/x"), "https://a.example:8443/x");
  EXPECT_EQ(NormalizeHtu("http://a.example:443/x"), "http://a.example:443/x");
  EXPECT_EQ(NormalizeHtu("https://[::1]:8443/x"), "https://[::1]:8443/x");
  EXPECT_EQ(NormalizeHtu("https://a.example/%7euser/%2f"), "https://a.example/~user/%2F");
  EXPECT_EQ(NormalizeHtu("https://a.example/P%41th"), "https://a.example/PAth");
  for (std::string_view bad :
       {"", "a.example/x", "ftp://a.example/", "https://", "https:///x", "https://u@a.example/",
        "https://a.example:99999/", "https://a.example:x/", "https://a.example/%zz",
        "https://a.example/%4", "https://a.example/a b", "https://a.example:/"}) {
    EXPECT_FALSE(NormalizeHtu(bad).has_value()) << bad;
  }
}

// Found by fuzz/dpop_fuzz.cc: a host holding ':' outside brackets ("a:1" before a default port)
// normalized to a URL that names another port, or to one that no longer normalizes. A
// normalized URL is now always a fixed point.
TEST(NormalizeHtuTest, RejectsHostsThatAreNotRfc3986Hosts) {
  for (std::string_view bad :
       {"https://a.example:8443:443/", "https://]x:fQ.y:443", "https://a]b/", "https://[::1/",
        "https://[]/", "https://[::1]x/", "https://[g::1]/", "https://a%zz.example/",
        "https://a%4/", "https://a\\b/", "https://a\"b/", "https://a<b/", "https://a^b/"}) {
    EXPECT_FALSE(NormalizeHtu(bad).has_value()) << bad;
  }
  EXPECT_EQ(NormalizeHtu("https://A%2Db.example:443"), "https://a%2db.example/");
  EXPECT_EQ(NormalizeHtu("http://a!$&'()*+,;=b:8080"), "http://a!$&'()*+,;=b:8080/");
  EXPECT_EQ(NormalizeHtu("http://[::FFFF:1.2.3.4]:80/"), "http://[::ffff:1.2.3.4]/");
}

TEST(NormalizeHtuTest, IsAFixedPoint) {
  for (std::string_view url :
       {"https://a.example", "HTTP://A.Example:80/x", "https://a.example:08443/x?y#z",
        "https://[::1]:8443/x", "https://a.example/%7euser/%2f", "https://a%41.example/P%41th"}) {
    std::optional<std::string> once = NormalizeHtu(url);
    ASSERT_TRUE(once.has_value()) << url;
    EXPECT_EQ(NormalizeHtu(*once), once) << url;
  }
}

TEST(DpopErrorTest, EveryValueHasAName) {
  for (DpopError e : {DpopError::kOk, DpopError::kHtuMismatch, DpopError::kReplayed,
                      DpopError::kMultipleProofs}) {
    EXPECT_NE(ToString(e), "unknown");
  }
}

}  // namespace
}  // namespace portcullis::jose
