#include "portcullis/verifier.h"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/json/serialize.hpp>
#include <string>
#include <thread>
#include <vector>

#include "crypto/base64.h"
#include "jose/claims.h"
#include "jose/dpop.h"
#include "jose/jws.h"
#include "jose/key.h"
#include "jose/key_ring.h"

namespace portcullis {
namespace {

constexpr std::int64_t kNow = 1'700'000'000;
constexpr char kIssuer[] = "https://auth.example";
constexpr char kAudience[] = "orders-api";
constexpr char kUrl[] = "https://api.example/orders";

class FakeClock final : public VerifierClock {
 public:
  std::int64_t NowSeconds() const override { return now.load(); }
  std::atomic<std::int64_t> now{kNow};
};

// Serves whatever JWKS the test puts in `body`; `up` = false plays an issuer that is down.
class FakeSource final : public JwksSource {
 public:
  JwksFetchResult Fetch() override {
    ++fetches;
    if (!up) return {.ok = false, .body = {}, .error = "down"};
    return {.ok = true, .body = body, .error = {}};
  }
  std::string body;
  bool up = true;
  int fetches = 0;
};

jose::PrivateKey NewKey(jose::Algorithm alg, std::string kid) {
  return *jose::PrivateKey::Generate(alg, std::move(kid));
}

std::string Jwks(std::initializer_list<const jose::PrivateKey*> keys) {
  jose::KeyRing ring;
  for (const jose::PrivateKey* k : keys) ring.Add(k->public_key());
  return boost::json::serialize(ring.ToJwks());
}

jose::AccessTokenClaims ValidClaims() {
  jose::AccessTokenClaims c;
  c.iss = kIssuer;
  c.sub = "user-1";
  c.aud = {kAudience};
  c.iat = kNow;
  c.nbf = kNow;
  c.exp = kNow + 300;
  c.jti = "jti-1";
  c.client_id = "shop";
  c.scope = "orders:* profile:read";
  c.roles = {"clerk"};
  c.username = "alice";
  return c;
}

std::string Sign(const jose::AccessTokenClaims& c, const jose::PrivateKey& key) {
  return *jose::SignAccessToken(c, key);
}

class VerifierTest : public ::testing::Test {
 protected:
  VerifierTest() : key_(NewKey(jose::Algorithm::kEdDsa, "k1")) { source_.body = Jwks({&key_}); }

  std::unique_ptr<Verifier> Make(VerifierOptions o = {}) {
    o.issuer = kIssuer;
    o.audiences = {kAudience};
    o.jwks_source = &source_;
    o.clock = &clock_;
    o.jwks_min_refresh = std::chrono::seconds(30);
    auto created = Verifier::Create(std::move(o));
    EXPECT_TRUE(created.ok()) << created.error;
    return std::move(created.value);
  }

