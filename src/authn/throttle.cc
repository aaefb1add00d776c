#include "authn/throttle.h"

#include <algorithm>
#include <initializer_list>
#include <limits>
#include <utility>

#include "base/ip.h"
#include "base/log.h"

namespace portcullis::authn {
namespace {

constexpr std::int64_t kSecondsPerDay = 86'400;
// Bounds the doubling arithmetic and catches unit mistakes (milliseconds given as seconds).
constexpr std::int64_t kMaxLockCapS = 366 * kSecondsPerDay;
// A known source already recorded this recently is not written to the store again.
constexpr std::int64_t kKnownSourceRewriteS = 3'600;

// The source of an attempt: the key of the pair and ip dimensions, and the "known source"
// network. IPv6 sources are whole /64s: one end site holds 2^64 addresses, so per-address
// counting would cost an attacker nothing.
struct Source {
  std::string key;
  std::string network;
};

Source ParseSource(std::string_view text) {
  if (std::optional<IpAddress> ip = ParseIp(text)) {
    std::string network = SourceNetworkKey(*ip);
    return Source{.key = ip->is_v6 ? network : ip->ToString(), .network = network};
  }
  // Not an address (the caller should never pass one): use it verbatim, minus the '|' that
  // separates the user from the source in pair keys.
  std::string raw(text);
  std::replace(raw.begin(), raw.end(), '|', '?');
  return Source{.key = raw, .network = raw};
}

std::string PairKey(std::string_view user, std::string_view source) {
  return "pair:" + std::string(user) + "|" + std::string(source);
}
std::string AccountKey(std::string_view user) { return "account:" + std::string(user); }
std::string IpKey(std::string_view source) { return "ip:" + std::string(source); }
std::string BudgetKey(std::string_view source_ip, SourceBudget budget) {
  const std::string source = ParseSource(source_ip).key;
  return budget == SourceBudget::kRegistrations ? "register:" + source : IpKey(source);
}
std::string KnownSourceCacheKey(std::string_view user, std::string_view network) {
  return std::string(user) + "\n" + std::string(network);
}

bool IsEmpty(const store::ThrottleRecord& record) {
  return record.failures == 0 && record.locked_until == 0 && record.lock_level == 0;
}

Status Positive(std::int64_t value, std::string_view key) {
  if (value >= 1) return Status::Ok();
  return InvalidArgumentError("lockout." + std::string(key) + " must be at least 1");
}

}  // namespace

Status ValidateLockoutPolicy(const LockoutPolicy& policy) {
  const std::pair<std::int64_t, std::string_view> counts[] = {
      {policy.max_failures, "max_failures"},
      {policy.base_lock_s, "base_lock_s"},
      {policy.max_lock_s, "max_lock_s"},
      {policy.account_max_failures, "account_max_failures"},
      {policy.account_window_s, "account_window_s"},
      {policy.ip_max_failures, "ip_max_failures"},
      {policy.ip_window_s, "ip_window_s"},
      {policy.retention_s, "retention_s"}};
  for (const auto& [value, key] : counts) {
    if (Status s = Positive(value, key); !s.ok()) return s;
  }
  if (policy.base_lock_s > policy.max_lock_s) {
    return InvalidArgumentError("lockout.base_lock_s must not exceed lockout.max_lock_s");
  }
  if (policy.max_lock_s > kMaxLockCapS) {
    return InvalidArgumentError("lockout.max_lock_s must be at most 366 days");
  }
  if (policy.known_source_days < 0) {
    return InvalidArgumentError("lockout.known_source_days must not be negative");
  }
  if (policy.max_entries < 1) return InvalidArgumentError("lockout.max_entries must be at least 1");
  return Status::Ok();
}

std::string_view ToString(ThrottleKind kind) {
  switch (kind) {
    case ThrottleKind::kNone:
      return "none";
    case ThrottleKind::kPair:
      return "pair";
    case ThrottleKind::kAccount:
      return "account";
    case ThrottleKind::kIp:
      return "ip";
  }
  return "invalid";
}

Result<std::unique_ptr<Throttle>> Throttle::Create(store::ThrottleStore& store,
                                                   const LockoutPolicy& policy, const Clock& clock,
                                                   bool shared) {
  if (Status s = ValidateLockoutPolicy(policy); !s.ok()) return s;
  LockoutPolicy effective = policy;
  // Keep every entry at least as long as any lock or window it carries can matter.
  effective.retention_s = std::max(
      {policy.retention_s, policy.max_lock_s, policy.account_window_s, policy.ip_window_s});
  std::unique_ptr<Throttle> throttle(new Throttle(store, effective, clock, shared));
  if (Status s = throttle->Load(); !s.ok()) return s;
  throttle->EvictIfOver();
  return throttle;
}

Throttle::Throttle(store::ThrottleStore& store, const LockoutPolicy& policy, const Clock& clock,
                   bool shared)
    : store_(store), policy_(policy), clock_(clock), shared_(shared) {}

Status Throttle::Load() {
  const UnixSeconds now = clock_.Now();
  Result<std::vector<store::ThrottleRecord>> records =
      store_.ListThrottles(now - policy_.retention_s);
  if (!records.ok()) return records.status();
  std::lock_guard lock(mu_);
  for (store::ThrottleRecord& record : *records) {
    std::string key = record.key;
    const UnixSeconds updated_at = record.updated_at;
    // Loaded records are saved by definition; the grace period does not apply to them.
    entries_[std::move(key)] = Entry{.record = std::move(record),
                                     .in_flight = 0,
                                     .unsaved = false,
                                     .flush_pending = false,
                                     .last_used = updated_at};
  }
  return Status::Ok();
}

bool Throttle::IsKnownSource(const std::string& username, const std::string& network_key) {
  if (policy_.known_source_days == 0) return false;
  const UnixSeconds since = clock_.Now() - policy_.known_source_days * kSecondsPerDay;
  {
    std::lock_guard lock(mu_);
    auto it = known_sources_.find(KnownSourceCacheKey(username, network_key));
    if (it != known_sources_.end() && it->second >= since) return true;
  }
  Result<bool> known = store_.IsKnownSource(username, network_key, since);
  if (!known.ok()) {
    // Fail closed: without the exemption the account lock applies.
    log::Warn("throttle.store_read_failed", {{"error", known.status().message()}});
    return false;
  }
  return *known;
}

bool Throttle::AccountRefuses(const std::string& account_key, UnixSeconds now) const {
  auto it = entries_.find(account_key);
  if (it == entries_.end()) return false;
  const Entry& entry = it->second;
  if (now < entry.record.locked_until) return true;
  const bool window_open = now < entry.record.window_start + policy_.account_window_s;
  const std::int64_t failures = window_open ? entry.record.failures : 0;
  // After a lock in this window, each further attempt is the last one before the next lock.
  const std::int64_t remaining =
      failures < policy_.account_max_failures ? policy_.account_max_failures - failures : 1;
  return entry.in_flight >= remaining;
}

std::optional<Throttle::Refusal> Throttle::Check(const std::string& pair_key,
                                                 const std::string& account_key,
                                                 const std::string& ip_key, bool account_applies,
                                                 UnixSeconds now) const {
  std::optional<Refusal> refusal;
  const auto consider = [&](ThrottleKind kind, UnixSeconds until) {
    if (!refusal.has_value() || until > refusal->until) refusal = Refusal{kind, until};
  };
  if (auto it = entries_.find(pair_key); it != entries_.end()) {
    const Entry& entry = it->second;
    if (now < entry.record.locked_until) {
      consider(ThrottleKind::kPair, entry.record.locked_until);
    } else {
      const std::int64_t remaining = entry.record.failures < policy_.max_failures
                                         ? policy_.max_failures - entry.record.failures
                                         : 1;
      if (entry.in_flight >= remaining) consider(ThrottleKind::kPair, 0);
    }
  }
  if (account_applies) {
    if (auto it = entries_.find(account_key); it != entries_.end()) {
      if (now < it->second.record.locked_until) {
        consider(ThrottleKind::kAccount, it->second.record.locked_until);
      } else if (AccountRefuses(account_key, now)) {
        consider(ThrottleKind::kAccount, 0);
      }
    }
  }
  if (auto it = entries_.find(ip_key); it != entries_.end()) {
    const Entry& entry = it->second;
    if (now < entry.record.locked_until) {
      consider(ThrottleKind::kIp, entry.record.locked_until);
    } else {
      const bool window_open = now < entry.record.window_start + policy_.ip_window_s;
      const std::int64_t failures = window_open ? entry.record.failures : 0;
      if (entry.in_flight >= policy_.ip_max_failures - failures) consider(ThrottleKind::kIp, 0);
    }
  }
  return refusal;
}

Throttle::Keys Throttle::KeysOf(std::string_view username, std::string_view source_ip) {
  const std::string user = store::NormalizeUsername(username);
  const Source source = ParseSource(source_ip);
  return Keys{.pair = PairKey(user, source.key),
              .account = AccountKey(user),
              .ip = IpKey(source.key),
              .user = user,
              .network = source.network};
}

Admission Throttle::Admit(std::string_view username, std::string_view source_ip) {
  const Keys keys = KeysOf(username, source_ip);
  if (shared_) {
    Admission admission = AdmitShared(keys);
    EvictIfOver();
    return admission;
  }
  ReloadEvicted({&keys.pair, &keys.account, &keys.ip});
  std::set<std::string> dirty;
  Admission admission = DecideAdmission(keys, dirty);
  Flush(dirty);
  EvictIfOver();
  return admission;
}

Admission Throttle::DecideAdmission(const Keys& keys, std::set<std::string>& dirty) {
  const std::string& user = keys.user;
  const std::string& pair_key = keys.pair;
  const std::string& account_key = keys.account;
  const std::string& ip_key = keys.ip;
  // The known-source lookup may read the store, so it runs outside the mutex and only when the
  // account would refuse; the decision is then taken again from scratch, atomically.
  bool known = false;
  bool known_checked = false;
  Admission admission;
  while (true) {
    std::unique_lock lock(mu_);
    const UnixSeconds now = clock_.Now();
    if (!known_checked && AccountRefuses(account_key, now)) {
      lock.unlock();
      known = IsKnownSource(user, keys.network);
      known_checked = true;
      continue;
    }
    const bool account_applies = !known;
    std::optional<Refusal> refusal = Check(pair_key, account_key, ip_key, account_applies, now);
    if (!refusal.has_value()) {
      for (const std::string* key : {&pair_key, &account_key, &ip_key}) {
        if (key == &account_key && !account_applies) continue;
        ++Use(*key, now).in_flight;
      }
      const std::uint64_t ticket = next_ticket_++;
      reservations_.emplace(ticket, Reservation{.pair_key = pair_key,
                                                .account_key = account_key,
                                                .ip_key = ip_key,
                                                .username = user,
                                                .network_key = keys.network,
                                                .account_reserved = account_applies,
                                                .admitted_at = now});
      ++stats_.admitted;
      admission.allowed = true;
      admission.ticket = ticket;
      return admission;
    }
    switch (refusal->kind) {
      case ThrottleKind::kPair:
        ++stats_.refused_pair;
        break;
      case ThrottleKind::kAccount:
        ++stats_.refused_account;
        break;
      case ThrottleKind::kIp:
      case ThrottleKind::kNone:
        ++stats_.refused_ip;
        break;
    }
    // DESIGN §5: an attempt refused while locked is not a failure of the user or account, but it
    // does count toward its source's limit; if that trips the limit, Retry-After covers the new
    // lock too. An attempt refused only because others are in flight (no lock applies: a busy
    // client sending its right secret in parallel, maybe to several instances) is no evidence of
    // guessing and counts nowhere, or a client could lock its own address out.
    if (refusal->until != 0) {
      admission.ip_lock_s = CountIpFailure(ip_key, now);
      dirty.insert(ip_key);
      if (admission.ip_lock_s > 0) {
        refusal = Check(pair_key, account_key, ip_key, account_applies, now);
      }
    }
    admission.kind = refusal->kind;
    admission.retry_after_s = std::max<std::int64_t>(1, refusal->until - now);
    break;
  }
  return admission;
}

std::int64_t Throttle::LockSeconds(std::int64_t lock_level) const {
  std::int64_t lock = policy_.base_lock_s;
  for (std::int64_t level = 1; level < lock_level && lock < policy_.max_lock_s; ++level) lock *= 2;
  return std::min(lock, policy_.max_lock_s);
}

std::int64_t Throttle::CountProgressiveFailure(Entry& entry, int threshold, std::int64_t window_s,
                                               UnixSeconds now) {
  MarkChanged(entry);
  store::ThrottleRecord& record = entry.record;
  if (window_s > 0 && now >= record.window_start + window_s) {
    // Failures older than the window no longer count; the schedule starts over.
    record.failures = 0;
    record.lock_level = 0;
    record.locked_until = 0;
    record.window_start = now;
  }
  ++record.failures;
  record.updated_at = now;
  if (record.failures < threshold) return 0;
  // The count reached the threshold: lock for base_lock_s, then twice as long per further
  // failure (each one admitted only after the previous lock expired), up to max_lock_s.
  ++record.lock_level;
  const std::int64_t lock = LockSeconds(record.lock_level);
  record.locked_until = now + lock;
  return lock;
}

std::int64_t Throttle::CountIpFailure(const std::string& ip_key, UnixSeconds now) {
  Entry& entry = Use(ip_key, now);
  MarkChanged(entry);
  store::ThrottleRecord& record = entry.record;
  if (now >= record.window_start + policy_.ip_window_s) {
    record.failures = 0;
    record.window_start = now;
  }
  ++record.failures;
  record.updated_at = now;
  const UnixSeconds window_end = record.window_start + policy_.ip_window_s;
  if (record.failures < policy_.ip_max_failures || record.locked_until >= window_end) return 0;
  // 429 for the rest of the window: counting refused attempts never extends it.
  record.locked_until = window_end;
  ++record.lock_level;
  ++stats_.ip_locks;
  return window_end - now;
}

void Throttle::ReleaseReservation(const Reservation& reservation) {
  for (const std::string* key :
       {&reservation.pair_key, &reservation.account_key, &reservation.ip_key}) {
    if (key == &reservation.account_key && !reservation.account_reserved) continue;
    auto it = entries_.find(*key);
    if (it == entries_.end()) continue;
    it->second.in_flight = std::max(0, it->second.in_flight - 1);
  }
}

void Throttle::MarkChanged(Entry& entry) const {
  if (!shared_) entry.flush_pending = true;  // shared mode writes by compare-and-swap instead
}

Throttle::Entry& Throttle::Use(const std::string& key, UnixSeconds now) {
  Entry& entry = entries_[key];
  entry.record.key = key;
  entry.last_used = now;
  return entry;
}

void Throttle::ReloadEvicted(std::initializer_list<const std::string*> keys) {
  std::vector<std::string> missing;
  {
    std::lock_guard lock(mu_);
    if (!evicted_any_) return;
    for (const std::string* key : keys) {
      if (!entries_.contains(*key)) missing.push_back(*key);
    }
  }
  if (missing.empty()) return;
  // Every path that creates an entry calls this first, and puts a record back only while the key
  // is still missing, so a record read here never replaces a newer one in memory.
  Result<std::vector<std::optional<store::ThrottleRecord>>> records = store_.GetThrottles(missing);
  if (!records.ok()) {
    // Memory decides, as for any store error; locks in force are never evicted.
    log::Warn("throttle.store_read_failed", {{"error", records.status().message()}});
    return;
  }
  std::lock_guard lock(mu_);
  const UnixSeconds now = clock_.Now();
  for (std::size_t i = 0; i < missing.size() && i < records->size(); ++i) {
    std::optional<store::ThrottleRecord>& record = (*records)[i];
    if (!record.has_value() || entries_.contains(missing[i])) continue;
    entries_[missing[i]] = Entry{.record = std::move(*record),
                                 .in_flight = 0,
                                 .unsaved = false,
                                 .flush_pending = false,
                                 .last_used = now};
  }
}

void Throttle::EvictIfOver() {
  {
    std::lock_guard lock(mu_);
    if (entries_.size() <= policy_.max_entries) return;
  }
  // Shared mode: a decision reads its records (Refresh) and writes them (SwapSet) in two steps
  // under shared_mu_; evicting between them would lose the record.
  std::unique_lock<std::mutex> shared_lock;
  if (shared_) shared_lock = std::unique_lock(shared_mu_);
  std::lock_guard lock(mu_);
  if (entries_.size() <= policy_.max_entries) return;
  const UnixSeconds now = clock_.Now();
  using Iterator = decltype(entries_)::iterator;
  std::vector<std::pair<UnixSeconds, Iterator>> candidates;
  for (auto it = entries_.begin(); it != entries_.end(); ++it) {
    const Entry& entry = it->second;
    if (entry.in_flight > 0 || entry.unsaved || entry.flush_pending ||
        now < entry.record.locked_until) {
      continue;
    }
    candidates.emplace_back(entry.last_used, it);
  }
  // Down to 90 %, so eviction runs once per max_entries / 10 new entries, not on every one.
  const std::size_t target = policy_.max_entries - policy_.max_entries / 10;
  const std::size_t count = std::min(entries_.size() - target, candidates.size());
  if (count == 0) return;  // everything is locked or busy: over the cap until that changes
  std::nth_element(candidates.begin(), candidates.begin() + static_cast<std::ptrdiff_t>(count - 1),
                   candidates.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  for (std::size_t i = 0; i < count; ++i) entries_.erase(candidates[i].second);
  stats_.evictions += count;
  evicted_any_ = true;
}

std::size_t Throttle::EntryCount() const {
  std::lock_guard lock(mu_);
  return entries_.size();
}

void Throttle::EraseIfIdle(const std::string& key) {
  auto it = entries_.find(key);
  if (it != entries_.end() && it->second.in_flight == 0 && IsEmpty(it->second.record)) {
    entries_.erase(it);
  }
}

Throttle::Outcome Throttle::Complete(std::uint64_t ticket, bool success) {
  if (shared_) {
    Outcome outcome = CompleteShared(ticket, success);
    EvictIfOver();
    return outcome;
  }
  {
    // The account entry holds no slot of a known source's attempt, so it may have been evicted.
    std::string account_key;
    {
      std::lock_guard lock(mu_);
      auto it = reservations_.find(ticket);
      if (it == reservations_.end()) return Outcome{};
      if (!it->second.account_reserved) account_key = it->second.account_key;
    }
    if (!account_key.empty()) ReloadEvicted({&account_key});
  }
  Outcome outcome;
  std::set<std::string> dirty;
  std::optional<Reservation> record_known;
  {
    std::lock_guard lock(mu_);
    auto it = reservations_.find(ticket);
    if (it == reservations_.end()) return outcome;
    Reservation reservation = std::move(it->second);
    reservations_.erase(it);
    outcome = ApplyCompletion(reservation, success, dirty, record_known);
  }
  RecordKnown(record_known);
  Flush(dirty);
  EvictIfOver();
  return outcome;
}

bool Throttle::QuietSuccess(std::string_view username, std::string_view source_ip) {
  const Keys keys = KeysOf(username, source_ip);
  const UnixSeconds now = clock_.Now();
  auto quiet = [now](const store::ThrottleRecord* pair, const store::ThrottleRecord* account,
                     const store::ThrottleRecord* ip) {
    if (ip != nullptr && now < ip->locked_until) return false;
    if (pair != nullptr && !IsEmpty(*pair)) return false;  // a success would reset it
    // A locked account may still admit a known source: Admit decides that.
    return account == nullptr || now >= account->locked_until;
  };
  std::optional<store::ThrottleRecord> pair, account, ip;
  if (shared_) {
    Result<std::vector<std::optional<store::ThrottleRecord>>> records =
        store_.GetThrottles({keys.pair, keys.account, keys.ip});
    if (!records.ok() || records->size() != 3) return false;
    pair = std::move((*records)[0]);
    account = std::move((*records)[1]);
    ip = std::move((*records)[2]);
  }
  std::lock_guard lock(mu_);
  if (!shared_) {
    auto find = [this](const std::string& key) -> std::optional<store::ThrottleRecord> {
      auto it = entries_.find(key);
      if (it == entries_.end()) return std::nullopt;
      return it->second.record;
    };
    pair = find(keys.pair);
    account = find(keys.account);
    ip = find(keys.ip);
  }
  if (!quiet(pair ? &*pair : nullptr, account ? &*account : nullptr, ip ? &*ip : nullptr)) {
    return false;
  }
  auto known = known_sources_.find(KnownSourceCacheKey(keys.user, keys.network));
  if (known == known_sources_.end() || now - known->second >= kKnownSourceRewriteS) return false;
  ++stats_.successes;
  return true;
}

void Throttle::RecordKnown(const std::optional<Reservation>& reservation) {
  if (!reservation.has_value()) return;
  Status s =
      store_.RecordKnownSource(reservation->username, reservation->network_key, clock_.Now());
  if (!s.ok()) log::Warn("throttle.store_write_failed", {{"error", s.message()}});
}

Throttle::Outcome Throttle::ApplyCompletion(const Reservation& reservation, bool success,
                                            std::set<std::string>& dirty,
                                            std::optional<Reservation>& record_known) {
  Outcome outcome;
  ReleaseReservation(reservation);
  const UnixSeconds now = clock_.Now();
  if (success) {
    ++stats_.successes;
    if (auto pair = entries_.find(reservation.pair_key); pair != entries_.end()) {
      if (!IsEmpty(pair->second.record)) {
        pair->second.record = store::ThrottleRecord{.key = reservation.pair_key};
        MarkChanged(pair->second);
        dirty.insert(reservation.pair_key);
      }
    }
    UnixSeconds& last =
        known_sources_[KnownSourceCacheKey(reservation.username, reservation.network_key)];
    if (now - last >= kKnownSourceRewriteS) record_known = reservation;
    last = now;
  } else {
    ++stats_.failures;
    Entry& pair = Use(reservation.pair_key, now);
    outcome.pair_lock_s = CountProgressiveFailure(pair, policy_.max_failures, 0, now);
    if (outcome.pair_lock_s > 0) ++stats_.pair_locks;
    dirty.insert(reservation.pair_key);

    // Known sources are exempt from the account's lock, not from its count.
    Entry& account = Use(reservation.account_key, now);
    outcome.account_lock_s = CountProgressiveFailure(account, policy_.account_max_failures,
                                                     policy_.account_window_s, now);
    if (outcome.account_lock_s > 0) ++stats_.account_locks;
    dirty.insert(reservation.account_key);

    outcome.ip_lock_s = CountIpFailure(reservation.ip_key, now);
    dirty.insert(reservation.ip_key);
  }
  for (const std::string* key :
       {&reservation.pair_key, &reservation.account_key, &reservation.ip_key}) {
    EraseIfIdle(*key);
  }
  return outcome;
}

void Throttle::Abandon(std::uint64_t ticket) {
  if (shared_) {
    AbandonShared(ticket);
    return;
  }
  std::lock_guard lock(mu_);
  auto it = reservations_.find(ticket);
  if (it == reservations_.end()) return;
  const Reservation reservation = std::move(it->second);
  reservations_.erase(it);
  ReleaseReservation(reservation);
  for (const std::string* key :
       {&reservation.pair_key, &reservation.account_key, &reservation.ip_key}) {
    EraseIfIdle(*key);
  }
}

Throttle::Outcome Throttle::RecordSourceFailure(std::string_view source_ip, SourceBudget budget) {
  const std::string ip_key = BudgetKey(source_ip, budget);
  Outcome outcome;
  if (shared_) {
    outcome = RecordSourceFailureShared(ip_key, budget == SourceBudget::kSecrets);
  } else {
    ReloadEvicted({&ip_key});
    {
      std::lock_guard lock(mu_);
      if (budget == SourceBudget::kSecrets) ++stats_.failures;
      outcome.ip_lock_s = CountIpFailure(ip_key, clock_.Now());
    }
    Flush({ip_key});
  }
  EvictIfOver();
  return outcome;
}

std::int64_t Throttle::SourceRetryAfter(std::string_view source_ip, SourceBudget budget) {
  const std::string ip_key = BudgetKey(source_ip, budget);
  std::optional<store::ThrottleRecord> record;
  bool from_store = false;
  if (shared_) {
    Result<std::optional<store::ThrottleRecord>> read = store_.GetThrottle(ip_key);
    if (read.ok()) {
      record = std::move(*read);
      from_store = true;
    } else {
      log::Warn("throttle.store_read_failed", {{"error", read.status().message()}});
    }
  }
  std::lock_guard lock(mu_);
  const UnixSeconds now = clock_.Now();
  if (!from_store) {
    // Local mode: memory is complete for locks (a locked entry is never evicted).
    if (auto it = entries_.find(ip_key); it != entries_.end()) record = it->second.record;
  }
  if (!record.has_value() || now >= record->locked_until) return 0;
  return std::max<std::int64_t>(1, record->locked_until - now);
}

Status Throttle::Unlock(std::string_view username) {
  const std::string user = store::NormalizeUsername(username);
  const std::string pair_prefix = "pair:" + user + "|";
  // Taken first, like Flush: no write of older state can land after the delete below.
  std::lock_guard store_lock(store_mu_);
  {
    std::lock_guard lock(mu_);
    const auto clear = [&](std::map<std::string, Entry, std::less<>>::iterator it) {
      if (it->second.in_flight > 0) {
        it->second.record = store::ThrottleRecord{.key = it->first};
        return std::next(it);
      }
      return entries_.erase(it);
    };
    if (auto it = entries_.find(AccountKey(user)); it != entries_.end()) clear(it);
    for (auto it = entries_.lower_bound(pair_prefix);
         it != entries_.end() && it->first.starts_with(pair_prefix);) {
      // "pair:<user>|x|<ip>" belongs to the username "<user>|x".
      if (it->first.find('|', pair_prefix.size()) == std::string::npos) {
        it = clear(it);
      } else {
        ++it;
      }
    }
  }
  Result<int> deleted = store_.DeleteThrottlesForUser(user);
  return deleted.status();
}

std::optional<UnixSeconds> Throttle::LockedUntil(std::string_view username) const {
  const std::string user = store::NormalizeUsername(username);
  const std::string pair_prefix = "pair:" + user + "|";
  std::lock_guard lock(mu_);
  const UnixSeconds now = clock_.Now();
  std::optional<UnixSeconds> latest;
  const auto consider = [&](const store::ThrottleRecord& record) {
    if (record.locked_until > now && (!latest.has_value() || record.locked_until > *latest)) {
      latest = record.locked_until;
    }
  };
  if (auto it = entries_.find(AccountKey(user)); it != entries_.end()) consider(it->second.record);
  for (auto it = entries_.lower_bound(pair_prefix);
       it != entries_.end() && it->first.starts_with(pair_prefix); ++it) {
    if (it->first.find('|', pair_prefix.size()) == std::string::npos) consider(it->second.record);
  }
  return latest;
}

std::map<std::string, UnixSeconds> Throttle::LockedUntilOf(
    const std::vector<std::string>& usernames) {
  std::map<std::string, UnixSeconds> locked;
  auto from_memory = [&] {
    for (const std::string& username : usernames) {
      if (std::optional<UnixSeconds> until = LockedUntil(username)) locked[username] = *until;
    }
    return locked;
  };
  if (!shared_ || usernames.empty()) return from_memory();
  std::vector<std::string> normalized;
  std::map<std::string, std::vector<const std::string*>> given;  // normalized -> as given
  for (const std::string& username : usernames) {
    std::string user = store::NormalizeUsername(username);
    if (given[user].empty()) normalized.push_back(user);
    given[user].push_back(&username);
  }
  Result<std::vector<store::ThrottleRecord>> records = store_.ThrottlesOfUsers(normalized);
  if (!records.ok()) {
    log::Warn("throttle.store_read_failed", {{"error", records.status().message()}});
    return from_memory();
  }
  const UnixSeconds now = clock_.Now();
  for (const store::ThrottleRecord& record : *records) {
    if (record.locked_until <= now) continue;
    // "account:<user>" or "pair:<user>|<source>".
    std::string_view key = record.key;
    std::string_view user;
    if (key.starts_with("account:")) {
      user = key.substr(8);
    } else if (key.starts_with("pair:")) {
      user = key.substr(5, key.rfind('|') - 5);
    } else {
      continue;
    }
    auto it = given.find(std::string(user));
    if (it == given.end()) continue;
    for (const std::string* username : it->second) {
      UnixSeconds& until = locked[*username];
      until = std::max(until, record.locked_until);
    }
  }
  return locked;
}

Status Throttle::Prune() {
  const UnixSeconds now = clock_.Now();
  const UnixSeconds stale_before = now - policy_.retention_s;
  const UnixSeconds known_before = now - policy_.known_source_days * kSecondsPerDay;
  {
    std::lock_guard lock(mu_);
    for (auto it = reservations_.begin(); it != reservations_.end();) {
      if (now - it->second.admitted_at >= kReservationTimeoutS) {
        ReleaseReservation(it->second);
        it = reservations_.erase(it);
      } else {
        ++it;
      }
    }
    std::erase_if(entries_, [&](const auto& item) {
      const Entry& entry = item.second;
      return entry.in_flight == 0 &&
             (IsEmpty(entry.record) ||
              (entry.record.updated_at < stale_before && entry.record.locked_until <= now));
    });
    std::erase_if(known_sources_, [&](const auto& item) { return item.second < known_before; });
  }
  Result<int> pruned = store_.PruneThrottles(stale_before);
  if (!pruned.ok()) return pruned.status();
  Result<int> pruned_known = store_.PruneKnownSources(known_before);
  return pruned_known.status();
}

ThrottleStats Throttle::Stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

void Throttle::Flush(const std::set<std::string>& keys) {
  if (keys.empty()) return;
  std::lock_guard store_lock(store_mu_);
  // Snapshot the LATEST state under mu_: with store_mu_ held, whatever this writes is at least
  // as new as anything written before, so the store converges on the in-memory state.
  std::vector<std::pair<std::string, std::optional<store::ThrottleRecord>>> writes;
  {
    std::lock_guard lock(mu_);
    for (const std::string& key : keys) {
      auto it = entries_.find(key);
      if (it == entries_.end() || IsEmpty(it->second.record)) {
        writes.emplace_back(key, std::nullopt);
      } else {
        writes.emplace_back(key, it->second.record);
      }
    }
  }
  std::vector<bool> saved;
  for (const auto& [key, record] : writes) {
    Status s = record.has_value() ? store_.PutThrottle(*record) : store_.DeleteThrottle(key);
    // The key names a user and an address: log only the error.
    if (!s.ok()) log::Warn("throttle.store_write_failed", {{"error", s.message()}});
    saved.push_back(s.ok());
  }
  // The size cap may evict an entry once the store holds its latest state: only when this write
  // succeeded and nothing changed the entry since the snapshot.
  std::lock_guard lock(mu_);
  for (std::size_t i = 0; i < writes.size(); ++i) {
    auto it = entries_.find(writes[i].first);
    if (it == entries_.end() || !saved[i]) continue;
    const std::optional<store::ThrottleRecord>& written = writes[i].second;
    const bool current =
        written.has_value() ? it->second.record == *written : IsEmpty(it->second.record);
    if (current) it->second.flush_pending = false;
  }
}

// ---- shared mode: several instances, one database (DESIGN §5, §6) ----
//
// Every decision below runs under shared_mu_ (one at a time per instance; a verification costs
// milliseconds of hashing, so this never limits throughput) in three steps: Refresh reads the
// records it needs from the store, replacing this instance's copies and their in-flight counts
// with the deployment's; the same decision code as the local mode runs on them; and
// CompareAndSwapThrottles writes every changed record at once, only if no other instance wrote
// one of them meanwhile. A lost race undoes the local effects (ticket, stats) and decides again
// on fresh records, so N instances together never admit more than one budget. A store error
// leaves the decision to this instance's memory, as in the local mode.

namespace {
constexpr int kMaxSwapAttempts = 64;
}  // namespace

Result<std::map<std::string, std::int64_t>> Throttle::Refresh(
    std::initializer_list<const std::string*> keys) {
  std::vector<std::string> wanted;
  for (const std::string* key : keys) wanted.push_back(*key);
  Result<std::vector<std::optional<store::ThrottleRecord>>> records = store_.GetThrottles(wanted);
  if (!records.ok()) return records.status();
  std::vector<std::pair<std::string, std::optional<store::ThrottleRecord>>> read;
  for (std::size_t i = 0; i < wanted.size() && i < records->size(); ++i) {
    read.emplace_back(std::move(wanted[i]), std::move((*records)[i]));
  }
  const UnixSeconds now = clock_.Now();
  std::map<std::string, std::int64_t> versions;
  std::lock_guard lock(mu_);
  for (auto& [key, record] : read) {
    Entry& entry = entries_[key];
    entry.last_used = now;
    if (entry.unsaved) {  // memory is newer than the store: keep it, swap against this version
      versions[key] = record.has_value() ? record->version : 0;
      continue;
    }
    if (record.has_value()) {
      versions[key] = record->version;
      // Attempts of an instance that died holding them stop counting at in_flight_until.
      entry.in_flight = record->in_flight_until > now
                            ? static_cast<int>(std::min<std::int64_t>(
                                  record->in_flight, std::numeric_limits<int>::max()))
                            : 0;
      entry.record = std::move(*record);
    } else {
      versions[key] = 0;
      entry.in_flight = 0;
      entry.record = store::ThrottleRecord{.key = key};
    }
  }
  return versions;
}

std::vector<store::ThrottleRecord> Throttle::SwapSet(
    const std::set<std::string>& keys, const std::map<std::string, std::int64_t>& versions) {
  const UnixSeconds now = clock_.Now();
  std::vector<store::ThrottleRecord> records;
  std::lock_guard lock(mu_);
  for (const std::string& key : keys) {
    auto it = entries_.find(key);
    store::ThrottleRecord record =
        it != entries_.end() ? it->second.record : store::ThrottleRecord{};
    record.key = key;
    record.in_flight = it != entries_.end() ? it->second.in_flight : 0;
    record.in_flight_until = record.in_flight > 0 ? now + kReservationTimeoutS : 0;
    record.updated_at = std::max(record.updated_at, now);
    auto version = versions.find(key);
    record.version = version != versions.end() ? version->second : 0;
    records.push_back(std::move(record));
  }
  return records;
}

bool Throttle::Swapped(const std::vector<store::ThrottleRecord>& records,
                       const Result<bool>& swapped) {
  if (swapped.ok() && !*swapped) return false;
  if (!swapped.ok()) {
    // The key names a user and an address: log only the error.
    log::Warn("throttle.store_write_failed", {{"error", swapped.status().message()}});
  }
  std::lock_guard lock(mu_);
  for (const store::ThrottleRecord& record : records) {
    if (auto it = entries_.find(record.key); it != entries_.end()) {
      it->second.unsaved = !swapped.ok();
    }
  }
  return true;
}

Admission Throttle::AdmitShared(const Keys& keys) {
  std::lock_guard shared(shared_mu_);
  {
    // A source locked for the rest of its window is refused without the store: counting more
    // refusals would not extend that lock (CountIpFailure), and no unlock clears it.
    std::lock_guard lock(mu_);
    const UnixSeconds now = clock_.Now();
    if (auto it = entries_.find(keys.ip);
        it != entries_.end() && now < it->second.record.locked_until) {
      ++stats_.refused_ip;
      return Admission{
          .allowed = false,
          .kind = ThrottleKind::kIp,
          .retry_after_s = std::max<std::int64_t>(1, it->second.record.locked_until - now)};
    }
  }
  for (int attempt = 0; attempt < kMaxSwapAttempts; ++attempt) {
    Result<std::map<std::string, std::int64_t>> versions =
        Refresh({&keys.pair, &keys.account, &keys.ip});
    std::set<std::string> dirty;
    if (!versions.ok()) {
      log::Warn("throttle.store_read_failed", {{"error", versions.status().message()}});
      return DecideAdmission(keys, dirty);  // this instance's memory decides
    }
    ThrottleStats before = Stats();
    Admission admission = DecideAdmission(keys, dirty);
    if (admission.allowed) {
      // The reservation is an attempt in flight: every instance must count it.
      dirty.insert(keys.pair);
      dirty.insert(keys.ip);
      std::lock_guard lock(mu_);
      if (reservations_.at(admission.ticket).account_reserved) dirty.insert(keys.account);
    }
    const std::vector<store::ThrottleRecord> records = SwapSet(dirty, *versions);
    if (Swapped(records, store_.CompareAndSwapThrottles(records))) return admission;
    std::lock_guard lock(mu_);  // another instance wrote first: undo and decide again
    stats_ = before;
    if (admission.allowed) reservations_.erase(admission.ticket);
  }
  std::lock_guard lock(mu_);
  ++stats_.refused_pair;
  return Admission{.allowed = false, .kind = ThrottleKind::kPair, .retry_after_s = 1};
}

Throttle::Outcome Throttle::CompleteShared(std::uint64_t ticket, bool success) {
  std::lock_guard shared(shared_mu_);
  Reservation reservation;
  {
    std::lock_guard lock(mu_);
    auto it = reservations_.find(ticket);
    if (it == reservations_.end()) return Outcome{};
    reservation = std::move(it->second);
    reservations_.erase(it);
  }
  Outcome outcome;
  std::optional<Reservation> record_known;
  for (int attempt = 0; attempt < kMaxSwapAttempts; ++attempt) {
    Result<std::map<std::string, std::int64_t>> versions =
        Refresh({&reservation.pair_key, &reservation.account_key, &reservation.ip_key});
    std::set<std::string> dirty;
    ThrottleStats before = Stats();
    {
      std::lock_guard lock(mu_);
      record_known.reset();
      outcome = ApplyCompletion(reservation, success, dirty, record_known);
    }
    if (!versions.ok()) {
      log::Warn("throttle.store_read_failed", {{"error", versions.status().message()}});
      break;
    }
    // The in-flight counts changed too.
    dirty.insert(reservation.pair_key);
    dirty.insert(reservation.ip_key);
    if (reservation.account_reserved) dirty.insert(reservation.account_key);
    const std::vector<store::ThrottleRecord> records = SwapSet(dirty, *versions);
    if (Swapped(records, store_.CompareAndSwapThrottles(records))) break;
    std::lock_guard lock(mu_);
    stats_ = before;
  }
  RecordKnown(record_known);
  return outcome;
}

void Throttle::AbandonShared(std::uint64_t ticket) {
  std::lock_guard shared(shared_mu_);
  Reservation reservation;
  {
    std::lock_guard lock(mu_);
    auto it = reservations_.find(ticket);
    if (it == reservations_.end()) return;
    reservation = std::move(it->second);
    reservations_.erase(it);
  }
  for (int attempt = 0; attempt < kMaxSwapAttempts; ++attempt) {
    Result<std::map<std::string, std::int64_t>> versions =
        Refresh({&reservation.pair_key, &reservation.account_key, &reservation.ip_key});
    {
      std::lock_guard lock(mu_);
      ReleaseReservation(reservation);
    }
    if (!versions.ok()) return;
    std::set<std::string> dirty = {reservation.pair_key, reservation.ip_key};
    if (reservation.account_reserved) dirty.insert(reservation.account_key);
    const std::vector<store::ThrottleRecord> records = SwapSet(dirty, *versions);
    if (Swapped(records, store_.CompareAndSwapThrottles(records))) return;
  }
}

Throttle::Outcome Throttle::RecordSourceFailureShared(const std::string& ip_key,
                                                      bool count_failure) {
  std::lock_guard shared(shared_mu_);
  Outcome outcome;
  for (int attempt = 0; attempt < kMaxSwapAttempts; ++attempt) {
    Result<std::map<std::string, std::int64_t>> versions = Refresh({&ip_key});
    ThrottleStats before = Stats();
    {
      std::lock_guard lock(mu_);
      if (count_failure) ++stats_.failures;
      outcome.ip_lock_s = CountIpFailure(ip_key, clock_.Now());
    }
    if (!versions.ok()) return outcome;
    const std::vector<store::ThrottleRecord> records = SwapSet({ip_key}, *versions);
    if (Swapped(records, store_.CompareAndSwapThrottles(records))) return outcome;
    std::lock_guard lock(mu_);
    stats_ = before;
  }
  return outcome;
}

}  // namespace portcullis::authn
