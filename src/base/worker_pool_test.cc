#include "base/worker_pool.h"

#include <gtest/gtest.h>

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
