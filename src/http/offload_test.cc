#include "http/offload.h"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>
#include <future>
#include <stdexcept>
#include <thread>

namespace portcullis::http {
namespace {

namespace asio = boost::asio;

template <typename T>
T RunCoroutine(asio::awaitable<T> coroutine) {
  asio::io_context ioc;
  std::optional<T> out;
  std::exception_ptr error;
  asio::co_spawn(asio::make_strand(ioc), std::move(coroutine), [&](std::exception_ptr e, T value) {
    error = e;
    out = std::move(value);
  });
  ioc.run();  // returns only once the coroutine has finished: the pending job is outstanding work
  if (error) std::rethrow_exception(error);
  return std::move(*out);
}

TEST(RunOnTest, RunsOnAPoolThreadAndResumesOnTheCallersThread) {
  WorkerPool pool("offload-test", 1, 4);
  const std::thread::id test_thread = std::this_thread::get_id();
  auto result = RunCoroutine([&]() -> asio::awaitable<std::pair<bool, bool>> {
    std::optional<std::thread::id> worker =
        co_await RunOn(pool, [] { return std::this_thread::get_id(); });
    co_return std::make_pair(worker.has_value() && *worker != test_thread,
                             std::this_thread::get_id() == test_thread);
  }());
  EXPECT_TRUE(result.first) << "fn ran on the pool";
  EXPECT_TRUE(result.second) << "the coroutine resumed on the io_context thread";
}

TEST(RunOnTest, ReturnsTheValue) {
  WorkerPool pool("offload-test", 2, 4);
  std::optional<int> value = RunCoroutine([&]() -> asio::awaitable<std::optional<int>> {
    co_return co_await RunOn(pool, [] { return 6 * 7; });
  }());
  EXPECT_EQ(value, 42);
}

TEST(RunOnTest, FullQueueGivesNulloptWithoutRunningFn) {
  WorkerPool pool("offload-test", 1, 0);
  std::promise<void> release;
  std::promise<void> started;
  // Futures taken before the job runs: the job must not touch the promises, which die with the
  // test body while the worker may still be returning from wait().
  std::shared_future<void> gate = release.get_future().share();
  ASSERT_TRUE(pool.TrySubmit([&started, gate] {
    started.set_value();
    gate.wait();
  }));
  started.get_future().wait();
  bool ran = false;
  std::optional<int> value = RunCoroutine([&]() -> asio::awaitable<std::optional<int>> {
    co_return co_await RunOn(pool, [&] {
      ran = true;
      return 1;
    });
  }());
  release.set_value();
  EXPECT_EQ(value, std::nullopt);
  EXPECT_FALSE(ran);
}

TEST(RunOnTest, ExceptionFromFnIsRethrownInTheCoroutine) {
  WorkerPool pool("offload-test", 1, 4);
  EXPECT_THROW(RunCoroutine([&]() -> asio::awaitable<std::optional<int>> {
                 co_return co_await RunOn(pool, []() -> int { throw std::runtime_error("x"); });
               }()),
               std::runtime_error);
}

}  // namespace
}  // namespace portcullis::http
