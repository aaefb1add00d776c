#include "password/hasher.h"

#include <argon2.h>
#include <crypt.h>
#include <sodium.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstddef>
#include <memory>
#include <string>

#include "base/log.h"
#include "base/secret.h"
#include "password/phc.h"

namespace portcullis::password {
namespace {

// Our hashes: a 16-byte salt and a 32-byte hash (as libsodium's crypto_pwhash_str_alg wrote them
// before libargon2 took over: the same PHC strings).
constexpr std::size_t kOwnSaltBytes = 16;
constexpr std::size_t kOwnHashBytes = 32;
// Bytes of random password behind the dummy hash.
constexpr std::size_t kDummyPasswordBytes = 32;

// bcrypt: "$2b$" + two-digit cost + "$" + 22 characters of salt + 31 of hash.
constexpr std::size_t kBcryptLength = 60;
constexpr std::size_t kBcryptPrefixLength = 4;
constexpr int kBcryptMinCost = 4;
constexpr int kBcryptMaxCost = 31;

bool IsBcryptPrefix(std::string_view s) {
  return s.starts_with("$2a$") || s.starts_with("$2b$") || s.starts_with("$2y$");
}

bool IsBcryptBase64(char c) {
  return c == '.' || c == '/' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
         (c >= '0' && c <= '9');
}

// Argon2 memory comes from the Hasher's HashMemory instead of malloc. libargon2's allocator
// callbacks carry no user pointer, so the pool of the call running on this thread is passed
// through this variable, set only for the duration of one argon2_ctx / argon2_verify_ctx call
// (which calls both callbacks on the calling thread, also when p > 1 spreads lanes over threads).
thread_local HashMemory* current_hash_memory = nullptr;

class UsingHashMemory {
 public:
  explicit UsingHashMemory(HashMemory& memory) : previous_(current_hash_memory) {
    current_hash_memory = &memory;
  }
  ~UsingHashMemory() { current_hash_memory = previous_; }
  UsingHashMemory(const UsingHashMemory&) = delete;
  UsingHashMemory& operator=(const UsingHashMemory&) = delete;

