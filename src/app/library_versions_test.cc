#include "app/library_versions.h"

#include <gtest/gtest.h>

namespace portcullis::app {
namespace {

TEST(LibraryVersionsTest, ComparesNumericallyNotLexically) {
  EXPECT_TRUE(VersionLess("3.0.9", "3.0.13"));
  EXPECT_FALSE(VersionLess("3.0.13", "3.0.9"));
  EXPECT_FALSE(VersionLess("1.0.18", "1.0.18"));
  EXPECT_TRUE(VersionLess("1.0", "1.0.1"));
  EXPECT_FALSE(VersionLess("3.40.1", "3.40"));
}

TEST(LibraryVersionsTest, ListsTheFourLibrariesOfThisBuild) {
  std::vector<LibraryVersion> libs = LinkedLibraries();
  ASSERT_EQ(libs.size(), 4u);
  for (const LibraryVersion& l : libs) {
    EXPECT_FALSE(l.version.empty()) << l.name;
    EXPECT_FALSE(l.below_minimum) << l.name << " " << l.version << " < " << l.minimum;
  }
}

}  // namespace
}  // namespace portcullis::app
