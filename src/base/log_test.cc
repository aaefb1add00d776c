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

TEST(LogTest, MicrosAreMillisecondsWithThreeDecimals) {
  Init(Level::kInfo, Format::kJson);
  EXPECT_EQ(FormatForTesting(Level::kInfo, "e",
                             {{"a", Micros{1'234'567}}, {"b", Micros{5}}, {"c", Micros{-1'500}}}),
            R"({"level":"info","event":"e","a":1234.567,"b":0.005,"c":-1.500})");
}

TEST(LogTest, QueuedInfoLinesReachStderrBeforeAnErrorAndOnFlush) {
  Init(Level::kInfo, Format::kJson);
  ::testing::internal::CaptureStderr();
  for (int i = 0; i < 100; ++i) WriteBatched(Level::kInfo, "queued.line", {{"n", i}});
  Error("then.error");
  WriteBatched(Level::kInfo, "after.error", {});
  Flush();
  const std::string out = ::testing::internal::GetCapturedStderr();
  const std::size_t last_queued = out.find(R"("n":99)");
  const std::size_t error = out.find("then.error");
  ASSERT_NE(last_queued, std::string::npos) << out;
  ASSERT_NE(error, std::string::npos);
  EXPECT_LT(last_queued, error);  // in order, none lost
  EXPECT_NE(out.find("after.error"), std::string::npos);
  EXPECT_EQ(out.find(R"("n":0)"), out.rfind(R"("n":0)"));  // each line once
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
