#include "store/sql/group_commit.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace portcullis::store::sql {
namespace {

// A backend that records what GroupCommit asks of it, so that the batching is visible: one
// connection, a log of commands ("BEGIN", "SAVEPOINT", "RELEASE", "ROLLBACK TO", "COMMIT",
// "ROLLBACK", and what each write appends), and a switch that fails the next COMMIT.
struct FakeConnection {
  std::mutex mu;
  std::vector<std::string> log;
  int commits = 0;         // COMMITs attempted
  int fail_commit_at = 0;  // the COMMIT (1-based) that fails with fail_with
  Status fail_with;

  void Record(std::string entry) {
    std::lock_guard lock(mu);
    log.push_back(std::move(entry));
  }
  std::vector<std::string> Log() {
    std::lock_guard lock(mu);
    return log;
  }
};

struct FakeStatement {
  FakeConnection* connection;
  std::string sql;
  void Defer() {
    connection->Record(sql.starts_with("SAVEPOINT") ? "SAVEPOINT"
                       : sql.starts_with("RELEASE") ? "RELEASE"
                                                    : sql);
  }
};

struct FakeBackend {
  struct Connection {
    FakeConnection* fake;
    Result<FakeStatement> Prepare(std::string_view sql) {
      return FakeStatement{fake, std::string(sql)};
    }
    Status Exec(const char* sql, std::string_view /*what*/) {
      fake->Record(std::string(sql).starts_with("ROLLBACK TO") ? "ROLLBACK TO" : sql);
      return Status::Ok();
    }
    Status FlushDeferred() { return Status::Ok(); }
  };
  using Statement = FakeStatement;
  struct Lease {
    Connection* connection;
    Connection& operator*() const { return *connection; }
    Connection* operator->() const { return connection; }
  };
  class Transaction {
   public:
    static Result<Transaction> Begin(Connection& c) {
      c.fake->Record("BEGIN");
      return Transaction(&c);
    }
    Transaction(Transaction&& other) noexcept
        : c_(other.c_), active_(std::exchange(other.active_, false)) {}
    ~Transaction() {
      if (active_) c_->fake->Record("ROLLBACK");
    }
    Status Commit() {
      active_ = false;
      Status failure;
      {
        std::lock_guard lock(c_->fake->mu);
        if (++c_->fake->commits == c_->fake->fail_commit_at) failure = c_->fake->fail_with;
      }
      c_->fake->Record(failure.ok() ? "COMMIT" : "ROLLBACK");
      return failure;
    }

   private:
    explicit Transaction(Connection* c) : c_(c) {}
    Connection* c_;
    bool active_ = true;
  };

  Lease Acquire() { return Lease{&connection}; }

  Connection connection;
};

class GroupCommitTest : public ::testing::Test {
 protected:
  using Commits = GroupCommit<FakeBackend>;

  // A write that appends `name` to the log and returns `outcome`.
  static Commits::Write Append(std::string name, Status outcome = Status::Ok()) {
    return [name, outcome](FakeBackend::Connection& c) {
      c.fake->Record(name);
      return outcome;
    };
  }

  // Holds the first write (a batch of one) inside its transaction until `release` is set, while
  // `more` writes queue behind it; returns once they are all queued. The writes' results arrive
  // in `results` (index = position in `more`).
  void RunWhileFirstIsHeld(const std::vector<Commits::Write>& more, std::vector<Status>& results) {
    std::promise<void> entered;
    Commits::Write first = [this, &entered](FakeBackend::Connection& c) {
      c.fake->Record("first");
      entered.set_value();  // `entered` is waited for below, so it outlives this call
      released_.wait();
      return Status::Ok();
    };
    threads_.emplace_back([&, first] { first_result_ = commits_.Run(first); });
    entered.get_future().wait();
    results.resize(more.size());
    for (std::size_t i = 0; i < more.size(); ++i) {
      threads_.emplace_back(
          [this, &results, i, write = more[i]] { results[i] = commits_.Run(write); });
    }
    while (commits_.queued() < 1 + more.size()) std::this_thread::yield();
  }

  void ReleaseAndJoin() {
    release_.set_value();
    for (std::thread& t : threads_) t.join();
    threads_.clear();
  }

