// Throttle: the brute-force defence of DESIGN.md §5, used for EVERY password or secret check
// (password grant, HTTP Basic, the current password of /v1/me/password, client secrets).
//
// Three dimensions, each keyed by a "source" (the IPv4 address, or the /64 of an IPv6 address,
// since one IPv6 end site holds 2^64 addresses):
//   - pair (normalized username, source): `max_failures` consecutive failures lock the pair for
//     `base_lock_s`; each further failure after a lock expires locks it again for twice as long,
//     up to `max_lock_s`. A success resets the pair.
//   - account (normalized username, all sources): `account_max_failures` failures within
//     `account_window_s` start the same progressive schedule for the whole account, except for
//     sources whose network (/24, /64) logged in successfully within `known_source_days`: the
//     account lock does not refuse those (their failures still count toward the account).
//   - ip (source, all usernames): `ip_max_failures` failures within `ip_window_s` refuse the
//     source for the rest of that window.
// A lock starts when a count REACHES its threshold. While any lock applies, Admit refuses without
// a verification (the caller answers 429 + Retry-After, even for the right password). Refused
// attempts never extend a pair or account lock, but count toward their source's ip limit.
// Unknown usernames are treated exactly like real ones: this class never looks users up.
//
// Atomicity: Admit checks and RESERVES a verification slot in one step under one mutex;
// in-flight reservations count against the remaining budget of every dimension, so N parallel
// wrong attempts never get more than `max_failures` verifications before the pair locks.
//
// Persistence (local mode, one instance): every change is written through to the ThrottleStore
// (Create loads recent state), so locks survive restarts. Store writes happen after the
// in-memory decision, outside the decision mutex but serialized by a second mutex that always
// writes the LATEST in-memory state, so a slow writer can never overwrite a newer record with an
// older one. A store error is logged and does not change the decision (memory stays
// authoritative for this instance).
//
// Shared mode (several instances on one database, DESIGN §6): each decision re-reads its
// records (counts, locks and the attempts in flight on EVERY instance) from the store, decides
// by the same rules, and writes the changed records back in one compare-and-swap
// (ThrottleStore::CompareAndSwapThrottles); when another instance wrote first it decides again on
// fresh records. So N instances together allow at most `max_failures` verifications before a
// pair locks, however the attempts are spread. Fast path: a source locked for the rest of its
// ip window is refused from memory. A store error leaves the decision to memory, as above.
//
// Size (threat-model F8): at most about `max_entries` records are held in memory. Past that, the
// least recently used entries that are unlocked, idle (no attempt in flight) and saved to the
// store are evicted; locked entries never are, so every lock in force is always decided from
// memory. An evicted entry's partial count (failures below a threshold, a
// lock level) is not lost: its record stays in the store, and once anything was evicted, a local
// decision re-reads the keys it misses from the store before deciding (shared mode reads them
// anyway). Store rows are bounded by time instead: Prune deletes them `retention_s` after their
// last change.
//
// Thread-safety: every method may be called from any thread. Methods may block on store I/O:
// call them from the worker pool, not from an I/O thread.
//
//   Result<std::unique_ptr<Throttle>> throttle = Throttle::Create(store, policy, clock);
//   Admission admission = (*throttle)->Admit(username, client_ip);
//   if (!admission.allowed) return TooManyRequests(admission.retry_after_s);  // no hashing
//   const bool ok = hasher.Verify(password, phc);  // or the dummy verification
//   Throttle::Outcome outcome = (*throttle)->Complete(admission.ticket, ok);
//   if (outcome.LockStarted()) audit.Lockout(...);
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/clock.h"
#include "base/status.h"
#include "store/store.h"

