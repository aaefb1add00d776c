// Micro-benchmarks of the primitives on Portcullis's request paths: JWS sign and verify per
// algorithm, the resource-server library's Verify, the Bearer validation path (cache hit and
// miss), Argon2id, strict JSON parsing.
#include <benchmark/benchmark.h>

#include <boost/json/serialize.hpp>
#include <cstdlib>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "base/json.h"
#include "crypto/master_key.h"
#include "crypto/random.h"
#include "jose/jws.h"
#include "jose/key.h"
#include "jose/key_ring.h"
#include "password/hasher.h"
#include "portcullis/verifier.h"
#include "token/key_manager.h"
#include "token/token_service.h"

namespace portcullis {
namespace {

constexpr UnixSeconds kNow = 1'800'000'000;

jose::AccessTokenClaims SampleClaims() {
  jose::AccessTokenClaims c;
  c.iss = "https://auth.example.test";
  c.sub = "5f0c6a2e-9a51-4bd7-8f5e-2b8e0d3c1a77";
  c.aud = {"portcullis"};
  c.iat = c.nbf = kNow;
  c.exp = kNow + 900;
  c.jti = "Zb3T0m8yq1xv2Lw9uR4kQw";
  c.client_id = "default";
  c.scope = "articles:read articles:write users:read";
  c.roles = {"editor"};
  c.username = "alice";
  c.uv = 1;
  return c;
}

jose::Algorithm AlgOf(const benchmark::State& state) {
  return static_cast<jose::Algorithm>(state.range(0));
}

void BM_Sign(benchmark::State& state) {
  auto key = *jose::PrivateKey::Generate(AlgOf(state), "k1");
  jose::AccessTokenClaims claims = SampleClaims();
  for (auto _ : state) benchmark::DoNotOptimize(jose::SignAccessToken(claims, key));
  state.SetLabel(std::string(jose::ToString(AlgOf(state))));
}
BENCHMARK(BM_Sign)->Arg(0)->Arg(1)->Arg(2);

void BM_Verify(benchmark::State& state) {
  auto key = *jose::PrivateKey::Generate(AlgOf(state), "k1");
  jose::KeyRing ring;
  ring.Add(key.public_key());
  std::string token = *jose::SignAccessToken(SampleClaims(), key);
  jose::VerifyPolicy policy{"https://auth.example.test", {"portcullis"}, 30, 8192};
  for (auto _ : state) {
    jose::VerifyResult r = jose::VerifyAccessToken(token, ring, policy, kNow);
    if (!r.ok()) state.SkipWithError("verification failed");
    benchmark::DoNotOptimize(r);
  }
  state.SetLabel(std::string(jose::ToString(AlgOf(state))));
}
BENCHMARK(BM_Verify)->Arg(0)->Arg(1)->Arg(2);

// The resource-server library (include/portcullis/verifier.h) on the same token: what a C++
// service pays per request with one Verifier::Verify call (its JWKS parsed once, in memory).
class FixedJwks final : public JwksSource {
 public:
  explicit FixedJwks(std::string body) : body_(std::move(body)) {}
  JwksFetchResult Fetch() override { return {.ok = true, .body = body_, .error = ""}; }

 private:
  std::string body_;
};
class FixedClock final : public VerifierClock {
 public:
  std::int64_t NowSeconds() const override { return kNow; }
};

void BM_LibraryVerify(benchmark::State& state) {
  auto key = *jose::PrivateKey::Generate(AlgOf(state), "k1");
  jose::KeyRing ring;
  ring.Add(key.public_key());
  FixedJwks jwks(boost::json::serialize(ring.ToJwks()));
  FixedClock clock;
  VerifierOptions options;
  options.issuer = "https://auth.example.test";
  options.audiences = {"portcullis"};
  options.clock = &clock;
  options.jwks_source = &jwks;
  const bool cached = state.range(1) == 1;
  options.cache_max_entries = cached ? 10'000 : 0;
  auto verifier = Verifier::Create(std::move(options));
  if (!verifier.ok()) {
    state.SkipWithError(verifier.error.c_str());
    return;
  }
  std::string token = *jose::SignAccessToken(SampleClaims(), key);
  for (auto _ : state) {
    portcullis::VerifyResult r = verifier.value->Verify(token);
    if (!r.ok()) state.SkipWithError("verification failed");
    benchmark::DoNotOptimize(r);
  }
  state.SetLabel(std::string(jose::ToString(AlgOf(state))) +
                 (cached ? ", seen before (cache hit)" : ", cache off (full verify)"));
}
BENCHMARK(BM_LibraryVerify)->ArgsProduct({{0, 1, 2}, {1, 0}});

class MemoryKeyStore final : public store::SigningKeyStore {
 public:
  Status InsertSigningKey(const store::SigningKey& k) override {
    keys_.push_back(k);
    return Status::Ok();
  }
  Result<std::vector<store::SigningKey>> ListSigningKeys() override { return keys_; }
  Status UpdateSigningKeyState(std::string_view, std::string_view,
                               std::optional<UnixSeconds>) override {
    return Status::Ok();
  }
  Status ReplaceSealedPrivateKeys(
      const std::vector<std::pair<std::string, std::string>>&) override {
    return Status::Ok();
  }
  std::vector<store::SigningKey> keys_;
};

// The whole Bearer validation of TokenService: arg 1 = cache hit, 0 = every token new to it.
void BM_BearerValidation(benchmark::State& state) {
  MemoryKeyStore store;
  FakeClock clock(kNow);
  crypto::Random& random = crypto::OsRandomInstance();
  crypto::MasterKey master = crypto::MasterKey::Generate(random);
  auto keys = *token::KeyManager::Create(store, master, jose::Algorithm::kEdDsa, clock, random);
  token::TokenPolicy policy;
  policy.issuer = "https://auth.example.test";
  token::RevocationSet revocations(policy.leeway_s);
  token::UserStateCache users;
  users.Set("user-1", 1, false);
  token::TokenService service(*keys, revocations, users, policy, clock, random);
  token::Subject alice{"user-1", "alice", {"editor"}, 1};
  std::string token = service.Issue(alice, {"articles:read"}, "default")->access_token;
  bool cached = state.range(0) == 1;
  for (auto _ : state) {
    if (!cached) {
      state.PauseTiming();
      token::TokenService fresh(*keys, revocations, users, policy, clock, random);
      state.ResumeTiming();
      benchmark::DoNotOptimize(fresh.Validate(token));
    } else {
      benchmark::DoNotOptimize(service.Validate(token));
    }
  }
  state.SetLabel(cached ? "cache hit" : "cache miss (full EdDSA verify)");
}
BENCHMARK(BM_BearerValidation)->Arg(1)->Arg(0);

// The verified-token cache shared by every benchmark thread, as the server's network threads
// share it: `tokens` distinct user tokens, each validated once (so cached) before timing.
class SharedBearerCache {
 public:
  explicit SharedBearerCache(int tokens)
      : clock_(kNow),
        master_(crypto::MasterKey::Generate(crypto::OsRandomInstance())),
        keys_(*token::KeyManager::Create(store_, master_, jose::Algorithm::kEdDsa, clock_,
                                         crypto::OsRandomInstance())),
        revocations_(Policy().leeway_s),
        service_(*keys_, revocations_, users_, Policy(), clock_, crypto::OsRandomInstance()) {
    users_.Set("user-1", 1, false);
    token::Subject alice{"user-1", "alice", {"editor"}, 1};
    for (int i = 0; i < tokens; ++i) {
      tokens_.push_back(service_.Issue(alice, {"articles:read"}, "default")->access_token);
      if (!service_.Validate(tokens_.back()).ok()) std::abort();
    }
  }

