// TLS for the server: the server-side SSL context and a self-signed certificate for `--tls auto`.
//
// Policy (Mozilla "intermediate"): TLS 1.2 minimum (1.3 when min_version is "1.3"); TLS 1.2 cipher
// suites limited to ECDHE/DHE key exchange with AES-GCM or ChaCha20-Poly1305; no compression; no
// renegotiation; the server's cipher preference wins.
//
// Thread-safety: the returned context may be shared by all connections once built.
//
//   Result<std::shared_ptr<ssl::context>> tls = MakeTlsContext(cert, key, "1.2");
#pragma once

#include <boost/asio/ssl/context.hpp>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace portcullis::http {

// Builds a server context from a PEM certificate chain and PEM private key. Fails with
// kInvalidArgument for a min_version other than "1.2" or "1.3", and kFailedPrecondition naming the
// file when the certificate or key cannot be loaded or do not match.
Result<std::shared_ptr<boost::asio::ssl::context>> MakeTlsContext(const std::string& cert_file,
                                                                  const std::string& key_file,
                                                                  std::string_view min_version);

// Writes a new EC P-256 key and a self-signed X.509 v3 certificate for `hosts` (DNS names or IP
// literals; the first is the subject CN, all go into subjectAltName; "localhost" when empty), valid
// from now for one year, as PEM. The key file is created with O_EXCL and mode 0600, so it must not
// exist (kAlreadyExists otherwise); the certificate file is created or replaced with mode 0644.
// Fails with kInvalidArgument for a host that is neither an IP literal nor a DNS name, and with
// kInternal/kFailedPrecondition on OpenSSL or file errors (nothing is left behind).
Status GenerateSelfSignedCertificate(const std::string& cert_path, const std::string& key_path,
                                     const std::vector<std::string>& hosts);

}  // namespace portcullis::http
