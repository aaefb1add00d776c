#include "authn/throttle.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <latch>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "base/clock.h"
#include "store/sqlite/sqlite_store.h"
#include "store/store.h"

namespace portcullis::authn {
namespace {

using std::chrono::seconds;

constexpr UnixSeconds kStart = 1'700'000'000;
constexpr char kAttacker[] = "198.51.100.7";
constexpr char kOwnerHome[] = "203.0.113.5";

// The defaults of DESIGN §3 [lockout].
LockoutPolicy DefaultPolicy() { return LockoutPolicy{}; }

// Every behaviour holds in both modes: local (one instance) and shared (several instances on one
// database; here one instance on a store that supports the compare-and-swap).
class ThrottleTest : public ::testing::TestWithParam<bool> {
 protected:
  bool shared() const { return GetParam(); }

  void SetUp() override {
    store::SqliteOptions options;
    options.path = ":memory:";
    Result<std::unique_ptr<store::Store>> opened = store::OpenSqliteStore(options);
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    store_ = std::move(*opened);
    ASSERT_TRUE(store_->Migrate().ok());
    Reset(DefaultPolicy());
  }

  // A new Throttle on the same store (as after a restart) with `policy`.
  void Reset(const LockoutPolicy& policy) {
    throttle_.reset();
    Result<std::unique_ptr<Throttle>> created = Throttle::Create(*store_, policy, clock_, shared());
    ASSERT_TRUE(created.ok()) << created.status().ToString();
    throttle_ = std::move(*created);
  }

  // One verified attempt; the attempt must be admitted.
  Throttle::Outcome Attempt(std::string_view user, std::string_view ip, bool success) {
    Admission admission = throttle_->Admit(user, ip);
    EXPECT_TRUE(admission.allowed)
        << user << " from " << ip << " refused by " << ToString(admission.kind);
    if (!admission.allowed) return {};
    return throttle_->Complete(admission.ticket, success);
  }

  void Fail(std::string_view user, std::string_view ip, int times) {
    for (int i = 0; i < times; ++i) Attempt(user, ip, false);
  }

  FakeClock clock_{kStart};
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<Throttle> throttle_;
};

TEST_P(ThrottleTest, FifthConsecutiveFailureFromOneSourceLocksThePairForOneMinute) {
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(Attempt("alice", kAttacker, false), Throttle::Outcome{}) << "failure " << i + 1;
  }
  EXPECT_EQ(Attempt("alice", kAttacker, false), (Throttle::Outcome{.pair_lock_s = 60}));

