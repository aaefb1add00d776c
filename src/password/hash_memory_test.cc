#include "password/hash_memory.h"

#include <argon2.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "base/clock.h"
#include "password/hasher.h"

namespace portcullis::password {
namespace {

using std::chrono::seconds;

constexpr std::size_t kMiB = std::size_t{1} << 20;
constexpr UnixSeconds kStart = 1'700'000'000;

// The PHC string libargon2 itself writes (its own malloc'd memory, nothing reused).
std::string ReferencePhc(std::string_view password, const std::array<std::uint8_t, 16>& salt,
                         const Argon2Params& params) {
  std::string out(argon2_encodedlen(params.iterations, params.memory_kib, 1,
                                    static_cast<std::uint32_t>(salt.size()), 32, Argon2_id),
                  '\0');
  EXPECT_EQ(
      argon2id_hash_encoded(params.iterations, params.memory_kib, 1, password.data(),
                            password.size(), salt.data(), salt.size(), 32, out.data(), out.size()),
      ARGON2_OK);
  out.resize(std::char_traits<char>::length(out.c_str()));
  return out;
}

std::array<std::uint8_t, 16> Salt(std::uint8_t seed) {
  std::array<std::uint8_t, 16> salt{};
  for (std::size_t i = 0; i < salt.size(); ++i) salt[i] = static_cast<std::uint8_t>(seed + i * 7);
  return salt;
}

Hasher MakeHasher(const Argon2Params& params, const Clock& clock) {
  Result<Hasher> hasher = Hasher::Create(params, clock);
  EXPECT_TRUE(hasher.ok()) << hasher.status().ToString();
  return std::move(hasher).value();
}

// --- HashMemory on its own ---

TEST(HashMemoryTest, ReturnedBufferIsLentAgainToTheNextAcquire) {
  FakeClock clock(kStart);
  HashMemory memory(clock);
  std::uint8_t* first = memory.Acquire(19456 * 1024);
  ASSERT_NE(first, nullptr);
  first[0] = 1;
  first[19456 * 1024 - 1] = 2;  // the whole request is writable
  memory.Release(first);
  EXPECT_EQ(memory.Acquire(19456 * 1024), first);
  EXPECT_EQ(memory.stats().buffers, 1u);
  EXPECT_EQ(memory.stats().lent, 1u);
  memory.Release(first);
  EXPECT_EQ(memory.stats().lent, 0u);
}

TEST(HashMemoryTest, LargeBuffersAreWholeHugePagesTwoMiBAligned) {
  FakeClock clock(kStart);
  HashMemory memory(clock);
  std::uint8_t* data = memory.Acquire(19456 * 1024);
  ASSERT_NE(data, nullptr);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(data) % (2 * kMiB), 0u);
  EXPECT_EQ(memory.stats().mapped_bytes, 20 * kMiB);  // 19 MiB rounded up to 2 MiB pages
  memory.Release(data);
}

TEST(HashMemoryTest, BufferGrowsWhenALargerSizeIsAsked) {
  FakeClock clock(kStart);
  HashMemory memory(clock);
  memory.Release(memory.Acquire(64 * 1024));
  EXPECT_EQ(memory.stats().mapped_bytes, 64u * 1024);
  memory.Release(memory.Acquire(4 * kMiB));
  EXPECT_EQ(memory.stats().buffers, 1u);  // replaced, not added
  EXPECT_EQ(memory.stats().mapped_bytes, 4 * kMiB);
  // A smaller request afterwards takes the big buffer as it is.
  memory.Release(memory.Acquire(64 * 1024));
  EXPECT_EQ(memory.stats().mapped_bytes, 4 * kMiB);
}

TEST(HashMemoryTest, ConcurrentBorrowersGetDistinctBuffers) {
  FakeClock clock(kStart);
  HashMemory memory(clock);
  std::uint8_t* a = memory.Acquire(kMiB);
  std::uint8_t* b = memory.Acquire(kMiB);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  EXPECT_NE(a, b);
  EXPECT_EQ(memory.stats().buffers, 2u);
  EXPECT_EQ(memory.stats().lent, 2u);
  memory.Release(a);
  memory.Release(b);
  EXPECT_EQ(memory.stats().lent, 0u);
}

TEST(HashMemoryTest, BufferUnusedForSixtySecondsIsUnmapped) {
  FakeClock clock(kStart);
  HashMemory memory(clock);
  memory.Release(memory.Acquire(4 * kMiB));
  clock.Advance(seconds(59));
  EXPECT_EQ(memory.ReleaseIdle(), 0u);
  EXPECT_EQ(memory.stats().buffers, 1u);
  clock.Advance(seconds(1));
  EXPECT_EQ(memory.ReleaseIdle(), 4 * kMiB);
  EXPECT_EQ(memory.stats().buffers, 0u);
  EXPECT_EQ(memory.stats().mapped_bytes, 0u);
  // The next hash maps a new one.
  std::uint8_t* again = memory.Acquire(4 * kMiB);
  ASSERT_NE(again, nullptr);
  memory.Release(again);
}

TEST(HashMemoryTest, LentBufferIsNeverUnmapped) {
  FakeClock clock(kStart);
  HashMemory memory(clock);
  std::uint8_t* data = memory.Acquire(kMiB);
  clock.Advance(seconds(3600));
  EXPECT_EQ(memory.ReleaseIdle(), 0u);
  EXPECT_EQ(memory.stats().lent, 1u);
  memory.Release(data);
}

TEST(HashMemoryTest, IdleTimeCountsFromTheLastReturn) {
  FakeClock clock(kStart);
  HashMemory memory(clock);
  memory.Release(memory.Acquire(kMiB));
  clock.Advance(seconds(50));
  memory.Release(memory.Acquire(kMiB));
  clock.Advance(seconds(50));
  EXPECT_EQ(memory.ReleaseIdle(), 0u);  // 100 s since the first use, 50 since the last
}

TEST(HashMemoryTest, AcquireReusesOneIdleBufferAndUnmapsTheOthers) {
  FakeClock clock(kStart);
  HashMemory memory(clock);
  std::uint8_t* a = memory.Acquire(kMiB);
  std::uint8_t* b = memory.Acquire(kMiB);
  memory.Release(a);
  clock.Advance(seconds(1));
  memory.Release(b);
  clock.Advance(seconds(120));
  // Without any ReleaseIdle call, the next hash takes the most recent buffer and drops the other.
  EXPECT_EQ(memory.Acquire(kMiB), b);
  EXPECT_EQ(memory.stats().buffers, 1u);
  memory.Release(b);
}

TEST(HashMemoryTest, BufferAboveTheRetainedCapIsUnmappedWhenReturned) {
  FakeClock clock(kStart);
  HashMemory memory(clock, HashMemory::Options{.max_retained_bytes = 2 * kMiB});
  memory.Release(memory.Acquire(kMiB));
  std::uint8_t* big = memory.Acquire(8 * kMiB);
  ASSERT_NE(big, nullptr);
  EXPECT_EQ(memory.stats().buffers, 2u);  // the small one is kept, not grown past the cap
  memory.Release(big);
  EXPECT_EQ(memory.stats().buffers, 1u);
  EXPECT_EQ(memory.stats().mapped_bytes, kMiB);
}

// What hash_memory.h promises about secrets rests on libargon2 wiping its memory before handing
// it to the free callback (clear_internal_memory, on by default). If a libargon2 update stopped
// doing that, password-derived blocks would stay readable in the kept buffer: this fails first.
HashMemory* wipe_test_memory = nullptr;
int WipeTestAllocate(std::uint8_t** memory, std::size_t bytes) {
  *memory = wipe_test_memory->Acquire(bytes);
  return *memory != nullptr ? ARGON2_OK : ARGON2_MEMORY_ALLOCATION_ERROR;
}
void WipeTestFree(std::uint8_t* memory, std::size_t) { wipe_test_memory->Release(memory); }

TEST(HashMemoryTest, Libargon2WipesTheMemoryBeforeGivingItBack) {
  FakeClock clock(kStart);
  HashMemory memory(clock);
  wipe_test_memory = &memory;
  std::string password = "correct horse";
  std::array<std::uint8_t, 16> salt = Salt(3);
  std::array<std::uint8_t, 32> out{};
  argon2_context ctx{};
  ctx.out = out.data();
  ctx.outlen = static_cast<std::uint32_t>(out.size());
  ctx.pwd = reinterpret_cast<std::uint8_t*>(password.data());
  ctx.pwdlen = static_cast<std::uint32_t>(password.size());
  ctx.salt = salt.data();
  ctx.saltlen = static_cast<std::uint32_t>(salt.size());
  ctx.t_cost = 1;
  ctx.m_cost = 4096;
  ctx.lanes = 1;
  ctx.threads = 1;
  ctx.version = ARGON2_VERSION_13;
  ctx.allocate_cbk = WipeTestAllocate;
  ctx.free_cbk = WipeTestFree;
  ctx.flags = ARGON2_DEFAULT_FLAGS;  // what Hasher uses
  ASSERT_EQ(argon2_ctx(&ctx, Argon2_id), ARGON2_OK);
  wipe_test_memory = nullptr;

  std::uint8_t* kept = memory.Acquire(4096 * 1024);  // the same buffer, back from libargon2
  ASSERT_NE(kept, nullptr);
  EXPECT_TRUE(std::all_of(kept, kept + 4096 * 1024, [](std::uint8_t b) { return b == 0; }));
  memory.Release(kept);
}

// --- Hasher over HashMemory ---

constexpr Argon2Params kSmall{.memory_kib = 256, .iterations = 1, .parallelism = 1};

TEST(HasherMemoryTest, PhcStringIsLibargon2sForTheSameSaltWithTheBufferReused) {
  FakeClock clock(kStart);
  for (const Argon2Params& params : {kSmall, Argon2Params{}}) {
    Hasher hasher = MakeHasher(params, clock);  // Create already hashed once (the dummy hash)
    const std::string reference = ReferencePhc("correct horse", Salt(1), params);
    for (int i = 0; i < 3; ++i) {  // a reused buffer holds the previous hash's (wiped) memory
      Result<std::string> ours = hasher.HashWithSaltForTesting("correct horse", Salt(1));
      ASSERT_TRUE(ours.ok());
      EXPECT_EQ(*ours, reference);
    }
    EXPECT_EQ(hasher.Verify(reference, "correct horse"), VerifyOutcome::kMatch);
    EXPECT_EQ(hasher.Verify(reference, "correct horsf"), VerifyOutcome::kMismatch);
    EXPECT_EQ(hasher.MemoryStats().buffers, 1u);
    EXPECT_EQ(hasher.MemoryStats().lent, 0u);
  }
}

TEST(HasherMemoryTest, BufferGrowsWhenAHashAsksForMoreMemory) {
  FakeClock clock(kStart);
  Hasher hasher = MakeHasher(kSmall, clock);
  EXPECT_EQ(hasher.MemoryStats().mapped_bytes, 256u * 1024);
  // An imported hash with a higher cost: m=4096 KiB.
  const Argon2Params bigger{.memory_kib = 4096, .iterations = 1, .parallelism = 1};
  const std::string imported = ReferencePhc("correct horse", Salt(2), bigger);
  EXPECT_EQ(hasher.Verify(imported, "correct horse"), VerifyOutcome::kMatch);
  EXPECT_EQ(hasher.MemoryStats().buffers, 1u);
  EXPECT_EQ(hasher.MemoryStats().mapped_bytes, 4 * kMiB);
  // Our own hashes then run in the grown buffer.
  Result<std::string> ours = hasher.HashWithSaltForTesting("correct horse", Salt(2));
  ASSERT_TRUE(ours.ok());
  EXPECT_EQ(*ours, ReferencePhc("correct horse", Salt(2), kSmall));
  EXPECT_EQ(hasher.MemoryStats().mapped_bytes, 4 * kMiB);
}

TEST(HasherMemoryTest, ParallelHashesFromSeveralThreadsAreCorrect) {
  FakeClock clock(kStart);
  Hasher hasher = MakeHasher(kSmall, clock);
  constexpr int kThreads = 4;
  constexpr int kPerThread = 8;
  std::vector<std::string> expected;
  for (int i = 0; i < kThreads * kPerThread; ++i) {
    expected.push_back(
        ReferencePhc("password " + std::to_string(i), Salt(static_cast<std::uint8_t>(i)), kSmall));
  }
  std::vector<int> wrong(kThreads, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int k = 0; k < kPerThread; ++k) {
        const int i = t * kPerThread + k;
        const std::string password = "password " + std::to_string(i);
        Result<std::string> ours =
            hasher.HashWithSaltForTesting(password, Salt(static_cast<std::uint8_t>(i)));
        if (!ours.ok() || *ours != expected[i]) ++wrong[t];
        if (hasher.Verify(expected[i], password) != VerifyOutcome::kMatch) ++wrong[t];
        if (hasher.Verify(expected[i], password + "!") != VerifyOutcome::kMismatch) ++wrong[t];
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(wrong[t], 0) << "thread " << t;
  const HashMemory::Stats stats = hasher.MemoryStats();
  EXPECT_GE(stats.buffers, 1u);
  EXPECT_LE(stats.buffers, static_cast<std::size_t>(kThreads));  // at most one per hash at once
  EXPECT_EQ(stats.lent, 0u);
}

TEST(HasherMemoryTest, IdleMemoryIsGivenBackTwoSecondsAfterTheLastHash) {
  FakeClock clock(kStart);
  Hasher hasher = MakeHasher(Argon2Params{}, clock);
  ASSERT_TRUE(hasher.Hash("burst").ok());
  EXPECT_EQ(hasher.MemoryStats().mapped_bytes, 20 * kMiB);
  clock.Advance(kArgon2IdleRelease - seconds(1));
  EXPECT_EQ(hasher.ReleaseIdleMemory(), 0u);
  clock.Advance(seconds(1));
  EXPECT_EQ(hasher.ReleaseIdleMemory(), 20 * kMiB);
  EXPECT_EQ(hasher.MemoryStats().buffers, 0u);
  // Hashing after the release maps memory again and still verifies.
  Result<std::string> encoded = hasher.Hash("after");
  ASSERT_TRUE(encoded.ok());
  EXPECT_EQ(hasher.Verify(*encoded, "after"), VerifyOutcome::kMatch);
  EXPECT_EQ(hasher.MemoryStats().buffers, 1u);
}

TEST(HasherMemoryTest, CopiesShareOnePool) {
  FakeClock clock(kStart);
  Hasher hasher = MakeHasher(kSmall, clock);
  const Hasher copy = hasher;  // NOLINT(performance-unnecessary-copy-initialization)
  ASSERT_TRUE(copy.Hash("x").ok());
  EXPECT_EQ(hasher.MemoryStats().buffers, 1u);
  clock.Advance(seconds(60));
  EXPECT_EQ(hasher.ReleaseIdleMemory(), 256u * 1024);
  EXPECT_EQ(copy.MemoryStats().buffers, 0u);
}

}  // namespace
}  // namespace portcullis::password
