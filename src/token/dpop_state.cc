#include "token/dpop_state.h"

#include <cstring>

#include "crypto/base64.h"
#include "crypto/constant_time.h"
#include "crypto/sha256.h"

namespace portcullis::token {

namespace {

constexpr std::size_t kNonceMacBytes = 16;

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

}  // namespace

DpopReplayCache::DpopReplayCache(std::size_t max_entries) : max_entries_(max_entries) {}

std::string DpopReplayCache::ProofKey(std::string_view jkt, std::string_view jti) {
  std::string input(jkt);
  input += '.';
  input += jti;
  return crypto::Sha256Hex(input);
}

std::size_t DpopReplayCache::KeyHash::operator()(const Key& k) const {
  std::size_t h = 0;
  std::memcpy(&h, k.data(), sizeof h);  // the key is a hash already
  return h;
}

jose::DpopError DpopReplayCache::Record(std::string_view proof_key, UnixSeconds expires_at,
                                        UnixSeconds now) {
  Key key{};
  for (std::size_t i = 0; i < key.size() && 2 * i + 1 < proof_key.size(); ++i) {
    const int hi = HexDigit(proof_key[2 * i]);
    const int lo = HexDigit(proof_key[2 * i + 1]);
    key[i] = static_cast<std::uint8_t>(((hi < 0 ? 0 : hi) << 4) | (lo < 0 ? 0 : lo));
  }
  std::lock_guard lock(mu_);
  while (!order_.empty() && order_.front().expires_at <= now) {
    seen_.erase(order_.front().key);
    order_.pop_front();
  }
  if (seen_.contains(key)) return jose::DpopError::kReplayed;
  if (seen_.size() >= max_entries_ && !order_.empty()) {
    // Full of live proofs: forget the oldest rather than refuse every new proof (which anyone
    // able to send proofs could then do at will). See the header.
    seen_.erase(order_.front().key);
    order_.pop_front();
    evicted_live_.fetch_add(1, std::memory_order_relaxed);
  }
  seen_.insert(key);
  order_.push_back(Entry{expires_at, key});
  return jose::DpopError::kOk;
}

std::size_t DpopReplayCache::size() const {
  std::lock_guard lock(mu_);
  return seen_.size();
}

DpopNonces::DpopNonces(SecretBytes key, const Clock& clock, std::int64_t window_s)
    : key_(std::move(key)), clock_(clock), window_s_(window_s > 0 ? window_s : 60) {}

std::string DpopNonces::Make(std::int64_t window) const {
  std::string raw(8, '\0');
  for (int i = 7; i >= 0; --i) {
    raw[static_cast<std::size_t>(i)] = static_cast<char>(window & 0xff);
    window >>= 8;
  }
  const std::string mac = crypto::HmacSha256(key_.view(), "dpop-nonce." + raw);
  raw.append(mac, 0, kNonceMacBytes);
  return crypto::Base64UrlEncode(raw);
}

std::string DpopNonces::Current() const { return Make(clock_.Now() / window_s_); }

bool DpopNonces::IsValid(std::string_view nonce) const {
  const std::int64_t now_window = clock_.Now() / window_s_;
  bool ok = false;
  for (std::int64_t w : {now_window, now_window - 1}) {
    // Both compared in constant time, and both always: no early exit to time.
    ok = crypto::ConstantTimeEqual(nonce, Make(w)) || ok;
  }
  return ok;
}

}  // namespace portcullis::token