 private:
  HashMemory* previous_;
};

int AcquireArgon2Memory(std::uint8_t** memory, std::size_t bytes) {
  *memory = current_hash_memory->Acquire(bytes);
  return *memory != nullptr ? ARGON2_OK : ARGON2_MEMORY_ALLOCATION_ERROR;
}

// libargon2 has already wiped the memory (free_memory → clear_internal_memory) when it calls this.
void ReleaseArgon2Memory(std::uint8_t* memory, std::size_t /*bytes*/) {
  current_hash_memory->Release(memory);
}

// An argon2_context for one call with our allocator; the caller sets out, pwd, salt and costs.
// flags stay ARGON2_DEFAULT_FLAGS, as argon2_hash and argon2_verify set them.
argon2_context Argon2Context(std::string_view password, std::span<const std::uint8_t> salt,
                             std::uint32_t m, std::uint32_t t, std::uint32_t p) {
  argon2_context ctx{};
  // libargon2 does not write to pwd unless ARGON2_FLAG_CLEAR_PASSWORD is set (it is not).
  ctx.pwd = reinterpret_cast<std::uint8_t*>(const_cast<char*>(password.data()));
  ctx.pwdlen = static_cast<std::uint32_t>(password.size());
  ctx.salt = const_cast<std::uint8_t*>(salt.data());
  ctx.saltlen = static_cast<std::uint32_t>(salt.size());
  ctx.m_cost = m;
  ctx.t_cost = t;
  ctx.lanes = p;
  ctx.threads = p;
  ctx.version = ARGON2_VERSION_13;
  ctx.allocate_cbk = AcquireArgon2Memory;
  ctx.free_cbk = ReleaseArgon2Memory;
  ctx.flags = ARGON2_DEFAULT_FLAGS;
  return ctx;
}

// Unpadded standard base64, as libargon2's encode_string writes salts and hashes.
std::string Base64NoPadding(std::span<const std::uint8_t> bytes) {
  std::string out(
      sodium_base64_ENCODED_LEN(bytes.size(), sodium_base64_VARIANT_ORIGINAL_NO_PADDING), '\0');
  sodium_bin2base64(out.data(), out.size(), bytes.data(), bytes.size(),
                    sodium_base64_VARIANT_ORIGINAL_NO_PADDING);
  out.resize(std::char_traits<char>::length(out.c_str()));
  return out;
}

// Decodes a base64 field ParsePhc accepted into `out`; the number of bytes, 0 on failure.
std::size_t DecodeBase64(std::string_view b64, std::span<std::uint8_t> out) {
  std::size_t length = 0;
  if (sodium_base642bin(out.data(), out.size(), b64.data(), b64.size(), nullptr, &length, nullptr,
                        sodium_base64_VARIANT_ORIGINAL_NO_PADDING) != 0) {
    return 0;
  }
  return length;
}

// Precondition: IsBcryptPrefix(s).
bool IsWellFormedBcrypt(std::string_view s) {
  if (s.size() != kBcryptLength) return false;
  const char tens = s[kBcryptPrefixLength];
  const char ones = s[kBcryptPrefixLength + 1];
  if (tens < '0' || tens > '9' || ones < '0' || ones > '9') return false;
  const int cost = (tens - '0') * 10 + (ones - '0');
  if (cost < kBcryptMinCost || cost > kBcryptMaxCost) return false;
  if (s[kBcryptPrefixLength + 2] != '$') return false;
  for (char c : s.substr(kBcryptPrefixLength + 3)) {
    if (!IsBcryptBase64(c)) return false;
  }
  return true;
}

// "$<id>$..." where id is a crypt(3) scheme name: lower-case letters, digits and '-'.
bool LooksLikeCryptScheme(std::string_view s) {
  constexpr std::size_t kMaxSchemeIdLength = 32;
  if (!s.starts_with('$')) return false;
  const std::size_t end = s.find('$', 1);
  if (end == std::string_view::npos || end == 1 || end > kMaxSchemeIdLength) return false;
  if (end + 1 >= s.size()) return false;
  for (char c : s.substr(1, end - 1)) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  }
  return true;
}

VerifyOutcome VerifyBcrypt(std::string_view encoded, std::string_view password) {
  if (!IsWellFormedBcrypt(encoded)) return VerifyOutcome::kMalformedHash;
  // crypt(3) reads a C string; a NUL would silently cut the password short.
  if (password.find('\0') != std::string_view::npos) return VerifyOutcome::kMismatch;

  const std::string setting(encoded);
  SecretString phrase{std::string(password)};  // NUL-terminated copy, wiped on return
  // crypt_data is ~32 KiB: keep it off the (possibly small) worker stack, and wipe it, since it
  // holds the key schedule derived from the password.
  auto data = std::make_unique<crypt_data>();
  const char* out = crypt_rn(phrase.reveal().data(), setting.c_str(), data.get(),
                             static_cast<int>(sizeof(*data)));
  VerifyOutcome outcome = VerifyOutcome::kMismatch;
  if (out == nullptr || out[0] == '*') {
    // libxcrypt refused the setting (e.g. a salt with non-canonical bits).
    outcome = VerifyOutcome::kMalformedHash;
  } else if (std::string_view(out).size() == encoded.size() &&
             // Constant time: the computed hash must not leak through the comparison's timing.
             sodium_memcmp(out, encoded.data(), encoded.size()) == 0) {
    outcome = VerifyOutcome::kMatch;
  }
  SecureZero(data.get(), sizeof(*data));
  return outcome;
}

VerifyOutcome VerifyArgon2(std::string_view encoded, std::string_view password,
                           HashMemory& memory) {
  const std::optional<PhcString> phc = ParsePhc(encoded);
  if (!phc) return VerifyOutcome::kMalformedHash;
  // Version 0x13 only (the current one, what every modern library writes) and no Argon2d.
  if (phc->version != kArgon2Version13 || phc->algorithm == "argon2d") {
    return VerifyOutcome::kUnsupportedScheme;
  }
  // libargon2 (the reference implementation): on x86-64 about twice as fast as libsodium's
  // crypto_pwhash for the same parameters. What argon2_verify does, with our allocator: the PHC
  // string (already checked by ParsePhc, stricter than libargon2's decoder) gives the costs, salt
  // and expected hash; argon2_verify_ctx recomputes and compares in constant time.
  std::array<std::uint8_t, kPhcMaxSaltBytes> salt{};
  std::array<std::uint8_t, kPhcMaxHashBytes> expected{};
  const std::size_t salt_bytes = DecodeBase64(phc->salt_b64, salt);
  const std::size_t hash_bytes = DecodeBase64(phc->hash_b64, expected);
  int rc = ARGON2_DECODING_FAIL;
  if (salt_bytes != 0 && hash_bytes != 0) {
    if (password.size() > ARGON2_MAX_PWD_LENGTH) {
      rc = ARGON2_PWD_TOO_LONG;
    } else {
      std::array<std::uint8_t, kPhcMaxHashBytes> computed{};
      argon2_context ctx =
          Argon2Context(password, std::span(salt).first(salt_bytes), phc->m, phc->t, phc->p);
      ctx.out = computed.data();
      ctx.outlen = static_cast<std::uint32_t>(hash_bytes);
      UsingHashMemory using_memory(memory);
      rc = argon2_verify_ctx(&ctx, reinterpret_cast<const char*>(expected.data()),
                             phc->algorithm == "argon2id" ? Argon2_id : Argon2_i);
      SecureZero(computed.data(), computed.size());
    }
  }
  if (rc == ARGON2_OK) return VerifyOutcome::kMatch;
  // A plain mismatch; anything else (a malformed field, out of memory) fails closed too.
  if (rc != ARGON2_VERIFY_MISMATCH) {
    log::Warn("password.verify_error", {{"algorithm", phc->algorithm},
                                        {"m", phc->m},
                                        {"t", phc->t},
                                        {"p", phc->p},
                                        {"error", argon2_error_message(rc)}});
  }
  return VerifyOutcome::kMismatch;
}

}  // namespace

