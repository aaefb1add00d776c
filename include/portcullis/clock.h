// portcullis/clock.h: the time source a Verifier uses, injectable for tests.
//
// Thread-safety: implementations must be safe to call from several threads.
#pragma once

#include <cstdint>

namespace portcullis {

class VerifierClock {
 public:
  virtual ~VerifierClock() = default;
  // Wall-clock seconds since the Unix epoch; used for exp/nbf/iat, DPoP iat and refetch spacing.
  virtual std::int64_t NowSeconds() const = 0;
};

// The system clock. Never destroyed (a function-local static), safe to use from any thread.
const VerifierClock& SystemVerifierClock();

}  // namespace portcullis
