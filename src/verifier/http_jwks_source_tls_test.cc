// HTTPS fetches of the JWKS against a local TLS server whose certificates are made at test time
// with the `openssl` command (a throwaway CA, a leaf for 127.0.0.1 and one for another name):
// the chain and the host name are verified, and the ca_file option is what makes a private CA
// trusted.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "verifier/http_jwks_source.h"

namespace portcullis::verifier {
namespace {

namespace asio = boost::asio;
namespace ssl = asio::ssl;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;

constexpr char kJwks[] = R"({"keys":[]})";

// A CA and two leaves it signs: "good" for IP 127.0.0.1, "wrong" for DNS other.example.
class Pki {
 public:
  Pki() {
    dir_ = std::filesystem::temp_directory_path() /
           ("portcullis-tls-test-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
    const std::string d = dir_.string();
    Run("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 "
        "-subj /CN=test-ca -keyout " +
        d + "/ca.key -out " + d + "/ca.pem");
    Leaf("good", "IP:127.0.0.1");
    Leaf("wrong", "DNS:other.example");
  }
  ~Pki() { std::filesystem::remove_all(dir_); }
  std::string Path(const std::string& name) const { return (dir_ / name).string(); }

 private:
  static void Run(const std::string& command) {
    ASSERT_EQ(std::system((command + " >/dev/null 2>&1").c_str()), 0) << command;
  }
  void Leaf(const std::string& name, const std::string& san) {
    const std::string d = dir_.string();
    Run("openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=" + name +
        " -keyout " + d + "/" + name + ".key -out " + d + "/" + name + ".csr");
    std::ofstream(d + "/" + name + ".ext") << "subjectAltName=" << san << "\n";
    Run("openssl x509 -req -in " + d + "/" + name + ".csr -CA " + d + "/ca.pem -CAkey " + d +
        "/ca.key -CAcreateserial -days 2 -extfile " + d + "/" + name + ".ext -out " + d + "/" +
        name + ".pem");
  }
  std::filesystem::path dir_;
};

// One-thread HTTPS server on 127.0.0.1 serving the JWKS with the given leaf.
class TlsServer {
 public:
  TlsServer(const Pki& pki, const std::string& leaf)
      : context_(ssl::context::tls_server),
        acceptor_(ioc_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
    context_.use_certificate_chain_file(pki.Path(leaf + ".pem"));
    context_.use_private_key_file(pki.Path(leaf + ".key"), ssl::context::pem);
    thread_ = std::thread([this] { Serve(); });
  }
  ~TlsServer() {
    stop_ = true;
    beast::error_code ec;
    tcp::socket poke(ioc_);
    poke.connect(acceptor_.local_endpoint(), ec);  // wake accept()
    thread_.join();
  }
  std::string Url() const {
    return "https://127.0.0.1:" + std::to_string(acceptor_.local_endpoint().port()) + "/jwks";
  }
  std::atomic<int> served{0};

 private:
  void Serve() {
    while (!stop_) {
      beast::error_code ec;
      tcp::socket socket(ioc_);
      acceptor_.accept(socket, ec);
      if (ec || stop_) return;
      ssl::stream<tcp::socket> stream(std::move(socket), context_);
      stream.handshake(ssl::stream_base::server, ec);
      if (ec) continue;  // the client refused the certificate
      beast::flat_buffer buffer;
      bhttp::request<bhttp::string_body> req;
      bhttp::read(stream, buffer, req, ec);
      if (ec) continue;
      bhttp::response<bhttp::string_body> res(bhttp::status::ok, 11);
      res.body() = kJwks;
      res.prepare_payload();
      bhttp::write(stream, res, ec);
      ++served;
      stream.shutdown(ec);
    }
  }

  asio::io_context ioc_;
  ssl::context context_;
  tcp::acceptor acceptor_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

JwksFetchResult Fetch(const std::string& url, const std::string& ca_file) {
  Result<std::unique_ptr<JwksSource>> source =
      CreateHttpJwksSource({.url = url, .ca_file = ca_file, .timeout = std::chrono::seconds(5)});
  EXPECT_TRUE(source.ok()) << source.status().message();
  return source.ok() ? (*source)->Fetch() : JwksFetchResult{};
}

class HttpsJwksSourceTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { pki_ = new Pki(); }
  static void TearDownTestSuite() {
    delete pki_;
    pki_ = nullptr;
  }
  static Pki* pki_;
};
Pki* HttpsJwksSourceTest::pki_ = nullptr;

TEST_F(HttpsJwksSourceTest, FetchesWhenTheCaFileTrustsTheServer) {
  TlsServer server(*pki_, "good");
  JwksFetchResult r = Fetch(server.Url(), pki_->Path("ca.pem"));
  EXPECT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.body, kJwks);
  EXPECT_EQ(server.served.load(), 1);
}

TEST_F(HttpsJwksSourceTest, RefusesAServerTheSystemStoreDoesNotTrust) {
  TlsServer server(*pki_, "good");
  JwksFetchResult r = Fetch(server.Url(), "");
  EXPECT_FALSE(r.ok);
  EXPECT_TRUE(r.body.empty());
  EXPECT_EQ(server.served.load(), 0);
}

TEST_F(HttpsJwksSourceTest, RefusesACertificateForAnotherName) {
  TlsServer server(*pki_, "wrong");
  JwksFetchResult r = Fetch(server.Url(), pki_->Path("ca.pem"));
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(server.served.load(), 0);
}

TEST_F(HttpsJwksSourceTest, RefusesAChainFromAnotherCa) {
  TlsServer server(*pki_, "good");
  // The leaf's own certificate is no CA: trusting it as the only anchor fails the chain.
  JwksFetchResult r = Fetch(server.Url(), pki_->Path("wrong.pem"));
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(server.served.load(), 0);
}

}  // namespace
}  // namespace portcullis::verifier
