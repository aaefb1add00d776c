#include "password/policy.h"

#include <gtest/gtest.h>

#include <string>

namespace portcullis::password {
namespace {

std::string Repeat(std::string_view unit, std::size_t n) {
  std::string out;
  for (std::size_t i = 0; i < n; ++i) out += unit;
  return out;
}

struct PolicyCase {
  std::string name;
  std::string username;
  std::string password;
  PolicyError expected;
};

TEST(PolicyTest, TableOfDecisionsWithDefaultOptions) {
  const PolicyOptions options;
  const PolicyCase cases[] = {
      {"ok", "alice", "correct horse battery staple", PolicyError::kOk},
      {"twelve ascii", "alice", "gH7#kq2!Lm9z", PolicyError::kOk},
      {"eleven ascii", "alice", "gH7#kq2!Lm9", PolicyError::kTooShort},
      {"empty", "alice", "", PolicyError::kTooShort},
      // 11 code points in 22 bytes is short; 12 in 24 bytes is long enough.
      {"eleven accented", "alice", Repeat("\xC3\xA9", 11), PolicyError::kTooShort},
      {"twelve accented", "alice", Repeat("\xC3\xA9", 12), PolicyError::kOk},
      {"emoji count once", "alice", Repeat("\xF0\x9F\x94\x91", 12), PolicyError::kOk},
      {"256 code points", "alice", Repeat("x", 255) + "y", PolicyError::kOk},
      {"257 code points", "alice", Repeat("x", 256) + "y", PolicyError::kTooLong},
      {"256 three-byte code points", "alice", Repeat("\xE2\x82\xAC", 256), PolicyError::kOk},
      {"equals username", "AliceWonderland", "alicewonderland", PolicyError::kEqualsUsername},
      {"equals username exactly", "alicewonderland", "alicewonderland",
       PolicyError::kEqualsUsername},
      {"contains username", "alice", "alice-in-wonderland", PolicyError::kOk},
      {"common long", "alice", "passwordpassword", PolicyError::kCommon},
      {"common case-insensitive", "alice", "PassWordPassWord", PolicyError::kCommon},
      {"common keyboard walk", "alice", "qwertyuiopasdfghjkl", PolicyError::kCommon},
      {"common digits", "alice", "123456789012", PolicyError::kCommon},
      {"common phrase", "alice", "iloveyou1234", PolicyError::kCommon},
      {"common walk", "alice", "1qaz2wsx3edc", PolicyError::kCommon},
      {"invalid byte", "alice", "correct horse \xFF battery", PolicyError::kInvalidCharacters},
      {"overlong slash", "alice", "correct horse \xC0\xAF battery",
       PolicyError::kInvalidCharacters},
      {"surrogate", "alice", "correct horse \xED\xA0\x80 battery", PolicyError::kInvalidCharacters},
      {"above U+10FFFF", "alice", "correct horse \xF4\x90\x80\x80 battery",
       PolicyError::kInvalidCharacters},
      {"truncated sequence", "alice", "correct horse battery \xE2\x82",
       PolicyError::kInvalidCharacters},
      {"newline", "alice", "correct horse\nbattery", PolicyError::kInvalidCharacters},
      {"tab", "alice", "correct horse\tbattery", PolicyError::kInvalidCharacters},
      {"nul", "alice", std::string("correct horse\0battery", 21), PolicyError::kInvalidCharacters},
      {"delete", "alice",
       "correct horse\x7F"
       "battery",
       PolicyError::kInvalidCharacters},
      {"C1 control", "alice",
       "correct horse\xC2\x85"
       "battery",
       PolicyError::kInvalidCharacters},
      {"short and invalid", "alice", "\xFF", PolicyError::kInvalidCharacters},
      {"space is fine", "alice", "            ", PolicyError::kOk},
  };
  for (const PolicyCase& c : cases) {
    EXPECT_EQ(CheckPassword(c.username, c.password, options), c.expected) << c.name;
  }
}

TEST(PolicyTest, CommonCheckCanBeSwitchedOff) {
  PolicyOptions options;
  options.reject_common = false;
  EXPECT_EQ(CheckPassword("alice", "passwordpassword", options), PolicyError::kOk);
}

TEST(PolicyTest, CustomLengths) {
  PolicyOptions options;
  options.min_length = 8;
  options.max_length = 10;
  EXPECT_EQ(CheckPassword("alice", "password", options), PolicyError::kCommon);
  EXPECT_EQ(CheckPassword("alice", "Password1", options), PolicyError::kCommon);
  EXPECT_EQ(CheckPassword("alice", "asdfjkl;", options), PolicyError::kCommon);
  EXPECT_EQ(CheckPassword("alice", "vX9!kq2m", options), PolicyError::kOk);
  EXPECT_EQ(CheckPassword("alice", "vX9!kq2", options), PolicyError::kTooShort);
  EXPECT_EQ(CheckPassword("alice", "vX9!kq2mZZZ", options), PolicyError::kTooLong);
}

TEST(PolicyTest, EmptyUsernameNeverMatches) {
  PolicyOptions options;
  options.min_length = 0;
  options.reject_common = false;
  EXPECT_EQ(CheckPassword("", "", options), PolicyError::kOk);
}

TEST(PolicyTest, CommonListContainsTheWellKnownOnes) {
  for (std::string_view p :
       {"123456", "password", "qwerty", "letmein", "iloveyou", "monkey", "dragon", "111111",
        "abc123", "trustno1", "passwordpassword", "qwertyuiopasdfghjkl", "123456789012",
        "iloveyou1234", "!@#$%^&*", "qwertyuiop[]", "asdf;lkj", "P@ssw0rd"}) {
    EXPECT_TRUE(IsCommonPassword(p)) << p;
  }
  EXPECT_FALSE(IsCommonPassword("correct horse battery staple"));
  EXPECT_FALSE(IsCommonPassword(""));
  EXPECT_FALSE(IsCommonPassword(Repeat("password", 100)));
}

TEST(PolicyTest, DescribeIsAUserFacingSentence) {
  EXPECT_EQ(Describe(PolicyError::kOk), "password is acceptable");
  EXPECT_EQ(Describe(PolicyError::kTooShort), "password is too short");
  EXPECT_EQ(Describe(PolicyError::kTooLong), "password is too long");
  EXPECT_EQ(Describe(PolicyError::kEqualsUsername),
            "password must not be the same as the username");
  EXPECT_EQ(Describe(PolicyError::kCommon),
            "password is too common; choose a less predictable one");
  EXPECT_EQ(Describe(PolicyError::kInvalidCharacters),
            "password must be valid UTF-8 without control characters");
}

TEST(PolicyTest, DescribePolicyErrorNamesTheLimits) {
  PolicyOptions options;
  EXPECT_EQ(DescribePolicyError(PolicyError::kTooShort, options),
            "password must be at least 12 characters");
  EXPECT_EQ(DescribePolicyError(PolicyError::kTooLong, options),
            "password must be at most 256 characters");
  EXPECT_EQ(DescribePolicyError(PolicyError::kCommon, options), Describe(PolicyError::kCommon));
}

TEST(PolicyTest, ToStringNamesForLogs) {
  EXPECT_EQ(ToString(PolicyError::kOk), "ok");
  EXPECT_EQ(ToString(PolicyError::kTooShort), "too_short");
  EXPECT_EQ(ToString(PolicyError::kTooLong), "too_long");
  EXPECT_EQ(ToString(PolicyError::kEqualsUsername), "equals_username");
  EXPECT_EQ(ToString(PolicyError::kCommon), "common");
  EXPECT_EQ(ToString(PolicyError::kInvalidCharacters), "invalid_characters");
}

}  // namespace
}  // namespace portcullis::password