  // One per token count, built by the first thread that asks (thread-safe static init).
  static SharedBearerCache& ForTokens(std::int64_t tokens) {
    static SharedBearerCache one(1);
    static SharedBearerCache many(10'000);
    return tokens == 1 ? one : many;
  }

  token::TokenService& service() { return service_; }
  const std::vector<std::string>& tokens() const { return tokens_; }

 private:
  static token::TokenPolicy Policy() {
    token::TokenPolicy policy;
    policy.issuer = "https://auth.example.test";
    return policy;
  }

  MemoryKeyStore store_;
  FakeClock clock_;
  crypto::MasterKey master_;
  std::unique_ptr<token::KeyManager> keys_;
  token::RevocationSet revocations_;
  token::UserStateCache users_;
  token::TokenService service_;
  std::vector<std::string> tokens_;
};

// Cache hits only, from 1 and 2 threads at once: arg = distinct tokens (1, or 10,000 cycled
// through as by the me10k HTTP workload). Every iteration must be a hit returning kOk.
void BM_BearerCacheHitShared(benchmark::State& state) {
  SharedBearerCache& cache = SharedBearerCache::ForTokens(state.range(0));
  const std::vector<std::string>& tokens = cache.tokens();
  std::size_t i = tokens.size() * static_cast<std::size_t>(state.thread_index()) /
                  static_cast<std::size_t>(state.threads());
  for (auto _ : state) {
    jose::VerifyResult r = cache.service().Validate(tokens[i]);
    if (!r.ok()) state.SkipWithError("validation failed");
    benchmark::DoNotOptimize(r);
    if (++i == tokens.size()) i = 0;
  }
  state.SetItemsProcessed(state.iterations());
  state.SetLabel(std::to_string(tokens.size()) + " token(s), all cached");
}
BENCHMARK(BM_BearerCacheHitShared)->Arg(1)->Arg(10'000)->Threads(1)->Threads(2)->UseRealTime();

void BM_Argon2idVerify(benchmark::State& state) {
  auto hasher = *password::Hasher::Create(password::Argon2Params{});
  std::string phc = *hasher.Hash("correct horse battery staple");
  for (auto _ : state) {
    benchmark::DoNotOptimize(hasher.Verify(phc, "correct horse battery staple"));
  }
  state.SetLabel("m=19456 KiB t=2 p=1");
}
BENCHMARK(BM_Argon2idVerify)->Unit(benchmark::kMillisecond);

void BM_Argon2idHash(benchmark::State& state) {
  auto hasher = *password::Hasher::Create(password::Argon2Params{});
  for (auto _ : state) benchmark::DoNotOptimize(hasher.Hash("correct horse battery staple"));
  state.SetLabel("m=19456 KiB t=2 p=1");
}
BENCHMARK(BM_Argon2idHash)->Unit(benchmark::kMillisecond);

void BM_ParseJsonStrict(benchmark::State& state) {
  std::string body =
      R"({"username":"alice","password":"correct horse battery staple","email":"a@example.com",)"
      R"("roles":["editor","user"],"disabled":false})";
  for (auto _ : state) benchmark::DoNotOptimize(ParseJson(body));
}
BENCHMARK(BM_ParseJsonStrict);

}  // namespace
}  // namespace portcullis

BENCHMARK_MAIN();