namespace portcullis::authn {

// The [lockout] configuration table (DESIGN §3, §5), with its defaults.
struct LockoutPolicy {
  int max_failures = 5;            // consecutive failures per (user, source) before a lock
  std::int64_t base_lock_s = 60;   // first lock; doubles per further failure
  std::int64_t max_lock_s = 3600;  // cap of the doubling
  int account_max_failures = 100;  // failures per account within account_window_s
  std::int64_t account_window_s = 3600;
  int known_source_days = 30;  // a successful login exempts its network for this long
  int ip_max_failures = 50;    // failures per source within ip_window_s
  std::int64_t ip_window_s = 300;
  // Not a [lockout] key: an unlocked entry unchanged for this long is pruned. Raised to at least
  // max(max_lock_s, account_window_s, ip_window_s) by Create.
  std::int64_t retention_s = 86400;
  // Not a [lockout] key: the in-memory entry cap (see "Size" above). About 200 bytes each.
  std::size_t max_entries = 100'000;
};

// OK when every count is >= 1, every duration >= 1 s, base_lock_s <= max_lock_s and
// known_source_days >= 0; otherwise kInvalidArgument naming the "lockout.<key>".
Status ValidateLockoutPolicy(const LockoutPolicy& policy);

// Which dimension refused an attempt or started a lock. Stable numbers (metric labels).
enum class ThrottleKind : std::uint8_t {
  kNone = 0,
  kPair = 1,     // (username, source)
  kAccount = 2,  // username, all unknown sources
  kIp = 3,       // source, all usernames
};

// "none", "pair", "account", "ip".
std::string_view ToString(ThrottleKind kind);

// The per-source budgets of RecordSourceFailure and SourceRetryAfter. Both have the limits of the
// ip dimension (ip_max_failures per ip_window_s, then refused for the rest of the window).
enum class SourceBudget : std::uint8_t {
  kSecrets = 0,  // failed secret checks: the ip dimension that Admit enforces too
  // Self-registrations (threat-model F3); separate, so that sign-ups never lock a source's logins.
  kRegistrations = 1,
};

// The answer of Admit.
struct Admission {
  bool allowed = false;
  // When refused: the dimension whose lock ends last (the one that sets Retry-After).
  ThrottleKind kind = ThrottleKind::kNone;
  // When refused: seconds until the earliest moment an attempt could be admitted (the latest end
  // among the locks that apply), at least 1. 0 when allowed.
  std::int64_t retry_after_s = 0;
  // When allowed: pass to Complete or Abandon exactly once. 0 when refused.
  std::uint64_t ticket = 0;
  // > 0 when this refused attempt itself tripped the source's ip limit (a "throttle trip" to
  // audit): the length of that lock in seconds.
  std::int64_t ip_lock_s = 0;
};

// Counters since Create, for metrics (issue #4 asks for the verification count).
struct ThrottleStats {
  std::uint64_t admitted = 0;  // verification slots granted = verifications performed
  std::uint64_t refused_pair = 0;
  std::uint64_t refused_account = 0;
  std::uint64_t refused_ip = 0;
  std::uint64_t successes = 0;
  std::uint64_t failures = 0;  // completed wrong attempts (plus RecordSourceFailure calls)
  std::uint64_t pair_locks = 0;
  std::uint64_t account_locks = 0;
  std::uint64_t ip_locks = 0;
  std::uint64_t evictions = 0;  // entries dropped from memory by the max_entries cap
};

class Throttle {
 public:
  // What a completed attempt changed: each field > 0 when that dimension's lock started now,
  // holding the lock's length in seconds (for the audit log and lockout counters).
  struct Outcome {
    std::int64_t pair_lock_s = 0;
    std::int64_t account_lock_s = 0;
    std::int64_t ip_lock_s = 0;
    bool LockStarted() const { return pair_lock_s > 0 || account_lock_s > 0 || ip_lock_s > 0; }
    friend bool operator==(const Outcome&, const Outcome&) = default;
  };

  // Validates the policy (ValidateLockoutPolicy), then loads every entry updated within
  // retention_s from the store. kInvalidArgument for a bad policy; the store's error if loading
  // fails. `store` and `clock` must outlive the Throttle.
  // `shared`: several instances share the store (PostgreSQL); see "Shared mode" above.
  static Result<std::unique_ptr<Throttle>> Create(store::ThrottleStore& store,
                                                  const LockoutPolicy& policy, const Clock& clock,
                                                  bool shared = false);

  Throttle(const Throttle&) = delete;
  Throttle& operator=(const Throttle&) = delete;

  // ONE atomic step: refuses if the (user, source) pair, the account (unless the source's
  // network is a known source of this user) or the source is locked, or if their remaining
  // budget is taken by in-flight attempts; otherwise reserves a verification slot. A refusal
  // counts toward the source's ip limit and never touches pair or account state. `username` is
  // case-folded here (store::NormalizeUsername) whether or not such a user exists; `source_ip`
  // is the client address as text (an unparsable one is used verbatim as its own source).
  Admission Admit(std::string_view username, std::string_view source_ip);

