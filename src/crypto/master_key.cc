#include "crypto/master_key.h"

#include <sodium.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "crypto/base64.h"
#include "crypto/sha256.h"

namespace portcullis::crypto {
namespace {

static_assert(MasterKey::kKeyBytes == crypto_aead_xchacha20poly1305_ietf_KEYBYTES);
static_assert(MasterKey::kNonceBytes == crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
static_assert(MasterKey::kTagBytes == crypto_aead_xchacha20poly1305_ietf_ABYTES);

constexpr std::size_t kHeaderBytes = 1 + MasterKey::kNonceBytes;

// sodium_init() is idempotent and thread-safe; randombytes_buf needs it to have run once.
void EnsureSodiumInitialized() {
  static const bool initialized = [] {
    if (sodium_init() < 0) {
      std::fputs("portcullis: fatal: sodium_init failed\n", stderr);
      std::abort();
    }
    return true;
  }();
  (void)initialized;
}

const unsigned char* Bytes(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

}  // namespace

Result<MasterKey> MasterKey::FromBase64(std::string_view b64) {
  std::optional<std::string> raw = Base64Decode(b64);
  if (!raw) return InvalidArgumentError("master key is not valid base64");
  if (raw->size() != kKeyBytes) {
    const std::size_t size = raw->size();
    SecureZero(raw->data(), raw->size());
    return InvalidArgumentError("master key must be exactly 32 bytes, got " + std::to_string(size));
  }
  SecretBytes key(std::span<const std::uint8_t>(Bytes(*raw), raw->size()));
  SecureZero(raw->data(), raw->size());
  return MasterKey(std::move(key));
}

MasterKey MasterKey::Generate(Random& random) {
  SecretBytes key(kKeyBytes);
  random.Fill({key.data(), key.size()});
  return MasterKey(std::move(key));
}

std::string MasterKey::ToBase64() const { return Base64Encode(key_.view()); }

std::string MasterKey::Seal(std::string_view plaintext, std::string_view associated_data) const {
  EnsureSodiumInitialized();
  std::string out(kHeaderBytes + plaintext.size() + kTagBytes, '\0');
  auto* p = reinterpret_cast<unsigned char*>(out.data());
  p[0] = kFormatVersion;
  randombytes_buf(p + 1, kNonceBytes);
  unsigned long long ciphertext_length = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(p + kHeaderBytes, &ciphertext_length, Bytes(plaintext),
                                             plaintext.size(), Bytes(associated_data),
                                             associated_data.size(), nullptr, p + 1, key_.data());
  return out;
}

Result<SecretBytes> MasterKey::Open(std::string_view sealed,
                                    std::string_view associated_data) const {
  Result<SecretBytes> opened = OpenWith(key_, sealed, associated_data);
  if (opened.ok() || previous_.size() == 0) return opened;
  Result<SecretBytes> with_previous = OpenWith(previous_, sealed, associated_data);
  return with_previous.ok() ? std::move(with_previous) : std::move(opened);
}

Result<SecretBytes> MasterKey::OpenWith(const SecretBytes& key, std::string_view sealed,
                                        std::string_view associated_data) {
  if (sealed.size() < kHeaderBytes + kTagBytes) {
    return InvalidArgumentError("sealed data is too short");
  }
  if (static_cast<std::uint8_t>(sealed[0]) != kFormatVersion) {
    return InvalidArgumentError("sealed data has an unknown format version");
  }
  const std::string_view nonce = sealed.substr(1, kNonceBytes);
  const std::string_view ciphertext = sealed.substr(kHeaderBytes);
  SecretBytes plaintext(ciphertext.size() - kTagBytes);
  unsigned long long plaintext_length = 0;
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(
          plaintext.data(), &plaintext_length, nullptr, Bytes(ciphertext), ciphertext.size(),
          Bytes(associated_data), associated_data.size(), Bytes(nonce), key.data()) != 0) {
    return InvalidArgumentError("sealed data failed authentication");
  }
  return plaintext;
}

SecretBytes MasterKey::Derive(std::string_view purpose) const {
  std::string label = "portcullis/";
  label += purpose;
  std::string mac = HmacSha256(key_.view(), label);
  SecretBytes out(mac.size());
  std::copy(mac.begin(), mac.end(), reinterpret_cast<char*>(out.data()));
  sodium_memzero(mac.data(), mac.size());
  return out;
}

}  // namespace portcullis::crypto
