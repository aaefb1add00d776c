// MasterKey: the 32-byte key that encrypts secrets at rest (signing keys, TOTP secrets).
//
// Sealing uses XChaCha20-Poly1305 (libsodium, IETF construction) with a fresh random 192-bit
// nonce per message, so callers never manage nonces. The sealed format is
//   0x01 (format version) | 24-byte nonce | ciphertext | 16-byte Poly1305 tag
// as raw bytes. The associated data binds a ciphertext to its context (for example
// "signing_key:<kid>"), so a sealed value copied to another row fails to open.
//
// Thread-safety: a MasterKey is immutable after construction; Seal and Open may run
// concurrently. Move-only, and the key bytes are wiped when it dies.
//
//   Result<MasterKey> key = MasterKey::FromBase64(env_value);
//   std::string sealed = key->Seal(der, "signing_key:" + kid);
//   Result<SecretBytes> der2 = key->Open(sealed, "signing_key:" + kid);
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "base/secret.h"
#include "base/status.h"
#include "crypto/random.h"

namespace portcullis::crypto {

class MasterKey {
 public:
  static constexpr std::size_t kKeyBytes = 32;
  static constexpr std::size_t kNonceBytes = 24;
  static constexpr std::size_t kTagBytes = 16;
  static constexpr std::uint8_t kFormatVersion = 0x01;

  MasterKey(MasterKey&&) noexcept = default;
  MasterKey& operator=(MasterKey&&) noexcept = default;

  // Decodes standard padded base64 of exactly 32 bytes. kInvalidArgument otherwise; the message
  // never echoes the input.
  static Result<MasterKey> FromBase64(std::string_view b64);

  // A fresh key from `random`.
  static MasterKey Generate(Random& random);

  // The key as padded standard base64. Only for writing the key file; never log it.
  std::string ToBase64() const;

  // Encrypts and authenticates `plaintext` together with `associated_data` (which is not stored
  // in the output). Returns 1 + 24 + plaintext.size() + 16 bytes in the format above.
  std::string Seal(std::string_view plaintext, std::string_view associated_data) const;

  // Reverses Seal. kInvalidArgument when the input is too short, has an unknown version, was
  // altered, or was sealed under another key (and not under the previous key, if one is set) or
  // other associated data.
  Result<SecretBytes> Open(std::string_view sealed, std::string_view associated_data) const;

  // A 32-byte key for `purpose` derived from this key (HMAC-SHA-256(key, "portcullis/" +
  // purpose)): the same on every instance of a deployment, useless for anything else, and it
  // never reveals the master key. E.g. the DPoP nonce key ("dpop-nonce").
  SecretBytes Derive(std::string_view purpose) const;

  // Master-key rotation (docs/deployment.md): Open also accepts data sealed under `previous`;
  // Seal always uses this key. `portcullis keys reseal` then re-seals everything under this key.
  void SetPrevious(MasterKey previous) { previous_ = std::move(previous.key_); }
  bool has_previous() const { return previous_.size() != 0; }

 private:
  explicit MasterKey(SecretBytes key) : key_(std::move(key)) {}
  static Result<SecretBytes> OpenWith(const SecretBytes& key, std::string_view sealed,
                                      std::string_view associated_data);

  SecretBytes key_;
  SecretBytes previous_;  // empty = none
};

}  // namespace portcullis::crypto
