// The state DPoP proof checks need beyond the pure jose::VerifyDpopProof (RFC 9449 §11.1, §8):
//
//   DpopReplayCache  proofs seen, by (key thumbprint, jti), each until its lifetime is over, so
//                    a proof is accepted once. Bounded by count: when every slot holds a live
//                    proof, the oldest is forgotten (evicted_live() counts it). Refusing new
//                    proofs instead would let anyone holding one bound token (they can sign
//                    proofs for it at will) stop every DPoP request; forgetting costs only that a
//                    proof whose entry was pushed out by a flood of at least max_entries proofs
//                    within its lifetime could be replayed once more for the same request. In a
//                    deployment of several instances the caller also records every proof in the
//                    store (store::RecordDpopProof), which evicts nothing.
//   DpopNonces       stateless server nonces: base64url(window || HMAC(key, window)), valid in
//                    the window they were made in and the next one. The key is derived from the
//                    master key, so every instance accepts every instance's nonces.
//
// Thread-safety: all methods may be called concurrently from any thread.
//
//   DpopReplayCache seen(100'000);
//   if (seen.Record(DpopReplayCache::ProofKey(proof.jkt, proof.jti), now + 65, now) !=
//       jose::DpopError::kOk) { /* replayed or cannot tell: refuse */ }
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_set>

#include "base/clock.h"
#include "base/secret.h"
#include "jose/dpop.h"

namespace portcullis::token {

class DpopReplayCache {
 public:
  explicit DpopReplayCache(std::size_t max_entries);

  // The 32-byte SHA-256 of "jkt.jti" (a thumbprint is base64url: it holds no '.'), as 64 hex
  // characters: the store's key, and the source of this cache's.
  static std::string ProofKey(std::string_view jkt, std::string_view jti);

  // Records `proof_key` (a ProofKey) at `now` as seen until `expires_at`, which must not be
  // earlier than that of any proof recorded before (callers pass now + the proof lifetime).
  // kOk when it was not seen (evicting the oldest entry when full), kReplayed when it was and
  // has not expired.
  jose::DpopError Record(std::string_view proof_key, UnixSeconds expires_at, UnixSeconds now);

  std::size_t size() const;
  // How many entries were evicted before their time (the cache was full of live proofs).
  std::uint64_t evicted_live() const { return evicted_live_.load(std::memory_order_relaxed); }
  std::size_t max_entries() const { return max_entries_; }

 private:
  using Key = std::array<std::uint8_t, 16>;  // the first 128 bits of the proof key
  struct KeyHash {
    std::size_t operator()(const Key& k) const;
  };
  struct Entry {
    UnixSeconds expires_at;
    Key key;
  };

  const std::size_t max_entries_;
  mutable std::mutex mu_;
  std::unordered_set<Key, KeyHash> seen_;  // guarded by mu_
  std::deque<Entry> order_;                // guarded by mu_; by expires_at, oldest first
  std::atomic<std::uint64_t> evicted_live_{0};
};

class DpopNonces {
 public:
  // `key`: at least 32 bytes (MasterKey::Derive("dpop-nonce")). A nonce is valid from the
  // window_s-long window it was made in until the end of the next one.
  DpopNonces(SecretBytes key, const Clock& clock, std::int64_t window_s = 60);

  // The nonce to hand out now (the DPoP-Nonce header).
  std::string Current() const;
  // Whether `nonce` was made by Current() with this key, in this window or the previous one.
  bool IsValid(std::string_view nonce) const;

 private:
  std::string Make(std::int64_t window) const;

  const SecretBytes key_;
  const Clock& clock_;
  const std::int64_t window_s_;
};

}  // namespace portcullis::token
