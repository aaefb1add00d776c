#include "base/worker_pool.h"

#include <pthread.h>

#include <algorithm>
#include <exception>
#include <system_error>
#include <utility>

#include "base/log.h"

namespace portcullis {
namespace {

// Linux keeps 15 bytes of a thread name plus the terminating NUL.
constexpr std::size_t kMaxThreadNameBytes = 15;

void NameCurrentThread(const std::string& pool_name, std::size_t index) {
  std::string thread_name = pool_name + "-" + std::to_string(index);
  if (thread_name.size() > kMaxThreadNameBytes) thread_name.resize(kMaxThreadNameBytes);
  // Best effort: a name is only a debugging aid.
  (void)pthread_setname_np(pthread_self(), thread_name.c_str());
}

}  // namespace

WorkerPool::WorkerPool(std::string name, std::size_t threads, std::size_t max_queued,
                       std::size_t start_threads)
    : name_(std::move(name)),
      max_queued_(max_queued),
      max_threads_(std::max<std::size_t>(threads, 1)) {
  const std::size_t count = std::clamp<std::size_t>(start_threads, 1, max_threads_);
  workers_.reserve(max_threads_);
  std::lock_guard<std::mutex> lock(mu_);
  for (std::size_t i = 0; i < count; ++i) {
    if (!StartThreadLocked() && workers_.empty()) {
      throw std::system_error(std::make_error_code(std::errc::resource_unavailable_try_again),
                              "cannot start any thread of worker pool " + name_);
    }
  }
}

WorkerPool::~WorkerPool() { Shutdown(); }

bool WorkerPool::StartThreadLocked() {
  const std::size_t index = workers_.size();
  try {
    workers_.emplace_back([this, index] {
      NameCurrentThread(name_, index);
      WorkerLoop();
    });
    return true;
  } catch (const std::system_error& e) {
    log::Error("worker_pool.thread_start_failed", {{"pool", name_}, {"what", e.what()}});
    return false;
  }
}

bool WorkerPool::TrySubmit(std::function<void()> job) {
  if (!job) return false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return false;
    // Threads not running a job (started or not yet) are free and will take one queued job
    // each; only the jobs beyond them really wait.
    const std::size_t free = max_threads_ - running_;
    if (queue_.size() >= max_queued_ + free) return false;
    queue_.push_back(std::move(job));
    // More queued jobs than started threads free to take them: start one more, if allowed.
    if (queue_.size() > workers_.size() - running_ && workers_.size() < max_threads_) {
      (void)StartThreadLocked();
    }
  }
  cv_.notify_one();
  return true;
}

std::size_t WorkerPool::started_threads() const {
  std::lock_guard<std::mutex> lock(mu_);
  return workers_.size();
}

std::size_t WorkerPool::QueueDepth() const {
  std::lock_guard<std::mutex> lock(mu_);
  return queue_.size();
}

std::size_t WorkerPool::InFlight() const {
  std::lock_guard<std::mutex> lock(mu_);
  return queue_.size() + running_;
}

void WorkerPool::Shutdown() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  std::lock_guard<std::mutex> join_lock(join_mu_);
  if (joined_) return;
  for (std::thread& worker : workers_) worker.join();
  joined_ = true;
}

void WorkerPool::WorkerLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    // On shutdown the queue is drained first: accepted jobs always run.
    if (queue_.empty()) return;
    std::function<void()> job = std::move(queue_.front());
    queue_.pop_front();
    ++running_;
    lock.unlock();
    try {
      job();
    } catch (const std::exception& e) {
      log::Error("worker_pool.job_threw", {{"pool", name_}, {"what", e.what()}});
    } catch (...) {
      log::Error("worker_pool.job_threw", {{"pool", name_}, {"what", "unknown exception"}});
    }
    // Destroy the job (and what it captured) before taking the lock again.
    job = nullptr;
    lock.lock();
    --running_;
  }
}

}  // namespace portcullis
