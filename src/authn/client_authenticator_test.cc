#include "authn/client_authenticator.h"

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <string>

#include "base/clock.h"
#include "store/sqlite/sqlite_store.h"

namespace portcullis::authn {
namespace {

constexpr UnixSeconds kStart = 1'700'000'000;
constexpr char kSecret[] = "correct-horse-battery-staple-0123456789abcdef";

// The real store, with a hook that runs inside FindClient (to interleave a deletion).
class HookedClientStore final : public store::ClientStore {
 public:
  explicit HookedClientStore(store::ClientStore& real) : real_(real) {}
  std::function<void()> during_find;
  int finds = 0;

  Status CreateClient(const store::Client& client) override { return real_.CreateClient(client); }
  Result<store::Client> FindClient(std::string_view client_id) override {
    ++finds;
    Result<store::Client> found = real_.FindClient(client_id);
    if (during_find) during_find();
    return found;
  }
  Result<store::ClientPage> ListClients(std::string_view cursor, std::size_t limit) override {
    return real_.ListClients(cursor, limit);
  }
  Status DeleteClient(std::string_view client_id, UnixSeconds now) override {
    return real_.DeleteClient(client_id, now);
  }

 private:
  store::ClientStore& real_;
};

class ClientAuthenticatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store::SqliteOptions options;
    options.path = ":memory:";
    Result<std::unique_ptr<store::Store>> opened = store::OpenSqliteStore(options);
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    store_ = std::move(*opened);
    ASSERT_TRUE(store_->Migrate().ok());
    ASSERT_TRUE(store_
                    ->CreateClient({.client_id = "svc",
                                    .name = "Service",
                                    .secret_hash = HashClientSecret(kSecret),
                                    .grant_types = {"client_credentials"},
                                    .scopes = {"orders:read"},
                                    .created_at = kStart})
                    .ok());
    hooked_ = std::make_unique<HookedClientStore>(*store_);
    authenticator_ = std::make_unique<ClientAuthenticator>(*hooked_, clock_);
  }

  FakeClock clock_{kStart};
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<HookedClientStore> hooked_;
  std::unique_ptr<ClientAuthenticator> authenticator_;
};

TEST_F(ClientAuthenticatorTest, BasicClientMayAlsoPostItsSecret) {
  // "svc" has the default method, client_secret_basic; DESIGN §4 allows Basic or the form body.
  EXPECT_EQ(authenticator_->Authenticate("svc", kSecret, ClientSecretMethod::kPost).error,
            ClientAuthError::kOk);
  EXPECT_EQ(authenticator_->Authenticate("svc", "wrong", ClientSecretMethod::kPost).error,
            ClientAuthError::kBadSecret);
  ASSERT_EQ(authenticator_->Authenticate("svc", kSecret, ClientSecretMethod::kBasic).error,
            ClientAuthError::kOk);
  EXPECT_TRUE(
      authenticator_->AuthenticateCached("svc", kSecret, ClientSecretMethod::kBasic).has_value());
  EXPECT_TRUE(
      authenticator_->AuthenticateCached("svc", kSecret, ClientSecretMethod::kPost).has_value());
}

TEST_F(ClientAuthenticatorTest, PostClientMayAlsoUseBasic) {
  ASSERT_TRUE(store_
                  ->CreateClient({.client_id = "poster",
                                  .name = "Posts its secret",
                                  .secret_hash = HashClientSecret(kSecret),
                                  .grant_types = {"client_credentials"},
                                  .scopes = {},
                                  .created_at = kStart,
                                  .token_endpoint_auth_method = "client_secret_post"})
                  .ok());
  EXPECT_EQ(authenticator_->Authenticate("poster", "wrong", ClientSecretMethod::kPost).error,
            ClientAuthError::kBadSecret);
  EXPECT_EQ(authenticator_->Authenticate("poster", kSecret, ClientSecretMethod::kBasic).error,
            ClientAuthError::kOk);
  ASSERT_EQ(authenticator_->Authenticate("poster", kSecret, ClientSecretMethod::kPost).error,
            ClientAuthError::kOk);
  EXPECT_TRUE(
      authenticator_->AuthenticateCached("poster", kSecret, ClientSecretMethod::kPost).has_value());
}

TEST_F(ClientAuthenticatorTest, PublicClientNeverAuthenticatesWithASecret) {
  ASSERT_TRUE(store_
                  ->CreateClient({.client_id = "spa",
                                  .name = "SPA",
                                  .secret_hash = "",
                                  .grant_types = {"authorization_code"},
                                  .scopes = {},
                                  .created_at = kStart,
                                  .redirect_uris = {"https://app.example/cb"},
                                  .token_endpoint_auth_method = "none"})
                  .ok());
  for (ClientSecretMethod method : {ClientSecretMethod::kBasic, ClientSecretMethod::kPost}) {
    EXPECT_EQ(authenticator_->Authenticate("spa", "", method).error,
              ClientAuthError::kMethodNotAllowed);
    EXPECT_EQ(authenticator_->Authenticate("spa", "anything", method).error,
              ClientAuthError::kMethodNotAllowed);
    EXPECT_EQ(authenticator_->AuthenticateCached("spa", "", method), std::nullopt);
  }
  EXPECT_EQ(authenticator_->CacheSizeForTesting(), 0u);
}

