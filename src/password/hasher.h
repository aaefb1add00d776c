// Password hashing: Argon2id (libargon2, the reference implementation — on x86-64 about twice as
// fast as libsodium for the same parameters) for new hashes, stored as PHC strings (salt from the
// OS CSPRNG); verification of Argon2id/Argon2i PHC strings with any parameters and of imported
// bcrypt hashes.
//
// After every successful login call NeedsRehash and, when it is true, store Hash(password): that
// is how parameter changes and imported bcrypt hashes are upgraded (DESIGN.md, "rehash on login").
// For an unknown username call DummyVerify so the answer takes as long as a wrong password.
//
// Hashing and verifying are slow on purpose (tens of milliseconds, ~19 MiB with the defaults):
// run them on a WorkerPool, never on a network thread. The Argon2 memory is kept between hashes
// (HashMemory: one buffer per hash running at once, ~19 MiB each) and unmapped after
// kArgon2IdleRelease without use; call ReleaseIdleMemory about once a second (the server does)
// so that happens even when no further hash comes.
//
// Thread-safety: a Hasher's parameters are immutable after Create; all methods are const and may
// be called concurrently. Copies share one HashMemory.
//
//   Result<Hasher> hasher = Hasher::Create(Argon2Params{});
//   Result<std::string> encoded = hasher->Hash(password);
//   if (hasher->Verify(*encoded, attempt) == VerifyOutcome::kMatch) { ... }
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "base/clock.h"
#include "base/status.h"
#include "password/hash_memory.h"

namespace portcullis::password {

// Argon2id cost parameters. The defaults are OWASP's minimum recommendation for Argon2id
// (19 MiB, 2 iterations, 1 lane).
struct Argon2Params {
  std::uint32_t memory_kib = 19456;
  std::uint32_t iterations = 2;
  std::uint32_t parallelism = 1;

  friend bool operator==(const Argon2Params&, const Argon2Params&) = default;
};

// How long an Argon2 buffer may sit unused before ReleaseIdleMemory unmaps it. Short, so the
// ~19 MiB per hash worker goes back to the OS two to three seconds after the last login instead
// of staying for the life of a Bearer-only load; a login after a release pays for re-faulting ten
// 2 MiB pages (about 1 ms, 5 % of one hash). Under a steady login load the buffers never idle.
inline constexpr std::chrono::seconds kArgon2IdleRelease{2};

// The result of checking a password against a stored hash.
enum class VerifyOutcome : std::uint8_t {
  kMatch = 0,
  kMismatch = 1,           // wrong password (or a password the scheme cannot represent)
  kMalformedHash = 2,      // the stored string is not a valid hash of a supported layout
  kUnsupportedScheme = 3,  // a well-formed hash of a scheme we do not verify ($6$, argon2d, v=16)
};

// "match", "mismatch", "malformed_hash", "unsupported_scheme" (for logs and metrics).
std::string_view ToString(VerifyOutcome outcome);

// What kind of stored hash a string is, decided from its layout alone (no password involved).
enum class HashKind : std::uint8_t {
  kArgon2id = 0,           // "$argon2id$v=19$..." that ParsePhc accepts
  kArgon2i = 1,            // "$argon2i$v=19$..." that ParsePhc accepts
  kBcrypt = 2,             // "$2a$", "$2b$", "$2y$": cost 04-31, 60 characters
  kUnsupportedScheme = 3,  // a well-formed hash of a scheme we do not verify ($1$, $6$, argon2d,
                           // Argon2 version 16)
  kMalformed = 4,          // starts like a supported hash but breaks its layout, or is junk
};

// "argon2id", "argon2i", "bcrypt", "unsupported_scheme", "malformed" (for logs, audit details and
// import reports).
std::string_view ToString(HashKind kind);

// Classifies `encoded` with the same layout checks Verify applies before verifying. Does not
// check that the hash matches any password, and a bcrypt salt with non-canonical trailing bits
// (which libxcrypt refuses when verifying) still classifies as kBcrypt.
HashKind ClassifyHash(std::string_view encoded);

// True when Verify can check passwords against `encoded` (kArgon2id, kArgon2i or kBcrypt): the
// hashes `portcullis user import` accepts.
bool IsSupportedHash(std::string_view encoded);

class Hasher {
 public:
  // Checks the parameters can be used for hashing: parallelism must be 1 (libsodium hashes with a
  // single lane), memory_kib within libsodium's bounds (at least 8), iterations at least 1.
  // Returns InvalidArgument naming the offending field.
  static Status ValidateParams(const Argon2Params& params);