std::string_view ToString(VerifyOutcome outcome) {
  switch (outcome) {
    case VerifyOutcome::kMatch:
      return "match";
    case VerifyOutcome::kMismatch:
      return "mismatch";
    case VerifyOutcome::kMalformedHash:
      return "malformed_hash";
    case VerifyOutcome::kUnsupportedScheme:
      return "unsupported_scheme";
  }
  return "unknown";
}

std::string_view ToString(HashKind kind) {
  switch (kind) {
    case HashKind::kArgon2id:
      return "argon2id";
    case HashKind::kArgon2i:
      return "argon2i";
    case HashKind::kBcrypt:
      return "bcrypt";
    case HashKind::kUnsupportedScheme:
      return "unsupported_scheme";
    case HashKind::kMalformed:
      return "malformed";
  }
  return "unknown";
}

HashKind ClassifyHash(std::string_view encoded) {
  // The same dispatch as Hasher::Verify.
  if (encoded.starts_with("$argon2")) {
    const std::optional<PhcString> phc = ParsePhc(encoded);
    if (!phc) return HashKind::kMalformed;
    if (phc->version != kArgon2Version13 || phc->algorithm == "argon2d") {
      return HashKind::kUnsupportedScheme;
    }
    return phc->algorithm == "argon2id" ? HashKind::kArgon2id : HashKind::kArgon2i;
  }
  if (IsBcryptPrefix(encoded)) {
    return IsWellFormedBcrypt(encoded) ? HashKind::kBcrypt : HashKind::kMalformed;
  }
  if (LooksLikeCryptScheme(encoded)) return HashKind::kUnsupportedScheme;
  return HashKind::kMalformed;
}

bool IsSupportedHash(std::string_view encoded) {
  const HashKind kind = ClassifyHash(encoded);
  return kind == HashKind::kArgon2id || kind == HashKind::kArgon2i || kind == HashKind::kBcrypt;
}

Status Hasher::ValidateParams(const Argon2Params& params) {
  if (params.parallelism != 1) {
    return InvalidArgumentError("parallelism must be 1 (libsodium hashes with a single lane)");
  }
  const std::uint64_t memory_bytes = std::uint64_t{params.memory_kib} * 1024;
  if (memory_bytes < crypto_pwhash_argon2id_memlimit_min()) {
    return InvalidArgumentError("memory_kib must be at least " +
                                std::to_string(crypto_pwhash_argon2id_memlimit_min() / 1024));
  }
  // Beyond what ParsePhc accepts our own hashes would no longer verify.
  if (params.memory_kib > kPhcMaxMemoryKib ||
      memory_bytes > crypto_pwhash_argon2id_memlimit_max()) {
    return InvalidArgumentError("memory_kib must be at most " + std::to_string(kPhcMaxMemoryKib));
  }
  if (params.iterations < crypto_pwhash_argon2id_opslimit_min()) {
    return InvalidArgumentError("iterations must be at least " +
                                std::to_string(crypto_pwhash_argon2id_opslimit_min()));
  }
  if (params.iterations > kPhcMaxIterations) {
    return InvalidArgumentError("iterations must be at most " + std::to_string(kPhcMaxIterations));
  }
  return Status::Ok();
}

