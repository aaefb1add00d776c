#include "verifier/jwks_cache.h"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <utility>

namespace portcullis::verifier {

namespace {
// A JWKS holds a handful of keys; anything far larger is a misconfiguration or an attack.
constexpr std::size_t kMaxJwksKeys = 64;
}  // namespace

Result<jose::KeyRing> ParseJwks(std::string_view body) {
  boost::system::error_code ec;
  boost::json::value doc = boost::json::parse(body, ec);
  if (ec || !doc.is_object()) return InvalidArgumentError("JWKS is not a JSON object");
  const boost::json::value* keys = doc.as_object().if_contains("keys");
  if (keys == nullptr || !keys->is_array()) return InvalidArgumentError("JWKS has no keys array");
  if (keys->as_array().size() > kMaxJwksKeys) return InvalidArgumentError("JWKS has too many keys");
  jose::KeyRing ring;
  for (const boost::json::value& jwk : keys->as_array()) {
    if (!jwk.is_object()) continue;
    Result<jose::PublicKey> key = jose::PublicKey::FromJwk(jwk.as_object());
    // RFC 7517 §5: ignore keys we do not understand rather than rejecting the whole set.
    if (!key.ok()) continue;
    // A duplicate kid would make Find ambiguous; the first one wins.
    if (ring.Find(key->kid()) != nullptr) continue;
    ring.Add(std::move(*key));
  }
  if (ring.size() == 0) return InvalidArgumentError("JWKS has no usable signing key");
  return ring;
}

JwksCache::JwksCache(JwksSource& source, const VerifierClock& clock,
                     std::chrono::seconds min_refresh)
    : source_(source), clock_(clock), min_refresh_(min_refresh) {}

std::shared_ptr<const jose::KeyRing> JwksCache::Keys() const {
  std::lock_guard lock(keys_mu_);
  return keys_;
}

bool JwksCache::Refresh() {
  std::lock_guard lock(fetch_mu_);
  return RefreshLocked();
}

bool JwksCache::RefreshForUnknownKid() {
  std::lock_guard lock(fetch_mu_);
  const std::int64_t now = clock_.NowSeconds();
  // Spacing counts from the last attempt, failed or not: a down issuer is not hammered either.
  if (attempted_ && now - last_attempt_s_ < min_refresh_.count()) return false;
  return RefreshLocked();
}

std::uint64_t JwksCache::fetch_count() const {
  std::lock_guard lock(fetch_mu_);
  return fetch_count_;
}

bool JwksCache::RefreshLocked() {
  attempted_ = true;
  last_attempt_s_ = clock_.NowSeconds();
  ++fetch_count_;
  JwksFetchResult fetched = source_.Fetch();
  if (!fetched.ok) return false;
  Result<jose::KeyRing> ring = ParseJwks(fetched.body);
  if (!ring.ok()) return false;
  auto keys = std::make_shared<const jose::KeyRing>(std::move(*ring));
  std::lock_guard lock(keys_mu_);
  keys_ = std::move(keys);
  return true;
}

}  // namespace portcullis::verifier
