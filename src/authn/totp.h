// TOTP building blocks (RFC 6238 over RFC 4226 HOTP; DESIGN.md §8): SHA-1, 6 digits, 30-second
// steps, ±1 step of clock drift, each code accepted once. Also what enrolment shows the user
// (base32 secret, otpauth:// URI, an SVG QR code made by libqrencode) and the one-time recovery
// codes. No storage and no HTTP here: authn/mfa.h ties these to the store and the master key.
//
// Thread-safety: pure functions (Random is the caller's).
//
//   std::string secret = NewTotpSecret(random);                 // 20 bytes
//   TotpCheck c = VerifyTotp(secret, "123456", now, last_step);
//   if (c.result == TotpResult::kOk) store.UseTotpStep(user, c.step);  // compare-and-set
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/clock.h"
#include "base/status.h"
#include "crypto/random.h"

namespace portcullis::authn {

inline constexpr std::int64_t kTotpPeriodS = 30;
inline constexpr int kTotpDigits = 6;
inline constexpr std::size_t kTotpSecretBytes = 20;  // RFC 4226 §4: 160 bits
inline constexpr int kRecoveryCodeCount = 10;

// RFC 4648 base32, upper case, without padding (what authenticator apps expect).
std::string Base32Encode(std::string_view bytes);
// Strict decode: [A-Z2-7] (lower case accepted), optional trailing '=' padding; nullopt otherwise.
std::optional<std::string> Base32Decode(std::string_view text);

// HOTP (RFC 4226 §5.3) value for `counter`, as `digits` decimal digits with leading zeros.
std::string Hotp(std::string_view secret, std::uint64_t counter, int digits = kTotpDigits);

// The time step of `now` (floor(now / 30)).
std::int64_t TotpStep(UnixSeconds now);

enum class TotpResult : std::uint8_t {
  kOk = 0,
  kMalformed = 1,  // not exactly six ASCII digits
  kWrong = 2,      // matches no step within ±1
  kReplayed = 3,   // matches a step <= last_used_step (already used, or older than the last)
};

struct TotpCheck {
  TotpResult result = TotpResult::kWrong;
  std::int64_t step = 0;  // kOk: the matched step, to be stored as last_used_step
};

// Checks `code` against steps now-1, now, now+1 (every step is compared, in constant time, so
// the time taken does not reveal which one matched).
TotpCheck VerifyTotp(std::string_view secret, std::string_view code, UnixSeconds now,
                     std::int64_t last_used_step);

// A fresh random secret (kTotpSecretBytes bytes from the OS CSPRNG).
std::string NewTotpSecret(crypto::Random& random);

// otpauth://totp/<issuer>:<account>?secret=…&issuer=…&algorithm=SHA1&digits=6&period=30 (the
// Google Authenticator key-URI format), issuer and account percent-encoded.
std::string OtpauthUri(std::string_view issuer, std::string_view account, std::string_view secret);

// An SVG QR code of `text` (error correction M, 4-module quiet zone, one <path>, a <title>).
// kInternal when libqrencode fails (e.g. text too long).
Result<std::string> QrSvg(std::string_view text, std::string_view title);

// Ten recovery codes shaped "xxxxx-xxxxx" from an unambiguous lower-case alphabet (~50 bits each).
std::vector<std::string> NewRecoveryCodes(crypto::Random& random);
// Lower case, without '-' and spaces: how a typed recovery code is compared.
std::string NormalizeRecoveryCode(std::string_view code);

// The stored form of a recovery code (docs/threat-model.md F7): "k1:" and the lower-case hex
// HMAC-SHA-256 of LegacyRecoveryCodeHash(code) under a per-user key, HMAC-SHA-256(totp_secret,
// "portcullis recovery-code v1"). The TOTP secret is stored sealed with the master key, so a
// reader of the database alone cannot test guesses offline; resealing under a new master key does
// not change the secret, so the stored codes survive master-key rotation. Equal for the same code
// typed in any case, with or without '-' and spaces.
std::string KeyedRecoveryCodeHash(std::string_view totp_secret, std::string_view code);

// KeyedRecoveryCodeHash of a code whose LegacyRecoveryCodeHash is `legacy_hash`: what a stored
// legacy value becomes when it is upgraded in place (the code itself is not needed).
std::string WrapLegacyRecoveryCodeHash(std::string_view totp_secret, std::string_view legacy_hash);

// The unkeyed form codes were stored in before F7 was fixed: lower-case hex SHA-256 of the
// normalized code. Only to accept those codes (each once); never store a new code this way.
std::string LegacyRecoveryCodeHash(std::string_view code);

}  // namespace portcullis::authn
