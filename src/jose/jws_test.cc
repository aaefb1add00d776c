#include "jose/jws.h"

#include <gtest/gtest.h>

#include <boost/json/serialize.hpp>
#include <memory>
#include <string>

#include "crypto/base64.h"

namespace portcullis::jose {
namespace {

using crypto::Base64UrlDecode;
using crypto::Base64UrlEncode;

constexpr UnixSeconds kNow = 1'700'000'000;
constexpr std::int64_t kLeeway = 30;
constexpr char kIssuer[] = "https://auth.example";

VerifyPolicy Policy() {
  return VerifyPolicy{.issuer = kIssuer,
                      .audiences = {"api", "other"},
                      .leeway_s = kLeeway,
                      .max_token_bytes = 8192};
}

AccessTokenClaims Claims() {
  AccessTokenClaims c;
  c.iss = kIssuer;
  c.sub = "user-1";
  c.aud = {"api"};
  c.exp = kNow + 900;
  c.iat = kNow;
  c.nbf = kNow;
  c.jti = "jti-1";
  c.client_id = "default";
  c.scope = "users:read";
  c.roles = {"user"};
  c.username = "alice";
  c.uv = 3;
  return c;
}

std::string Payload(const boost::json::object& o) { return boost::json::serialize(o); }
std::string Payload() { return Payload(ClaimsToJson(Claims())); }

// Test keys, generated once: one per algorithm, plus a second EdDSA key reusing kid "ed".
struct Keys {
  PrivateKey ed = *PrivateKey::Generate(Algorithm::kEdDsa, "ed");
  PrivateKey es = *PrivateKey::Generate(Algorithm::kEs256, "es");
  PrivateKey rs = *PrivateKey::Generate(Algorithm::kRs256, "rs");
  PrivateKey impostor = *PrivateKey::Generate(Algorithm::kEdDsa, "ed");
  KeyRing ring;
  Keys() {
    ring.Add(ed.public_key());
    ring.Add(es.public_key());
    ring.Add(rs.public_key());
  }
  const PrivateKey& For(Algorithm alg) const {
    switch (alg) {
      case Algorithm::kEdDsa:
        return ed;
      case Algorithm::kEs256:
        return es;
      case Algorithm::kRs256:
        return rs;
    }
    return ed;
  }
};

const Keys& TestKeys() {
  static const Keys* keys = new Keys();
  return *keys;
}

// A compact JWS built by hand from raw header and payload JSON, signed with `key` (or carrying a
// dummy signature when key is null).
std::string Craft(std::string_view header_json, std::string_view payload_json,
                  const PrivateKey* key = &TestKeys().ed) {
  std::string token = Base64UrlEncode(header_json) + "." + Base64UrlEncode(payload_json);
  const std::string signature = key ? *key->Sign(token) : std::string(64, 'x');
  return token + "." + Base64UrlEncode(signature);
}

constexpr char kEdHeader[] = R"({"alg":"EdDSA","kid":"ed","typ":"at+jwt"})";

VerifyError Verify(std::string_view token, UnixSeconds now = kNow) {
  return VerifyAccessToken(token, TestKeys().ring, Policy(), now).error;
}

VerifyError VerifyPayload(const boost::json::object& payload, UnixSeconds now = kNow) {
  return Verify(Craft(kEdHeader, Payload(payload)), now);
}

// --- Round trips -------------------------------------------------------------------------------

class RoundTripTest : public ::testing::TestWithParam<Algorithm> {};
INSTANTIATE_TEST_SUITE_P(AllAlgorithms, RoundTripTest,
                         ::testing::Values(Algorithm::kEdDsa, Algorithm::kEs256, Algorithm::kRs256),
                         [](const auto& param_info) {
                           return std::string(ToString(param_info.param));
                         });

TEST_P(RoundTripTest, SignedTokenVerifiesWithItsClaims) {
  const PrivateKey& key = TestKeys().For(GetParam());
  Result<std::string> token = SignAccessToken(Claims(), key);
  ASSERT_TRUE(token.ok());
  VerifyResult r = VerifyAccessToken(*token, TestKeys().ring, Policy(), kNow);
  ASSERT_EQ(r.error, VerifyError::kOk) << ToString(r.error);
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.claims, Claims());
}

TEST_P(RoundTripTest, HeaderIsExactlyAlgKidTyp) {
  const PrivateKey& key = TestKeys().For(GetParam());
  const std::string token = *SignAccessToken(Claims(), key);
  EXPECT_EQ(*Base64UrlDecode(token.substr(0, token.find('.'))),
            R"({"alg":")" + std::string(ToString(GetParam())) + R"(","kid":")" + key.kid() +
                R"(","typ":"at+jwt"})");
}