  // Completes an admitted attempt. Failure: counts for the pair, the account (unless exempt as a
  // known source) and the source, starting each lock whose count reaches its threshold.
  // Success: resets the pair and records the source network as known for the user. An unknown
  // or already completed ticket changes nothing and returns an empty Outcome.
  Outcome Complete(std::uint64_t ticket, bool success);

  // The fast path of a credential already found correct without a reservation (a client secret
  // matching its cached hash, a cheap comparison): true when no lock applies to the pair, the
  // account or the source and a success would change no record (the pair is clean, the source
  // network was recorded as known within the hour), so the caller may answer success with no
  // Admit/Complete. False: take Admit/Complete, which refuses, counts and records as usual —
  // the same path a wrong secret takes, so a locked caller learns nothing from the answer.
  // Local mode: memory only. Shared mode: one read of the three records, no write.
  bool QuietSuccess(std::string_view username, std::string_view source_ip);
  bool shared() const { return shared_; }

  // Releases an admitted attempt that was never verified (e.g. the hash pool was full): nothing
  // is counted. An unknown ticket is ignored.
  void Abandon(std::uint64_t ticket);

  // Counts one event toward a per-source budget only: by default a failure of a secret that has
  // no username (API keys) toward the ip limit. Returns ip_lock_s > 0 if it tripped the limit.
  Outcome RecordSourceFailure(std::string_view source_ip,
                              SourceBudget budget = SourceBudget::kSecrets);

  // Read-only: seconds until the source may try again when `budget` refuses it now (>= 1), else
  // 0. Counts nothing. For endpoints that are not a secret check but must not be flooded from
  // one source (self-registration: threat-model F3). Shared mode: one store read.
  std::int64_t SourceRetryAfter(std::string_view source_ip,
                                SourceBudget budget = SourceBudget::kSecrets);

  // Admin unlock: clears the pair and account state of the user (all sources), in memory and in
  // the store. Does not clear ip limits. Returns the store's error if the delete failed (the
  // memory state is cleared anyway).
  Status Unlock(std::string_view username);

  // The latest end among the user's account lock and pair locks still in force, or nullopt if
  // none is (for user listings). In-memory state of this instance.
  std::optional<UnixSeconds> LockedUntil(std::string_view username) const;

  // LockedUntil for several users, keyed by the usernames as given (users without a lock in
  // force are absent). Shared mode: the deployment's records, read in one round trip (blocking:
  // call it off the network threads), falling back to memory if the read fails. Local mode:
  // memory, as LockedUntil.
  std::map<std::string, UnixSeconds> LockedUntilOf(const std::vector<std::string>& usernames);

  // Drops entries unlocked and unchanged for retention_s, reservations older than
  // kReservationTimeoutS (a caller that never completed), and known sources older than
  // known_source_days, in memory and in the store. Returns the first store error.
  Status Prune();

  ThrottleStats Stats() const;

  // Entries held in memory now (tests and metrics).
  std::size_t EntryCount() const;

  // Reservations older than this are presumed abandoned by a crashed caller and dropped by Prune.
  static constexpr std::int64_t kReservationTimeoutS = 120;

 private:
  struct Entry {
    store::ThrottleRecord record;
    int in_flight = 0;  // admitted, not yet completed attempts counted against the budget
    // A write of this record failed, so memory is newer than the store: a Refresh (shared mode)
    // keeps it and the size cap never evicts it (until a later write succeeds).
    bool unsaved = false;
    // Local mode: changed in memory, not yet written by Flush (never evicted meanwhile).
    bool flush_pending = false;
    UnixSeconds last_used = 0;  // for the size cap: the last decision that read or changed it
  };
  struct Reservation {
    std::string pair_key, account_key, ip_key;
    std::string username;           // normalized
    std::string network_key;        // SourceNetworkKey of the source
    bool account_reserved = false;  // the attempt holds an in-flight slot of the account
    UnixSeconds admitted_at = 0;
  };
  // Which lock (if any) refuses an attempt, and until when.
  struct Refusal {
    ThrottleKind kind = ThrottleKind::kNone;
    UnixSeconds until = 0;  // 0 = refused only because in-flight attempts hold the budget
  };

