// WorkerPool: a bounded set of threads fed by a BOUNDED queue, for password hashing and database
// calls, so slow work never runs on network threads and overload is refused rather than queued
// without bound (the server answers 503 + Retry-After when TrySubmit returns false).
//
// Threads: `start_threads` of them start with the pool; the others, up to `threads`, start when
// a job arrives that no started thread is free to take, and stay. So an idle server does not
// hold (and keep resident) threads that only a burst needs. Admission does not depend on how
// many have started: a thread not yet started counts as a free one.
//
// Admission: a job is accepted while the jobs waiting for a thread, beyond those the idle threads
// are about to pick up, number fewer than max_queued. So with every thread busy exactly max_queued
// jobs can wait, and max_queued == 0 means "run only when a thread is free".
//
// Thread-safety: every member function may be called from any thread, except that Shutdown() and
// the destructor must not be called from inside a job of the same pool (they join its threads).
//
//   WorkerPool pool("hash", 4, 256);
//   if (!pool.TrySubmit([&] { Finish(hasher.Verify(encoded, password)); })) return Busy();
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace portcullis {

class WorkerPool {
 public:
  // Runs up to `threads` threads (at least 1; 0 is treated as 1) named "<name>-<i>" (truncated to
  // the 15 characters Linux keeps), `start_threads` of them (at least 1, at most `threads`; by
  // default all) from the start. `max_queued` bounds the waiting jobs as described above.
  WorkerPool(std::string name, std::size_t threads, std::size_t max_queued,
             std::size_t start_threads = static_cast<std::size_t>(-1));
  // Calls Shutdown(): the jobs already accepted still run.
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // Queues `job`; returns false, without running or keeping it, when the queue is full or the pool
  // is shutting down. Jobs must not throw: one that does is caught and logged
  // ("worker_pool.job_threw"), and the thread goes on with the next job.
  [[nodiscard]] bool TrySubmit(std::function<void()> job);

  // Jobs accepted and not yet started.
  std::size_t QueueDepth() const;
  // Jobs accepted and not yet finished: waiting plus running.
  std::size_t InFlight() const;
  // The most threads the pool runs.
  std::size_t threads() const { return max_threads_; }
  // Threads started so far (start_threads, plus those a burst needed).
  std::size_t started_threads() const;
  // The name given at construction (for logs and metrics).
  const std::string& name() const { return name_; }

  // Stops accepting jobs, runs every job already accepted, and joins the threads. Idempotent and
  // safe to call concurrently; every call returns only once the threads have been joined.
  void Shutdown();

 private:
  void WorkerLoop();
  // Starts thread number workers_.size(); false if the system refuses (then the jobs wait for
  // the threads already running). Requires mu_ (or the constructor).
  bool StartThreadLocked();

  const std::string name_;
  const std::size_t max_queued_;
  const std::size_t max_threads_;
  std::vector<std::thread> workers_;  // guarded by mu_; grows only, never after stopping_

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;  // guarded by mu_
  std::size_t running_ = 0;                  // guarded by mu_
  bool stopping_ = false;                    // guarded by mu_

  std::mutex join_mu_;   // serializes the joins in Shutdown()
  bool joined_ = false;  // guarded by join_mu_
};

}  // namespace portcullis
