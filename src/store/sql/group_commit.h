// Group commit for the small durable writes that arrive many at a time (refresh-token rotations
// and inserts, audit rows): every write queued while one transaction commits goes into the next
// transaction, so N concurrent writes cost one COMMIT — one fsync on SQLite, one WAL flush on
// PostgreSQL — instead of N. Each caller still returns only after the transaction holding its
// write has committed, with its own outcome: an acknowledged write is durable.
//
//   GroupCommit<Backend> commits(backend);
//   Status s = commits.Run([&](Connection& c) { return InsertRow(c, row); });
//
// How (the writer queue of LevelDB's DBImpl::Write): callers queue a Writer and wait; the one at
// the front leads: it takes the whole queue (up to kMaxBatch), runs each write inside one
// transaction between SAVEPOINT and RELEASE (a write that fails is rolled back to its savepoint
// and reports its own error; the others go on), commits, then wakes the writers it carried and
// hands the lead to the next one in the queue. No thread of its own, no timer: a lone write is a
// batch of one, and the batch grows exactly while a commit is in flight.
//
// A batch whose COMMIT fails because of one write (a deferred insert's constraint) changed
// nothing, so each of its writes is run again in a transaction of its own and reports that
// outcome — one bad write never fails its neighbours. A write must therefore be repeatable after
// a rollback: a function of its arguments only. A batch that fails with kUnavailable (connection
// lost, database busy) is not retried — a COMMIT in flight may have taken effect — and every
// writer in it reports kUnavailable, as a lone transaction would.
//
// On PostgreSQL a write's statements may be deferred (libpq pipeline): the write's end flushes
// them, so a failure is charged to the write that caused it; the last write of a batch travels
// with the COMMIT.
//
// Thread-safety: Run from any number of threads. A caller must not hold a write transaction of
// the same store (on SQLite the leader needs the process's writer lock).
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <utility>
#include <vector>

#include "base/status.h"

namespace portcullis::store::sql {

template <typename Backend>
class GroupCommit {
 public:
  using Connection = typename Backend::Connection;
  using Lease = typename Backend::Lease;
  using Statement = typename Backend::Statement;
  using Transaction = typename Backend::Transaction;
  // One write: runs inside the batch's transaction on `connection`; returns its outcome. Not
  // OK rolls back this write only.
  using Write = std::function<Status(Connection& connection)>;

  // The most writes one transaction carries; the rest wait for the next one.
  static constexpr std::size_t kMaxBatch = 256;

  explicit GroupCommit(Backend& backend) : backend_(backend) {}
  GroupCommit(const GroupCommit&) = delete;
  GroupCommit& operator=(const GroupCommit&) = delete;

  // Runs `write` in the next batch and returns its outcome once that batch committed (OK) or
  // the write failed.
  Status Run(const Write& write) {
    Writer self(&write);
    std::unique_lock lock(mu_);
    queue_.push_back(&self);
    self.wake.wait(lock, [&] { return self.done || queue_.front() == &self; });
    if (self.done) return std::move(self.result);

    // The leader: carry every queued writer (up to kMaxBatch), this one first.
    std::vector<Writer*> batch;
    for (auto it = queue_.begin(); it != queue_.end() && batch.size() < kMaxBatch; ++it) {
      batch.push_back(*it);
    }
    lock.unlock();
    RunBatch(batch);
    lock.lock();
    for (Writer* w : batch) {
      queue_.pop_front();  // the batch is the queue's head, in order
      if (w != &self) {
        w->done = true;
        w->wake.notify_one();
      }
    }
    if (!queue_.empty()) queue_.front()->wake.notify_one();
    ++batches_;
    writes_ += batch.size();
    return std::move(self.result);
  }

  // Transactions committed (or attempted) and writes carried, for tests and metrics.
  std::size_t batches() const {
    std::lock_guard lock(mu_);
    return batches_;
  }
  std::size_t writes() const {
    std::lock_guard lock(mu_);
    return writes_;
  }
  // Writes waiting or running now.
  std::size_t queued() const {
    std::lock_guard lock(mu_);
    return queue_.size();
  }

 private:
  struct Writer {
    explicit Writer(const Write* w) : write(w) {}
    const Write* write;
    Status result;
    bool done = false;  // guarded by mu_
    std::condition_variable wake;
  };

  void RunBatch(const std::vector<Writer*>& batch) {
    if (batch.size() == 1) {  // nothing to share a transaction with: no savepoint either
      batch.front()->result = RunAlone(*batch.front()->write);
      return;
    }
    Lease connection = backend_.Acquire();
    Status committed = RunTogether(*connection, batch);
    if (committed.ok()) return;
    if (committed.code() == StatusCode::kUnavailable) {
      // The database went away (or stayed busy): whether a COMMIT in flight took effect is
      // unknown, so nothing is retried; every writer reports it and its client gets a 503.
      for (Writer* w : batch) w->result = committed;
      return;
    }
    // A write's statement failed where only the batch could see it (a deferred insert failing
    // at COMMIT): nothing of the batch was kept, so each write gets a transaction of its own.
    for (Writer* w : batch) w->result = RunOnce(*connection, *w->write);
  }

  // One transaction for the whole batch; each writer's result is set. Returns the outcome of
  // BEGIN/COMMIT (or of a savepoint command): not OK means nothing was kept.
  Status RunTogether(Connection& connection, const std::vector<Writer*>& batch) {
    Result<Transaction> tx = Transaction::Begin(connection);
    if (!tx.ok()) return tx.status();
    for (std::size_t i = 0; i < batch.size(); ++i) {
      Writer* w = batch[i];
      Result<Statement> savepoint = connection.Prepare("SAVEPOINT group_write");
      if (!savepoint.ok()) return savepoint.status();
      savepoint->Defer();  // travels with the write's first statement
      Status s = (*w->write)(connection);
      if (s.ok()) {
        Result<Statement> release = connection.Prepare("RELEASE SAVEPOINT group_write");
        if (!release.ok()) return release.status();
        release->Defer();
        // The last write's deferred statements travel with the COMMIT; a failure there sends
        // the batch to the one-by-one path, which charges it to the right write.
        if (i + 1 < batch.size()) s = connection.FlushDeferred();
      } else {
        (void)connection.FlushDeferred();  // the error is s; what follows it did not run
      }
      if (!s.ok()) {
        Status undo = connection.Exec(
            "ROLLBACK TO SAVEPOINT group_write; RELEASE SAVEPOINT group_write", "rollback write");
        if (!undo.ok()) return undo;
      }
      w->result = std::move(s);
    }
    return tx->Commit();
  }

  Status RunAlone(const Write& write) {
    Lease connection = backend_.Acquire();
    return RunOnce(*connection, write);
  }

  static Status RunOnce(Connection& connection, const Write& write) {
    Result<Transaction> tx = Transaction::Begin(connection);
    if (!tx.ok()) return tx.status();
    if (Status s = write(connection); !s.ok()) return s;  // the guard rolls back
    return tx->Commit();
  }

  Backend& backend_;
  mutable std::mutex mu_;
  std::deque<Writer*> queue_;  // guarded by mu_; the front one leads
  std::size_t batches_ = 0;    // guarded by mu_
  std::size_t writes_ = 0;     // guarded by mu_
};

}  // namespace portcullis::store::sql
