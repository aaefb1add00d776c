// HashMemory: the Argon2 working memory (m KiB, ~19 MiB with the defaults) kept between hashes
// instead of being allocated and freed by every one.
//
// Why: with malloc, glibc keeps a freed 19 MiB block in each hashing thread's arena for the life
// of the process (its mmap threshold rises past that size after the first free), so the memory
// of a login burst never went back to the OS; and giving it back per hash would cost ~50 ms of
// 4 KiB page faults on the next one. A pool of buffers, 2 MiB-aligned and advised for
// transparent huge pages, holds one buffer per hash running at once, re-faults a released buffer
// in 2 MiB pages (about 1 ms more for the first hash after a release), and lets a buffer nobody
// used for `idle_release` be unmapped (ReleaseIdle, called periodically, and opportunistically by
// the next Acquire; the server uses 2 s). Huge pages also make a hash about 2 % cheaper (fewer TLB
// misses on Argon2's pseudo-random block references; docs/benchmarks.md).
//
// A buffer is lent to one hash at a time; the pool holds as many as hashes ever ran at once (one
// per hash worker in the server). A buffer grows to the largest size asked of it, up to
// `max_retained_bytes`; a larger request (an imported hash with a huge m) gets a mapping of its
// own that is unmapped as soon as it is returned, as glibc did for it before.
//
// Secrets: libargon2 wipes the whole memory (secure_wipe_memory, FLAG_clear_internal_memory, on by
// default and not exported) before it calls the free callback, so a buffer returned here holds
// zeros, as the freed heap block did before (hash_memory_test checks it). Buffers are excluded
// from core dumps (MADV_DONTDUMP).
//
// Thread-safety: every member may be called from any thread. A pointer from Acquire must be given
// back with Release before the pool is destroyed.
//
//   HashMemory memory(clock);
//   std::uint8_t* block = memory.Acquire(bytes);  // nullptr when out of memory
//   ... argon2 ...
//   memory.Release(block);
//   memory.ReleaseIdle();  // periodically (the server: every second)
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <vector>

#include "base/clock.h"

namespace portcullis::password {

class HashMemory {
 public:
  struct Options {
    // A buffer not lent for this long is unmapped by the next ReleaseIdle or Acquire.
    std::chrono::seconds idle_release = std::chrono::seconds(60);
    // Buffers up to this size are kept between hashes; larger ones are unmapped when returned.
    std::size_t max_retained_bytes = std::size_t{64} << 20;
  };

  // Memory held by the pool, for tests and metrics.
  struct Stats {
    std::size_t buffers = 0;       // mapped buffers, lent or not
    std::size_t lent = 0;          // buffers a hash is using now
    std::size_t mapped_bytes = 0;  // their total size
  };

  // `clock` (its MonotonicNanos) times the idle release; it must outlive the pool.
  explicit HashMemory(const Clock& clock) : HashMemory(clock, Options{}) {}
  HashMemory(const Clock& clock, Options options) : clock_(clock), options_(options) {}
  // Unmaps every buffer. Precondition: none is lent.
  ~HashMemory();
  HashMemory(const HashMemory&) = delete;
  HashMemory& operator=(const HashMemory&) = delete;

  // At least `bytes` bytes of writable memory, 2 MiB-aligned when `bytes` is 2 MiB or more, lent
  // to the caller until Release; its contents are unspecified (zeros, or whatever the previous
  // borrower left, which with libargon2 is zeros). Reuses the most recently returned buffer that
  // is free, growing it if it is too small; maps a new one only when every buffer is lent.
  // Also unmaps the other free buffers idle for `idle_release`. nullptr if mmap fails.
  std::uint8_t* Acquire(std::size_t bytes);

  // Gives back memory from Acquire, which must not be used afterwards.
  void Release(std::uint8_t* memory);

  // Unmaps the free buffers not lent for `idle_release` or longer; returns the bytes unmapped.
  std::size_t ReleaseIdle();

  Stats stats() const;

 private:
  struct Buffer {
    std::uint8_t* data = nullptr;
    std::size_t size = 0;
    std::int64_t returned_at_ns = 0;  // when last given back (MonotonicNanos)
    bool lent = false;
  };

  // Removes from buffers_ and returns the free buffers idle at `now_ns`. Requires mu_.
  std::vector<Buffer> TakeIdleLocked(std::int64_t now_ns);

  const Clock& clock_;
  const Options options_;
  mutable std::mutex mu_;
  std::vector<Buffer> buffers_;  // guarded by mu_; a handful (one per hashing thread)
};

}  // namespace portcullis::password
