#include "http/server/tls.h"

#include <gtest/gtest.h>
#include <openssl/ssl.h>
#include <sys/stat.h>

#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/json/parse.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "http/server/test_server_for_testing.h"

namespace portcullis::http {
namespace {

using namespace portcullis::http::testing;  // NOLINT(google-build-using-namespace)
namespace ssl = boost::asio::ssl;

class TempDir {
 public:
  TempDir() {
    std::string templ = (std::filesystem::temp_directory_path() / "portcullis-tls-XXXXXX").string();
    path_ = ::mkdtemp(templ.data());
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string File(std::string_view name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

mode_t ModeOf(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 0777;
}

class TlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(GenerateSelfSignedCertificate(cert_, key_, {"localhost", "127.0.0.1"}), Status::Ok());
  }
  TempDir dir_;
  std::string cert_ = dir_.File("cert.pem");
  std::string key_ = dir_.File("key.pem");
};

TEST_F(TlsTest, GeneratedKeyFileHasMode0600) { EXPECT_EQ(ModeOf(key_), 0600u); }

TEST_F(TlsTest, GenerateRefusesToOverwriteAKey) {
  EXPECT_EQ(GenerateSelfSignedCertificate(dir_.File("other.pem"), key_, {"localhost"}),
            AlreadyExistsError(key_ + " already exists"));
}

TEST_F(TlsTest, GenerateRejectsHostsThatCouldInjectExtensions) {
  EXPECT_EQ(
      GenerateSelfSignedCertificate(dir_.File("c2.pem"), dir_.File("k2.pem"), {"a,DNS:evil"}),
      InvalidArgumentError("certificate host \"a,DNS:evil\" is neither an IP address nor a DNS "
                           "name"));
  EXPECT_FALSE(std::filesystem::exists(dir_.File("k2.pem")));
}

TEST_F(TlsTest, MakeTlsContextValidatesVersionAndFiles) {
  EXPECT_EQ(MakeTlsContext(cert_, key_, "1.1").status(),
            InvalidArgumentError("tls.min_version must be \"1.2\" or \"1.3\", got \"1.1\""));
  Result<std::shared_ptr<ssl::context>> missing =
      MakeTlsContext(dir_.File("absent.pem"), key_, "1.2");
  EXPECT_EQ(missing.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_TRUE(missing.status().message().starts_with("cannot load TLS certificate " +
                                                     dir_.File("absent.pem")))
      << missing.status().message();
  // A key that does not belong to the certificate.
  ASSERT_EQ(GenerateSelfSignedCertificate(dir_.File("c2.pem"), dir_.File("k2.pem"), {"x"}),
            Status::Ok());
  EXPECT_EQ(MakeTlsContext(cert_, dir_.File("k2.pem"), "1.2").status().code(),
            StatusCode::kFailedPrecondition);
  EXPECT_TRUE(MakeTlsContext(cert_, key_, "1.3").ok());
}

// A TLS client that trusts only the generated certificate and checks the host name.
class TlsClient {
 public:
  TlsClient(std::uint16_t port, const std::string& ca_file, int max_version = 0,
            const char* ciphers = nullptr)
      : ctx_(ssl::context::tls_client), stream_(ioc_, ctx_) {
    ctx_.set_verify_mode(ssl::verify_peer);
    ctx_.load_verify_file(ca_file);
    if (max_version != 0) SSL_set_max_proto_version(stream_.native_handle(), max_version);
    if (ciphers != nullptr) SSL_set_cipher_list(stream_.native_handle(), ciphers);
    stream_.set_verify_callback(ssl::host_name_verification("localhost"));
    SSL_set_tlsext_host_name(stream_.native_handle(), "localhost");
    beast::get_lowest_layer(stream_).connect(
        asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    SetReceiveTimeout(beast::get_lowest_layer(stream_).socket());
  }
  beast::error_code Handshake() {
    beast::error_code ec;
    stream_.handshake(ssl::stream_base::client, ec);
    return ec;
  }
  Response Send(HttpRequest req) {
    req.prepare_payload();
    bhttp::write(stream_, req);
    beast::flat_buffer buffer;
    Response res;
    bhttp::read(stream_, buffer, res);
    return res;
  }

 private:
  asio::io_context ioc_;
  ssl::context ctx_;
  beast::ssl_stream<beast::tcp_stream> stream_;
};

TEST_F(TlsTest, ServesOverTlsWithHstsAndVerifiableCertificate) {
  Result<std::shared_ptr<ssl::context>> ctx = MakeTlsContext(cert_, key_, "1.2");
  ASSERT_TRUE(ctx.ok()) << ctx.status().ToString();
  ServerOptions options;
  options.tls = *ctx;
  RunningServer server(options);
  TlsClient client(server.port(), cert_);
  ASSERT_EQ(client.Handshake(), beast::error_code());
  Response first = client.Send(Get("/echo"));
  EXPECT_EQ(first.result(), bhttp::status::ok);
  EXPECT_EQ(first[bhttp::field::strict_transport_security], "max-age=31536000; includeSubDomains");
  EXPECT_EQ(boost::json::parse(first.body()).at("tls"), true);
  // Keep-alive works over TLS too.
  EXPECT_EQ(client.Send(Get("/nope")).result(), bhttp::status::not_found);
}

TEST_F(TlsTest, Tls11ClientIsRefused) {
  Result<std::shared_ptr<ssl::context>> ctx = MakeTlsContext(cert_, key_, "1.2");
  ASSERT_TRUE(ctx.ok());
  ServerOptions options;
  options.tls = *ctx;
  RunningServer server(options);
  TlsClient client(server.port(), cert_, TLS1_1_VERSION);
  EXPECT_NE(client.Handshake(), beast::error_code());
}

TEST_F(TlsTest, CbcOnlyTls12ClientIsRefused) {
  Result<std::shared_ptr<ssl::context>> ctx = MakeTlsContext(cert_, key_, "1.2");
  ASSERT_TRUE(ctx.ok());
  ServerOptions options;
  options.tls = *ctx;
  RunningServer server(options);
  TlsClient client(server.port(), cert_, TLS1_2_VERSION, "ECDHE-ECDSA-AES128-SHA256");
  EXPECT_NE(client.Handshake(), beast::error_code());
  TlsClient gcm(server.port(), cert_, TLS1_2_VERSION, "ECDHE-ECDSA-AES128-GCM-SHA256");
  EXPECT_EQ(gcm.Handshake(), beast::error_code());
}

TEST_F(TlsTest, PlainHttpResponsesHaveNoHsts) {
  RunningServer server({});
  Client client(server.port());
  EXPECT_EQ(client.Send(Get("/echo")).count(bhttp::field::strict_transport_security), 0u);
}

}  // namespace
}  // namespace portcullis::http
