#include "jose/claims.h"

#include <gtest/gtest.h>

#include <boost/json/serialize.hpp>

namespace portcullis::jose {
namespace {

AccessTokenClaims SampleClaims() {
  AccessTokenClaims c;
  c.iss = "https://auth.example";
  c.sub = "user-1";
  c.aud = {"api"};
  c.exp = 1'700'000'900;
  c.iat = 1'700'000'000;
  c.nbf = 1'700'000'000;
  c.jti = "jti-1";
  c.client_id = "default";
  c.scope = "users:read roles:read";
  c.roles = {"admin", "user"};
  c.username = "alice";
  c.uv = 3;
  return c;
}

TEST(ClaimsTest, SerializesInFixedOrderWithSingleAudienceAsString) {
  EXPECT_EQ(boost::json::serialize(ClaimsToJson(SampleClaims())),
            R"({"iss":"https://auth.example","sub":"user-1","aud":"api","exp":1700000900,)"
            R"("iat":1700000000,"nbf":1700000000,"jti":"jti-1","client_id":"default",)"
            R"("scope":"users:read roles:read","roles":["admin","user"],"username":"alice",)"
            R"("uv":3})");
}

TEST(ClaimsTest, SeveralAudiencesSerializeAsArray) {
  AccessTokenClaims c = SampleClaims();
  c.aud = {"a", "b"};
  EXPECT_EQ(boost::json::serialize(ClaimsToJson(c).at("aud")), R"(["a","b"])");
}

TEST(ClaimsTest, RoundTripsWithAndWithoutUsername) {
  AccessTokenClaims c = SampleClaims();
  ClaimsParseResult r = ParseAccessTokenClaims(ClaimsToJson(c));
  ASSERT_EQ(r.error, VerifyError::kOk);
  EXPECT_EQ(r.claims, c);
  c.username.reset();
  c.aud = {"a", "b"};
  r = ParseAccessTokenClaims(ClaimsToJson(c));
  ASSERT_EQ(r.error, VerifyError::kOk);
  EXPECT_EQ(r.claims, c);
}

TEST(ClaimsTest, EachRequiredClaimIsRequired) {
  for (std::string_view name : {"iss", "sub", "aud", "exp", "iat", "nbf", "jti"}) {
    boost::json::object o = ClaimsToJson(SampleClaims());
    o.erase(name);
    EXPECT_EQ(ParseAccessTokenClaims(o).error, VerifyError::kClaimMissing) << name;
  }
}

TEST(ClaimsTest, OptionalClaimsMayBeAbsent) {
  boost::json::object o = ClaimsToJson(SampleClaims());
  for (std::string_view name : {"client_id", "scope", "roles", "username", "uv"}) o.erase(name);
  ClaimsParseResult r = ParseAccessTokenClaims(o);
  ASSERT_EQ(r.error, VerifyError::kOk);
  EXPECT_EQ(r.claims.uv, 0);
  EXPECT_FALSE(r.claims.username.has_value());
}

TEST(ClaimsTest, WrongTypesAreInvalid) {
  const std::pair<std::string_view, boost::json::value> kCases[] = {
      {"iss", 5},
      {"iss", ""},
      {"sub", nullptr},
      {"aud", 1},
      {"aud", ""},
      {"aud", boost::json::array{}},
      {"aud", boost::json::array{"a", 1}},
      {"exp", "1700000900"},
      {"exp", 1700000900.5},
      {"exp", 18446744073709551615ULL},
      {"iat", true},
      {"nbf", boost::json::array{1}},
      {"jti", ""},
      {"client_id", 7},
      {"scope", boost::json::array{"a"}},
      {"roles", "admin"},
      {"roles", boost::json::array{"admin", 1}},
      {"username", false},
      {"uv", "3"},
  };
  for (const auto& [name, value] : kCases) {
    boost::json::object o = ClaimsToJson(SampleClaims());
    o[name] = value;
    EXPECT_EQ(ParseAccessTokenClaims(o).error, VerifyError::kClaimInvalid)
        << name << "=" << boost::json::serialize(value);
  }
}

TEST(ClaimsTest, UnknownClaimsAreIgnored) {
  boost::json::object o = ClaimsToJson(SampleClaims());
  o["extra"] = boost::json::object{{"x", 1}};
  EXPECT_EQ(ParseAccessTokenClaims(o).error, VerifyError::kOk);
}

}  // namespace
}  // namespace portcullis::jose