// Every single-bit change of the signature must fail as kSignatureInvalid.
TEST_P(RoundTripTest, EverySignatureBitFlipIsRejected) {
  const std::string token = *SignAccessToken(Claims(), TestKeys().For(GetParam()));
  const std::size_t dot = token.rfind('.');
  const std::string signature = *Base64UrlDecode(token.substr(dot + 1));
  for (std::size_t bit = 0; bit < signature.size() * 8; ++bit) {
    std::string mutant = signature;
    mutant[bit / 8] = static_cast<char>(mutant[bit / 8] ^ (1 << (bit % 8)));
    ASSERT_EQ(Verify(token.substr(0, dot + 1) + Base64UrlEncode(mutant)),
              VerifyError::kSignatureInvalid)
        << "bit " << bit;
  }
}

// Every truncation of the signature bytes fails as kSignatureInvalid; every prefix of the token
// text fails somehow.
TEST_P(RoundTripTest, EveryTruncationIsRejected) {
  const std::string token = *SignAccessToken(Claims(), TestKeys().For(GetParam()));
  const std::size_t dot = token.rfind('.');
  const std::string signature = *Base64UrlDecode(token.substr(dot + 1));
  for (std::size_t n = 1; n < signature.size(); ++n) {
    ASSERT_EQ(Verify(token.substr(0, dot + 1) + Base64UrlEncode(signature.substr(0, n))),
              VerifyError::kSignatureInvalid)
        << "signature bytes " << n;
  }
  for (std::size_t n = 0; n < token.size(); ++n) {
    ASSERT_NE(Verify(token.substr(0, n)), VerifyError::kOk) << "prefix " << n;
  }
}

// Changing any one character of the signed part must never yield a valid token.
TEST_P(RoundTripTest, EverySigningInputCharacterChangeIsRejected) {
  const std::string token = *SignAccessToken(Claims(), TestKeys().For(GetParam()));
  const std::size_t dot = token.rfind('.');
  for (std::size_t i = 0; i < dot; ++i) {
    std::string mutant = token;
    mutant[i] = mutant[i] == 'A' ? 'B' : 'A';
    ASSERT_NE(Verify(mutant), VerifyError::kOk) << "position " << i;
  }
}

// --- One test per VerifyError --------------------------------------------------------------------

// --- ID tokens (OpenID Connect) ----------------------------------------------------------------

boost::json::object IdClaims() {
  return {{"iss", kIssuer}, {"sub", "user-1"},        {"aud", "client-1"},    {"exp", kNow + 300},
          {"iat", kNow},    {"auth_time", kNow - 10}, {"nonce", "n-0S6_WzA"}, {"azp", "client-1"}};
}

class IdTokenTest : public ::testing::TestWithParam<Algorithm> {};
INSTANTIATE_TEST_SUITE_P(AllAlgorithms, IdTokenTest,
                         ::testing::Values(Algorithm::kEdDsa, Algorithm::kEs256, Algorithm::kRs256),
                         [](const auto& param_info) {
                           return std::string(ToString(param_info.param));
                         });

TEST_P(IdTokenTest, HeaderIsExactlyAlgKidTypJwtAndThePayloadIsTheClaims) {
  const PrivateKey& key = TestKeys().For(GetParam());
  Result<std::string> token = SignIdToken(IdClaims(), key);
  ASSERT_TRUE(token.ok()) << token.status().ToString();
  const std::size_t first = token->find('.');
  const std::size_t last = token->rfind('.');
  ASSERT_NE(first, last);
  EXPECT_EQ(*Base64UrlDecode(token->substr(0, first)),
            R"({"alg":")" + std::string(ToString(GetParam())) + R"(","kid":")" + key.kid() +
                R"(","typ":"JWT"})");
  EXPECT_EQ(*Base64UrlDecode(token->substr(first + 1, last - first - 1)), Payload(IdClaims()));
}

