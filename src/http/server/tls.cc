#include "http/server/tls.h"

#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "crypto/openssl_ptr.h"
#include "http/server/request_meta.h"

namespace portcullis::http {
namespace {

namespace ssl = boost::asio::ssl;

using crypto::BignumPtr;
using crypto::BioPtr;
using crypto::EvpPkeyPtr;
using crypto::X509ExtensionPtr;
using crypto::X509Ptr;

constexpr long kCertificateValiditySeconds = 365L * 24 * 60 * 60;
constexpr int kSerialBits = 127;
constexpr std::size_t kMaxDnsNameLength = 253;

// Mozilla intermediate configuration, TLS 1.2 suites (TLS 1.3 suites are all AEAD already).
constexpr const char* kTls12Ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
    "DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305";
constexpr const char* kGroups = "X25519:P-256:P-384";

// The last OpenSSL error as text, clearing the queue so it cannot leak into a later operation.
std::string OpenSslError() {
  const unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return "unknown OpenSSL error";
  char buf[256];
  ERR_error_string_n(code, buf, sizeof(buf));
  return buf;
}

bool IsDnsName(std::string_view host) {
  if (host.empty() || host.size() > kMaxDnsNameLength) return false;
  for (char c : host) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '.' || c == '*';
    if (!ok) return false;
  }
  return true;
}

Status AddExtension(X509* cert, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
  X509ExtensionPtr ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str()));
  if (!ext || X509_add_ext(cert, ext.get(), -1) != 1) {
    return InternalError("cannot add certificate extension: " + OpenSslError());
  }
  return Status::Ok();
}

Result<std::string> ToPem(const std::function<int(BIO*)>& write) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || write(bio.get()) != 1) return InternalError("PEM encoding failed: " + OpenSslError());
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio.get(), &data);
  std::string out(data, static_cast<std::size_t>(size));
  return out;
}

Status WriteAll(int fd, std::string_view data, const std::string& path) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return FailedPreconditionError("cannot write " + path + ": " + std::strerror(errno));
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  if (::fsync(fd) != 0) {
    return FailedPreconditionError("cannot sync " + path + ": " + std::strerror(errno));
  }
  return Status::Ok();
}

Status WriteNewFile(const std::string& path, std::string_view data, int flags, mode_t mode) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | flags, mode);
  if (fd < 0) {
    const int err = errno;
    if (err == EEXIST) return AlreadyExistsError(path + " already exists");
    return FailedPreconditionError("cannot create " + path + ": " + std::strerror(err));
  }
  Status status = WriteAll(fd, data, path);
  if (::close(fd) != 0 && status.ok()) {
    status = FailedPreconditionError("cannot close " + path + ": " + std::strerror(errno));
  }
  return status;
}

}  // namespace