  Admission refused = throttle_->Admit("alice", kAttacker);
  EXPECT_FALSE(refused.allowed);
  EXPECT_EQ(refused.kind, ThrottleKind::kPair);
  EXPECT_EQ(refused.retry_after_s, 60);
  EXPECT_EQ(refused.ticket, 0u);
  EXPECT_EQ(throttle_->LockedUntil("alice"), kStart + 60);
}

TEST_P(ThrottleTest, RetryAfterIsTheSecondsUntilTheLockEndsAndAtLeastOne) {
  Fail("alice", kAttacker, 5);
  clock_.Advance(seconds(21));
  EXPECT_EQ(throttle_->Admit("alice", kAttacker).retry_after_s, 39);
  clock_.Advance(seconds(38));
  EXPECT_EQ(throttle_->Admit("alice", kAttacker).retry_after_s, 1);
  clock_.Advance(seconds(1));
  Admission admitted = throttle_->Admit("alice", kAttacker);
  EXPECT_TRUE(admitted.allowed);
  EXPECT_EQ(admitted.retry_after_s, 0);
  EXPECT_EQ(throttle_->LockedUntil("alice"), std::nullopt);
}

TEST_P(ThrottleTest, RightPasswordIsRefusedWithoutVerificationWhileLockedAndAcceptedAfter) {
  Fail("alice", kAttacker, 5);
  const std::uint64_t verifications = throttle_->Stats().admitted;
  // Admit comes before any hashing: the caller never learns whether the password was right.
  EXPECT_FALSE(throttle_->Admit("alice", kAttacker).allowed);
  EXPECT_EQ(throttle_->Stats().admitted, verifications);

  clock_.Advance(seconds(60));
  EXPECT_EQ(Attempt("alice", kAttacker, true), Throttle::Outcome{});
  EXPECT_EQ(throttle_->Stats().admitted, verifications + 1);
}

TEST_P(ThrottleTest, EachFurtherFailureAfterExpiryDoublesTheLockUpToTheCap) {
  Fail("alice", kAttacker, 4);
  std::vector<std::int64_t> locks;
  for (int i = 0; i < 9; ++i) {
    Throttle::Outcome outcome = Attempt("alice", kAttacker, false);
    locks.push_back(outcome.pair_lock_s);
    clock_.Advance(seconds(outcome.pair_lock_s));
  }
  EXPECT_EQ(locks, std::vector<std::int64_t>({60, 120, 240, 480, 960, 1920, 3600, 3600, 3600}));
}

TEST_P(ThrottleTest, SuccessResetsThePairSoTheScheduleStartsOver) {
  Fail("alice", kAttacker, 5);
  clock_.Advance(seconds(60));
  Attempt("alice", kAttacker, true);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(Attempt("alice", kAttacker, false), Throttle::Outcome{});
  EXPECT_EQ(Attempt("alice", kAttacker, false).pair_lock_s, 60);
}

TEST_P(ThrottleTest, SuccessBeforeTheThresholdResetsTheConsecutiveCount) {
  Fail("alice", kAttacker, 4);
  Attempt("alice", kAttacker, true);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(Attempt("alice", kAttacker, false), Throttle::Outcome{});
  EXPECT_TRUE(throttle_->Admit("alice", kAttacker).allowed);
}

TEST_P(ThrottleTest, RefusedAttemptsDoNotExtendThePairLockButCountForTheSource) {
  Fail("alice", kAttacker, 5);  // 5 ip failures
  for (int i = 0; i < 44; ++i) {
    Admission refused = throttle_->Admit("alice", kAttacker);
    ASSERT_FALSE(refused.allowed);
    EXPECT_EQ(refused.kind, ThrottleKind::kPair);
    EXPECT_EQ(refused.retry_after_s, 60);  // the clock stands still: no extension
    EXPECT_EQ(refused.ip_lock_s, 0);
  }
  EXPECT_EQ(throttle_->LockedUntil("alice"), kStart + 60);
  // The 50th failure of this source within ip_window_s: a throttle trip for the rest of the
  // window (300 s), which now sets Retry-After.
  Admission tripped = throttle_->Admit("alice", kAttacker);
  EXPECT_FALSE(tripped.allowed);
  EXPECT_EQ(tripped.ip_lock_s, 300);
  EXPECT_EQ(tripped.kind, ThrottleKind::kIp);
  EXPECT_EQ(tripped.retry_after_s, 300);
  // The pair lock itself is unchanged, and another user from this source is refused too.
  EXPECT_EQ(throttle_->LockedUntil("alice"), kStart + 60);
  Admission other = throttle_->Admit("bob", kAttacker);
  EXPECT_FALSE(other.allowed);
  EXPECT_EQ(other.kind, ThrottleKind::kIp);
}

TEST_P(ThrottleTest, PairLockDoesNotAffectTheSameUserFromAnotherSource) {
  Fail("alice", kAttacker, 5);
  EXPECT_FALSE(throttle_->Admit("alice", kAttacker).allowed);
  EXPECT_EQ(Attempt("alice", kOwnerHome, true), Throttle::Outcome{});
  EXPECT_FALSE(throttle_->Admit("alice", kAttacker).allowed);  // still locked for the attacker
}

TEST_P(ThrottleTest, AccountBacksOffAfterAccountMaxFailuresFromManySources) {
  // 100 failures from 25 addresses (4 each, below the pair threshold).
  for (int source = 0; source < 25; ++source) {
    const std::string ip = "10.0." + std::to_string(source) + ".1";
    for (int i = 0; i < 4; ++i) {
      Throttle::Outcome outcome = Attempt("alice", ip, false);
      const bool hundredth = source == 24 && i == 3;
      EXPECT_EQ(outcome.account_lock_s, hundredth ? 60 : 0) << ip << " #" << i;
    }
  }
  Admission refused = throttle_->Admit("alice", "10.9.9.9");
  EXPECT_FALSE(refused.allowed);
  EXPECT_EQ(refused.kind, ThrottleKind::kAccount);
  EXPECT_EQ(refused.retry_after_s, 60);
  EXPECT_EQ(throttle_->LockedUntil("alice"), kStart + 60);
  EXPECT_EQ(throttle_->Stats().account_locks, 1u);

  // Same progressive schedule: the next failure within the window doubles it.
  clock_.Advance(seconds(60));
  EXPECT_EQ(Attempt("alice", "10.9.9.9", false).account_lock_s, 120);
  // Other usernames are unaffected.
  EXPECT_TRUE(throttle_->Admit("bob", "10.9.9.8").allowed);
}

TEST_P(ThrottleTest, AccountWindowDoesNotCountFailuresOlderThanTheWindow) {
  for (int source = 0; source < 33; ++source) {
    Fail("alice", "10.1." + std::to_string(source) + ".1", 3);  // 99 failures
  }
  clock_.Advance(seconds(3600));
  EXPECT_EQ(Attempt("alice", "10.2.0.1", false), Throttle::Outcome{});
  EXPECT_TRUE(throttle_->Admit("alice", "10.2.0.2").allowed);
}

TEST_P(ThrottleTest, KnownSourceNetworkIsExemptFromTheAccountBackOff) {
  Attempt("alice", kOwnerHome, true);  // 203.0.113.0/24 becomes a known source
  clock_.Advance(seconds(10));
  for (int source = 0; source < 25; ++source) {
    Fail("alice", "10.0." + std::to_string(source) + ".1", 4);
  }
  EXPECT_EQ(throttle_->Admit("alice", "10.9.9.9").kind, ThrottleKind::kAccount);
  // Another address of the same /24 passes; the owner can still log in.
  EXPECT_EQ(Attempt("alice", "203.0.113.77", true), Throttle::Outcome{});
  EXPECT_TRUE(throttle_->Admit("alice", kOwnerHome).allowed);
}

TEST_P(ThrottleTest, KnownSourceExpiresAfterKnownSourceDays) {
  Attempt("alice", kOwnerHome, true);
  clock_.Advance(seconds(30 * 86'400 + 1));
  Reset(DefaultPolicy());  // also drops this instance's cache: the store decides
  for (int source = 0; source < 25; ++source) {
    Fail("alice", "10.0." + std::to_string(source) + ".1", 4);
  }
  EXPECT_EQ(throttle_->Admit("alice", kOwnerHome).kind, ThrottleKind::kAccount);
}

TEST_P(ThrottleTest, KnownSourceSurvivesARestart) {
  Attempt("alice", kOwnerHome, true);
  Reset(DefaultPolicy());
  for (int source = 0; source < 25; ++source) {
    Fail("alice", "10.0." + std::to_string(source) + ".1", 4);
  }
  EXPECT_FALSE(throttle_->Admit("alice", "10.9.9.9").allowed);
  EXPECT_TRUE(throttle_->Admit("alice", "203.0.113.200").allowed);
}

TEST_P(ThrottleTest, SourceIsRefusedForTheRestOfTheIpWindowAfterIpMaxFailures) {
  for (int i = 0; i < 49; ++i) {
    clock_.Set(kStart + i);  // spread over 49 s
    EXPECT_EQ(Attempt("user" + std::to_string(i), kAttacker, false), Throttle::Outcome{});
  }
  clock_.Set(kStart + 49);
  EXPECT_EQ(Attempt("user49", kAttacker, false).ip_lock_s, 300 - 49);
  Admission refused = throttle_->Admit("someone-else", kAttacker);
  EXPECT_FALSE(refused.allowed);
  EXPECT_EQ(refused.kind, ThrottleKind::kIp);
  EXPECT_EQ(refused.retry_after_s, 300 - 49);
  EXPECT_TRUE(throttle_->Admit("someone-else", kOwnerHome).allowed);  // other sources unaffected

  clock_.Set(kStart + 300);
  EXPECT_TRUE(throttle_->Admit("someone-else", kAttacker).allowed);
}

TEST_P(ThrottleTest, IpWindowForgetsFailuresOlderThanTheWindow) {
  for (int i = 0; i < 49; ++i) Attempt("user" + std::to_string(i), kAttacker, false);
  clock_.Advance(seconds(300));
  EXPECT_EQ(Attempt("user49", kAttacker, false), Throttle::Outcome{});
}

TEST_P(ThrottleTest, FiftyParallelWrongAttemptsGetAtMostMaxFailuresVerifications) {
  constexpr int kThreads = 50;
  std::latch start(kThreads);
  std::atomic<int> verified{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&] {
      start.arrive_and_wait();
      Admission admission = throttle_->Admit("alice", kAttacker);
      if (!admission.allowed) return;
      ++verified;
      throttle_->Complete(admission.ticket, false);
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_GE(verified.load(), 1);
  EXPECT_LE(verified.load(), 5);
  EXPECT_EQ(throttle_->Stats().admitted, static_cast<std::uint64_t>(verified.load()));
  if (verified.load() == 5) {
    EXPECT_FALSE(throttle_->Admit("alice", kAttacker).allowed);
  }
}

TEST_P(ThrottleTest, InFlightAttemptsHoldTheRemainingBudget) {
  Fail("alice", kAttacker, 3);
  Admission first = throttle_->Admit("alice", kAttacker);
  Admission second = throttle_->Admit("alice", kAttacker);
  ASSERT_TRUE(first.allowed);
  ASSERT_TRUE(second.allowed);
  Admission third = throttle_->Admit("alice", kAttacker);
  EXPECT_FALSE(third.allowed);
  EXPECT_EQ(third.kind, ThrottleKind::kPair);
  EXPECT_EQ(third.retry_after_s, 1);
  // Abandoning a slot counts nothing and frees it.
  throttle_->Abandon(second.ticket);
  EXPECT_EQ(throttle_->Complete(first.ticket, false), Throttle::Outcome{});
  EXPECT_EQ(Attempt("alice", kAttacker, false).pair_lock_s, 60);
}

TEST_P(ThrottleTest, AttemptsRefusedOnlyForTheInFlightBudgetDoNotCountTowardTheSource) {
  // A busy client sending its right secret in parallel: max_failures attempts in flight, many
  // more refused while they are — none of those refusals may lock its own address out.
  std::vector<Admission> in_flight;
  for (int i = 0; i < DefaultPolicy().max_failures; ++i) {
    in_flight.push_back(throttle_->Admit("svc", kOwnerHome));
    ASSERT_TRUE(in_flight.back().allowed);
  }
  for (int i = 0; i < 2 * DefaultPolicy().ip_max_failures; ++i) {
    Admission refused = throttle_->Admit("svc", kOwnerHome);
    ASSERT_FALSE(refused.allowed);
    EXPECT_EQ(refused.ip_lock_s, 0);
  }
  for (const Admission& admission : in_flight) throttle_->Complete(admission.ticket, true);
  EXPECT_TRUE(throttle_->Admit("other-user", kOwnerHome).allowed);
}

TEST_P(ThrottleTest, LockSurvivesARestartOnTheSameStore) {
  Fail("alice", kAttacker, 5);
  clock_.Advance(seconds(10));
  Reset(DefaultPolicy());
  Admission refused = throttle_->Admit("alice", kAttacker);
  EXPECT_FALSE(refused.allowed);
  EXPECT_EQ(refused.kind, ThrottleKind::kPair);
  EXPECT_EQ(refused.retry_after_s, 50);
  // And the doubling continues where it left off.
  clock_.Advance(seconds(50));
  EXPECT_EQ(Attempt("alice", kAttacker, false).pair_lock_s, 120);
}

TEST_P(ThrottleTest, UnknownUsernameIsCountedExactlyLikeAKnownOneAndCaseFolded) {
  // The Throttle never looks users up: "ghost" exists nowhere, "GHOST" is the same key.
  Fail("ghost", kAttacker, 2);
  Fail("GHOST", kAttacker, 2);
  EXPECT_EQ(Attempt("Ghost", kAttacker, false).pair_lock_s, 60);
  Admission refused = throttle_->Admit("ghost", kAttacker);
  EXPECT_EQ(refused.kind, ThrottleKind::kPair);
  EXPECT_EQ(refused.retry_after_s, 60);
}

TEST_P(ThrottleTest, UnlockClearsPairAndAccountStateInMemoryAndStore) {
  for (int source = 0; source < 25; ++source) {
    Fail("alice", "10.0." + std::to_string(source) + ".1", 4);
  }
  ASSERT_TRUE(throttle_->LockedUntil("alice").has_value());
  ASSERT_TRUE(throttle_->Unlock("ALICE").ok());
  EXPECT_EQ(throttle_->LockedUntil("alice"), std::nullopt);
  EXPECT_TRUE(throttle_->Admit("alice", "10.9.9.9").allowed);

  Result<std::vector<store::ThrottleRecord>> left = store_->ListThrottles(0);
  ASSERT_TRUE(left.ok());
  for (const store::ThrottleRecord& record : *left) {
    // Shared mode also stores the attempt admitted above as in flight, with nothing counted.
    EXPECT_TRUE(
        record.key.starts_with("ip:") ||
        (shared() && record.failures == 0 && record.locked_until == 0 && record.in_flight == 1))
        << record.key;
  }
  Reset(DefaultPolicy());
  EXPECT_TRUE(throttle_->Admit("alice", "10.0.0.1").allowed);
}

TEST_P(ThrottleTest, UnlockOfOneUserLeavesUsersSharingItsPrefix) {
  Fail("bob", kAttacker, 5);
  Fail("bo", kOwnerHome, 5);
  ASSERT_TRUE(throttle_->Unlock("bo").ok());
  EXPECT_TRUE(throttle_->LockedUntil("bob").has_value());
  EXPECT_FALSE(throttle_->LockedUntil("bo").has_value());
}

TEST_P(ThrottleTest, PruneDropsEntriesUnchangedForTheRetentionPeriod) {
  Fail("alice", kAttacker, 3);
  Fail("bob", kOwnerHome, 5);
  ASSERT_TRUE(throttle_->Prune().ok());
  Result<std::vector<store::ThrottleRecord>> before = store_->ListThrottles(0);
  ASSERT_TRUE(before.ok());
  EXPECT_EQ(before->size(), 6u);  // 2 pairs, 2 accounts, 2 ips

  clock_.Advance(seconds(86'400));  // unchanged for exactly retention_s: kept
  ASSERT_TRUE(throttle_->Prune().ok());
  Result<std::vector<store::ThrottleRecord>> kept = store_->ListThrottles(0);
  ASSERT_TRUE(kept.ok());
  EXPECT_EQ(kept->size(), 6u);
  clock_.Advance(seconds(1));
  ASSERT_TRUE(throttle_->Prune().ok());
  Result<std::vector<store::ThrottleRecord>> after = store_->ListThrottles(0);
  ASSERT_TRUE(after.ok());
  EXPECT_TRUE(after->empty());
  // The 3 failures of alice are forgotten: 4 more do not lock.
  Fail("alice", kAttacker, 4);
  EXPECT_TRUE(throttle_->Admit("alice", kAttacker).allowed);
}

TEST_P(ThrottleTest, IpV6SourcesAreCountedPerSlash64) {
  Fail("alice", "2001:db8:1:2::1", 4);
  EXPECT_EQ(Attempt("alice", "2001:db8:1:2:ffff::9", false).pair_lock_s, 60);
  EXPECT_FALSE(throttle_->Admit("alice", "2001:db8:1:2::abcd").allowed);
  EXPECT_TRUE(throttle_->Admit("alice", "2001:db8:1:3::1").allowed);
}

TEST_P(ThrottleTest, RecordSourceFailureCountsOnlyTowardTheSource) {
  for (int i = 0; i < 49; ++i) {
    EXPECT_EQ(throttle_->RecordSourceFailure(kAttacker), Throttle::Outcome{});
  }
  EXPECT_EQ(throttle_->RecordSourceFailure(kAttacker).ip_lock_s, 300);
  EXPECT_EQ(throttle_->Admit("alice", kAttacker).kind, ThrottleKind::kIp);
}

TEST_P(ThrottleTest, QuietSuccessOnlyWhenNoLockAppliesAndASuccessWouldChangeNothing) {
  // Never before the source was recorded as known by a full success.
  EXPECT_FALSE(throttle_->QuietSuccess("client:app", kOwnerHome));
  Attempt("client:app", kOwnerHome, true);
  EXPECT_TRUE(throttle_->QuietSuccess("client:app", kOwnerHome));
  EXPECT_TRUE(throttle_->QuietSuccess("CLIENT:APP", kOwnerHome));  // case-folded like Admit
  EXPECT_FALSE(throttle_->QuietSuccess("client:app", kAttacker));  // another network

  // A failure on the pair: a success must reset it, so the full path.
  Attempt("client:app", kOwnerHome, false);
  EXPECT_FALSE(throttle_->QuietSuccess("client:app", kOwnerHome));
  Attempt("client:app", kOwnerHome, true);
  EXPECT_TRUE(throttle_->QuietSuccess("client:app", kOwnerHome));

  // A locked source: the full path (which refuses and counts).
  for (int i = 0; i < 50; ++i) throttle_->RecordSourceFailure(kOwnerHome);
  EXPECT_FALSE(throttle_->QuietSuccess("client:app", kOwnerHome));
  clock_.Advance(std::chrono::seconds(300));
  // The known source was recorded more than an hour ago? Not yet: still quiet after the window.
  EXPECT_TRUE(throttle_->QuietSuccess("client:app", kOwnerHome));
  // After an hour the known source is due to be rewritten: the full path records it.
  clock_.Advance(std::chrono::seconds(3'600));
  EXPECT_FALSE(throttle_->QuietSuccess("client:app", kOwnerHome));
}

TEST_P(ThrottleTest, QuietSuccessIsRefusedWhileTheAccountIsLocked) {
  Attempt("client:app", kOwnerHome, true);
  LockoutPolicy policy = DefaultPolicy();
  for (int i = 0; i < policy.account_max_failures; ++i) {
    Attempt("client:app", "198.51.100." + std::to_string(i % 250), false);
  }
  EXPECT_FALSE(throttle_->QuietSuccess("client:app", kOwnerHome));
}

TEST_P(ThrottleTest, LockedUntilOfReportsPairAndAccountLocksByTheGivenNames) {
  Fail("Alice", kAttacker, 5);    // the pair locks for 60 s
  Fail("alice|x", kAttacker, 5);  // a username extending "alice|" is someone else
  std::map<std::string, UnixSeconds> locks = throttle_->LockedUntilOf({"Alice", "bob", "ALICE"});
  EXPECT_EQ(locks,
            (std::map<std::string, UnixSeconds>{{"ALICE", kStart + 60}, {"Alice", kStart + 60}}));
  EXPECT_EQ(throttle_->LockedUntil("alice"), std::optional<UnixSeconds>(kStart + 60));
  clock_.Advance(seconds(60));
  EXPECT_TRUE(throttle_->LockedUntilOf({"Alice"}).empty());
}

TEST(SharedThrottleTest, LockedUntilOfSeesLocksTakenOnAnotherInstance) {
  const std::string path =
      ::testing::TempDir() + "shared_locks_" + std::to_string(::getpid()) + ".db";
  std::filesystem::remove(path);
  FakeClock clock{kStart};
  std::vector<std::unique_ptr<store::Store>> stores;
  std::vector<std::unique_ptr<Throttle>> throttles;
  for (int i = 0; i < 2; ++i) {
    store::SqliteOptions options;
    options.path = path;
    Result<std::unique_ptr<store::Store>> opened = store::OpenSqliteStore(options);
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    ASSERT_TRUE((*opened)->Migrate().ok());
    stores.push_back(std::move(*opened));
    Result<std::unique_ptr<Throttle>> created =
        Throttle::Create(*stores.back(), LockoutPolicy{}, clock, /*shared=*/true);
    ASSERT_TRUE(created.ok());
    throttles.push_back(std::move(*created));
  }
  for (int i = 0; i < 5; ++i) {
    Admission admission = throttles[0]->Admit("carol", kAttacker);
    ASSERT_TRUE(admission.allowed);
    throttles[0]->Complete(admission.ticket, false);
  }
  EXPECT_EQ(throttles[1]->LockedUntil("carol"), std::nullopt);  // memory has not seen it
  EXPECT_EQ(throttles[1]->LockedUntilOf({"carol"}),
            (std::map<std::string, UnixSeconds>{{"carol", kStart + 60}}));
  throttles.clear();
  stores.clear();
  std::filesystem::remove(path);
}

TEST_P(ThrottleTest, UnknownOrRepeatedTicketChangesNothing) {
  Admission admission = throttle_->Admit("alice", kAttacker);
  ASSERT_TRUE(admission.allowed);
  throttle_->Complete(admission.ticket, false);
  EXPECT_EQ(throttle_->Complete(admission.ticket, false), Throttle::Outcome{});
  EXPECT_EQ(throttle_->Complete(12345, false), Throttle::Outcome{});
  EXPECT_EQ(throttle_->Stats().failures, 1u);
}

// Forwards to a real store; writes or the start-up listing fail on demand (like leveldb's
// ErrorEnv) to show that store trouble never changes a decision.
class FlakyThrottleStore final : public store::ThrottleStore {
 public:
  explicit FlakyThrottleStore(store::ThrottleStore& real) : real_(real) {}
  bool fail_writes = false;
  bool fail_list = false;

  Result<std::optional<store::ThrottleRecord>> GetThrottle(std::string_view key) override {
    return real_.GetThrottle(key);
  }
  Status PutThrottle(const store::ThrottleRecord& record) override {
    return fail_writes ? UnavailableError("database is locked") : real_.PutThrottle(record);
  }
  Status DeleteThrottle(std::string_view key) override {
    return fail_writes ? UnavailableError("database is locked") : real_.DeleteThrottle(key);
  }
  Result<bool> CompareAndSwapThrottles(const std::vector<store::ThrottleRecord>& records) override {
    if (fail_writes) return UnavailableError("database is locked");
    return real_.CompareAndSwapThrottles(records);
  }
  Result<std::vector<store::ThrottleRecord>> ThrottlesOfUsers(
      const std::vector<std::string>& users) override {
    return real_.ThrottlesOfUsers(users);
  }
  Result<std::vector<store::ThrottleRecord>> ListThrottles(UnixSeconds since) override {
    if (fail_list) return UnavailableError("database is locked");
    return real_.ListThrottles(since);
  }
  Result<int> PruneThrottles(UnixSeconds stale_before) override {
    return real_.PruneThrottles(stale_before);
  }
  Result<int> DeleteThrottlesForUser(std::string_view user) override {
    if (fail_writes) return UnavailableError("database is locked");
    return real_.DeleteThrottlesForUser(user);
  }
  Status RecordKnownSource(std::string_view user, std::string_view network,
                           UnixSeconds at) override {
    return fail_writes ? UnavailableError("database is locked")
                       : real_.RecordKnownSource(user, network, at);
  }
  Result<bool> IsKnownSource(std::string_view user, std::string_view network,
                             UnixSeconds since) override {
    return real_.IsKnownSource(user, network, since);
  }
  Result<int> PruneKnownSources(UnixSeconds stale_before) override {
    return real_.PruneKnownSources(stale_before);
  }

 private:
  store::ThrottleStore& real_;
};

TEST(LockoutPolicyTest, DefaultsAreValidAndBadValuesNameTheKey) {
  EXPECT_TRUE(ValidateLockoutPolicy(LockoutPolicy{}).ok());
  LockoutPolicy zero_failures;
  zero_failures.max_failures = 0;
  Status s = ValidateLockoutPolicy(zero_failures);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "lockout.max_failures must be at least 1");
  LockoutPolicy inverted;
  inverted.base_lock_s = 7200;
  s = ValidateLockoutPolicy(inverted);
  EXPECT_EQ(s.message(), "lockout.base_lock_s must not exceed lockout.max_lock_s");
}

TEST(ThrottleKindTest, NamesAreStable) {
  EXPECT_EQ(ToString(ThrottleKind::kNone), "none");
  EXPECT_EQ(ToString(ThrottleKind::kPair), "pair");
  EXPECT_EQ(ToString(ThrottleKind::kAccount), "account");
  EXPECT_EQ(ToString(ThrottleKind::kIp), "ip");
}

}  // namespace
}  // namespace portcullis::authn

namespace portcullis::authn {
namespace {

// Threat-model F8: many sources cannot grow the in-memory table past max_entries, and the cap
// never drops a lock in force.
TEST_P(ThrottleTest, SizeCapEvictsIdleUnlockedEntriesButNeverALock) {
  LockoutPolicy policy = DefaultPolicy();
  policy.max_entries = 100;
  policy.ip_max_failures = 3;
  Reset(policy);
  for (int i = 0; i < 3; ++i) throttle_->RecordSourceFailure(kAttacker);
  const std::int64_t locked_for = throttle_->SourceRetryAfter(kAttacker);
  ASSERT_EQ(locked_for, policy.ip_window_s);

  for (int i = 0; i < 1000; ++i) {
    if (i % 20 == 0) clock_.Advance(seconds(3));
    throttle_->RecordSourceFailure("10.0." + std::to_string(i / 250) + "." +
                                   std::to_string(i % 250));
    ASSERT_LE(throttle_->EntryCount(), policy.max_entries) << "after source " << i;
  }
  EXPECT_GE(throttle_->Stats().evictions, 900u);
  EXPECT_EQ(throttle_->SourceRetryAfter(kAttacker), locked_for - 150);
  Admission refused = throttle_->Admit("alice", kAttacker);
  EXPECT_FALSE(refused.allowed);
  EXPECT_EQ(refused.kind, ThrottleKind::kIp);
}

// An evicted entry's partial count comes back from the store: eviction buys an attacker no
// fresh budget.
TEST_P(ThrottleTest, EvictedPartialCountIsReadBackFromTheStore) {
  LockoutPolicy policy = DefaultPolicy();
  policy.max_entries = 50;
  Reset(policy);
  Fail("alice", kAttacker, 4);  // one short of the pair lock
  for (int i = 0; i < 200; ++i) {
    if (i % 10 == 0) clock_.Advance(seconds(3));
    throttle_->RecordSourceFailure("10.1.0." + std::to_string(i));
  }
  ASSERT_GT(throttle_->Stats().evictions, 0u);
  ASSERT_LE(throttle_->EntryCount(), policy.max_entries);
  EXPECT_FALSE(throttle_->LockedUntil("alice").has_value());
  EXPECT_EQ(Attempt("alice", kAttacker, false), (Throttle::Outcome{.pair_lock_s = 60}));
  EXPECT_FALSE(throttle_->Admit("alice", kAttacker).allowed);
}

// A restart over a store holding more records than the cap loads and then trims to the cap.
TEST_P(ThrottleTest, RestartTrimsLoadedRecordsToTheCap) {
  for (int i = 0; i < 300; ++i) throttle_->RecordSourceFailure("10.2.0." + std::to_string(i));
  LockoutPolicy policy = DefaultPolicy();
  policy.max_entries = 100;
  Reset(policy);
  EXPECT_LE(throttle_->EntryCount(), policy.max_entries);
}

// The size cap under concurrency (run it under TSan): attempts and source failures from several
// threads over many sources keep the table near its cap and never lose a lock.
TEST_P(ThrottleTest, SizeCapHoldsUnderConcurrentAttempts) {
  LockoutPolicy policy = DefaultPolicy();
  policy.max_entries = 64;
  Reset(policy);
  Fail("alice", kAttacker, policy.max_failures);  // locked for base_lock_s
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([this, t] {
      for (int i = 0; i < 150; ++i) {
        const std::string source = "10.4." + std::to_string(t) + "." + std::to_string(i);
        if (i % 3 == 0) {
          Admission admission = throttle_->Admit("user" + std::to_string(i), source);
          if (admission.allowed) throttle_->Complete(admission.ticket, false);
        } else {
          throttle_->RecordSourceFailure(source);
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_LE(throttle_->EntryCount(), policy.max_entries);
  EXPECT_GT(throttle_->Stats().evictions, 0u);
  EXPECT_EQ(throttle_->Admit("alice", kAttacker).kind, ThrottleKind::kPair);
}

// Threat-model F3: the read-only source check of self-registration.
TEST_P(ThrottleTest, SourceRetryAfterReadsTheIpLimitWithoutCounting) {
  LockoutPolicy policy = DefaultPolicy();
  policy.ip_max_failures = 3;
  Reset(policy);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(throttle_->SourceRetryAfter(kAttacker), 0);
  throttle_->RecordSourceFailure(kAttacker);
  throttle_->RecordSourceFailure(kAttacker);
  EXPECT_EQ(throttle_->SourceRetryAfter(kAttacker), 0);
  EXPECT_GT(throttle_->RecordSourceFailure(kAttacker).ip_lock_s, 0);
  clock_.Advance(seconds(100));
  EXPECT_EQ(throttle_->SourceRetryAfter(kAttacker), policy.ip_window_s - 100);
  EXPECT_EQ(throttle_->SourceRetryAfter(kOwnerHome), 0);
  clock_.Advance(seconds(policy.ip_window_s));
  EXPECT_EQ(throttle_->SourceRetryAfter(kAttacker), 0);
}

TEST_P(ThrottleTest, RegistrationBudgetIsSeparateFromTheIpLimit) {
  LockoutPolicy policy = DefaultPolicy();
  policy.ip_max_failures = 3;
  Reset(policy);
  const SourceBudget registrations = SourceBudget::kRegistrations;
  throttle_->RecordSourceFailure(kAttacker, registrations);
  throttle_->RecordSourceFailure(kAttacker, registrations);
  EXPECT_EQ(throttle_->SourceRetryAfter(kAttacker, registrations), 0);
  EXPECT_GT(throttle_->RecordSourceFailure(kAttacker, registrations).ip_lock_s, 0);
  EXPECT_EQ(throttle_->SourceRetryAfter(kAttacker, registrations), policy.ip_window_s);
  EXPECT_EQ(throttle_->SourceRetryAfter(kAttacker), 0);
  EXPECT_TRUE(throttle_->Admit("alice", kAttacker).allowed);
  EXPECT_EQ(throttle_->Stats().failures, 0u);
  Reset(policy);  // persisted like every other record
  EXPECT_EQ(throttle_->SourceRetryAfter(kAttacker, registrations), policy.ip_window_s);
}

INSTANTIATE_TEST_SUITE_P(LocalAndShared, ThrottleTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& param) {
                           return param.param ? "Shared" : "Local";
                         });

class ThrottleStoreFailureTest : public ThrottleTest {};

TEST_P(ThrottleStoreFailureTest, FailedWritesDoNotChangeDecisionsAndUnlockReportsTheError) {
  FlakyThrottleStore flaky(*store_);
  Result<std::unique_ptr<Throttle>> throttle =
      Throttle::Create(flaky, LockoutPolicy{}, clock_, shared());
  ASSERT_TRUE(throttle.ok());
  flaky.fail_writes = true;
  for (int i = 0; i < 4; ++i) {
    Admission admission = (*throttle)->Admit("alice", kAttacker);
    ASSERT_TRUE(admission.allowed);
    (*throttle)->Complete(admission.ticket, false);
  }
  Admission fifth = (*throttle)->Admit("alice", kAttacker);
  ASSERT_TRUE(fifth.allowed);
  EXPECT_EQ((*throttle)->Complete(fifth.ticket, false).pair_lock_s, 60);
  EXPECT_EQ((*throttle)->Admit("alice", kAttacker).kind, ThrottleKind::kPair);

  Status unlocked = (*throttle)->Unlock("alice");
  EXPECT_EQ(unlocked.code(), StatusCode::kUnavailable);
  EXPECT_TRUE((*throttle)->Admit("alice", kAttacker).allowed);  // memory is cleared anyway
}

// Memory newer than the store (a failed write) is never evicted: it is the only copy.
TEST_P(ThrottleStoreFailureTest, TheSizeCapNeverEvictsWhatTheStoreDoesNotHold) {
  FlakyThrottleStore flaky(*store_);
  LockoutPolicy policy;
  policy.max_entries = 100;
  Result<std::unique_ptr<Throttle>> throttle = Throttle::Create(flaky, policy, clock_, shared());
  ASSERT_TRUE(throttle.ok());
  flaky.fail_writes = true;
  for (int i = 0; i < 4; ++i) {
    Admission admission = (*throttle)->Admit("alice", kAttacker);
    ASSERT_TRUE(admission.allowed);
    (*throttle)->Complete(admission.ticket, false);
  }
  flaky.fail_writes = false;
  for (int i = 0; i < 300; ++i) {
    (*throttle)->RecordSourceFailure("10.3.0." + std::to_string(i));
    ASSERT_LE((*throttle)->EntryCount(), policy.max_entries);
  }
  EXPECT_GT((*throttle)->Stats().evictions, 0u);
  Admission fifth = (*throttle)->Admit("alice", kAttacker);
  ASSERT_TRUE(fifth.allowed);
  EXPECT_EQ((*throttle)->Complete(fifth.ticket, false).pair_lock_s, 60);
}

TEST_P(ThrottleStoreFailureTest, CreateReturnsTheStoreErrorWhenLoadingFails) {
  FlakyThrottleStore flaky(*store_);
  flaky.fail_list = true;
  Result<std::unique_ptr<Throttle>> throttle =
      Throttle::Create(flaky, LockoutPolicy{}, clock_, shared());
  EXPECT_EQ(throttle.status().code(), StatusCode::kUnavailable);
}

TEST_P(ThrottleStoreFailureTest, CreateRejectsAnInvalidPolicy) {
  LockoutPolicy policy;
  policy.ip_window_s = 0;
  Result<std::unique_ptr<Throttle>> throttle = Throttle::Create(*store_, policy, clock_);
  EXPECT_EQ(throttle.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(throttle.status().message(), "lockout.ip_window_s must be at least 1");
}

INSTANTIATE_TEST_SUITE_P(LocalAndShared, ThrottleStoreFailureTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& param) {
                           return param.param ? "Shared" : "Local";
                         });

// Several instances on one database: three Throttles in shared mode on one file (each its own
// store connections), attempts spread over them in parallel.
TEST(SharedThrottleTest, InstancesTogetherAllowAtMostMaxFailuresVerificationsPerPair) {
  const std::string path =
      ::testing::TempDir() + "shared_throttle_" + std::to_string(::getpid()) + ".db";
  std::filesystem::remove(path);
  FakeClock clock{kStart};
  constexpr int kInstances = 3;
  std::vector<std::unique_ptr<store::Store>> stores;
  std::vector<std::unique_ptr<Throttle>> throttles;
  for (int i = 0; i < kInstances; ++i) {
    store::SqliteOptions options;
    options.path = path;
    Result<std::unique_ptr<store::Store>> opened = store::OpenSqliteStore(options);
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    ASSERT_TRUE((*opened)->Migrate().ok());
    stores.push_back(std::move(*opened));
    Result<std::unique_ptr<Throttle>> created =
        Throttle::Create(*stores.back(), LockoutPolicy{}, clock, /*shared=*/true);
    ASSERT_TRUE(created.ok());
    throttles.push_back(std::move(*created));
  }
  constexpr int kAttempts = 30;
  std::atomic<int> admitted{0};
  std::latch start(kAttempts);
  std::vector<std::thread> threads;
  for (int i = 0; i < kAttempts; ++i) {
    threads.emplace_back([&, i] {
      Throttle& throttle = *throttles[i % kInstances];
      start.arrive_and_wait();
      Admission admission = throttle.Admit("alice", kAttacker);
      if (!admission.allowed) return;
      ++admitted;
      throttle.Complete(admission.ticket, false);
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(admitted.load(), LockoutPolicy{}.max_failures);
  // Every instance now refuses the pair, without having seen the failures itself.
  for (const std::unique_ptr<Throttle>& throttle : throttles) {
    Admission refused = throttle->Admit("alice", kAttacker);
    EXPECT_FALSE(refused.allowed);
    EXPECT_EQ(refused.kind, ThrottleKind::kPair);
  }
  // The owner elsewhere is not locked out, and a success there resets nothing of the attacker's.
  Admission owner = throttles[1]->Admit("alice", kOwnerHome);
  ASSERT_TRUE(owner.allowed);
  throttles[1]->Complete(owner.ticket, true);
  EXPECT_FALSE(throttles[2]->Admit("alice", kAttacker).allowed);
  std::filesystem::remove(path);
}

TEST(SharedThrottleTest, AnAttemptInFlightOnOneInstanceCountsOnTheOthers) {
  store::SqliteOptions options;
  options.path = ::testing::TempDir() + "shared_inflight_" + std::to_string(::getpid()) + ".db";
  std::filesystem::remove(options.path);
  FakeClock clock{kStart};
  Result<std::unique_ptr<store::Store>> a_store = store::OpenSqliteStore(options);
  Result<std::unique_ptr<store::Store>> b_store = store::OpenSqliteStore(options);
  ASSERT_TRUE(a_store.ok() && b_store.ok());
  ASSERT_TRUE((*a_store)->Migrate().ok());
  LockoutPolicy policy;
  policy.max_failures = 2;
  auto a = Throttle::Create(**a_store, policy, clock, true);
  auto b = Throttle::Create(**b_store, policy, clock, true);
  ASSERT_TRUE(a.ok() && b.ok());
  Admission first = (*a)->Admit("bob", kAttacker);
  Admission second = (*b)->Admit("bob", kAttacker);
  ASSERT_TRUE(first.allowed && second.allowed);
  // Two in flight fill the budget of two: a third attempt anywhere waits for them.
  EXPECT_FALSE((*a)->Admit("bob", kAttacker).allowed);
  EXPECT_FALSE((*b)->Admit("bob", kAttacker).allowed);
  // An abandoned attempt gives its slot back to every instance.
  (*a)->Abandon(first.ticket);
  Admission third = (*b)->Admit("bob", kAttacker);
  EXPECT_TRUE(third.allowed);
  // A crashed instance's attempts stop counting after the reservation timeout.
  clock.Advance(std::chrono::seconds(Throttle::kReservationTimeoutS + 1));
  EXPECT_TRUE((*a)->Admit("bob", kAttacker).allowed);
  std::filesystem::remove(options.path);
}

}  // namespace
}  // namespace portcullis::authn