TEST_P(IdTokenTest, SignatureVerifiesWithThePublicKeyOfItsAlgorithmOnly) {
  const PrivateKey& key = TestKeys().For(GetParam());
  const std::string token = *SignIdToken(IdClaims(), key);
  const std::size_t last = token.rfind('.');
  const std::string signing_input = token.substr(0, last);
  const std::string signature = *Base64UrlDecode(token.substr(last + 1));
  EXPECT_TRUE(key.public_key().VerifySignature(signing_input, signature));
  EXPECT_FALSE(TestKeys().impostor.public_key().VerifySignature(signing_input, signature));
  for (Algorithm other : kAllAlgorithms) {
    if (other == GetParam()) continue;
    EXPECT_FALSE(TestKeys().For(other).public_key().VerifySignature(signing_input, signature))
        << ToString(other);
  }
}

// An ID token must never pass as an access token, even when signed by a key of the ring and
// carrying every claim an access token needs: its typ is "JWT", not "at+jwt".
TEST_P(IdTokenTest, IsRefusedAsAnAccessTokenWithTypInvalid) {
  const PrivateKey& key = TestKeys().For(GetParam());
  ASSERT_NE(TestKeys().ring.Find(key.kid()), nullptr);
  EXPECT_EQ(Verify(*SignIdToken(IdClaims(), key)), VerifyError::kTypInvalid);
  EXPECT_EQ(Verify(*SignIdToken(ClaimsToJson(Claims()), key)), VerifyError::kTypInvalid);
  EXPECT_EQ(ParseJws(*SignIdToken(ClaimsToJson(Claims()), key), 8192).error,
            VerifyError::kTypInvalid);
}

TEST(VerifyAccessTokenTest, TooLongTokenIsTooLarge) {
  EXPECT_EQ(Verify(std::string(8193, 'a')), VerifyError::kTooLarge);
  boost::json::object payload = ClaimsToJson(Claims());
  payload["pad"] = std::string(8000, 'p');
  EXPECT_EQ(VerifyPayload(payload), VerifyError::kTooLarge);
}

TEST(VerifyAccessTokenTest, WrongSegmentCountOrEmptySegmentIsMalformed) {
  const std::string token = Craft(kEdHeader, Payload());
  EXPECT_EQ(Verify(""), VerifyError::kMalformed);
  EXPECT_EQ(Verify("abc"), VerifyError::kMalformed);
  EXPECT_EQ(Verify(token.substr(0, token.rfind('.'))), VerifyError::kMalformed);
  EXPECT_EQ(Verify(token + ".x"), VerifyError::kMalformed);
  EXPECT_EQ(Verify(token + "."), VerifyError::kMalformed);
  EXPECT_EQ(Verify(".."), VerifyError::kMalformed);
  EXPECT_EQ(Verify(token.substr(0, token.rfind('.') + 1)), VerifyError::kMalformed);
  EXPECT_EQ(Verify("." + token.substr(token.find('.'))), VerifyError::kMalformed);
}

TEST(VerifyAccessTokenTest, PaddingOrForeignAlphabetIsNonCanonicalBase64) {
  const std::string token = Craft(kEdHeader, Payload());
  const std::size_t first = token.find('.');
  const std::size_t last = token.rfind('.');
  EXPECT_EQ(Verify(token + "=="), VerifyError::kNonCanonicalBase64);
  EXPECT_EQ(Verify(token.substr(0, first) + "=" + token.substr(first)),
            VerifyError::kNonCanonicalBase64);
  std::string plus = token;
  plus[last + 1] = '+';
  EXPECT_EQ(Verify(plus), VerifyError::kNonCanonicalBase64);
  // A 64-byte signature is 86 characters whose last one carries 4 unused bits ('A', 'Q', 'g' or
  // 'w'); the next character sets the lowest of them.
  std::string trailing_bits = token;
  trailing_bits.back() = static_cast<char>(trailing_bits.back() + 1);
  EXPECT_EQ(Verify(trailing_bits), VerifyError::kNonCanonicalBase64);
  EXPECT_EQ(Verify(token.substr(0, first) + " " + token.substr(first)),
            VerifyError::kNonCanonicalBase64);
}