  FakeClock clock_;
  FakeSource source_;
  jose::PrivateKey key_;
};

TEST_F(VerifierTest, ValidTokenYieldsClaimsAndPermissions) {
  auto v = Make();
  VerifyResult r = v->Verify(Sign(ValidClaims(), key_));
  ASSERT_EQ(r.error, VerifyError::kOk) << ToString(r.error);
  EXPECT_EQ(r.claims.sub, "user-1");
  EXPECT_EQ(r.claims.username, "alice");
  EXPECT_TRUE(r.claims.HasPermission("orders:refund"));
  EXPECT_TRUE(HasPermission(r.claims, "profile:read"));
  EXPECT_FALSE(r.claims.HasPermission("profile:write"));
  EXPECT_FALSE(Claims{}.HasPermission("orders:refund"));
}

TEST_F(VerifierTest, EachClaimFailureHasItsReason) {
  auto v = Make();
  auto check = [&](auto mutate, VerifyError want) {
    jose::AccessTokenClaims c = ValidClaims();
    mutate(c);
    EXPECT_EQ(v->Verify(Sign(c, key_)).error, want) << ToString(want);
  };
  check([](auto& c) { c.iss = "https://evil.example"; }, VerifyError::kIssuerMismatch);
  check([](auto& c) { c.aud = {"other-api"}; }, VerifyError::kAudienceMismatch);
  check([](auto& c) { c.exp = kNow - 31; }, VerifyError::kExpired);
  check([](auto& c) { c.nbf = kNow + 31; }, VerifyError::kNotYetValid);
  check([](auto& c) { c.iat = kNow + 31; }, VerifyError::kIssuedInFuture);
  // Within the default 30 s leeway.
  check([](auto& c) { c.exp = kNow - 29; }, VerifyError::kOk);
}

TEST_F(VerifierTest, FormatAndSignatureFailures) {
  auto v = Make();
  EXPECT_EQ(v->Verify("").error, VerifyError::kMalformed);
  EXPECT_EQ(v->Verify("a.b").error, VerifyError::kMalformed);
  EXPECT_EQ(v->Verify(std::string(9000, 'a')).error, VerifyError::kTooLarge);
  std::string token = Sign(ValidClaims(), key_);
  std::string flipped = token;
  flipped[flipped.size() - 2] = flipped[flipped.size() - 2] == 'A' ? 'B' : 'A';
  EXPECT_EQ(v->Verify(flipped).error, VerifyError::kSignatureInvalid);
  jose::PrivateKey stranger = NewKey(jose::Algorithm::kEdDsa, "k1");
  EXPECT_EQ(v->Verify(Sign(ValidClaims(), stranger)).error, VerifyError::kSignatureInvalid);
}

TEST_F(VerifierTest, AlgorithmOutsideAllowListIsRejected) {
  jose::PrivateKey es = NewKey(jose::Algorithm::kEs256, "e1");
  source_.body = Jwks({&key_, &es});
  VerifierOptions o;
  o.allowed_algorithms = {"EdDSA"};
  auto v = Make(std::move(o));
  EXPECT_EQ(v->Verify(Sign(ValidClaims(), es)).error, VerifyError::kAlgNotAllowed);
  EXPECT_EQ(v->Verify(Sign(ValidClaims(), key_)).error, VerifyError::kOk);
}

VerifierOptions Options(std::string issuer, std::vector<std::string> audiences,
                        std::string jwks_url, JwksSource* source) {
  VerifierOptions o;
  o.issuer = std::move(issuer);
  o.audiences = std::move(audiences);
  o.jwks_url = std::move(jwks_url);
  o.jwks_source = source;
  return o;
}

TEST_F(VerifierTest, CreateRejectsBadOptions) {
  EXPECT_FALSE(Verifier::Create(Options("", {"a"}, "", &source_)).ok());
  EXPECT_FALSE(Verifier::Create(Options("i", {}, "", &source_)).ok());
  VerifierOptions hmac = Options("i", {"a"}, "", &source_);
  hmac.allowed_algorithms = {"HS256"};
  EXPECT_FALSE(Verifier::Create(std::move(hmac)).ok());
  // Plain http only to loopback; no other schemes.
  EXPECT_FALSE(Verifier::Create(Options("i", {"a"}, "http://example.com/jwks", nullptr)).ok());
  EXPECT_FALSE(Verifier::Create(Options("i", {"a"}, "ftp://127.0.0.1/", nullptr)).ok());
  EXPECT_FALSE(Verifier::Create(Options("i", {"a"}, "https://u:p@auth.example/", nullptr)).ok());
}

TEST_F(VerifierTest, UnknownKidRefetchIsRateLimited) {
  auto v = Make();
  EXPECT_EQ(source_.fetches, 1);  // at Create
  jose::PrivateKey forged = NewKey(jose::Algorithm::kEdDsa, "forged");
  std::string token = Sign(ValidClaims(), forged);
  EXPECT_EQ(v->Verify(token).error, VerifyError::kKeyNotFound);
  EXPECT_EQ(source_.fetches, 1);  // the Create fetch was less than 30 s ago
  for (int i = 0; i < 100; ++i) (void)v->Verify(token);
  EXPECT_EQ(source_.fetches, 1);
  clock_.now += 30;
  EXPECT_EQ(v->Verify(token).error, VerifyError::kKeyNotFound);
  EXPECT_EQ(source_.fetches, 2);
  for (int i = 0; i < 100; ++i) (void)v->Verify(token);
  EXPECT_EQ(source_.fetches, 2);
}

TEST_F(VerifierTest, KeyRotationIsPickedUpOnUnknownKid) {
  auto v = Make();
  jose::PrivateKey next = NewKey(jose::Algorithm::kEs256, "k2");
  source_.body = Jwks({&key_, &next});
  clock_.now += 31;
  jose::AccessTokenClaims c = ValidClaims();
  c.iat = c.nbf = clock_.now;
  c.exp = clock_.now + 300;
  EXPECT_EQ(v->Verify(Sign(c, next)).error, VerifyError::kOk);
  EXPECT_EQ(v->Verify(Sign(c, key_)).error, VerifyError::kOk);
  EXPECT_EQ(source_.fetches, 2);
}

TEST_F(VerifierTest, IssuerDownKeepsServingCachedKeys) {
  auto v = Make();
  source_.up = false;
  clock_.now += 60;
  jose::AccessTokenClaims c = ValidClaims();
  c.iat = c.nbf = clock_.now;
  c.exp = clock_.now + 300;
  EXPECT_FALSE(v->Refresh());
  EXPECT_EQ(v->Verify(Sign(c, key_)).error, VerifyError::kOk);
  // A garbage document does not replace the cached set either.
  source_.up = true;
  source_.body = "{\"keys\":[]}";
  EXPECT_FALSE(v->Refresh());
  EXPECT_EQ(v->Verify(Sign(c, key_)).error, VerifyError::kOk);
}

TEST_F(VerifierTest, NoJwksEverFetchedIsUnavailableUntilIssuerComesUp) {
  source_.up = false;
  auto v = Make();
  std::string token = Sign(ValidClaims(), key_);
  EXPECT_EQ(v->Verify(token).error, VerifyError::kJwksUnavailable);
  source_.up = true;
  EXPECT_EQ(v->Verify(token).error, VerifyError::kJwksUnavailable);  // still within spacing
  clock_.now += 30;
  EXPECT_EQ(v->Verify(token).error, VerifyError::kOk);
}

// ---------------------------------------------------------------- verified-token cache

TEST_F(VerifierTest, ACachedTokenStillExpiresOnTime) {
  auto v = Make();
  std::string token = Sign(ValidClaims(), key_);  // exp = kNow + 300, leeway 30
  ASSERT_EQ(v->Verify(token).error, VerifyError::kOk);
  clock_.now = kNow + 329;
  EXPECT_EQ(v->Verify(token).error, VerifyError::kOk);
  clock_.now = kNow + 330;
  EXPECT_EQ(v->Verify(token).error, VerifyError::kExpired);
  EXPECT_EQ(v->Verify(token).error, VerifyError::kExpired);
}

TEST_F(VerifierTest, AWithdrawnKeyEndsItsCachedTokens) {
  auto v = Make();
  std::string token = Sign(ValidClaims(), key_);
  ASSERT_EQ(v->Verify(token).error, VerifyError::kOk);
  jose::PrivateKey next = NewKey(jose::Algorithm::kEdDsa, "k2");
  source_.body = Jwks({&next});  // the issuer withdrew k1
  ASSERT_TRUE(v->Refresh());
  EXPECT_EQ(v->Verify(token).error, VerifyError::kKeyNotFound);
}

TEST_F(VerifierTest, TheCacheIsBoundedAndServesTheSameAnswers) {
  VerifierOptions o;
  o.cache_max_entries = 2;
  auto v = Make(std::move(o));
  std::vector<std::string> tokens;
  for (int i = 0; i < 5; ++i) {
    jose::AccessTokenClaims c = ValidClaims();
    c.jti = "jti-" + std::to_string(i);
    tokens.push_back(Sign(c, key_));
  }
  for (int round = 0; round < 3; ++round) {
    for (const std::string& t : tokens) {
      VerifyResult r = v->Verify(t);
      ASSERT_EQ(r.error, VerifyError::kOk) << ToString(r.error);
      EXPECT_EQ(r.claims.username, "alice");
    }
  }
  // Failures never enter: a forged signature fails every time.
  std::string forged =
      tokens[0].substr(0, tokens[0].rfind('.') + 1) + crypto::Base64UrlEncode(std::string(64, 'x'));
  EXPECT_EQ(v->Verify(forged).error, VerifyError::kSignatureInvalid);
  EXPECT_EQ(v->Verify(forged).error, VerifyError::kSignatureInvalid);
}

TEST_F(VerifierTest, DisabledCacheVerifiesEveryTime) {
  VerifierOptions o;
  o.cache_max_entries = 0;
  auto v = Make(std::move(o));
  std::string token = Sign(ValidClaims(), key_);
  EXPECT_EQ(v->Verify(token).error, VerifyError::kOk);
  EXPECT_EQ(v->Verify(token).error, VerifyError::kOk);
}

// ---------------------------------------------------------------- DPoP

boost::json::object ProofJwk(const jose::PrivateKey& key) {
  boost::json::object jwk = key.public_key().ToJwk();
  jwk.erase("kid");
  jwk.erase("alg");
  jwk.erase("use");
  return jwk;
}

std::string Proof(const jose::PrivateKey& key, std::string_view method, std::string_view url,
                  std::string_view token, std::int64_t iat, std::string_view jti = "proof-1") {
  boost::json::object header{
      {"typ", "dpop+jwt"}, {"alg", std::string(jose::ToString(key.alg()))}, {"jwk", ProofJwk(key)}};
  boost::json::object claims{{"jti", jti},
                             {"htm", method},
                             {"htu", url},
                             {"iat", iat},
                             {"ath", jose::AccessTokenHash(token)}};
  std::string input = crypto::Base64UrlEncode(boost::json::serialize(header)) + "." +
                      crypto::Base64UrlEncode(boost::json::serialize(claims));
  return input + "." + crypto::Base64UrlEncode(*key.Sign(input));
}

class VerifierDpopTest : public VerifierTest {
 protected:
  VerifierDpopTest() : client_(NewKey(jose::Algorithm::kEs256, "")) {
    jose::AccessTokenClaims c = ValidClaims();
    c.cnf_jkt = client_.public_key().Thumbprint();
    bound_ = Sign(c, key_);
  }
  jose::PrivateKey client_;
  std::string bound_;
};

TEST_F(VerifierDpopTest, BoundTokenWithItsProofIsAccepted) {
  auto v = Make();
  VerifyResult r = v->VerifyDpop(bound_, Proof(client_, "GET", kUrl, bound_, kNow), "GET", kUrl);
  ASSERT_EQ(r.error, VerifyError::kOk) << ToString(r.error) << " " << r.dpop_error;
  EXPECT_EQ(r.claims.cnf_jkt, client_.public_key().Thumbprint());
}

TEST_F(VerifierDpopTest, BoundTokenAsBearerIsRejected) {
  auto v = Make();
  EXPECT_EQ(v->Verify(bound_).error, VerifyError::kDpopRequired);
}

TEST_F(VerifierDpopTest, UnboundTokenUnderDpopIsRejected) {
  auto v = Make();
  std::string bearer = Sign(ValidClaims(), key_);
  EXPECT_EQ(v->VerifyDpop(bearer, Proof(client_, "GET", kUrl, bearer, kNow), "GET", kUrl).error,
            VerifyError::kNotDpopBound);
}

TEST_F(VerifierDpopTest, ProofFailuresCarryTheDpopReason) {
  auto v = Make();
  VerifyResult r = v->VerifyDpop(bound_, Proof(client_, "POST", kUrl, bound_, kNow), "GET", kUrl);
  EXPECT_EQ(r.error, VerifyError::kDpopInvalid);
  EXPECT_EQ(r.dpop_error, "htm_mismatch");
  r = v->VerifyDpop(bound_, Proof(client_, "GET", "https://api.example/other", bound_, kNow), "GET",
                    kUrl);
  EXPECT_EQ(r.dpop_error, "htu_mismatch");
  r = v->VerifyDpop(bound_, Proof(client_, "GET", kUrl, bound_, kNow - 61), "GET", kUrl);
  EXPECT_EQ(r.dpop_error, "iat_too_old");
  r = v->VerifyDpop(bound_, Proof(client_, "GET", kUrl, "other-token", kNow), "GET", kUrl);
  EXPECT_EQ(r.dpop_error, "ath_mismatch");
  EXPECT_EQ(v->VerifyDpop(bound_, "", "GET", kUrl).error, VerifyError::kDpopInvalid);
}

TEST_F(VerifierDpopTest, ACachedBoundTokenStillNeedsItsProofEveryTime) {
  auto v = Make();
  ASSERT_EQ(v->VerifyDpop(bound_, Proof(client_, "GET", kUrl, bound_, kNow), "GET", kUrl).error,
            VerifyError::kOk);
  EXPECT_EQ(v->Verify(bound_).error, VerifyError::kDpopRequired);
  jose::PrivateKey thief = NewKey(jose::Algorithm::kEs256, "");
  EXPECT_EQ(v->VerifyDpop(bound_, Proof(thief, "GET", kUrl, bound_, kNow), "GET", kUrl).error,
            VerifyError::kDpopKeyMismatch);
  EXPECT_EQ(v->VerifyDpop(bound_, Proof(client_, "POST", kUrl, bound_, kNow), "GET", kUrl).error,
            VerifyError::kDpopInvalid);
}

TEST_F(VerifierDpopTest, AProofIsAcceptedOnce) {
  auto v = Make();
  const std::string proof = Proof(client_, "GET", kUrl, bound_, kNow, "once");
  ASSERT_EQ(v->VerifyDpop(bound_, proof, "GET", kUrl).error, VerifyError::kOk);
  clock_.now += 30;
  VerifyResult replay = v->VerifyDpop(bound_, proof, "GET", kUrl);
  EXPECT_EQ(replay.error, VerifyError::kDpopInvalid);
  EXPECT_EQ(replay.dpop_error, "replayed");
  // A fresh proof of the same client is fine; after its lifetime a proof fails on its iat.
  EXPECT_EQ(
      v->VerifyDpop(bound_, Proof(client_, "GET", kUrl, bound_, clock_.now, "next"), "GET", kUrl)
          .error,
      VerifyError::kOk);
  clock_.now += 31;
  EXPECT_EQ(v->VerifyDpop(bound_, proof, "GET", kUrl).dpop_error, "iat_too_old");
}

TEST_F(VerifierDpopTest, AFailedProofIsNotRecorded) {
  auto v = Make();
  const std::string proof = Proof(client_, "GET", kUrl, bound_, kNow, "j");
  EXPECT_EQ(v->VerifyDpop(bound_, proof, "POST", kUrl).error, VerifyError::kDpopInvalid);
  EXPECT_EQ(v->VerifyDpop(bound_, proof, "GET", kUrl).error, VerifyError::kOk);
}

TEST_F(VerifierDpopTest, TheReplayRecordIsBoundedAndKeepsTheNewest) {
  VerifierOptions o;
  o.dpop_replay_entries = 2;
  auto v = Make(std::move(o));
  std::vector<std::string> proofs;
  for (int i = 0; i < 3; ++i) {
    proofs.push_back(Proof(client_, "GET", kUrl, bound_, kNow, "p" + std::to_string(i)));
    ASSERT_EQ(v->VerifyDpop(bound_, proofs.back(), "GET", kUrl).error, VerifyError::kOk);
  }
  EXPECT_EQ(v->VerifyDpop(bound_, proofs[2], "GET", kUrl).dpop_error, "replayed");
  EXPECT_EQ(v->VerifyDpop(bound_, proofs[1], "GET", kUrl).dpop_error, "replayed");
  // The oldest was forgotten to stay within the bound.
  EXPECT_EQ(v->VerifyDpop(bound_, proofs[0], "GET", kUrl).error, VerifyError::kOk);
}

TEST_F(VerifierDpopTest, ReplayCheckCanBeTurnedOff) {
  VerifierOptions o;
  o.dpop_replay_entries = 0;
  auto v = Make(std::move(o));
  const std::string proof = Proof(client_, "GET", kUrl, bound_, kNow);
  EXPECT_EQ(v->VerifyDpop(bound_, proof, "GET", kUrl).error, VerifyError::kOk);
  EXPECT_EQ(v->VerifyDpop(bound_, proof, "GET", kUrl).error, VerifyError::kOk);
}

TEST_F(VerifierDpopTest, ProofFromAnotherKeyIsAKeyMismatch) {
  auto v = Make();
  jose::PrivateKey thief = NewKey(jose::Algorithm::kEs256, "");
  EXPECT_EQ(v->VerifyDpop(bound_, Proof(thief, "GET", kUrl, bound_, kNow), "GET", kUrl).error,
            VerifyError::kDpopKeyMismatch);
}

// The caches under concurrency (run it under TSan): verifications of repeated and new tokens,
// DPoP proofs, and key-set refreshes that drop the verified-token cache, from several threads.
TEST_F(VerifierDpopTest, ConcurrentVerificationsRefreshesAndProofs) {
  VerifierOptions o;
  o.cache_max_entries = 8;
  o.dpop_replay_entries = 16;
  auto v = Make(std::move(o));
  std::vector<std::string> tokens;
  for (int i = 0; i < 12; ++i) {
    jose::AccessTokenClaims c = ValidClaims();
    c.jti = "t" + std::to_string(i);
    tokens.push_back(Sign(c, key_));
  }
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 100; ++i) {
        if (v->Verify(tokens[(i * 7 + t) % tokens.size()]).error != VerifyError::kOk) ++failures;
        if (i % 10 == 0) {
          const std::string jti = "c" + std::to_string(t) + "-" + std::to_string(i);
          if (v->VerifyDpop(bound_, Proof(client_, "GET", kUrl, bound_, kNow, jti), "GET", kUrl)
                  .error != VerifyError::kOk) {
            ++failures;
          }
        }
        if (t == 0 && i % 25 == 0) (void)v->Refresh();
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
}

TEST(VerifyErrorNamesTest, LibraryNamesMatchServerNames) {
  EXPECT_EQ(ToString(VerifyError::kExpired), "expired");
  EXPECT_EQ(ToString(VerifyError::kDpopRequired), "dpop_bound_as_bearer");
  EXPECT_EQ(ToString(VerifyError::kJwksUnavailable), "jwks_unavailable");
}

}  // namespace
}  // namespace portcullis
