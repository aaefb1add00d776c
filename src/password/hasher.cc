#include "password/hasher.h"

#include <argon2.h>
#include <crypt.h>
#include <sodium.h>

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

VerifyOutcome VerifyArgon2(std::string_view encoded, std::string_view password) {
  const std::optional<PhcString> phc = ParsePhc(encoded);
  if (!phc) return VerifyOutcome::kMalformedHash;
  // Version 0x13 only (the current one, what every modern library writes) and no Argon2d.
  if (phc->version != kArgon2Version13 || phc->algorithm == "argon2d") {
    return VerifyOutcome::kUnsupportedScheme;
  }
  // libargon2 (the reference implementation): on x86-64 about twice as fast as libsodium's
  // crypto_pwhash for the same parameters; it recomputes and compares in constant time.
  const std::string str(encoded);  // NUL-terminated
  const int rc = argon2_verify(str.c_str(), password.data(), password.size(),
                               phc->algorithm == "argon2id" ? Argon2_id : Argon2_i);
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
  if (Status s = ValidateParams(params); !s.ok()) return s;
  if (sodium_init() < 0) return InternalError("libsodium initialization failed");

  SecretBytes dummy_password(kDummyPasswordBytes);
  randombytes_buf(dummy_password.data(), dummy_password.size());
  Hasher hasher(params, std::string());
  Result<std::string> dummy = hasher.Hash(dummy_password.view());
  if (!dummy.ok()) return dummy.status();
  hasher.dummy_hash_ = std::move(*dummy);
  return hasher;
}

Result<std::string> Hasher::Hash(std::string_view password) const {
  std::array<unsigned char, kOwnSaltBytes> salt{};
  randombytes_buf(salt.data(), salt.size());  // the OS CSPRNG
  const std::size_t length =
      argon2_encodedlen(params_.iterations, params_.memory_kib, /*parallelism=*/1,
                        static_cast<std::uint32_t>(salt.size()), kOwnHashBytes, Argon2_id);
  std::string out(length, '\0');
  if (argon2id_hash_encoded(params_.iterations, params_.memory_kib, /*parallelism=*/1,
                            password.data(), password.size(), salt.data(), salt.size(),
                            kOwnHashBytes, out.data(), out.size()) != ARGON2_OK) {
    return ResourceExhaustedError("argon2id hashing failed (out of memory?)");
  }
  out.resize(std::char_traits<char>::length(out.c_str()));
  return out;
}

VerifyOutcome Hasher::Verify(std::string_view encoded, std::string_view password) const {
  if (encoded.starts_with("$argon2")) return VerifyArgon2(encoded, password);
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