  // A hasher for `params`; InvalidArgument as ValidateParams, Internal if libsodium cannot be
  // initialized, ResourceExhausted if the dummy hash cannot be computed (out of memory). Idle
  // Argon2 memory is timed with the system clock, or with `clock`, which must outlive the hasher
  // and its copies.
  static Result<Hasher> Create(const Argon2Params& params);
  static Result<Hasher> Create(const Argon2Params& params, const Clock& clock);

  // A new Argon2id PHC string for `password` with a random 16-byte salt:
  // "$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>". ResourceExhausted if libargon2 cannot
  // allocate the memory.
  Result<std::string> Hash(std::string_view password) const;

  // Checks `password` against `encoded`:
  // - Argon2id and Argon2i PHC strings (v=19) with any parameters ParsePhc accepts, p > 1
  //   included, verified by libargon2 (constant-time comparison);
  // - bcrypt "$2a$", "$2b$", "$2y$" (cost 04-31, 60 characters), verified by libxcrypt's crypt_rn
  //   with a constant-time comparison. bcrypt reads at most 72 bytes of the password and cannot
  //   represent a NUL byte: a password containing one never matches a bcrypt hash.
  // kMalformedHash when `encoded` starts like one of these but breaks the layout (or is junk),
  // kUnsupportedScheme for other well-formed crypt schemes, argon2d, and Argon2 version 16.
  VerifyOutcome Verify(std::string_view encoded, std::string_view password) const;

  // True when `encoded` should be replaced by Hash(password) after a successful Verify: anything
  // that is not argon2id v=19 with exactly the current m/t/p (bcrypt, argon2i, other costs), a
  // salt shorter than 16 bytes or a hash shorter than 32, and strings that do not parse.
  bool NeedsRehash(std::string_view encoded) const;

  // Spends the time of a Verify against an Argon2id hash with the current parameters, for unknown
  // usernames, so a response time does not reveal whether a user exists. Always fails.
  void DummyVerify(std::string_view password) const;

  // Unmaps the Argon2 memory buffers no hash has used for a minute; returns the bytes given back
  // to the OS. Cheap (a mutex and a few comparisons): call it once a minute. A hash that starts
  // does the same for the buffers it does not take, so this matters after the last login of a
  // burst.
  std::size_t ReleaseIdleMemory() const { return memory_->ReleaseIdle(); }

  // The Argon2 memory held now (buffers, lent, bytes mapped), for tests and metrics.
  HashMemory::Stats MemoryStats() const { return memory_->stats(); }

  const Argon2Params& params() const { return params_; }

  // Hash with a chosen salt instead of a random one (at least 8 bytes), so a test can compare the
  // PHC string with another implementation's.
  Result<std::string> HashWithSaltForTesting(std::string_view password,
                                             std::span<const std::uint8_t> salt) const {
    return HashWithSalt(password, salt);
  }

 private:
  Hasher(const Argon2Params& params, std::shared_ptr<HashMemory> memory)
      : params_(params), memory_(std::move(memory)) {}

  Result<std::string> HashWithSalt(std::string_view password,
                                   std::span<const std::uint8_t> salt) const;

  Argon2Params params_;
  std::shared_ptr<HashMemory> memory_;  // null only when moved from; shared by copies
  std::string dummy_hash_;              // Argon2id hash of a random password nobody knows
};

}  // namespace portcullis::password
