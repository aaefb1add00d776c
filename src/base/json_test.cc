#include "base/json.h"

#include <gtest/gtest.h>

#include <string>

namespace portcullis {
namespace {

std::string ErrorOf(std::string_view text, const JsonLimits& limits = {}) {
  Result<boost::json::value> r = ParseJson(text, limits);
  if (r.ok()) return "OK";
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  return r.status().message();
}

TEST(ParseJsonTest, ParsesNestedObject) {
  Result<boost::json::value> r = ParseJson(R"( {"a":[1,2,{"b":"c"}],"d":null,"e":1.5} )");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const boost::json::object& o = r->as_object();
  EXPECT_EQ(o.at("a").as_array().size(), 3u);
  EXPECT_EQ(o.at("a").as_array()[2].as_object().at("b").as_string(), "c");
  EXPECT_TRUE(o.at("d").is_null());
  EXPECT_DOUBLE_EQ(o.at("e").as_double(), 1.5);
}

TEST(ParseJsonTest, ParsesScalarsAtTopLevel) {
  EXPECT_EQ(ParseJson("42")->as_int64(), 42);
  EXPECT_EQ(ParseJson("\"x\"")->as_string(), "x");
  EXPECT_TRUE(ParseJson("true")->as_bool());
}

TEST(ParseJsonTest, RejectsDuplicateKeyWithOffset) {
  EXPECT_EQ(ErrorOf(R"({"a":1,"a":2})"), "duplicate key \"a\" at offset 9");
}

TEST(ParseJsonTest, RejectsDuplicateKeyInNestedObject) {
  EXPECT_EQ(ErrorOf(R"({"x":{"a":1,"b":2,"a":3}})"), "duplicate key \"a\" at offset 20");
}

TEST(ParseJsonTest, RejectsDuplicateKeyWrittenWithEscape) {
  EXPECT_EQ(ErrorOf(R"({"a":1,"\u0061":2})"), "duplicate key \"a\" at offset 14");
}

TEST(ParseJsonTest, SameKeyInSiblingObjectsIsAllowed) {
  EXPECT_TRUE(ParseJson(R"([{"a":1},{"a":2}])").ok());
  EXPECT_TRUE(ParseJson(R"({"a":{"a":1}})").ok());
}

TEST(ParseJsonTest, RejectsInvalidUtf8) {
  EXPECT_EQ(ErrorOf("\"\xff\""), "invalid JSON (syntax error) at offset 1");
  EXPECT_EQ(ErrorOf("{\"\xc3\x28\":1}").substr(0, 12), "invalid JSON");
}

TEST(ParseJsonTest, RejectsLoneSurrogateEscape) {
  EXPECT_EQ(ErrorOf(R"("\ud800")").substr(0, 12), "invalid JSON");
}

TEST(ParseJsonTest, RejectsTrailingData) {
  EXPECT_EQ(ErrorOf("{} x"), "unexpected data after the JSON value at offset 3");
  EXPECT_EQ(ErrorOf("{}{}"), "unexpected data after the JSON value at offset 2");
  EXPECT_TRUE(ParseJson("{}  \n").ok());
}

TEST(ParseJsonTest, RejectsCommentsAndTrailingCommas) {
  EXPECT_EQ(ErrorOf("{} // c"), "unexpected data after the JSON value at offset 3");
  EXPECT_EQ(ErrorOf("[1 /* c */]").substr(0, 12), "invalid JSON");
  EXPECT_EQ(ErrorOf("[1,]").substr(0, 12), "invalid JSON");
  EXPECT_EQ(ErrorOf("{\"a\":1,}").substr(0, 12), "invalid JSON");
}

TEST(ParseJsonTest, RejectsNanAndEmptyInput) {
  EXPECT_EQ(ErrorOf("NaN").substr(0, 12), "invalid JSON");
  EXPECT_EQ(ErrorOf("").substr(0, 12), "invalid JSON");
}

TEST(ParseJsonTest, EnforcesDepthLimit) {
  EXPECT_TRUE(ParseJson("[[[]]]", JsonLimits{.max_depth = 3}).ok());
  EXPECT_EQ(ErrorOf("[[[[]]]]", JsonLimits{.max_depth = 3}), "nesting deeper than 3 at offset 3");
}

TEST(ParseJsonTest, EnforcesSizeLimit) {
  EXPECT_EQ(ErrorOf("[1,2]", JsonLimits{.max_bytes = 4}),
            "JSON text of 5 bytes exceeds the limit of 4");
}

TEST(ParseJsonTest, QuotedKeyInErrorIsSanitized) {
  EXPECT_EQ(ErrorOf("{\"\\n\":1,\"\\n\":2}"), "duplicate key \"?\" at offset 11");
}

}  // namespace
}  // namespace portcullis
