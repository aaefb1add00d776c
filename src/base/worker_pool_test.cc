#include "base/worker_pool.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <latch>
#include <stdexcept>
#include <thread>

namespace portcullis {
namespace {

TEST(WorkerPoolTest, RunsEverySubmittedJob) {
  WorkerPool pool("test", 2, 16);
  std::atomic<int> ran{0};
  std::latch done(5);
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(pool.TrySubmit([&] {
      ran.fetch_add(1);
      done.count_down();
    }));
  }
  done.wait();
  EXPECT_EQ(ran.load(), 5);
}

TEST(WorkerPoolTest, ReportsThreadCountAndName) {
  WorkerPool pool("hash", 3, 1);
  EXPECT_EQ(pool.threads(), 3u);
  EXPECT_EQ(pool.name(), "hash");
}

TEST(WorkerPoolTest, StartsTheRestOfItsThreadsOnlyWhenJobsNeedThem) {
  WorkerPool pool("elastic", 4, 8, /*start_threads=*/1);
  EXPECT_EQ(pool.threads(), 4u);
  EXPECT_EQ(pool.started_threads(), 1u);
  // One job at a time: the one thread takes each in turn, nothing else starts.
  for (int i = 0; i < 20; ++i) {
    std::latch done(1);
    ASSERT_TRUE(pool.TrySubmit([&] { done.count_down(); }));
    done.wait();
    // The thread counts itself free only after the job returns: wait for that too.
    while (pool.InFlight() != 0) std::this_thread::yield();
  }
  EXPECT_EQ(pool.started_threads(), 1u);
  // Jobs that block: each one a started thread is not free for starts another, up to 4.
  std::latch release(1);
  std::latch running(4);
  std::atomic<int> ran{0};
  for (int i = 1; i <= 6; ++i) {
    ASSERT_TRUE(pool.TrySubmit([&] {
      if (ran.fetch_add(1) < 4) running.count_down();
      release.wait();
    }));
    EXPECT_EQ(pool.started_threads(), static_cast<std::size_t>(std::min(i, 4)));
  }
  running.wait();  // four run at once: the started threads really work
  EXPECT_EQ(pool.InFlight(), 6u);
  release.count_down();
  pool.Shutdown();
  EXPECT_EQ(ran.load(), 6);
  EXPECT_EQ(pool.started_threads(), 4u);
}

TEST(WorkerPoolTest, ThreadsNotYetStartedCountAsFreeForAdmission) {
  // Same admission as a pool whose 3 threads all run: 3 jobs running + 2 waiting, then refused.
  WorkerPool pool("elastic", 3, 2, /*start_threads=*/1);
  std::latch release(1);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(pool.TrySubmit([&] { release.wait(); })) << i;
  EXPECT_FALSE(pool.TrySubmit([] {}));
  EXPECT_EQ(pool.started_threads(), 3u);
  release.count_down();
}

TEST(WorkerPoolTest, StartThreadsIsClampedToOneAndToThreads) {
  WorkerPool none("clamp", 2, 1, 0);
  EXPECT_EQ(none.started_threads(), 1u);
  WorkerPool too_many("clamp", 2, 1, 9);
  EXPECT_EQ(too_many.started_threads(), 2u);
  WorkerPool all("clamp", 3, 1);  // the default: every thread from the start
  EXPECT_EQ(all.started_threads(), 3u);
}

TEST(WorkerPoolTest, ZeroThreadsMeansOne) {
  WorkerPool pool("test", 0, 1);
  EXPECT_EQ(pool.threads(), 1u);
  std::latch done(1);
  ASSERT_TRUE(pool.TrySubmit([&] { done.count_down(); }));
  done.wait();
}

TEST(WorkerPoolTest, RefusesTheJobAfterMaxQueuedWhileWorkersAreBusy) {
  WorkerPool pool("test", 2, 3);
  std::latch started(2);
  std::latch release(1);
  std::atomic<int> ran{0};
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(pool.TrySubmit([&] {
      started.count_down();
      release.wait();
      ran.fetch_add(1);
    }));
  }
  started.wait();  // both workers are now inside a job
  EXPECT_EQ(pool.QueueDepth(), 0u);
  EXPECT_EQ(pool.InFlight(), 2u);

  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(pool.TrySubmit([&] { ran.fetch_add(1); })) << i;
  }
  EXPECT_FALSE(pool.TrySubmit([&] { ran.fetch_add(100); }));
  EXPECT_EQ(pool.QueueDepth(), 3u);
  EXPECT_EQ(pool.InFlight(), 5u);

  release.count_down();
  pool.Shutdown();
  EXPECT_EQ(ran.load(), 5);  // the refused job never ran
  EXPECT_EQ(pool.InFlight(), 0u);
}

TEST(WorkerPoolTest, ZeroMaxQueuedAcceptsOnlyWhenAThreadIsFree) {
  WorkerPool pool("test", 1, 0);
  std::latch started(1);
  std::latch release(1);
  ASSERT_TRUE(pool.TrySubmit([&] {
    started.count_down();
    release.wait();
  }));
  started.wait();
  EXPECT_FALSE(pool.TrySubmit([] {}));
  release.count_down();
}

TEST(WorkerPoolTest, ShutdownRunsJobsStillQueued) {
  WorkerPool pool("test", 1, 1'000'000);
  std::latch started(1);
  std::latch release(1);
  std::atomic<int> ran{0};
  std::atomic<int> accepted{0};
  ASSERT_TRUE(pool.TrySubmit([&] {
    started.count_down();
    release.wait();
  }));
  started.wait();
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(pool.TrySubmit([&] { ran.fetch_add(1); }));
    accepted.fetch_add(1);
  }

  std::thread stopper([&] { pool.Shutdown(); });
  // Submit until the pool refuses: that is the moment Shutdown has begun, while the only worker is
  // still blocked, so every accepted job is still queued.
  while (pool.TrySubmit([&] { ran.fetch_add(1); })) accepted.fetch_add(1);
  EXPECT_EQ(ran.load(), 0);
  EXPECT_EQ(pool.QueueDepth(), static_cast<std::size_t>(accepted.load()));

  release.count_down();
  stopper.join();
  EXPECT_EQ(ran.load(), accepted.load());
  EXPECT_EQ(pool.InFlight(), 0u);
}

TEST(WorkerPoolTest, RefusesJobsAfterShutdown) {
  WorkerPool pool("test", 1, 4);
  pool.Shutdown();
  bool ran = false;
  EXPECT_FALSE(pool.TrySubmit([&] { ran = true; }));
  EXPECT_FALSE(ran);
}

TEST(WorkerPoolTest, ShutdownIsIdempotent) {
  WorkerPool pool("test", 2, 4);
  pool.Shutdown();
  pool.Shutdown();
  EXPECT_EQ(pool.InFlight(), 0u);
}  // and the destructor calls it a third time

TEST(WorkerPoolTest, EmptyJobIsRefused) {
  WorkerPool pool("test", 1, 4);
  EXPECT_FALSE(pool.TrySubmit(std::function<void()>()));
}

TEST(WorkerPoolTest, ThrowingJobIsContainedAndThreadKeepsWorking) {
  WorkerPool pool("test", 1, 4);
  std::latch done(1);
  ASSERT_TRUE(pool.TrySubmit([] { throw std::runtime_error("boom"); }));
  ASSERT_TRUE(pool.TrySubmit([] { throw 42; }));
  ASSERT_TRUE(pool.TrySubmit([&] { done.count_down(); }));
  done.wait();
  pool.Shutdown();
  EXPECT_EQ(pool.InFlight(), 0u);
}

}  // namespace
}  // namespace portcullis