TEST(SecretMethodAllowedTest, ConfidentialClientsEitherWayPublicOnesNever) {
  EXPECT_TRUE(SecretMethodAllowed("client_secret_basic", ClientSecretMethod::kBasic));
  EXPECT_TRUE(SecretMethodAllowed("client_secret_basic", ClientSecretMethod::kPost));
  EXPECT_TRUE(SecretMethodAllowed("client_secret_post", ClientSecretMethod::kPost));
  EXPECT_TRUE(SecretMethodAllowed("client_secret_post", ClientSecretMethod::kBasic));
  EXPECT_FALSE(SecretMethodAllowed("none", ClientSecretMethod::kBasic));
  EXPECT_FALSE(SecretMethodAllowed("none", ClientSecretMethod::kPost));
  EXPECT_FALSE(SecretMethodAllowed("", ClientSecretMethod::kBasic));
  EXPECT_FALSE(SecretMethodAllowed("CLIENT_SECRET_BASIC", ClientSecretMethod::kBasic));
}

TEST_F(ClientAuthenticatorTest, CacheServesOnlyAfterAStoreVerifiedSuccessAndOnlyTheRightSecret) {
  EXPECT_EQ(authenticator_->AuthenticateCached("svc", kSecret, ClientSecretMethod::kBasic),
            std::nullopt);
  EXPECT_EQ(authenticator_->Authenticate("svc", "wrong", ClientSecretMethod::kBasic).error,
            ClientAuthError::kBadSecret);
  EXPECT_EQ(authenticator_->AuthenticateCached("svc", kSecret, ClientSecretMethod::kBasic),
            std::nullopt);

  ClientAuthOutcome ok = authenticator_->Authenticate("svc", kSecret, ClientSecretMethod::kBasic);
  ASSERT_EQ(ok.error, ClientAuthError::kOk);
  const int finds = hooked_->finds;
  std::optional<store::Client> cached =
      authenticator_->AuthenticateCached("svc", kSecret, ClientSecretMethod::kBasic);
  ASSERT_TRUE(cached.has_value());
  EXPECT_EQ(cached->client_id, "svc");
  EXPECT_EQ(cached->scopes, std::vector<std::string>{"orders:read"});
  EXPECT_EQ(hooked_->finds, finds);  // no database
  EXPECT_EQ(authenticator_->AuthenticateCached("svc", "wrong", ClientSecretMethod::kBasic),
            std::nullopt);
  EXPECT_EQ(authenticator_->AuthenticateCached("other", kSecret, ClientSecretMethod::kBasic),
            std::nullopt);
}

TEST_F(ClientAuthenticatorTest, EntriesExpireAfterTheTtl) {
  ASSERT_EQ(authenticator_->Authenticate("svc", kSecret, ClientSecretMethod::kBasic).error,
            ClientAuthError::kOk);
  clock_.Advance(std::chrono::seconds(ClientAuthenticator::kCacheTtlS - 1));
  EXPECT_TRUE(
      authenticator_->AuthenticateCached("svc", kSecret, ClientSecretMethod::kBasic).has_value());
  clock_.Advance(std::chrono::seconds(1));
  EXPECT_EQ(authenticator_->AuthenticateCached("svc", kSecret, ClientSecretMethod::kBasic),
            std::nullopt);
}

TEST_F(ClientAuthenticatorTest, ForgetDropsTheClientAtOnce) {
  ASSERT_EQ(authenticator_->Authenticate("svc", kSecret, ClientSecretMethod::kBasic).error,
            ClientAuthError::kOk);
  authenticator_->Forget("svc");
  EXPECT_EQ(authenticator_->AuthenticateCached("svc", kSecret, ClientSecretMethod::kBasic),
            std::nullopt);
}

TEST_F(ClientAuthenticatorTest, ADeletionDuringAReadNeverLeavesTheDeletedClientCached) {
  // The read saw the client; the deletion (and its Forget) lands before the read caches it.
  hooked_->during_find = [&] {
    ASSERT_TRUE(hooked_->DeleteClient("svc", kStart).ok());
    authenticator_->Forget("svc");
  };
  EXPECT_EQ(authenticator_->Authenticate("svc", kSecret, ClientSecretMethod::kBasic).error,
            ClientAuthError::kOk);
  hooked_->during_find = nullptr;
  EXPECT_EQ(authenticator_->AuthenticateCached("svc", kSecret, ClientSecretMethod::kBasic),
            std::nullopt);
  EXPECT_EQ(authenticator_->Authenticate("svc", kSecret, ClientSecretMethod::kBasic).error,
            ClientAuthError::kUnknownClient);
}

