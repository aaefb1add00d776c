#include "http/server/framing.h"

#include <gtest/gtest.h>

#include <boost/beast/http/field.hpp>
#include <initializer_list>
#include <string>
#include <utility>

namespace portcullis::http {
namespace {

namespace bhttp = boost::beast::http;
using bhttp::field;

bhttp::request_header<> Head(std::initializer_list<std::pair<field, std::string>> fields,
                             unsigned version = 11) {
  bhttp::request_header<> head;
  head.method(bhttp::verb::post);
  head.target("/v1/users");
  head.version(version);
  for (const auto& [name, value] : fields) head.insert(name, value);
  return head;
}

TEST(FramingTest, FindHeadEndIsJustPastTheEmptyLine) {
  EXPECT_EQ(FindHeadEnd("GET / HTTP/1.1\r\nHost: a\r\n\r\nbody"), 27u);
  EXPECT_EQ(FindHeadEnd("GET / HTTP/1.1\r\nHost: a\r\n"), std::nullopt);
  EXPECT_EQ(FindHeadEnd("GET / HTTP/1.1\r\nHost: a\r\n\r"), std::nullopt);
}

TEST(FramingTest, ObsFoldIsFoundWithSpaceOrTab) {
  EXPECT_TRUE(HasObsFold("GET / HTTP/1.1\r\nHost: a\r\nX-A: one\r\n two\r\n\r\n"));
  EXPECT_TRUE(HasObsFold("GET / HTTP/1.1\r\nHost: a\r\nX-A: one\r\n\ttwo\r\n\r\n"));
  // Whitespace between the request line and the first field (RFC 9112 §2.2).
  EXPECT_TRUE(HasObsFold("GET / HTTP/1.1\r\n Host: a\r\n\r\n"));
}

TEST(FramingTest, OrdinaryHeadHasNoObsFold) {
  EXPECT_FALSE(HasObsFold("GET / HTTP/1.1\r\nHost: a\r\nX-A: one two\t three\r\n\r\n"));
  EXPECT_FALSE(HasObsFold("GET / HTTP/1.1\r\n\r\n"));
}

TEST(FramingTest, PlainRequestsPass) {
  EXPECT_EQ(CheckFraming(Head({{field::host, "a.example:8443"}})), FramingError::kOk);
  EXPECT_EQ(CheckFraming(Head({{field::host, "a"}, {field::content_length, "12"}})),
            FramingError::kOk);
  EXPECT_EQ(CheckFraming(Head({{field::host, "a"}, {field::transfer_encoding, "chunked"}})),
            FramingError::kOk);
  EXPECT_EQ(CheckFraming(Head({{field::host, "a"}, {field::transfer_encoding, " Chunked "}})),
            FramingError::kOk);
  EXPECT_EQ(CheckFraming(Head({{field::host, "[::1]:80"}})), FramingError::kOk);
  EXPECT_EQ(CheckFraming(Head({}, 10)), FramingError::kOk);  // HTTP/1.0 needs no Host
}

TEST(FramingTest, ContentLengthWithTransferEncodingIsRefused) {
  // Beast ignores a Transfer-Encoding whose last coding is not chunked, and would then frame by
  // Content-Length: either way round, both present is refused.
  EXPECT_EQ(
      CheckFraming(Head({{field::transfer_encoding, "identity"}, {field::content_length, "5"}})),
      FramingError::kContentLengthWithTransferEncoding);
  EXPECT_EQ(
      CheckFraming(Head({{field::content_length, "5"}, {field::transfer_encoding, "chunked"}})),
      FramingError::kContentLengthWithTransferEncoding);
}

TEST(FramingTest, RepeatedContentLengthIsRefusedEvenWhenEqual) {
  EXPECT_EQ(CheckFraming(Head({{field::content_length, "5"}, {field::content_length, "5"}})),
            FramingError::kRepeatedContentLength);
  EXPECT_EQ(CheckFraming(Head({{field::content_length, "5, 5"}})),
            FramingError::kRepeatedContentLength);
  EXPECT_EQ(CheckFraming(Head({{field::content_length, "5"}, {field::content_length, "6"}})),
            FramingError::kRepeatedContentLength);
}

TEST(FramingTest, NonNumericContentLengthIsRefused) {
  EXPECT_EQ(CheckFraming(Head({{field::content_length, "+5"}})),
            FramingError::kInvalidContentLength);
  EXPECT_EQ(CheckFraming(Head({{field::content_length, "5,"}})),
            FramingError::kInvalidContentLength);
  EXPECT_EQ(CheckFraming(Head({{field::content_length, ""}})), FramingError::kInvalidContentLength);
}

TEST(FramingTest, TransferEncodingMustEndInASingleChunked) {
  EXPECT_EQ(CheckFraming(Head({{field::transfer_encoding, "chunked, identity"}})),
            FramingError::kChunkedNotFinal);
  EXPECT_EQ(CheckFraming(Head({{field::transfer_encoding, "xchunked"}})),
            FramingError::kChunkedNotFinal);
  EXPECT_EQ(CheckFraming(Head(
                {{field::transfer_encoding, "chunked"}, {field::transfer_encoding, "chunked"}})),
            FramingError::kChunkedNotFinal);
  EXPECT_EQ(CheckFraming(Head({{field::transfer_encoding, "gzip, chunked"}})),
            FramingError::kUnsupportedTransferCoding);
  EXPECT_EQ(CheckFraming(
                Head({{field::transfer_encoding, "gzip"}, {field::transfer_encoding, "chunked"}})),
            FramingError::kUnsupportedTransferCoding);
}

TEST(FramingTest, TransferEncodingInHttp10IsRefused) {
  EXPECT_EQ(CheckFraming(Head({{field::transfer_encoding, "chunked"}}, 10)),
            FramingError::kTransferEncodingInHttp10);
}

TEST(FramingTest, RepeatedHostIsRefusedEvenWhenEqual) {
  EXPECT_EQ(CheckFraming(Head({{field::host, "a"}, {field::host, "a"}})),
            FramingError::kRepeatedHost);
  EXPECT_EQ(CheckFraming(Head({{field::host, "a"}, {field::host, "evil"}})),
            FramingError::kRepeatedHost);
}

TEST(FramingTest, HostListOrPathIsRefused) {
  EXPECT_EQ(CheckFraming(Head({{field::host, "a, evil"}})), FramingError::kInvalidHost);
  EXPECT_EQ(CheckFraming(Head({{field::host, "a/b"}})), FramingError::kInvalidHost);
  EXPECT_EQ(CheckFraming(Head({{field::host, "user@a"}})), FramingError::kInvalidHost);
}

TEST(FramingTest, EveryErrorHasAName) {
  for (FramingError e :
       {FramingError::kOk, FramingError::kObsFold, FramingError::kContentLengthWithTransferEncoding,
        FramingError::kRepeatedContentLength, FramingError::kInvalidContentLength,
        FramingError::kChunkedNotFinal, FramingError::kUnsupportedTransferCoding,
        FramingError::kTransferEncodingInHttp10, FramingError::kRepeatedHost,
        FramingError::kInvalidHost}) {
    EXPECT_NE(ToString(e), "unknown");
  }
}

}  // namespace
}  // namespace portcullis::http