  // The store keys and identity of one attempt.
  struct Keys {
    std::string pair, account, ip;
    std::string user;     // normalized
    std::string network;  // SourceNetworkKey of the source
  };

  Throttle(store::ThrottleStore& store, const LockoutPolicy& policy, const Clock& clock,
           bool shared);

  static Keys KeysOf(std::string_view username, std::string_view source_ip);
  Status Load();
  // Admit's decision on entries_ (takes mu_; may read the store for the known-source exemption
  // outside it); adds the keys whose records changed to `dirty`.
  Admission DecideAdmission(const Keys& keys, std::set<std::string>& dirty);
  // Complete's effect on entries_ (caller holds mu_).
  Outcome ApplyCompletion(const Reservation& reservation, bool success,
                          std::set<std::string>& dirty, std::optional<Reservation>& record_known);
  void RecordKnown(const std::optional<Reservation>& reservation);
  // Shared mode (caller holds shared_mu_ for all of these).
  Result<std::map<std::string, std::int64_t>> Refresh(
      std::initializer_list<const std::string*> keys);
  std::vector<store::ThrottleRecord> SwapSet(const std::set<std::string>& keys,
                                             const std::map<std::string, std::int64_t>& versions);
  // After CompareAndSwapThrottles: marks the records unsaved on a store error, saved on success;
  // true when the swap went through or failed for good (no point retrying), false when it lost
  // a race.
  bool Swapped(const std::vector<store::ThrottleRecord>& records, const Result<bool>& swapped);
  Admission AdmitShared(const Keys& keys);
  Outcome CompleteShared(std::uint64_t ticket, bool success);
  void AbandonShared(std::uint64_t ticket);
  Outcome RecordSourceFailureShared(const std::string& ip_key, bool count_failure);
  bool IsKnownSource(const std::string& username, const std::string& network_key);
  // The lock or exhausted budget refusing an attempt now, if any (caller holds mu_).
  std::optional<Refusal> Check(const std::string& pair_key, const std::string& account_key,
                               const std::string& ip_key, bool account_applies,
                               UnixSeconds now) const;
  // True when the account dimension alone would refuse an attempt now (caller holds mu_).
  bool AccountRefuses(const std::string& account_key, UnixSeconds now) const;
  std::int64_t CountIpFailure(const std::string& ip_key, UnixSeconds now);
  std::int64_t CountProgressiveFailure(Entry& entry, int threshold, std::int64_t window_s,
                                       UnixSeconds now);
  std::int64_t LockSeconds(std::int64_t lock_level) const;
  void ReleaseReservation(const Reservation& reservation);
  void EraseIfIdle(const std::string& key);
  // Local mode: the entry's record changed and awaits Flush (caller holds mu_).
  void MarkChanged(Entry& entry) const;
  // entries_[key] (created if absent), marked used now (caller holds mu_).
  Entry& Use(const std::string& key, UnixSeconds now);
  // Local mode, once anything was evicted: reads the keys missing from memory from the store
  // and puts back the records found (takes mu_; reads the store outside it).
  void ReloadEvicted(std::initializer_list<const std::string*> keys);
  // Evicts down to 90 % of max_entries when over it (takes shared_mu_ in shared mode, then mu_).
  void EvictIfOver();
  // Writes the current in-memory state of `keys` (a delete when absent or empty) to the store.
  void Flush(const std::set<std::string>& keys);

  store::ThrottleStore& store_;
  const LockoutPolicy policy_;
  const Clock& clock_;

  const bool shared_;
  // Shared mode: one decision at a time per instance; taken BEFORE mu_.
  std::mutex shared_mu_;
  // Serializes store writes (Flush, Unlock); taken BEFORE mu_, never while holding it.
  std::mutex store_mu_;
  mutable std::mutex mu_;
  std::map<std::string, Entry, std::less<>> entries_;            // guarded by mu_
  std::unordered_map<std::uint64_t, Reservation> reservations_;  // guarded by mu_
  // "<user>\n<network>" -> last success seen by this instance (a cache of the store's table).
  std::map<std::string, UnixSeconds, std::less<>> known_sources_;  // guarded by mu_
  std::uint64_t next_ticket_ = 1;                                  // guarded by mu_
  bool evicted_any_ = false;                                       // guarded by mu_
  ThrottleStats stats_;                                            // guarded by mu_
};

}  // namespace portcullis::authn