TEST(VerifyAccessTokenTest, BadHeaderOrPayloadJsonIsMalformedJson) {
  EXPECT_EQ(Verify(Craft("not json", Payload())), VerifyError::kMalformedJson);
  EXPECT_EQ(Verify(Craft("[]", Payload())), VerifyError::kMalformedJson);
  EXPECT_EQ(Verify(Craft(R"({"alg":"EdDSA","alg":"EdDSA","kid":"ed","typ":"at+jwt"})", Payload())),
            VerifyError::kMalformedJson);
  EXPECT_EQ(Verify(Craft(kEdHeader, "\"just a string\"")), VerifyError::kMalformedJson);
  EXPECT_EQ(Verify(Craft(kEdHeader, R"({"sub":"a","sub":"b"})")), VerifyError::kMalformedJson);
  EXPECT_EQ(Verify(Craft(kEdHeader, "{\"sub\":\"\xff\"}")), VerifyError::kMalformedJson);
  EXPECT_EQ(Verify(Craft(kEdHeader, Payload() + " x")), VerifyError::kMalformedJson);
}

TEST(VerifyAccessTokenTest, HeaderWithoutAlgIsAlgMissing) {
  EXPECT_EQ(Verify(Craft(R"({"kid":"ed","typ":"at+jwt"})", Payload())), VerifyError::kAlgMissing);
}

TEST(VerifyAccessTokenTest, AlgNoneIsRejectedInAnyCase) {
  for (std::string_view alg : {"none", "None", "NONE"}) {
    const std::string header = R"({"alg":")" + std::string(alg) + R"(","kid":"ed","typ":"at+jwt"})";
    EXPECT_EQ(Verify(Base64UrlEncode(header) + "." + Base64UrlEncode(Payload()) + ".AA"),
              VerifyError::kAlgNone)
        << alg;
  }
}

TEST(VerifyAccessTokenTest, HmacUnknownOrNonStringAlgIsNotAllowed) {
  for (std::string_view alg : {R"("HS256")", R"("eddsa")", R"("PS256")", R"(5)", R"(["EdDSA"])"}) {
    const std::string header = R"({"alg":)" + std::string(alg) + R"(,"kid":"ed","typ":"at+jwt"})";
    EXPECT_EQ(Verify(Craft(header, Payload())), VerifyError::kAlgNotAllowed) << alg;
  }
}

TEST(VerifyAccessTokenTest, TokenAlgDifferentFromKeyAlgIsAlgMismatch) {
  // Signed with the ES256 key but claiming the EdDSA key's kid, and the other way round.
  EXPECT_EQ(
      Verify(Craft(R"({"alg":"ES256","kid":"ed","typ":"at+jwt"})", Payload(), &TestKeys().es)),
      VerifyError::kAlgMismatch);
  EXPECT_EQ(Verify(Craft(R"({"alg":"EdDSA","kid":"rs","typ":"at+jwt"})", Payload())),
            VerifyError::kAlgMismatch);
}

TEST(VerifyAccessTokenTest, MissingOrEmptyKidIsKidMissing) {
  EXPECT_EQ(Verify(Craft(R"({"alg":"EdDSA","typ":"at+jwt"})", Payload())),
            VerifyError::kKidMissing);
  EXPECT_EQ(Verify(Craft(R"({"alg":"EdDSA","kid":"","typ":"at+jwt"})", Payload())),
            VerifyError::kKidMissing);
  EXPECT_EQ(Verify(Craft(R"({"alg":"EdDSA","kid":1,"typ":"at+jwt"})", Payload())),
            VerifyError::kKidMissing);
}

TEST(VerifyAccessTokenTest, UnknownKidIsKeyNotFound) {
  EXPECT_EQ(Verify(Craft(R"({"alg":"EdDSA","kid":"retired","typ":"at+jwt"})", Payload())),
            VerifyError::kKeyNotFound);
  EXPECT_EQ(Verify(Craft(R"({"alg":"EdDSA","kid":"ED","typ":"at+jwt"})", Payload())),
            VerifyError::kKeyNotFound);
}

