// Clock: the one way Portcullis code reads the time, so tests can drive expiry, lockout windows
// and key rotation without sleeping.
//
// Thread-safety: SystemClock is stateless; FakeClock is safe to read and advance from any thread.
//
//   FakeClock clock(UnixSeconds{1'700'000'000});
//   clock.Advance(std::chrono::seconds(61));
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace portcullis {

// Seconds since the Unix epoch, the unit of JWT NumericDate (RFC 7519 §2).
using UnixSeconds = std::int64_t;

class Clock {
 public:
  virtual ~Clock() = default;
  // Wall-clock time in seconds since the epoch.
  virtual UnixSeconds Now() const = 0;
  // A monotonic reading in nanoseconds, for latencies and timeouts only.
  virtual std::int64_t MonotonicNanos() const = 0;
};

class SystemClock final : public Clock {
 public:
  UnixSeconds Now() const override {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
  std::int64_t MonotonicNanos() const override {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }
};

// A clock that moves only when told to.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(UnixSeconds now) : now_(now) {}
  UnixSeconds Now() const override { return now_.load(); }
  std::int64_t MonotonicNanos() const override { return now_.load() * 1'000'000'000; }
  void Set(UnixSeconds now) { now_.store(now); }
  void Advance(std::chrono::seconds d) { now_ += d.count(); }

 private:
  std::atomic<UnixSeconds> now_;
};

}  // namespace portcullis