// Creates clients svc-0 .. svc-{n-1} with kSecret (a handful of bytes each).
void AddClients(store::ClientStore& store, int n) {
  for (int i = 0; i < n; ++i) {
    ASSERT_TRUE(store
                    .CreateClient({.client_id = "svc-" + std::to_string(i),
                                   .name = "Service",
                                   .secret_hash = HashClientSecret(kSecret),
                                   .grant_types = {"client_credentials"},
                                   .scopes = {"orders:read"},
                                   .created_at = kStart})
                    .ok());
  }
}

TEST_F(ClientAuthenticatorTest, BytesAreCountedAndGivenBackOnForgetAndExpiry) {
  AddClients(*store_, 2);
  ASSERT_EQ(authenticator_->Authenticate("svc-0", kSecret, ClientSecretMethod::kBasic).error,
            ClientAuthError::kOk);
  const std::size_t one = authenticator_->CacheBytesForTesting();
  EXPECT_GT(one, 0u);
  ASSERT_EQ(authenticator_->Authenticate("svc-0", kSecret, ClientSecretMethod::kBasic).error,
            ClientAuthError::kOk);
  EXPECT_EQ(authenticator_->CacheBytesForTesting(), one);  // replaced, not added
  ASSERT_EQ(authenticator_->Authenticate("svc-1", kSecret, ClientSecretMethod::kBasic).error,
            ClientAuthError::kOk);
  EXPECT_EQ(authenticator_->CacheBytesForTesting(), 2 * one);
  authenticator_->Forget("svc-0");
  EXPECT_EQ(authenticator_->CacheBytesForTesting(), one);
  clock_.Advance(std::chrono::seconds(ClientAuthenticator::kCacheTtlS));
  EXPECT_EQ(authenticator_->AuthenticateCached("svc-1", kSecret, ClientSecretMethod::kBasic),
            std::nullopt);
  EXPECT_EQ(authenticator_->CacheBytesForTesting(), 0u);
}

TEST_F(ClientAuthenticatorTest, AFullCacheDropsExpiredEntriesFirstThenStartsOver) {
  AddClients(*store_, 4);
  ASSERT_EQ(authenticator_->Authenticate("svc-0", kSecret, ClientSecretMethod::kBasic).error,
            ClientAuthError::kOk);
  const std::size_t one = authenticator_->CacheBytesForTesting();
  ClientAuthenticator bounded(*store_, clock_,
                              CacheLimits{.max_entries = 100, .max_bytes = 2 * one + one / 2});
  ASSERT_EQ(bounded.Authenticate("svc-0", kSecret, ClientSecretMethod::kBasic).error,
            ClientAuthError::kOk);
  clock_.Advance(std::chrono::seconds(ClientAuthenticator::kCacheTtlS));
  ASSERT_EQ(bounded.Authenticate("svc-1", kSecret, ClientSecretMethod::kBasic).error,
            ClientAuthError::kOk);
  ASSERT_EQ(bounded.Authenticate("svc-2", kSecret, ClientSecretMethod::kBasic).error,
            ClientAuthError::kOk);
  // Full by bytes: the expired svc-0 made room, svc-1 stayed.
  EXPECT_EQ(bounded.CacheSizeForTesting(), 2u);
  EXPECT_TRUE(bounded.AuthenticateCached("svc-1", kSecret, ClientSecretMethod::kBasic).has_value());
  // Full again, nothing expired: the cache starts over.
  ASSERT_EQ(bounded.Authenticate("svc-3", kSecret, ClientSecretMethod::kBasic).error,
            ClientAuthError::kOk);
  EXPECT_EQ(bounded.CacheSizeForTesting(), 1u);
  EXPECT_TRUE(bounded.AuthenticateCached("svc-3", kSecret, ClientSecretMethod::kBasic).has_value());
  EXPECT_EQ(bounded.CacheBytesForTesting(), one);

  ClientAuthenticator by_count(*store_, clock_,
                               CacheLimits{.max_entries = 2, .max_bytes = 1 << 20});
  for (const char* id : {"svc-0", "svc-1", "svc-2"}) {
    ASSERT_EQ(by_count.Authenticate(id, kSecret, ClientSecretMethod::kBasic).error,
              ClientAuthError::kOk);
  }
  EXPECT_EQ(by_count.CacheSizeForTesting(), 1u);
}

}  // namespace
}  // namespace portcullis::authn