Result<std::shared_ptr<ssl::context>> MakeTlsContext(const std::string& cert_file,
                                                     const std::string& key_file,
                                                     std::string_view min_version) {
  int min_proto = 0;
  if (min_version == "1.2") {
    min_proto = TLS1_2_VERSION;
  } else if (min_version == "1.3") {
    min_proto = TLS1_3_VERSION;
  } else {
    return InvalidArgumentError("tls.min_version must be \"1.2\" or \"1.3\", got \"" +
                                std::string(min_version) + "\"");
  }
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
  SSL_CTX* native = ctx->native_handle();
  if (SSL_CTX_set_min_proto_version(native, min_proto) != 1) {
    return InternalError("cannot set the minimum TLS version: " + OpenSslError());
  }
  SSL_CTX_set_options(native, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
                                  SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_SINGLE_DH_USE |
                                  SSL_OP_SINGLE_ECDH_USE);
  if (SSL_CTX_set_cipher_list(native, kTls12Ciphers) != 1 ||
      SSL_CTX_set1_groups_list(native, kGroups) != 1 || SSL_CTX_set_dh_auto(native, 1) != 1) {
    return InternalError("cannot configure TLS cipher suites: " + OpenSslError());
  }
  if (SSL_CTX_use_certificate_chain_file(native, cert_file.c_str()) != 1) {
    return FailedPreconditionError("cannot load TLS certificate " + cert_file + ": " +
                                   OpenSslError());
  }
  if (SSL_CTX_use_PrivateKey_file(native, key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    return FailedPreconditionError("cannot load TLS private key " + key_file + ": " +
                                   OpenSslError());
  }
  if (SSL_CTX_check_private_key(native) != 1) {
    return FailedPreconditionError("TLS private key " + key_file + " does not match certificate " +
                                   cert_file + ": " + OpenSslError());
  }
  return ctx;
}

Status GenerateSelfSignedCertificate(const std::string& cert_path, const std::string& key_path,
                                     const std::vector<std::string>& hosts) {
  std::vector<std::string> names = hosts.empty() ? std::vector<std::string>{"localhost"} : hosts;
  std::string san;
  for (const std::string& host : names) {
    if (!san.empty()) san += ',';
    if (std::optional<std::string> ip = CanonicalIp(host)) {
      san += "IP:" + *ip;
    } else if (IsDnsName(host)) {
      san += "DNS:" + host;
    } else {
      return InvalidArgumentError("certificate host \"" + host +
                                  "\" is neither an IP address nor a DNS name");
    }
  }

  EvpPkeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  if (!key) return InternalError("EC key generation failed: " + OpenSslError());

  X509Ptr cert(X509_new());
  BignumPtr serial(BN_new());
  if (!cert || !serial) return InternalError("out of memory: " + OpenSslError());
  X509_NAME* name = X509_get_subject_name(cert.get());
  if (X509_set_version(cert.get(), 2) != 1 ||
      BN_rand(serial.get(), kSerialBits, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1 ||
      BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert.get())) == nullptr ||
      X509_gmtime_adj(X509_getm_notBefore(cert.get()), 0) == nullptr ||
      X509_gmtime_adj(X509_getm_notAfter(cert.get()), kCertificateValiditySeconds) == nullptr ||
      X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(names.front().c_str()), -1,
                                 -1, 0) != 1 ||
      X509_set_issuer_name(cert.get(), name) != 1 || X509_set_pubkey(cert.get(), key.get()) != 1) {
    return InternalError("cannot build certificate: " + OpenSslError());
  }
  for (const auto& [nid, value] : std::initializer_list<std::pair<int, std::string>>{
           {NID_basic_constraints, "critical,CA:FALSE"},
           {NID_key_usage, "critical,digitalSignature"},
           {NID_ext_key_usage, "serverAuth"},
           {NID_subject_key_identifier, "hash"},
           {NID_authority_key_identifier, "keyid:always"},
           {NID_subject_alt_name, san}}) {
    if (Status s = AddExtension(cert.get(), nid, value); !s.ok()) return s;
  }
  if (X509_sign(cert.get(), key.get(), EVP_sha256()) == 0) {
    return InternalError("cannot sign certificate: " + OpenSslError());
  }

  Result<std::string> key_pem = ToPem([&](BIO* bio) {
    return PEM_write_bio_PrivateKey(bio, key.get(), nullptr, nullptr, 0, nullptr, nullptr);
  });
  if (!key_pem.ok()) return key_pem.status();
  Result<std::string> cert_pem =
      ToPem([&](BIO* bio) { return PEM_write_bio_X509(bio, cert.get()); });
  if (!cert_pem.ok()) return cert_pem.status();

  // The key file gets its final mode at creation (O_EXCL, 0600): it is never world-readable, not
  // even for a moment, and an existing file (or a planted symlink) is never overwritten.
  Status status = WriteNewFile(key_path, *key_pem, O_EXCL | O_NOFOLLOW, 0600);
  OPENSSL_cleanse(key_pem->data(), key_pem->size());
  if (!status.ok()) return status;
  status = WriteNewFile(cert_path, *cert_pem, O_TRUNC, 0644);
  if (!status.ok()) {
    ::unlink(key_path.c_str());
    return status;
  }
  return Status::Ok();
}

}  // namespace portcullis::http
