#include "base/secret.h"

#include <gtest/gtest.h>

#include <sstream>

namespace portcullis {
namespace {

TEST(SecretTest, FormatsAsRedacted) {
  SecretString s(std::string("hunter2hunter2"));
  std::ostringstream os;
  os << s;
  EXPECT_EQ(os.str(), "[redacted]");
  EXPECT_EQ(s.reveal(), "hunter2hunter2");
}

TEST(SecretTest, MoveLeavesSourceEmpty) {
  SecretString a(std::string("abc"));
  SecretString b = std::move(a);
  EXPECT_TRUE(a.empty());  // NOLINT(bugprone-use-after-move): the point of the test
  EXPECT_EQ(b.reveal(), "abc");
}

TEST(SecretTest, SecureZeroWipes) {
  char buf[4] = {'a', 'b', 'c', 'd'};
  SecureZero(buf, sizeof buf);
  for (char c : buf) EXPECT_EQ(c, 0);
}

}  // namespace
}  // namespace portcullis
