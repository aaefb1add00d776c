// portcullis/jwks_source.h: where a Verifier gets the issuer's JWKS document.
//
// The default source (built by Verifier::Create from VerifierOptions::jwks_url) fetches over
// HTTPS with certificate verification; tests and embedders may supply their own.
//
// Thread-safety: Fetch may be called from any thread, never concurrently by one Verifier.
#pragma once

#include <string>

namespace portcullis {

struct JwksFetchResult {
  bool ok = false;
  std::string body;   // the JWKS JSON document when ok
  std::string error;  // a human-readable reason when !ok (for logs only)
};

class JwksSource {
 public:
  virtual ~JwksSource() = default;
  // Fetches the JWKS document. Must be bounded in time and size; a failure is not fatal to the
  // Verifier, which keeps serving with the last good key set.
  virtual JwksFetchResult Fetch() = 0;
};

}  // namespace portcullis