TEST(VerifyAccessTokenTest, MissingOrWrongTypIsTypInvalid) {
  for (std::string_view typ : {R"(,"typ":"JWT")", R"(,"typ":"at+jwt ")", R"(,"typ":"jwt")",
                               R"(,"typ":"application/jwt")", R"(,"typ":1)", ""}) {
    const std::string header = R"({"alg":"EdDSA","kid":"ed")" + std::string(typ) + "}";
    EXPECT_EQ(Verify(Craft(header, Payload())), VerifyError::kTypInvalid) << typ;
  }
}

TEST(VerifyAccessTokenTest, MediaTypeFormsOfAtJwtAreAccepted) {
  for (std::string_view typ : {"at+jwt", "AT+JWT", "application/at+jwt", "Application/AT+JWT"}) {
    const std::string header = R"({"alg":"EdDSA","kid":"ed","typ":")" + std::string(typ) + "\"}";
    EXPECT_EQ(Verify(Craft(header, Payload())), VerifyError::kOk) << typ;
  }
}

TEST(VerifyAccessTokenTest, CritHeaderIsCritPresent) {
  EXPECT_EQ(Verify(Craft(R"({"alg":"EdDSA","kid":"ed","typ":"at+jwt","crit":["exp"],"exp":1})",
                         Payload())),
            VerifyError::kCritPresent);
}

TEST(VerifyAccessTokenTest, EveryEmbeddedKeyHeaderIsRejected) {
  for (std::string_view member : {"jwk", "jku", "x5u", "x5c", "x5t", "x5t#S256"}) {
    const std::string header =
        R"({"alg":"EdDSA","kid":"ed","typ":"at+jwt",")" + std::string(member) + R"(":"x"})";
    EXPECT_EQ(Verify(Craft(header, Payload())), VerifyError::kEmbeddedKey) << member;
  }
}

TEST(VerifyAccessTokenTest, SignatureByAnotherKeyIsSignatureInvalid) {
  EXPECT_EQ(Verify(Craft(kEdHeader, Payload(), &TestKeys().impostor)),
            VerifyError::kSignatureInvalid);
  EXPECT_EQ(Verify(Craft(kEdHeader, Payload(), nullptr)), VerifyError::kSignatureInvalid);
}

TEST(VerifyAccessTokenTest, SignatureIsCheckedBeforeClaims) {
  boost::json::object payload = ClaimsToJson(Claims());
  payload.erase("sub");
  EXPECT_EQ(Verify(Craft(kEdHeader, Payload(payload), &TestKeys().impostor)),
            VerifyError::kSignatureInvalid);
}

TEST(VerifyAccessTokenTest, EachMissingRequiredClaimIsClaimMissing) {
  for (std::string_view name : {"iss", "sub", "aud", "exp", "iat", "nbf", "jti"}) {
    boost::json::object payload = ClaimsToJson(Claims());
    payload.erase(name);
    EXPECT_EQ(VerifyPayload(payload), VerifyError::kClaimMissing) << name;
  }
}

TEST(VerifyAccessTokenTest, WrongClaimTypeIsClaimInvalid) {
  boost::json::object payload = ClaimsToJson(Claims());
  payload["exp"] = std::to_string(kNow + 900);
  EXPECT_EQ(VerifyPayload(payload), VerifyError::kClaimInvalid);
  payload = ClaimsToJson(Claims());
  payload["aud"] = boost::json::array{"api", 7};
  EXPECT_EQ(VerifyPayload(payload), VerifyError::kClaimInvalid);
  payload = ClaimsToJson(Claims());
  payload["uv"] = 3.5;
  EXPECT_EQ(VerifyPayload(payload), VerifyError::kClaimInvalid);
}

TEST(VerifyAccessTokenTest, OtherIssuerIsIssuerMismatch) {
  boost::json::object payload = ClaimsToJson(Claims());
  payload["iss"] = "https://auth.example/";
  EXPECT_EQ(VerifyPayload(payload), VerifyError::kIssuerMismatch);
}

