// Secret types: bytes and strings that are wiped from memory when they die, cannot be copied by
// accident, and print as "[redacted]".
//
// Use SecretString for passwords, client secrets and tokens held longer than one call; use
// SecretBytes for key material. Compare secrets only with crypto::ConstantTimeEqual.
//
// Thread-safety: values; not synchronized.
#pragma once

#include <cstddef>
#include <cstdint>
#include <ostream>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace portcullis {

// Overwrites memory in a way the compiler may not elide (sodium_memzero).
void SecureZero(void* data, std::size_t size);

class SecretBytes {
 public:
  SecretBytes() = default;
  explicit SecretBytes(std::size_t size) : bytes_(size) {}
  explicit SecretBytes(std::span<const std::uint8_t> data) : bytes_(data.begin(), data.end()) {}
  ~SecretBytes() { Wipe(); }
  SecretBytes(const SecretBytes&) = delete;
  SecretBytes& operator=(const SecretBytes&) = delete;
  SecretBytes(SecretBytes&& other) noexcept : bytes_(std::move(other.bytes_)) {}
  SecretBytes& operator=(SecretBytes&& other) noexcept {
    if (this != &other) {
      Wipe();
      bytes_ = std::move(other.bytes_);
    }
    return *this;
  }
  // An explicit copy, for the rare place that needs two.
  SecretBytes Clone() const { return SecretBytes(std::span<const std::uint8_t>(bytes_)); }

  std::uint8_t* data() { return bytes_.data(); }
  const std::uint8_t* data() const { return bytes_.data(); }
  std::size_t size() const { return bytes_.size(); }
  bool empty() const { return bytes_.empty(); }
  std::span<const std::uint8_t> span() const { return bytes_; }
  std::string_view view() const {
    return {reinterpret_cast<const char*>(bytes_.data()), bytes_.size()};
  }

 private:
  void Wipe() {
    if (!bytes_.empty()) SecureZero(bytes_.data(), bytes_.size());
  }
  std::vector<std::uint8_t> bytes_;
};

class SecretString {
 public:
  SecretString() = default;
  explicit SecretString(std::string value) : value_(std::move(value)) {}
  explicit SecretString(std::string_view value) : value_(value) {}
  ~SecretString() { Wipe(); }
  SecretString(const SecretString&) = delete;
  SecretString& operator=(const SecretString&) = delete;
  SecretString(SecretString&& other) noexcept : value_(std::move(other.value_)) {
    other.value_.clear();
  }
  SecretString& operator=(SecretString&& other) noexcept {
    if (this != &other) {
      Wipe();
      value_ = std::move(other.value_);
      other.value_.clear();
    }
    return *this;
  }
  SecretString Clone() const { return SecretString(std::string_view(value_)); }

  // The secret itself. Never log or format the result.
  std::string_view reveal() const { return value_; }
  std::size_t size() const { return value_.size(); }
  bool empty() const { return value_.empty(); }

 private:
  void Wipe() {
    if (!value_.empty()) SecureZero(value_.data(), value_.size());
    value_.clear();
  }
  std::string value_;
};

inline std::ostream& operator<<(std::ostream& os, const SecretBytes&) { return os << "[redacted]"; }
inline std::ostream& operator<<(std::ostream& os, const SecretString&) {
  return os << "[redacted]";
}

}  // namespace portcullis
