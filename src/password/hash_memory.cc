#include "password/hash_memory.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

namespace portcullis::password {
namespace {

// Transparent huge page size on x86-64 (and arm64 with 4 KiB pages).
constexpr std::size_t kHugePageBytes = std::size_t{2} << 20;

std::size_t RoundUp(std::size_t n, std::size_t multiple) {
  return (n + multiple - 1) / multiple * multiple;
}

std::size_t PageBytes() {
  static const std::size_t page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
  return page;
}

// What a request for `bytes` maps: whole huge pages from 2 MiB up (so THP can back all of it),
// whole pages below (small costs in tests and imports need no 2 MiB).
std::size_t MappedSize(std::size_t bytes) {
  return bytes >= kHugePageBytes ? RoundUp(bytes, kHugePageBytes) : RoundUp(bytes, PageBytes());
}

// An anonymous private mapping of `size` bytes (a MappedSize), 2 MiB-aligned when it is at least
// 2 MiB; nullptr if the kernel refuses.
std::uint8_t* Map(std::size_t size) {
  const std::size_t alignment = size >= kHugePageBytes ? kHugePageBytes : PageBytes();
  // Over-reserve by the alignment and trim both ends: mmap only promises page alignment.
  const std::size_t reserved = size + alignment - PageBytes();
  void* raw = mmap(nullptr, reserved, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) return nullptr;
  auto* start = static_cast<std::uint8_t*>(raw);
  auto* aligned =
      reinterpret_cast<std::uint8_t*>(RoundUp(reinterpret_cast<std::uintptr_t>(start), alignment));
  const std::size_t head = static_cast<std::size_t>(aligned - start);
  const std::size_t tail = reserved - head - size;
  if (head > 0) munmap(start, head);
  if (tail > 0) munmap(aligned + size, tail);
  if (size >= kHugePageBytes) {
    // Argon2 reads blocks at pseudo-random offsets over the whole area, and first-touching 19 MiB
    // of 4 KiB pages costs ~4,900 faults (a first hash of ~50-70 ms instead of ~18.5). Faulting
    // it in lazily measured the same as prefaulting (MADV_POPULATE_WRITE; MAP_POPULATE would fault
    // 4 KiB pages before this advice): the same pages get zeroed either way. Advice only: with
    // THP off this is a no-op (an error is ignored).
    (void)madvise(aligned, size, MADV_HUGEPAGE);
  }
  // Password-derived blocks while a hash runs: keep them out of core dumps.
  (void)madvise(aligned, size, MADV_DONTDUMP);
  return aligned;
}

void Unmap(std::uint8_t* data, std::size_t size) {
  if (data != nullptr) munmap(data, size);
}

}  // namespace

HashMemory::~HashMemory() {
  for (const Buffer& buffer : buffers_) Unmap(buffer.data, buffer.size);
}

std::uint8_t* HashMemory::Acquire(std::size_t bytes) {
  const std::size_t size = MappedSize(std::max<std::size_t>(bytes, 1));
  const std::int64_t now_ns = clock_.MonotonicNanos();
  std::vector<Buffer> to_unmap;
  std::uint8_t* reused = nullptr;
  {
    std::lock_guard lock(mu_);
    // The most recently returned free buffer: big enough if one is, else the one to grow.
    Buffer* big_enough = nullptr;
    auto latest_free = buffers_.end();
    for (auto it = buffers_.begin(); it != buffers_.end(); ++it) {
      if (it->lent) continue;
      if (it->size >= size &&
          (big_enough == nullptr || it->returned_at_ns > big_enough->returned_at_ns)) {
        big_enough = &*it;
      }
      if (latest_free == buffers_.end() || it->returned_at_ns > latest_free->returned_at_ns) {
        latest_free = it;
      }
    }
    if (big_enough != nullptr) {
      big_enough->lent = true;
      reused = big_enough->data;
    } else if (latest_free != buffers_.end() && size <= options_.max_retained_bytes) {
      // Grow: the smaller buffer goes; its replacement is mapped below, outside the lock.
      to_unmap.push_back(*latest_free);
      buffers_.erase(latest_free);
    }
    // Picked first, so a buffer idle for long is reused rather than unmapped and mapped again.
    for (const Buffer& idle : TakeIdleLocked(now_ns)) to_unmap.push_back(idle);
  }
  for (const Buffer& buffer : to_unmap) Unmap(buffer.data, buffer.size);
  if (reused != nullptr) return reused;

  std::uint8_t* data = Map(size);
  if (data == nullptr) return nullptr;
  std::lock_guard lock(mu_);
  buffers_.push_back(Buffer{.data = data, .size = size, .returned_at_ns = now_ns, .lent = true});
  return data;
}

void HashMemory::Release(std::uint8_t* memory) {
  Buffer oversized;
  {
    std::lock_guard lock(mu_);
    auto it = std::find_if(buffers_.begin(), buffers_.end(),
                           [memory](const Buffer& b) { return b.data == memory && b.lent; });
    if (it == buffers_.end()) {
      // A pointer this pool did not lend (or lent twice): memory corruption is next.
      std::fputs("HashMemory::Release: memory not lent by this pool\n", stderr);
      std::abort();
    }
    if (it->size > options_.max_retained_bytes) {
      oversized = *it;
      buffers_.erase(it);
    } else {
      it->lent = false;
      it->returned_at_ns = clock_.MonotonicNanos();
    }
  }
  Unmap(oversized.data, oversized.size);
}

std::size_t HashMemory::ReleaseIdle() {
  std::vector<Buffer> idle;
  {
    std::lock_guard lock(mu_);
    idle = TakeIdleLocked(clock_.MonotonicNanos());
  }
  std::size_t released = 0;
  for (const Buffer& buffer : idle) {
    Unmap(buffer.data, buffer.size);
    released += buffer.size;
  }
  return released;
}

HashMemory::Stats HashMemory::stats() const {
  std::lock_guard lock(mu_);
  Stats stats;
  for (const Buffer& buffer : buffers_) {
    ++stats.buffers;
    if (buffer.lent) ++stats.lent;
    stats.mapped_bytes += buffer.size;
  }
  return stats;
}

std::vector<HashMemory::Buffer> HashMemory::TakeIdleLocked(std::int64_t now_ns) {
  const std::int64_t idle_ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(options_.idle_release).count();
  std::vector<Buffer> idle;
  std::erase_if(buffers_, [&](const Buffer& b) {
    if (b.lent || now_ns - b.returned_at_ns < idle_ns) return false;
    idle.push_back(b);
    return true;
  });
  return idle;
}

}  // namespace portcullis::password
