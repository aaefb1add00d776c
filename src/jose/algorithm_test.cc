#include "jose/algorithm.h"

#include <gtest/gtest.h>

namespace portcullis::jose {
namespace {

TEST(AlgorithmTest, NamesRoundTrip) {
  for (Algorithm alg : {Algorithm::kEdDsa, Algorithm::kEs256, Algorithm::kRs256}) {
    EXPECT_EQ(ParseAlgorithm(ToString(alg)), alg);
  }
  EXPECT_EQ(ToString(Algorithm::kEdDsa), "EdDSA");
  EXPECT_EQ(ToString(Algorithm::kEs256), "ES256");
  EXPECT_EQ(ToString(Algorithm::kRs256), "RS256");
}

TEST(AlgorithmTest, ParseIsExactAndCaseSensitive) {
  for (std::string_view name : {"none", "None", "HS256", "HS512", "eddsa", "EDDSA", "es256",
                                "ES256 ", " RS256", "RS384", "PS256", "ES512", "Ed25519", ""}) {
    EXPECT_EQ(ParseAlgorithm(name), std::nullopt) << name;
  }
  EXPECT_EQ(ParseAlgorithm(std::string_view("ES256\0", 6)), std::nullopt);
}

}  // namespace
}  // namespace portcullis::jose
