#include "base/cache_limits.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace portcullis {
namespace {

TEST(CacheLimitsTest, AStringCountsItsObjectAndItsLength) {
  EXPECT_EQ(EstimatedBytes(""), sizeof(std::string));
  EXPECT_EQ(EstimatedBytes(std::string(1000, 'x')), sizeof(std::string) + 1000);
}

TEST(CacheLimitsTest, AVectorOfStringsCountsItsObjectAndEveryElement) {
  EXPECT_EQ(EstimatedBytes(std::vector<std::string>{}), sizeof(std::vector<std::string>));
  const std::vector<std::string> v = {"users:read", std::string(100, 'p')};
  EXPECT_EQ(EstimatedBytes(v),
            sizeof(std::vector<std::string>) + 2 * sizeof(std::string) + 10 + 100);
}

}  // namespace
}  // namespace portcullis
