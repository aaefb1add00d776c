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

TEST_F(ClientAuthenticatorTest, CacheServesOnlyAfterAStoreVerifiedSuccessAndOnlyTheRightSecret) {
  EXPECT_EQ(authenticator_->AuthenticateCached("svc", kSecret), std::nullopt);
  EXPECT_EQ(authenticator_->Authenticate("svc", "wrong").error, ClientAuthError::kBadSecret);
  EXPECT_EQ(authenticator_->AuthenticateCached("svc", kSecret), std::nullopt);

  ClientAuthOutcome ok = authenticator_->Authenticate("svc", kSecret);
  ASSERT_EQ(ok.error, ClientAuthError::kOk);
  const int finds = hooked_->finds;
  std::optional<store::Client> cached = authenticator_->AuthenticateCached("svc", kSecret);
  ASSERT_TRUE(cached.has_value());
  EXPECT_EQ(cached->client_id, "svc");
  EXPECT_EQ(cached->scopes, std::vector<std::string>{"orders:read"});
  EXPECT_EQ(hooked_->finds, finds);  // no database
  EXPECT_EQ(authenticator_->AuthenticateCached("svc", "wrong"), std::nullopt);
  EXPECT_EQ(authenticator_->AuthenticateCached("other", kSecret), std::nullopt);
}

TEST_F(ClientAuthenticatorTest, EntriesExpireAfterTheTtl) {
  ASSERT_EQ(authenticator_->Authenticate("svc", kSecret).error, ClientAuthError::kOk);
  clock_.Advance(std::chrono::seconds(ClientAuthenticator::kCacheTtlS - 1));
  EXPECT_TRUE(authenticator_->AuthenticateCached("svc", kSecret).has_value());
  clock_.Advance(std::chrono::seconds(1));
  EXPECT_EQ(authenticator_->AuthenticateCached("svc", kSecret), std::nullopt);
}

TEST_F(ClientAuthenticatorTest, ForgetDropsTheClientAtOnce) {
  ASSERT_EQ(authenticator_->Authenticate("svc", kSecret).error, ClientAuthError::kOk);
  authenticator_->Forget("svc");
  EXPECT_EQ(authenticator_->AuthenticateCached("svc", kSecret), std::nullopt);
}

TEST_F(ClientAuthenticatorTest, ADeletionDuringAReadNeverLeavesTheDeletedClientCached) {
  // The read saw the client; the deletion (and its Forget) lands before the read caches it.
  hooked_->during_find = [&] {
    ASSERT_TRUE(hooked_->DeleteClient("svc", kStart).ok());
    authenticator_->Forget("svc");
  };
  EXPECT_EQ(authenticator_->Authenticate("svc", kSecret).error, ClientAuthError::kOk);
  hooked_->during_find = nullptr;
  EXPECT_EQ(authenticator_->AuthenticateCached("svc", kSecret), std::nullopt);
  EXPECT_EQ(authenticator_->Authenticate("svc", kSecret).error, ClientAuthError::kUnknownClient);
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
  ASSERT_EQ(authenticator_->Authenticate("svc-0", kSecret).error, ClientAuthError::kOk);
  const std::size_t one = authenticator_->CacheBytesForTesting();
  EXPECT_GT(one, 0u);
  ASSERT_EQ(authenticator_->Authenticate("svc-0", kSecret).error, ClientAuthError::kOk);
  EXPECT_EQ(authenticator_->CacheBytesForTesting(), one);  // replaced, not added
  ASSERT_EQ(authenticator_->Authenticate("svc-1", kSecret).error, ClientAuthError::kOk);
  EXPECT_EQ(authenticator_->CacheBytesForTesting(), 2 * one);
  authenticator_->Forget("svc-0");
  EXPECT_EQ(authenticator_->CacheBytesForTesting(), one);
  clock_.Advance(std::chrono::seconds(ClientAuthenticator::kCacheTtlS));
  EXPECT_EQ(authenticator_->AuthenticateCached("svc-1", kSecret), std::nullopt);
  EXPECT_EQ(authenticator_->CacheBytesForTesting(), 0u);
}

TEST_F(ClientAuthenticatorTest, AFullCacheDropsExpiredEntriesFirstThenStartsOver) {
  AddClients(*store_, 4);
  ASSERT_EQ(authenticator_->Authenticate("svc-0", kSecret).error, ClientAuthError::kOk);
  const std::size_t one = authenticator_->CacheBytesForTesting();
  ClientAuthenticator bounded(*store_, clock_,
                              CacheLimits{.max_entries = 100, .max_bytes = 2 * one + one / 2});
  ASSERT_EQ(bounded.Authenticate("svc-0", kSecret).error, ClientAuthError::kOk);
  clock_.Advance(std::chrono::seconds(ClientAuthenticator::kCacheTtlS));
  ASSERT_EQ(bounded.Authenticate("svc-1", kSecret).error, ClientAuthError::kOk);
  ASSERT_EQ(bounded.Authenticate("svc-2", kSecret).error, ClientAuthError::kOk);
  // Full by bytes: the expired svc-0 made room, svc-1 stayed.
  EXPECT_EQ(bounded.CacheSizeForTesting(), 2u);
  EXPECT_TRUE(bounded.AuthenticateCached("svc-1", kSecret).has_value());
  // Full again, nothing expired: the cache starts over.
  ASSERT_EQ(bounded.Authenticate("svc-3", kSecret).error, ClientAuthError::kOk);
  EXPECT_EQ(bounded.CacheSizeForTesting(), 1u);
  EXPECT_TRUE(bounded.AuthenticateCached("svc-3", kSecret).has_value());
  EXPECT_EQ(bounded.CacheBytesForTesting(), one);

  ClientAuthenticator by_count(*store_, clock_,
                               CacheLimits{.max_entries = 2, .max_bytes = 1 << 20});
  for (const char* id : {"svc-0", "svc-1", "svc-2"}) {
    ASSERT_EQ(by_count.Authenticate(id, kSecret).error, ClientAuthError::kOk);
  }
  EXPECT_EQ(by_count.CacheSizeForTesting(), 1u);
}

}  // namespace
}  // namespace portcullis::authn