TEST(VerifyAccessTokenTest, AudienceMustContainOneOfOurs) {
  boost::json::object payload = ClaimsToJson(Claims());
  payload["aud"] = "someone-else";
  EXPECT_EQ(VerifyPayload(payload), VerifyError::kAudienceMismatch);
  payload["aud"] = boost::json::array{"x", "y"};
  EXPECT_EQ(VerifyPayload(payload), VerifyError::kAudienceMismatch);
  payload["aud"] = boost::json::array{"x", "other"};
  EXPECT_EQ(VerifyPayload(payload), VerifyError::kOk);
}

// RFC 7519 §4.1.4 with leeway: valid while now - leeway < exp.
TEST(VerifyAccessTokenTest, ExpiredExactlyAtLeewayEdge) {
  boost::json::object payload = ClaimsToJson(Claims());
  payload["exp"] = kNow - kLeeway + 1;
  EXPECT_EQ(VerifyPayload(payload), VerifyError::kOk);
  payload["exp"] = kNow - kLeeway;
  EXPECT_EQ(VerifyPayload(payload), VerifyError::kExpired);
}

TEST(VerifyAccessTokenTest, NotYetValidJustBeyondLeewayEdge) {
  boost::json::object payload = ClaimsToJson(Claims());
  payload["iat"] = kNow - 10;
  payload["nbf"] = kNow + kLeeway;
  EXPECT_EQ(VerifyPayload(payload), VerifyError::kOk);
  payload["nbf"] = kNow + kLeeway + 1;
  EXPECT_EQ(VerifyPayload(payload), VerifyError::kNotYetValid);
}

TEST(VerifyAccessTokenTest, IssuedInFutureJustBeyondLeewayEdge) {
  boost::json::object payload = ClaimsToJson(Claims());
  payload["iat"] = kNow + kLeeway;
  EXPECT_EQ(VerifyPayload(payload), VerifyError::kOk);
  payload["iat"] = kNow + kLeeway + 1;
  EXPECT_EQ(VerifyPayload(payload), VerifyError::kIssuedInFuture);
}

TEST(VerifyAccessTokenTest, FailedVerificationReturnsNoClaims) {
  boost::json::object payload = ClaimsToJson(Claims());
  payload["exp"] = kNow - 100;
  VerifyResult r =
      VerifyAccessToken(Craft(kEdHeader, Payload(payload)), TestKeys().ring, Policy(), kNow);
  EXPECT_EQ(r.error, VerifyError::kExpired);
  EXPECT_EQ(r.claims, AccessTokenClaims{});
}

// --- ParseJws ------------------------------------------------------------------------------------

TEST(ParseJwsTest, ExposesHeaderPayloadAndSigningInput) {
  const std::string token = Craft(kEdHeader, Payload());
  ParseResult r = ParseJws(token, 8192);
  ASSERT_EQ(r.error, VerifyError::kOk);
  EXPECT_EQ(r.jws.alg, Algorithm::kEdDsa);
  EXPECT_EQ(r.jws.kid, "ed");
  EXPECT_EQ(r.jws.signing_input, token.substr(0, token.rfind('.')));
  EXPECT_EQ(r.jws.signature.size(), 64u);
  EXPECT_EQ(r.jws.payload.at("sub").as_string(), "user-1");
  EXPECT_EQ(r.jws.header.at("typ").as_string(), "at+jwt");
}

TEST(ParseJwsTest, DoesNotCheckSignatureOrClaims) {
  EXPECT_EQ(ParseJws(Craft(kEdHeader, "{}", nullptr), 8192).error, VerifyError::kOk);
}

TEST(ParseJwsTest, SizeLimitIsInclusive) {
  const std::string token = Craft(kEdHeader, Payload());
  EXPECT_EQ(ParseJws(token, token.size()).error, VerifyError::kOk);
  EXPECT_EQ(ParseJws(token, token.size() - 1).error, VerifyError::kTooLarge);
}

// RFC 8037 §A.4's JWS lacks kid and typ, so the verifier must refuse it even though its signature
// is valid.
TEST(ParseJwsTest, Rfc8037ExampleLacksTyp) {
  EXPECT_EQ(ParseJws("eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc.hgyY0il_MGCjP0Jzln"
                     "LWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg",
                     8192)
                .error,
            VerifyError::kTypInvalid);
}

}  // namespace
}  // namespace portcullis::jose
