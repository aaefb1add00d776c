// Offloading blocking work (password hashing) from an io_context thread to a WorkerPool, without
// blocking the coroutine's thread and with back-pressure.
//
//   std::optional<bool> ok = co_await RunOn(hash_pool, [&] { return hasher.Verify(hash, pw); });
//   if (!ok) co_return Busy();  // queue full: 503 + Retry-After
//
// fn runs on a pool thread; the coroutine resumes on its own executor (its strand), never on the
// pool thread. While fn is queued or running, the io_context is kept alive (outstanding work), so
// the io_context's run() does not return under it. fn must not return void or a reference; an
// exception thrown by fn is rethrown in the coroutine. Whatever fn captures by reference must
// outlive the co_await (it does when it lives in the awaiting coroutine's frame).
//
// Thread-safety: as safe as fn; RunOn itself may be awaited from any number of coroutines.
#pragma once

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <exception>
#include <memory>
#include <optional>
#include <type_traits>
#include <utility>

#include "base/worker_pool.h"

namespace portcullis::http {
namespace offload_internal {

struct RunOnInitiation {
  WorkerPool* pool;

  template <typename Handler, typename F>
  void operator()(Handler&& handler, F fn) const {
    using T = std::invoke_result_t<F&>;
    // A tracked executor counts as outstanding work: the io_context stays alive until the result
    // is delivered.
    auto work = boost::asio::prefer(boost::asio::get_associated_executor(handler),
                                    boost::asio::execution::outstanding_work.tracked);
    struct State {
      std::decay_t<Handler> handler;
      F fn;
      decltype(work) work_executor;
    };
    auto state = std::make_shared<State>(
        State{std::forward<Handler>(handler), std::move(fn), std::move(work)});
    const bool accepted = pool->TrySubmit([state] {
      std::exception_ptr error;
      std::optional<T> result;
      try {
        result.emplace(state->fn());
      } catch (...) {
        error = std::current_exception();
      }
      auto executor = state->work_executor;
      boost::asio::post(executor, [state, error, result = std::move(result)]() mutable {
        std::move(state->handler)(error, std::move(result));
      });
    });
    if (!accepted) {
      auto executor = state->work_executor;
      boost::asio::post(executor, [state]() mutable {
        std::move(state->handler)(std::exception_ptr(), std::optional<T>());
      });
    }
  }
};

}  // namespace offload_internal

// Runs fn() on `pool` and resumes the awaiting coroutine on its original executor with the result;
// returns std::nullopt without running fn when the pool refuses the job (queue full or shutting
// down). The caller answers 503 + Retry-After then.
//
// Pass fn as a NAMED local (`auto job = [..] {..}; co_await RunOn(pool, job);`), never as a
// lambda temporary written inside the co_await expression: g++ 12 may destroy temporaries of a
// co_await full-expression twice (GCC PR 100611), which freed captured shared_ptrs early here.
template <typename F>
boost::asio::awaitable<std::optional<std::invoke_result_t<std::decay_t<F>&>>> RunOn(
    WorkerPool& pool, F&& fn) {
  using Fn = std::decay_t<F>;
  using T = std::invoke_result_t<Fn&>;
  static_assert(!std::is_void_v<T> && !std::is_reference_v<T>,
                "RunOn needs fn to return a value (wrap a void function to return bool)");
  return boost::asio::async_initiate<const boost::asio::use_awaitable_t<>,
                                     void(std::exception_ptr, std::optional<T>)>(
      offload_internal::RunOnInitiation{&pool}, boost::asio::use_awaitable,
      Fn(std::forward<F>(fn)));
}

}  // namespace portcullis::http
