#include "base/worker_pool.h"

#include <pthread.h>

#include <algorithm>
#include <exception>
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

WorkerPool::WorkerPool(std::string name, std::size_t threads, std::size_t max_queued)
    : name_(std::move(name)), max_queued_(max_queued) {
  const std::size_t count = std::max<std::size_t>(threads, 1);
  workers_.reserve(count);
  for (std::size_t i = 0; i < count; ++i) {
    workers_.emplace_back([this, i] {
      NameCurrentThread(name_, i);
      WorkerLoop();
    });
  }
}

WorkerPool::~WorkerPool() { Shutdown(); }

bool WorkerPool::TrySubmit(std::function<void()> job) {
  if (!job) return false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return false;
    // Threads not running a job are idle (or about to become so) and will take one queued job
    // each; only the jobs beyond them really wait.
    const std::size_t idle = workers_.size() - running_;
    if (queue_.size() >= max_queued_ + idle) return false;
    queue_.push_back(std::move(job));
  }
  cv_.notify_one();
  return true;
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