Result<Hasher> Hasher::Create(const Argon2Params& params) {
  static const SystemClock system_clock;  // stateless
  return Create(params, system_clock);
}

Result<Hasher> Hasher::Create(const Argon2Params& params, const Clock& clock) {
  if (Status s = ValidateParams(params); !s.ok()) return s;
  if (sodium_init() < 0) return InternalError("libsodium initialization failed");

  // Keep buffers for our own cost even when it is configured above the default cap; an imported
  // hash with a larger m gets memory for its one verification only.
  HashMemory::Options options;
  options.idle_release = kArgon2IdleRelease;
  options.max_retained_bytes =
      std::max(options.max_retained_bytes, std::size_t{params.memory_kib} * 1024);
  Hasher hasher(params, std::make_shared<HashMemory>(clock, options));

  SecretBytes dummy_password(kDummyPasswordBytes);
  randombytes_buf(dummy_password.data(), dummy_password.size());
  Result<std::string> dummy = hasher.Hash(dummy_password.view());
  if (!dummy.ok()) return dummy.status();
  hasher.dummy_hash_ = std::move(*dummy);
  return hasher;
}

Result<std::string> Hasher::Hash(std::string_view password) const {
  std::array<std::uint8_t, kOwnSaltBytes> salt{};
  randombytes_buf(salt.data(), salt.size());  // the OS CSPRNG
  return HashWithSalt(password, salt);
}

Result<std::string> Hasher::HashWithSalt(std::string_view password,
                                         std::span<const std::uint8_t> salt) const {
  // What argon2id_hash_encoded does, with our allocator, and the same PHC string
  // ("$argon2id$v=19$m=..,t=..,p=1$<salt>$<hash>", base64 without padding).
  std::array<std::uint8_t, kOwnHashBytes> hash{};
  int rc = ARGON2_PWD_TOO_LONG;  // argon2_hash's answer to a password over 4 GiB
  if (password.size() <= ARGON2_MAX_PWD_LENGTH) {
    argon2_context ctx = Argon2Context(password, salt, params_.memory_kib, params_.iterations,
                                       /*p=*/1);
    ctx.out = hash.data();
    ctx.outlen = static_cast<std::uint32_t>(hash.size());
    UsingHashMemory using_memory(*memory_);
    rc = argon2_ctx(&ctx, Argon2_id);
  }
  if (rc != ARGON2_OK) {
    SecureZero(hash.data(), hash.size());
    return ResourceExhaustedError("argon2id hashing failed (out of memory?)");
  }
  PhcString phc;
  phc.algorithm = "argon2id";
  phc.version = kArgon2Version13;
  phc.m = params_.memory_kib;
  phc.t = params_.iterations;
  phc.p = 1;
  phc.salt_b64 = Base64NoPadding(salt);
  phc.hash_b64 = Base64NoPadding(hash);
  SecureZero(hash.data(), hash.size());
  return FormatPhc(phc);
}

VerifyOutcome Hasher::Verify(std::string_view encoded, std::string_view password) const {
  if (encoded.starts_with("$argon2")) return VerifyArgon2(encoded, password, *memory_);
  if (IsBcryptPrefix(encoded)) return VerifyBcrypt(encoded, password);
  if (LooksLikeCryptScheme(encoded)) return VerifyOutcome::kUnsupportedScheme;
  return VerifyOutcome::kMalformedHash;
}

bool Hasher::NeedsRehash(std::string_view encoded) const {
  const std::optional<PhcString> phc = ParsePhc(encoded);
  if (!phc) return true;
  return phc->algorithm != "argon2id" || phc->version != kArgon2Version13 ||
         phc->m != params_.memory_kib || phc->t != params_.iterations ||
         phc->p != params_.parallelism || DecodedBase64Size(phc->salt_b64.size()) < kOwnSaltBytes ||
         DecodedBase64Size(phc->hash_b64.size()) < kOwnHashBytes;
}

void Hasher::DummyVerify(std::string_view password) const {
  // The result is meaningless by construction; only the time spent matters.
  (void)Verify(dummy_hash_, password);
}

}  // namespace portcullis::password
