// HttpJwksSource: fetches a JWKS document over HTTPS (or plain HTTP to a loopback host, for
// tests) with Boost.Beast, synchronously on the caller's thread.
//
// Bounded: one deadline covers resolve, connect, TLS handshake, write and read; the body may
// be at most kMaxJwksBodyBytes; redirects are not followed (a 3xx is a failure); only 200 counts.
// TLS verifies the peer's certificate chain (ca_file, or the system trust store) and host name.
//
// Thread-safety: Fetch may be called from several threads; each call has its own io_context.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

#include "base/status.h"
#include "portcullis/jwks_source.h"

namespace portcullis::verifier {

inline constexpr std::size_t kMaxJwksBodyBytes = 1024 * 1024;

struct HttpJwksSourceOptions {
  std::string url;      // https://host[:port]/path, or http:// with a loopback host
  std::string ca_file;  // PEM; empty = system default verify paths
  std::chrono::seconds timeout{5};
};

// Validates the URL (scheme, loopback-only http, no userinfo or fragment) and the CA file.
Result<std::unique_ptr<JwksSource>> CreateHttpJwksSource(const HttpJwksSourceOptions& options);

}  // namespace portcullis::verifier