  FakeConnection fake_;
  FakeBackend backend_{FakeBackend::Connection{&fake_}};
  Commits commits_{backend_};
  std::promise<void> release_;
  std::shared_future<void> released_ = release_.get_future().share();
  std::vector<std::thread> threads_;
  Status first_result_;
};

TEST_F(GroupCommitTest, ALoneWriteIsItsOwnTransactionWithoutASavepoint) {
  EXPECT_TRUE(commits_.Run(Append("w")).ok());
  EXPECT_EQ(fake_.Log(), (std::vector<std::string>{"BEGIN", "w", "COMMIT"}));
  EXPECT_EQ(commits_.batches(), 1u);
  EXPECT_EQ(commits_.writes(), 1u);
}

TEST_F(GroupCommitTest, WritesQueuedDuringACommitShareTheNextTransaction) {
  std::vector<Status> results;
  RunWhileFirstIsHeld({Append("a"), Append("b"), Append("c")}, results);
  ReleaseAndJoin();
  EXPECT_TRUE(first_result_.ok());
  for (const Status& s : results) EXPECT_TRUE(s.ok()) << s.ToString();
  std::vector<std::string> log = fake_.Log();
  // The held write alone, then one transaction for the three that queued behind it (in any
  // order: they raced to the queue), each between SAVEPOINT and RELEASE.
  ASSERT_EQ(log.size(), 3u + 2u + 3u * 3u);
  EXPECT_EQ((std::vector<std::string>(log.begin(), log.begin() + 4)),
            (std::vector<std::string>{"BEGIN", "first", "COMMIT", "BEGIN"}));
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(log[4 + 3 * i], "SAVEPOINT");
    EXPECT_EQ(log[6 + 3 * i], "RELEASE");
  }
  EXPECT_EQ(log.back(), "COMMIT");
  EXPECT_EQ(commits_.batches(), 2u);
  EXPECT_EQ(commits_.writes(), 4u);
}

TEST_F(GroupCommitTest, AFailedWriteIsRolledBackToItsSavepointAndTheOthersCommit) {
  std::vector<Status> results;
  RunWhileFirstIsHeld({Append("ok1"), Append("bad", AbortedError("already used")), Append("ok2")},
                      results);
  ReleaseAndJoin();
  EXPECT_TRUE(results[0].ok());
  EXPECT_EQ(results[1].code(), StatusCode::kAborted);
  EXPECT_TRUE(results[2].ok());
  std::vector<std::string> log = fake_.Log();
  auto bad = std::find(log.begin(), log.end(), "bad");
  ASSERT_NE(bad, log.end());
  EXPECT_EQ(*(bad + 1), "ROLLBACK TO");
  EXPECT_EQ(std::count(log.begin(), log.end(), "COMMIT"), 2);
  EXPECT_EQ(std::count(log.begin(), log.end(), "RELEASE"), 2);
}

TEST_F(GroupCommitTest, ABatchWhoseCommitFailsRunsEachWriteAlone) {
  // The batch's COMMIT (the second: the held write commits first, on its own) fails.
  fake_.fail_commit_at = 2;
  fake_.fail_with = AlreadyExistsError("deferred insert clashed");
  std::vector<Status> results;
  RunWhileFirstIsHeld({Append("a"), Append("b", AlreadyExistsError("dup")), Append("c")}, results);
  ReleaseAndJoin();
  EXPECT_TRUE(results[0].ok());
  EXPECT_EQ(results[1].code(), StatusCode::kAlreadyExists);
  EXPECT_TRUE(results[2].ok());
  std::vector<std::string> log = fake_.Log();
  // first (committed), the failed batch, then a, b, c each in a transaction of its own: a and c
  // commit, b rolls back.
  EXPECT_EQ(std::count(log.begin(), log.end(), "BEGIN"), 1 + 1 + 3);
  EXPECT_EQ(std::count(log.begin(), log.end(), "COMMIT"), 1 + 2);
  EXPECT_EQ(std::count(log.begin(), log.end(), "a"), 2);
}

TEST_F(GroupCommitTest, ABatchLostToAnUnavailableDatabaseIsNotRetried) {
  fake_.fail_commit_at = 2;
  fake_.fail_with = UnavailableError("connection lost");
  std::vector<Status> results;
  RunWhileFirstIsHeld({Append("a"), Append("b")}, results);
  ReleaseAndJoin();
  EXPECT_EQ(results[0].code(), StatusCode::kUnavailable);
  EXPECT_EQ(results[1].code(), StatusCode::kUnavailable);
  std::vector<std::string> log = fake_.Log();
  EXPECT_EQ(std::count(log.begin(), log.end(), "a"), 1);
  EXPECT_EQ(std::count(log.begin(), log.end(), "BEGIN"), 2);
}

TEST_F(GroupCommitTest, ManyThreadsEachGetTheirOwnOutcome) {
  constexpr int kThreads = 16, kPerThread = 50;
  std::atomic<int> ok{0}, refused{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        const bool fail = (t + i) % 5 == 0;
        Status s = commits_.Run(Append("w", fail ? AbortedError("no") : Status::Ok()));
        (s.ok() ? ok : refused)++;
        EXPECT_EQ(s.ok(), !fail);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(ok + refused, kThreads * kPerThread);
  EXPECT_EQ(commits_.writes(), static_cast<std::size_t>(kThreads * kPerThread));
  EXPECT_LE(commits_.batches(), commits_.writes());
}

}  // namespace
}  // namespace portcullis::store::sql
