#include "base/log.h"

#include <gtest/gtest.h>

namespace portcullis::log {
namespace {

TEST(LogTest, JsonLineHasEventAndTypedFields) {
  Init(Level::kInfo, Format::kJson);
  EXPECT_EQ(FormatForTesting(Level::kInfo, "http.request",
                             {{"status", 200}, {"route", "/v1/me"}, {"tls", true}}),
            R"({"level":"info","event":"http.request","status":200,"route":"/v1/me","tls":true})");
}

TEST(LogTest, ControlCharactersAndInvalidUtf8AreEscaped) {
  std::string out;
  AppendJsonString(out, std::string_view("a\"b\\c\n\x01\xff", 8));
  EXPECT_EQ(out, "\"a\\\"b\\\\c\\u000a\\u0001\xEF\xBF\xBD\"");
}

TEST(LogTest, ValidMultibyteUtf8IsKept) {
  std::string out;
  AppendJsonString(out, "h\xC3\xA9llo");
  EXPECT_EQ(out, "\"h\xC3\xA9llo\"");
}

}  // namespace
}  // namespace portcullis::log
