// JwksCache: the verifier's cached copy of the issuer's key set, refetched on demand.
//
// Keys() returns the last key set that parsed; a failed fetch or an unparseable document never
// replaces it. RefreshForUnknownKid() refetches at most once per min_refresh (measured on the
// injected clock), so a stream of tokens naming forged kids costs the issuer one request per
// interval at most (no amplification).
//
// Thread-safety: all methods may be called concurrently; fetches are serialized.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "base/status.h"
#include "jose/key_ring.h"
#include "portcullis/clock.h"
#include "portcullis/jwks_source.h"

namespace portcullis::verifier {

// Parses a JWKS document (RFC 7517 §5). Keys that are not signing keys Portcullis understands
// (unknown kty/alg, "use":"enc", private members) are skipped, as RFC 7517 §5 allows; a document
// that is not JSON, has no "keys" array, or yields no usable key is kInvalidArgument.
Result<jose::KeyRing> ParseJwks(std::string_view body);

class JwksCache {
 public:
  JwksCache(JwksSource& source, const VerifierClock& clock, std::chrono::seconds min_refresh);

  // The current key set, or null when no fetch has succeeded yet.
  std::shared_ptr<const jose::KeyRing> Keys() const;

  // Fetches now, regardless of spacing. True when a new key set was installed.
  bool Refresh();

  // Fetches unless the previous fetch attempt (successful or not) was less than min_refresh ago.
  // True when a new key set was installed.
  bool RefreshForUnknownKid();

  // Fetch attempts so far (for tests and metrics).
  std::uint64_t fetch_count() const;

 private:
  bool RefreshLocked();

  JwksSource& source_;
  const VerifierClock& clock_;
  const std::chrono::seconds min_refresh_;

  mutable std::mutex keys_mu_;
  std::shared_ptr<const jose::KeyRing> keys_;  // GUARDED_BY(keys_mu_)

  mutable std::mutex fetch_mu_;      // serializes fetches
  bool attempted_ = false;           // GUARDED_BY(fetch_mu_)
  std::int64_t last_attempt_s_ = 0;  // GUARDED_BY(fetch_mu_)
  std::uint64_t fetch_count_ = 0;    // GUARDED_BY(fetch_mu_)
};

}  // namespace portcullis::verifier
