#include "http/server/request_meta.h"

#include <gtest/gtest.h>

#include <set>

namespace portcullis::http {
namespace {

TEST(RequestIdTest, EchoesSaneClientIds) {
  EXPECT_EQ(RequestIdFor("abc-123_X.y"), "abc-123_X.y");
  EXPECT_EQ(RequestIdFor(std::string(128, 'a')), std::string(128, 'a'));
}

TEST(RequestIdTest, ReplacesMissingOversizeOrUnsafeIds) {
  for (std::string bad :
       {std::string(), std::string(129, 'a'), std::string("a b"), std::string("x\r\nSet-Cookie: y"),
        std::string("<script>"), std::string("caf\xc3\xa9"), std::string("a/b")}) {
    const std::string id = RequestIdFor(bad);
    EXPECT_NE(id, bad);
    EXPECT_EQ(id.size(), 32u);
    EXPECT_TRUE(IsValidRequestId(id));
  }
}

TEST(RequestIdTest, GeneratedIdsAreLowercaseHexAndDistinct) {
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) {
    const std::string id = GenerateRequestId();
    EXPECT_EQ(id.find_first_not_of("0123456789abcdef"), std::string::npos);
    seen.insert(id);
  }
  EXPECT_EQ(seen.size(), 100u);
}

TEST(CanonicalIpTest, NormalizesAndRejects) {
  EXPECT_EQ(CanonicalIp("10.0.0.1"), "10.0.0.1");
  EXPECT_EQ(CanonicalIp("2001:DB8:0:0::1"), "2001:db8::1");
  EXPECT_EQ(CanonicalIp("::ffff:192.0.2.7"), "192.0.2.7");
  EXPECT_EQ(CanonicalIp(""), std::nullopt);
  EXPECT_EQ(CanonicalIp("example.com"), std::nullopt);
  EXPECT_EQ(CanonicalIp("10.0.0.1:80"), std::nullopt);
  EXPECT_EQ(CanonicalIp("[::1]"), std::nullopt);
  EXPECT_EQ(CanonicalIp("fe80::1%eth0"), std::nullopt);
}

bool TrustTenNet(std::string_view ip) { return ip.starts_with("10."); }

TEST(ResolveClientIpTest, WithoutTrustedProxiesThePeerIsTheClient) {
  EXPECT_EQ(ResolveClientIp("203.0.113.5", "198.51.100.1", nullptr), "203.0.113.5");
  EXPECT_EQ(ResolveClientIp("203.0.113.5", "198.51.100.1", TrustTenNet), "203.0.113.5");
}

TEST(ResolveClientIpTest, TrustedPeerWithoutHeaderIsTheClient) {
  EXPECT_EQ(ResolveClientIp("10.0.0.2", "", TrustTenNet), "10.0.0.2");
  EXPECT_EQ(ResolveClientIp("10.0.0.2", "  ", TrustTenNet), "10.0.0.2");
}

TEST(ResolveClientIpTest, TakesRightmostUntrustedAddress) {
  // The client forged the left-most entry; our proxy appended the real address.
  EXPECT_EQ(ResolveClientIp("10.0.0.2", "1.1.1.1, 198.51.100.9", TrustTenNet), "198.51.100.9");
  // A chain of trusted proxies is skipped.
  EXPECT_EQ(ResolveClientIp("10.0.0.2", "1.1.1.1,198.51.100.9, 10.0.0.7 ,10.0.0.8", TrustTenNet),
            "198.51.100.9");
  EXPECT_EQ(ResolveClientIp("10.0.0.2", "2001:DB8::1", TrustTenNet), "2001:db8::1");
}

TEST(ResolveClientIpTest, AllTrustedYieldsLeftmost) {
  EXPECT_EQ(ResolveClientIp("10.0.0.2", "10.0.0.9, 10.0.0.8", TrustTenNet), "10.0.0.9");
}

TEST(ResolveClientIpTest, InvalidEntryFallsBackToPeer) {
  EXPECT_EQ(ResolveClientIp("10.0.0.2", "1.1.1.1, garbage", TrustTenNet), "10.0.0.2");
  EXPECT_EQ(ResolveClientIp("10.0.0.2", "1.1.1.1, 10.0.0.3, ", TrustTenNet), "10.0.0.2");
  EXPECT_EQ(ResolveClientIp("10.0.0.2", "198.51.100.9:443", TrustTenNet), "10.0.0.2");
  // Garbage to the left of the first untrusted address does not matter.
  EXPECT_EQ(ResolveClientIp("10.0.0.2", "garbage, 198.51.100.9", TrustTenNet), "198.51.100.9");
}

TEST(HttpDateTest, FormatsImfFixdate) {
  EXPECT_EQ(HttpDate(std::chrono::system_clock::from_time_t(784111777)),
            "Sun, 06 Nov 1994 08:49:37 GMT");
}

}  // namespace
}  // namespace portcullis::http
