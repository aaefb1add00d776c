// A fixed set of database connections for either backend (store/sqlite, store/postgres):
// Acquire blocks until one is free and lends it until the Lease dies. On return the pool calls
// Connection::PrepareForReuse(), where a backend drops state that must not reach the next
// borrower (PostgreSQL: a connection left inside a transaction or broken is reset).
//
// Thread-safety: Acquire from any number of threads; a Lease is used by one thread at a time.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

namespace portcullis::store::sql {

template <typename Connection>
class ConnectionPool {
 public:
  class Lease {
   public:
    Lease(ConnectionPool* pool, std::unique_ptr<Connection> connection)
        : pool_(pool), connection_(std::move(connection)) {}
    ~Lease() {
      if (connection_ != nullptr) pool_->Release(std::move(connection_));
    }
    Lease(Lease&&) = default;
    Lease& operator=(Lease&&) = delete;
    Connection& operator*() const { return *connection_; }
    Connection* operator->() const { return connection_.get(); }

   private:
    ConnectionPool* pool_;
    std::unique_ptr<Connection> connection_;
  };

  explicit ConnectionPool(std::vector<std::unique_ptr<Connection>> connections)
      : idle_(std::move(connections)) {}

  // Waits for an idle connection and lends it until the Lease dies.
  Lease Acquire() {
    std::unique_lock lock(mu_);
    idle_available_.wait(lock, [this] { return !idle_.empty(); });
    std::unique_ptr<Connection> connection = std::move(idle_.back());
    idle_.pop_back();
    return Lease(this, std::move(connection));
  }

 private:
  void Release(std::unique_ptr<Connection> connection) {
    connection->PrepareForReuse();
    {
      std::lock_guard lock(mu_);
      idle_.push_back(std::move(connection));
    }
    idle_available_.notify_one();
  }

  std::mutex mu_;
  std::condition_variable idle_available_;
  std::vector<std::unique_ptr<Connection>> idle_;  // guarded by mu_
};

}  // namespace portcullis::store::sql
