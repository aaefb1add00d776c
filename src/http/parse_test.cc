#include "http/parse.h"

#include <gtest/gtest.h>

namespace portcullis::http {
namespace {

Request FormRequest(std::string_view content_type, std::string body) {
  Request req;
  if (!content_type.empty()) {
    req.message.set(boost::beast::http::field::content_type,
                    boost::beast::string_view(content_type.data(), content_type.size()));
  }
  req.message.body() = std::move(body);
  return req;
}

TEST(ParseQueryTest, DecodesPlusAndPercentEscapes) {
  Result<FormFields> r = ParseQuery("username=a+b&password=p%26ss%3D&empty=&flag");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->fields.size(), 4u);
  EXPECT_EQ(*r->Get("username"), "a b");
  EXPECT_EQ(*r->Get("password"), "p&ss=");
  EXPECT_EQ(*r->Get("empty"), "");
  EXPECT_EQ(*r->Get("flag"), "");
  EXPECT_EQ(r->Get("missing"), nullptr);
}

TEST(ParseQueryTest, KeepsOrderAndSkipsEmptyPieces) {
  Result<FormFields> r = ParseQuery("&b=2&&a=1&");
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->fields.size(), 2u);
  EXPECT_EQ(r->fields[0].first, "b");
  EXPECT_EQ(r->fields[1].first, "a");
}

TEST(ParseQueryTest, EmptyStringHasNoFields) {
  Result<FormFields> r = ParseQuery("");
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->fields.empty());
}

TEST(ParseQueryTest, RejectsDuplicateNamesEvenWhenEncodedDifferently) {
  EXPECT_EQ(ParseQuery("scope=a&scope=b").status(),
            InvalidArgumentError("parameter \"scope\" is repeated"));
  EXPECT_EQ(ParseQuery("scope=a&%73cope=b").status(),
            InvalidArgumentError("parameter \"scope\" is repeated"));
}

TEST(ParseQueryTest, RejectsBadPercentEncodingWithoutEchoingTheValue) {
  EXPECT_EQ(ParseQuery("password=secret%zz").status(),
            InvalidArgumentError("invalid percent-encoding in parameter \"password\""));
  EXPECT_EQ(ParseQuery("pass%word=1").status(),
            InvalidArgumentError("invalid percent-encoding in a parameter name"));
}

TEST(ParseQueryTest, RejectsInvalidUtf8AfterDecoding) {
  EXPECT_EQ(ParseQuery("username=%C3%28").status(),
            InvalidArgumentError("invalid UTF-8 in parameter \"username\""));
  EXPECT_EQ(ParseQuery("%FF=1").status(),
            InvalidArgumentError("invalid UTF-8 in a parameter name"));
}

TEST(ParseQueryTest, RejectsEmptyNameAndTooManyFields) {
  EXPECT_EQ(ParseQuery("=value").status(), InvalidArgumentError("empty parameter name"));
  std::string many;
  for (std::size_t i = 0; i <= kMaxFormFields; ++i) many += "p" + std::to_string(i) + "=1&";
  EXPECT_EQ(ParseQuery(many).status(), InvalidArgumentError("too many parameters (at most 64)"));
}

TEST(ParseFormTest, AcceptsFormContentTypeWithUtf8Charset) {
  for (std::string_view type :
       {"application/x-www-form-urlencoded", "Application/X-WWW-Form-URLEncoded",
        "application/x-www-form-urlencoded; charset=UTF-8",
        "application/x-www-form-urlencoded;charset=\"utf-8\""}) {
    Result<FormFields> r = ParseForm(FormRequest(type, "grant_type=password"));
    ASSERT_TRUE(r.ok()) << type;
    EXPECT_EQ(*r->Get("grant_type"), "password");
  }
}

TEST(ParseFormTest, RejectsWrongOrMissingContentType) {
  const Status expected =
      InvalidArgumentError("Content-Type must be application/x-www-form-urlencoded");
  EXPECT_EQ(ParseForm(FormRequest("", "a=1")).status(), expected);
  EXPECT_EQ(ParseForm(FormRequest("application/json", "a=1")).status(), expected);
  EXPECT_EQ(
      ParseForm(FormRequest("application/x-www-form-urlencoded; charset=latin1", "a=1")).status(),
      expected);
  EXPECT_EQ(ParseForm(FormRequest("multipart/form-data; boundary=x", "a=1")).status(), expected);
}

TEST(ParseFormTest, RejectsDuplicateParameters) {
  EXPECT_EQ(ParseForm(FormRequest("application/x-www-form-urlencoded",
                                  "grant_type=password&grant_type=client_credentials"))
                .status(),
            InvalidArgumentError("parameter \"grant_type\" is repeated"));
}

TEST(ParseJsonBodyTest, ParsesAnObject) {
  Result<boost::json::object> r =
      ParseJsonBody(FormRequest("application/json; charset=utf-8", R"({"name":"x"})"));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->at("name").as_string(), "x");
}

TEST(ParseJsonBodyTest, RejectsWrongContentTypeNonObjectAndDuplicates) {
  EXPECT_EQ(ParseJsonBody(FormRequest("text/plain", "{}")).status(),
            InvalidArgumentError("Content-Type must be application/json"));
  EXPECT_EQ(ParseJsonBody(FormRequest("application/json", "[1]")).status(),
            InvalidArgumentError("the request body must be a JSON object"));
  Result<boost::json::object> dup =
      ParseJsonBody(FormRequest("application/json", R"({"a":1,"a":2})"));
  EXPECT_EQ(dup.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(dup.status().message().find("duplicate"), std::string::npos) << dup.status().message();
}

}  // namespace
}  // namespace portcullis::http

namespace portcullis::http {
namespace {

TEST(RequestHeaderTest, CaseInsensitiveFirstOccurrenceAndAbsent) {
  Request req;
  req.message.insert("X-Forwarded-Uri", "/first");
  req.message.insert("authorization", "Bearer abc");
  req.message.insert("x-forwarded-uri", "/second");
  req.message.insert("X-Forwarded-Url", "/other");
  EXPECT_EQ(req.Header("X-Forwarded-Uri"), "/first");
  EXPECT_EQ(req.Header("X-FORWARDED-URI"), "/first");
  EXPECT_EQ(req.Header("Authorization"), "Bearer abc");
  EXPECT_EQ(req.Header("X-Forwarded-Url"), "/other");
  EXPECT_EQ(req.Header("X-Forwarded-Ur"), "");
  EXPECT_EQ(req.Header("Cookie"), "");
  req.message.insert("Empty", "");
  EXPECT_EQ(req.Header("empty"), "");
}

}  // namespace
}  // namespace portcullis::http
