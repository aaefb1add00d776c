#include "base/ip.h"

#include <gtest/gtest.h>

namespace portcullis {
namespace {

TEST(ParseIpTest, ParsesIpv4IntoFirstFourBytes) {
  std::optional<IpAddress> ip = ParseIp("203.0.113.7");
  ASSERT_TRUE(ip.has_value());
  EXPECT_FALSE(ip->is_v6);
  EXPECT_EQ(ip->bytes[0], 203);
  EXPECT_EQ(ip->bytes[1], 0);
  EXPECT_EQ(ip->bytes[2], 113);
  EXPECT_EQ(ip->bytes[3], 7);
  for (std::size_t i = 4; i < 16; ++i) EXPECT_EQ(ip->bytes[i], 0);
  EXPECT_EQ(ip->ToString(), "203.0.113.7");
}

TEST(ParseIpTest, ParsesIpv6AndPrintsCompressedForm) {
  std::optional<IpAddress> ip = ParseIp("2001:0db8:0000:0000:0000:0000:0000:0001");
  ASSERT_TRUE(ip.has_value());
  EXPECT_TRUE(ip->is_v6);
  EXPECT_EQ(ip->bytes[0], 0x20);
  EXPECT_EQ(ip->bytes[15], 1);
  EXPECT_EQ(ip->ToString(), "2001:db8::1");
}

TEST(ParseIpTest, Ipv4MappedIpv6IsNormalizedToIpv4) {
  std::optional<IpAddress> mapped = ParseIp("::ffff:192.0.2.1");
  ASSERT_TRUE(mapped.has_value());
  EXPECT_FALSE(mapped->is_v6);
  EXPECT_EQ(*mapped, *ParseIp("192.0.2.1"));
  EXPECT_EQ(mapped->ToString(), "192.0.2.1");
}

TEST(ParseIpTest, RejectsEverythingThatIsNotALiteralAddress) {
  for (const char* bad : {"", "localhost", "1.2.3", "1.2.3.4.5", "256.1.1.1", "01.2.3.4",
                          " 1.2.3.4", "1.2.3.4 ", "[::1]", "::1%lo", "fe80::1%eth0", "1.2.3.4:80",
                          "10.0.0.0/8", "::g", "1:2:3:4:5:6:7:8:9"}) {
    EXPECT_FALSE(ParseIp(bad).has_value()) << bad;
  }
  EXPECT_FALSE(ParseIp(std::string_view("1.2.3.4\0", 8)).has_value());
  EXPECT_FALSE(ParseIp(std::string(100, '1')).has_value());
}

TEST(CidrTest, ParsesNetworksAndPrintsThem) {
  std::optional<Cidr> v4 = ParseCidr("10.0.0.0/8");
  ASSERT_TRUE(v4.has_value());
  EXPECT_EQ(v4->prefix_len, 8);
  EXPECT_EQ(v4->ToString(), "10.0.0.0/8");
  std::optional<Cidr> v6 = ParseCidr("2001:db8::/32");
  ASSERT_TRUE(v6.has_value());
  EXPECT_TRUE(v6->network.is_v6);
  EXPECT_EQ(v6->ToString(), "2001:db8::/32");
  EXPECT_EQ(ParseCidr("0.0.0.0/0")->ToString(), "0.0.0.0/0");
  EXPECT_EQ(ParseCidr("::/0")->ToString(), "::/0");
}

TEST(CidrTest, BareAddressIsAHostNetwork) {
  EXPECT_EQ(ParseCidr("192.0.2.1")->ToString(), "192.0.2.1/32");
  EXPECT_EQ(ParseCidr("::1")->ToString(), "::1/128");
}

TEST(CidrTest, MappedNetworkBecomesIpv4Network) {
  EXPECT_EQ(ParseCidr("::ffff:10.0.0.0/104")->ToString(), "10.0.0.0/8");
  EXPECT_EQ(ParseCidr("::ffff:10.0.0.1")->ToString(), "10.0.0.1/32");
  EXPECT_FALSE(ParseCidr("::ffff:0.0.0.0/95").has_value());
}

TEST(CidrTest, RejectsHostBitsBadPrefixesAndGarbage) {
  for (const char* bad : {"10.0.0.1/8", "10.0.0.0/33", "10.0.0.0/-1", "10.0.0.0/+8", "10.0.0.0/08",
                          "10.0.0.0/", "10.0.0.0/8x", "10.0.0.0/8/8", "::1/129", "2001:db8::1/64",
                          "/8", "", "host/8", "10.0.0.0/99999999999"}) {
    EXPECT_FALSE(ParseCidr(bad).has_value()) << bad;
  }
}

TEST(CidrTest, ContainsMatchesPrefixBitsOnly) {
  Cidr net = *ParseCidr("192.168.0.0/23");
  EXPECT_TRUE(net.Contains(*ParseIp("192.168.0.0")));
  EXPECT_TRUE(net.Contains(*ParseIp("192.168.1.255")));
  EXPECT_FALSE(net.Contains(*ParseIp("192.168.2.0")));
  EXPECT_FALSE(net.Contains(*ParseIp("192.167.255.255")));
  EXPECT_TRUE(net.Contains(*ParseIp("::ffff:192.168.1.1")));

  Cidr v6 = *ParseCidr("2001:db8:abcd::/48");
  EXPECT_TRUE(v6.Contains(*ParseIp("2001:db8:abcd:ffff::1")));
  EXPECT_FALSE(v6.Contains(*ParseIp("2001:db8:abce::1")));

  EXPECT_TRUE(ParseCidr("0.0.0.0/0")->Contains(*ParseIp("8.8.8.8")));
  EXPECT_TRUE(ParseCidr("10.0.0.7")->Contains(*ParseIp("10.0.0.7")));
  EXPECT_FALSE(ParseCidr("10.0.0.7")->Contains(*ParseIp("10.0.0.6")));
}

TEST(CidrTest, FamiliesNeverMatchEachOther) {
  EXPECT_FALSE(ParseCidr("0.0.0.0/0")->Contains(*ParseIp("::1")));
  EXPECT_FALSE(ParseCidr("::/0")->Contains(*ParseIp("127.0.0.1")));
}

TEST(SourceNetworkKeyTest, UsesSlash24ForIpv4AndSlash64ForIpv6) {
  EXPECT_EQ(SourceNetworkKey(*ParseIp("203.0.113.77")), "203.0.113.0/24");
  EXPECT_EQ(SourceNetworkKey(*ParseIp("::ffff:203.0.113.77")), "203.0.113.0/24");
  EXPECT_EQ(SourceNetworkKey(*ParseIp("2001:db8:1:2:3:4:5:6")), "2001:db8:1:2::/64");
}

TEST(IsLoopbackTest, RecognizesWholeIpv4LoopbackNetAndIpv6Loopback) {
  EXPECT_TRUE(IsLoopback(*ParseIp("127.0.0.1")));
  EXPECT_TRUE(IsLoopback(*ParseIp("127.255.0.9")));
  EXPECT_TRUE(IsLoopback(*ParseIp("::1")));
  EXPECT_TRUE(IsLoopback(*ParseIp("::ffff:127.0.0.1")));
  EXPECT_FALSE(IsLoopback(*ParseIp("128.0.0.1")));
  EXPECT_FALSE(IsLoopback(*ParseIp("0.0.0.0")));
  EXPECT_FALSE(IsLoopback(*ParseIp("::")));
  EXPECT_FALSE(IsLoopback(*ParseIp("::2")));
  EXPECT_FALSE(IsLoopback(*ParseIp("10.0.0.1")));
}

}  // namespace
}  // namespace portcullis
