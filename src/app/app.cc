#include "app/app.h"

#include <fcntl.h>
#include <malloc.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "admin/directory.h"
#include "api/admin/admin.h"
#include "api/api_context.h"
#include "api/forward_auth/forward_auth.h"
#include "api/routes.h"
#include "app/change_follower.h"
#include "app/library_versions.h"
#include "app/periodic_task.h"
#include "audit/audit_log.h"
#include "authn/api_key_cache.h"
#include "authn/basic_cache.h"
#include "authn/client_authenticator.h"
#include "authn/password_authenticator.h"
#include "authn/throttle.h"
#include "base/cache_limits.h"
#include "base/log.h"
#include "base/metrics.h"
#include "base/worker_pool.h"
#include "crypto/random.h"
#include "http/router.h"
#include "http/server/server.h"
#include "http/server/tls.h"
#include "jose/algorithm.h"
#include "password/policy.h"
#include "store/postgres/postgres_store.h"
#include "store/sqlite/sqlite_store.h"
#include "token/dpop_state.h"
#include "token/key_manager.h"
#include "token/refresh_service.h"
#include "token/revocation_set.h"
#include "token/token_service.h"
#include "token/user_state_cache.h"

namespace portcullis::app {
namespace {

namespace fs = std::filesystem;

constexpr std::size_t kBootstrapPasswordLength = 24;
constexpr std::size_t kDbQueue = 1024;
// Database worker threads per pooled connection. A job spends most of its time waiting — for a
// connection, or for the group commit carrying its write (store/sql/group_commit.h) — and the
// writes of all waiting jobs share one commit, so more waiting jobs mean fewer commits per write.
constexpr std::size_t kDbThreadsPerConnection = 8;
// How long user change feed entries are kept (a follower needs only the last seconds).
constexpr std::int64_t kUserChangeRetentionS = 86400;

std::string EnvOr(const std::map<std::string, std::string>& env, const std::string& name) {
  auto it = env.find(name);
  return it == env.end() ? std::string() : it->second;
}

// Writes `content` to a new file with mode 0600, failing if it already exists.
Status WritePrivateFile(const std::string& path, std::string_view content) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return InternalError("cannot create " + path + ": " + std::strerror(errno));
  std::size_t written = 0;
  while (written < content.size()) {
    ssize_t n = ::write(fd, content.data() + written, content.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      ::close(fd);
      return InternalError("cannot write " + path + ": " + std::strerror(errno));
    }
    written += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) return InternalError("cannot sync " + path);
  return Status::Ok();
}

std::string ListenHost(const config::Config& config) { return config.server.listen_host; }

// The TLS context for `tls.mode`, generating a development certificate for "auto" when none is
// configured.
Result<std::shared_ptr<boost::asio::ssl::context>> SetUpTls(const config::Config& config) {
  std::string cert = config.tls.cert_file, key = config.tls.key_file;
  if (config.tls.mode == "auto" && (cert.empty() || key.empty())) {
    fs::path dir = fs::path(config.data_dir) / "tls";
    cert = (dir / "cert.pem").string();
    key = (dir / "key.pem").string();
    if (!fs::exists(cert) || !fs::exists(key)) {
      std::error_code ec;
      fs::create_directories(dir, ec);
      if (ec) return InternalError("cannot create " + dir.string() + ": " + ec.message());
      fs::remove(cert, ec);
      fs::remove(key, ec);
      std::vector<std::string> hosts = {"localhost", "127.0.0.1", "::1"};
      std::string host = ListenHost(config);
      if (!host.empty() && std::find(hosts.begin(), hosts.end(), host) == hosts.end()) {
        hosts.push_back(host);
      }
      Status s = http::GenerateSelfSignedCertificate(cert, key, hosts);
      if (!s.ok()) return s;
    }
    log::Warn("tls.self_signed",
              {{"cert_file", cert},
               {"message",
                "using a self-signed development certificate; configure tls.cert_file and "
                "tls.key_file for production"}});
  }
  return http::MakeTlsContext(cert, key, config.tls.min_version);
}

void AddHttpMetrics(Metrics& metrics, http::ServerOptions& options) {
  Counter& requests = metrics.AddCounter("portcullis_http_requests_total",
                                         "HTTP requests by route and status", {"route", "status"});
  Histogram& latency = metrics.AddHistogram(
      "portcullis_http_request_duration_seconds", "HTTP request latency by route", {"route"},
      {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5});
  // The series of each (route, status) are found once per network thread, then updated
  // without a lock or an allocation.
  options.on_request = [&requests, &latency](std::string_view route, unsigned status,
                                             double seconds) {
    struct RouteCells {
      Histogram::Series* latency = nullptr;
      std::vector<std::pair<unsigned, std::atomic<std::uint64_t>*>> by_status;
    };
    struct Cache {
      const Counter* owner = nullptr;  // a later server in the same process starts over
      std::map<std::string, RouteCells, std::less<>> routes;
    };
    thread_local Cache cache;
    if (cache.owner != &requests) cache = Cache{&requests, {}};
    auto it = cache.routes.find(route);
    if (it == cache.routes.end()) {
      it = cache.routes.emplace(std::string(route), RouteCells{}).first;
      it->second.latency = &latency.SeriesFor({std::string(route)});
    }
    RouteCells& cells = it->second;
    std::atomic<std::uint64_t>* count = nullptr;
    for (const auto& [known, cell] : cells.by_status) {
      if (known == status) count = cell;
    }
    if (count == nullptr) {
      count = &requests.Cell({std::string(route), std::to_string(status)});
      cells.by_status.emplace_back(status, count);
    }
    count->fetch_add(1, std::memory_order_relaxed);
    cells.latency->Observe(seconds);
  };
}

}  // namespace

Status EnsureDataDir(const config::Config& config) {
  std::error_code ec;
  fs::path dir(config.data_dir);
  if (fs::exists(dir, ec)) return Status::Ok();
  fs::create_directories(dir, ec);
  if (ec) return InternalError("cannot create data dir " + dir.string() + ": " + ec.message());
  fs::permissions(dir, fs::perms::owner_all, fs::perm_options::replace, ec);
  return Status::Ok();
}

namespace {

Result<crypto::MasterKey> LoadOrCreateCurrentMasterKey(
    const config::Config& config, const std::map<std::string, std::string>& env,
    crypto::Random& random) {
  std::string from_env = EnvOr(env, "PORTCULLIS_MASTER_KEY");
  if (!from_env.empty()) {
    Result<crypto::MasterKey> key = crypto::MasterKey::FromBase64(from_env);
    if (!key.ok()) {
      return InvalidArgumentError("PORTCULLIS_MASTER_KEY must be the base64 of 32 bytes");
    }
    return key;
  }
  const std::string& path = config.master_key.file;
  std::error_code ec;
  if (fs::exists(path, ec)) {
    std::ifstream in(path);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) {
      text.pop_back();
    }
    Result<crypto::MasterKey> key = crypto::MasterKey::FromBase64(text);
    SecureZero(text.data(), text.size());
    if (!key.ok()) {
      return InvalidArgumentError("master key file " + path + " must hold the base64 of 32 bytes");
    }
    return key;
  }
  if (store::IsPostgresUrl(config.database.url)) {
    // Every instance of a deployment needs the same key: one generated here would seal the
    // signing keys with a key no other instance has.
    return FailedPreconditionError(
        "a PostgreSQL deployment needs the same master key on every instance: set "
        "PORTCULLIS_MASTER_KEY (base64 of 32 bytes, e.g. `openssl rand -base64 32`) or "
        "master_key.file to an existing key file");
  }
  fs::create_directories(fs::path(path).parent_path(), ec);
  crypto::MasterKey key = crypto::MasterKey::Generate(random);
  std::string text = key.ToBase64() + "\n";
  Status s = WritePrivateFile(path, text);
  SecureZero(text.data(), text.size());
  if (!s.ok()) return s;
  log::Warn("master_key.created",
            {{"file", path},
             {"message",
              "generated a master key file; back it up and keep it outside the data dir in "
              "production (or set PORTCULLIS_MASTER_KEY)"}});
  return key;
}

}  // namespace

Result<crypto::MasterKey> LoadOrCreateMasterKey(const config::Config& config,
                                                const std::map<std::string, std::string>& env,
                                                crypto::Random& random) {
  Result<crypto::MasterKey> key = LoadOrCreateCurrentMasterKey(config, env, random);
  if (!key.ok()) return key;
  std::string previous = EnvOr(env, "PORTCULLIS_PREVIOUS_MASTER_KEY");
  if (previous.empty()) return key;
  Result<crypto::MasterKey> old = crypto::MasterKey::FromBase64(previous);
  SecureZero(previous.data(), previous.size());
  if (!old.ok()) {
    return InvalidArgumentError("PORTCULLIS_PREVIOUS_MASTER_KEY must be the base64 of 32 bytes");
  }
  key->SetPrevious(std::move(*old));
  return key;
}

Result<std::unique_ptr<store::Store>> OpenStoreUnmigrated(const config::Config& config) {
  const std::string& url = config.database.url;
  if (store::IsPostgresUrl(url)) {
    store::PostgresOptions options;
    options.url = url;
    options.pool_size = static_cast<std::size_t>(config.database.pool_size);
    return store::OpenPostgresStore(options);
  }
  Result<store::SqliteOptions> options = store::SqliteOptionsFromUrl(url);
  if (!options.ok()) return options.status();
  options->pool_size = static_cast<std::size_t>(config.database.pool_size);
  return store::OpenSqliteStore(*options);
}

Result<std::unique_ptr<store::Store>> OpenStore(const config::Config& config) {
  Result<std::unique_ptr<store::Store>> store = OpenStoreUnmigrated(config);
  if (!store.ok()) return store.status();
  Result<int> applied = (*store)->Migrate();
  if (!applied.ok()) return applied.status();
  if (*applied > 0) log::Info("store.migrated", {{"applied", *applied}});
  return store;
}

password::Argon2Params HasherParams(const config::Config& config) {
  password::Argon2Params p;
  p.memory_kib = config.password.argon2_memory_kib;
  p.iterations = config.password.argon2_iterations;
  p.parallelism = config.password.argon2_parallelism;
  return p;
}

authn::LockoutPolicy LockoutPolicyFrom(const config::Config& config) {
  authn::LockoutPolicy p;
  p.max_failures = config.lockout.max_failures;
  p.base_lock_s = config.lockout.base_lock_s;
  p.max_lock_s = config.lockout.max_lock_s;
  p.account_max_failures = config.lockout.account_max_failures;
  p.account_window_s = config.lockout.account_window_s;
  p.known_source_days = config.lockout.known_source_days;
  p.ip_max_failures = config.lockout.ip_max_failures;
  p.ip_window_s = config.lockout.ip_window_s;
  p.max_entries = static_cast<std::size_t>(config.lockout.max_entries);
  return p;
}

password::PolicyOptions PolicyFrom(const config::Config& config) {
  password::PolicyOptions p;
  p.min_length = config.password.min_length;
  p.max_length = config.password.max_length;
  p.reject_common = config.password.reject_common;
  return p;
}

Status BootstrapAdmin(store::Store& store, const password::Hasher& hasher,
                      const config::Config& config, const std::map<std::string, std::string>& env,
                      crypto::Random& random, std::ostream& err) {
  Result<std::int64_t> count = store.CountUsers();
  if (!count.ok()) return count.status();
  if (*count > 0) return Status::Ok();

  SecretString password(EnvOr(env, "PORTCULLIS_ADMIN_PASSWORD"));
  bool generated = password.empty();
  if (generated) {
    password = SecretString(crypto::RandomAlphanumeric(random, kBootstrapPasswordLength));
  } else {
    password::PolicyError e =
        password::CheckPassword("admin", password.reveal(), PolicyFrom(config));
    if (e != password::PolicyError::kOk) {
      return InvalidArgumentError("PORTCULLIS_ADMIN_PASSWORD: " +
                                  password::DescribePolicyError(e, PolicyFrom(config)));
    }
  }
  Result<std::string> hash = hasher.Hash(password.reveal());
  if (!hash.ok()) return hash.status();
  store::NewUser user;
  user.id = crypto::RandomUuid(random);
  user.username = "admin";
  user.password_hash = *hash;
  user.roles = {"admin"};
  user.created_at = SystemClock().Now();
  Result<store::User> created = store.CreateUser(user);
  if (!created.ok()) return created.status();
  log::Info("user.created",
            {{"user_id", created->id}, {"username", "admin"}, {"actor", "bootstrap"}});
  if (generated) {
    // DESIGN §3: the one time a secret is shown, on the operator's terminal, never in the log.
    err << "\nportcullis: created administrator 'admin' with password: " << password.reveal()
        << "\nportcullis: it is shown only this once; change it after logging in.\n\n";
    err.flush();
  }
  return Status::Ok();
}

namespace {

// OpenStore, retried with back-off while the database is unreachable (DESIGN §6: instances may
// start before PostgreSQL does); gives up after kStartupRetryBudget.
Result<std::unique_ptr<store::Store>> OpenStoreRetrying(const config::Config& config) {
  constexpr auto kStartupRetryBudget = std::chrono::seconds(60);
  constexpr auto kMaxDelay = std::chrono::milliseconds(8000);
  const auto deadline = std::chrono::steady_clock::now() + kStartupRetryBudget;
  auto delay = std::chrono::milliseconds(250);
  while (true) {
    Result<std::unique_ptr<store::Store>> store = OpenStore(config);
    if (store.ok() || store.status().code() != StatusCode::kUnavailable ||
        std::chrono::steady_clock::now() + delay > deadline) {
      return store;
    }
    log::Warn("store.unavailable", {{"url", store::RedactDatabaseUrl(config.database.url)},
                                    {"error", store.status().message()},
                                    {"retry_in_ms", static_cast<std::int64_t>(delay.count())}});
    std::this_thread::sleep_for(delay);
    delay = std::min(delay * 2, kMaxDelay);
  }
}

}  // namespace

int Serve(const config::Config& config, const std::map<std::string, std::string>& env) {
  auto fail = [](const Status& s) {
    log::Error("serve.failed", {{"error", s.ToString()}});
    return 1;
  };
  crypto::Random& random = crypto::OsRandomInstance();
  SystemClock clock;
  for (const LibraryVersion& lib : LinkedLibraries()) {
    if (lib.below_minimum) {
      log::Warn("dependency.outdated",
                {{"library", lib.name}, {"version", lib.version}, {"minimum", lib.minimum}});
    }
  }

  if (Status s = EnsureDataDir(config); !s.ok()) return fail(s);
  Result<crypto::MasterKey> master_key = LoadOrCreateMasterKey(config, env, random);
  if (!master_key.ok()) return fail(master_key.status());
  Result<std::unique_ptr<store::Store>> store = OpenStoreRetrying(config);
  if (!store.ok()) return fail(store.status());
  Result<password::Hasher> hasher = password::Hasher::Create(HasherParams(config));
  if (!hasher.ok()) return fail(hasher.status());
  std::optional<jose::Algorithm> alg = jose::ParseAlgorithm(config.tokens.signing_alg);
  if (!alg) return fail(InvalidArgumentError("tokens.signing_alg"));
  // Instances started at the same moment on one database make one admin and one key set.
  Result<std::unique_ptr<token::KeyManager>> keys = UnavailableError("not loaded");
  Status bootstrapped = (*store)->RunExclusively("bootstrap", [&]() -> Status {
    if (Status s = BootstrapAdmin(**store, *hasher, config, env, random, std::cerr); !s.ok()) {
      return s;
    }
    keys = token::KeyManager::Create(**store, *master_key, *alg, clock, random);
    if (!keys.ok()) return keys.status();
    // Threat model F7: recovery codes issued before they were stored keyed are keyed now.
    Result<int> upgraded = authn::Mfa::UpgradeLegacyRecoveryCodes(**store, *master_key);
    if (!upgraded.ok()) return upgraded.status();
    if (*upgraded > 0) {
      log::Info("mfa.recovery_codes_upgraded", {{"count", *upgraded}});
    }
    return Status::Ok();
  });
  if (!bootstrapped.ok()) return fail(bootstrapped);

  token::TokenPolicy policy;
  policy.issuer = config.tokens.issuer;
  policy.audience = config.tokens.audience;
  policy.access_ttl_s = config.tokens.access_ttl_s;
  policy.leeway_s = config.tokens.leeway_s;
  // The in-memory halves of invalidation (DESIGN §4): loaded once, kept current by every write.
  token::RevocationSet revocations(policy.leeway_s);
  token::UserStateCache user_states;
  token::TokenService tokens(
      **keys, revocations, user_states, policy, clock, random,
      CacheLimits{config.tokens.cache_max_entries, config.tokens.cache_max_bytes});
  token::RefreshPolicy refresh_policy{config.tokens.refresh_idle_ttl_s,
                                      config.tokens.refresh_absolute_ttl_s,
                                      config.tokens.refresh_reuse_grace_s};
  token::RefreshService refresh(**store, refresh_policy, clock, random);
  authn::ClientAuthenticator client_authenticator(**store, clock);
  authn::BasicCache basic_cache(clock, config.basic.cache_ttl_s, random);
  // Successful API-key verifications, kept as long as Basic ones (DESIGN §3 basic.cache_ttl_s).
  authn::ApiKeyCache api_key_cache(clock, config.basic.cache_ttl_s);
  authn::ApiKeyUsage api_key_usage;
  // Changes made by the CLI or other instances (DESIGN §6) reach the in-memory state within a
  // second. The feed positions first, then the loads: a change in between is applied twice,
  // never lost.
  ChangeFollower follower(**store,
                          {.users = &user_states,
                           .api_keys = &api_key_cache,
                           .revocations = &revocations,
                           .keys = keys->get(),
                           .tokens = &tokens,
                           .clients = &client_authenticator},
                          clock);
  if (Status s = follower.Init(); !s.ok()) return fail(s);
  if (Status s = revocations.LoadFrom(**store, clock.Now()); !s.ok()) return fail(s);
  if (Status s = user_states.LoadFrom(**store); !s.ok()) return fail(s);
  Result<std::unique_ptr<authn::Throttle>> throttle =
      authn::Throttle::Create(**store, LockoutPolicyFrom(config), clock,
                              /*shared=*/(*store)->BackendName() == "postgres");
  if (!throttle.ok()) return fail(throttle.status());
  audit::AuditLog audit_log(**store, clock);
  admin::Directory directory(**store, audit_log, clock, &user_states, *hasher, PolicyFrom(config));
  admin::PermissionUsage permission_usage;
  // LoadConfig has validated every rule; compiling again only guards the invariant.
  Result<authz::ForwardRuleSet> forward_auth_rules =
      api::CompileForwardAuthRules(config.forward_auth_rules);
  if (!forward_auth_rules.ok()) return fail(forward_auth_rules.status());

  Metrics metrics;
  Counter& verifications = metrics.AddCounter("portcullis_password_verifications_total",
                                              "Argon2id/bcrypt verifications, dummy ones included");
  Counter& login_attempts = metrics.AddCounter("portcullis_login_attempts_total",
                                               "Password logins by result", {"result"});
  Counter& token_verifications = metrics.AddCounter(
      "portcullis_token_verifications_total", "Access token verifications by result", {"result"});
  Counter& forward_auth_decisions =
      metrics.AddCounter("portcullis_forward_auth_decisions_total",
                         "GET /v1/forward-auth answers by result", {"result"});
  Counter& api_key_verifications = metrics.AddCounter(
      "portcullis_api_key_verifications_total", "API-key verifications by result", {"result"});
  Counter& lockouts = metrics.AddCounter("portcullis_lockouts_total",
                                         "Lockouts and throttle trips by kind", {"kind"});
  // The results counted on every Bearer, forward-auth and API-key request: lock-free series.
  token_verifications.Preregister({"ok"});
  forward_auth_decisions.Preregister({"allowed", "public"});
  api_key_verifications.Preregister({"ok"});
  Counter& dpop_proofs = metrics.AddCounter("portcullis_dpop_proofs_total",
                                            "DPoP proofs checked, by result", {"result"});
  dpop_proofs.Preregister({"ok"});

  WorkerPool hash_pool("hash", config.password.hash_workers, config.password.hash_queue);
  // One thread per connection from the start; the rest (threads waiting in a group commit, or
  // for a connection) start when a burst needs them.
  WorkerPool db_pool(
      "db",
      std::max(config.database.pool_size,
               std::min<std::size_t>(config.database.pool_size * kDbThreadsPerConnection, 256)),
      kDbQueue, config.database.pool_size);
  metrics.AddGauge("portcullis_hash_queue_depth", "Password hashing jobs waiting",
                   [&hash_pool] { return static_cast<double>(hash_pool.QueueDepth()); });
  metrics.AddGauge("portcullis_token_cache_entries", "Access tokens in the verified-token cache",
                   [&tokens] { return static_cast<double>(tokens.CacheSize()); });
  metrics.AddGauge(
      "portcullis_token_cache_bytes",
      "Estimated bytes of the verified-token cache (what tokens.cache_max_bytes bounds)",
      [&tokens] { return static_cast<double>(tokens.CacheBytes()); });

  // Threat-model F8: the brute-force state held in memory is capped (LockoutPolicy::max_entries).
  authn::Throttle* throttle_ptr = throttle->get();
  metrics.AddGauge("portcullis_throttle_entries", "Brute-force throttle records held in memory",
                   [throttle_ptr] { return static_cast<double>(throttle_ptr->EntryCount()); });
  metrics.AddGauge(
      "portcullis_throttle_evictions",
      "Unlocked throttle records dropped from memory by its size cap (kept in the store)",
      [throttle_ptr] { return static_cast<double>(throttle_ptr->Stats().evictions); });

  authn::PasswordAuthenticator passwords(**store, *hasher, verifications, clock);

  authn::BrowserSessions browser_sessions(**store, clock, random, config.sessions.ttl_s);
  authn::Mfa mfa(**store, *master_key, clock, random, config.ui.product_name);
  // DPoP (DESIGN §9): proofs seen, and server nonces every instance of the deployment accepts.
  token::DpopReplayCache dpop_replay(static_cast<std::size_t>(config.dpop.replay_cache_entries));
  token::DpopNonces dpop_nonces(master_key->Derive("dpop-nonce"), clock);
  metrics.AddGauge("portcullis_dpop_replay_cache_entries", "DPoP proofs remembered against replay",
                   [&dpop_replay] { return static_cast<double>(dpop_replay.size()); });
  metrics.AddGauge("portcullis_dpop_replay_evictions",
                   "DPoP proofs forgotten before their time because the replay cache was full",
                   [&dpop_replay] { return static_cast<double>(dpop_replay.evicted_live()); });
  api::ApiContext ctx;
  ctx.config = &config;
  ctx.sessions = &browser_sessions;
  ctx.random = &random;
  ctx.master_key = &*master_key;
  ctx.mfa = &mfa;
  ctx.store = store->get();
  ctx.keys = keys->get();
  ctx.tokens = &tokens;
  ctx.passwords = &passwords;
  ctx.client_authenticator = &client_authenticator;
  ctx.throttle = throttle->get();
  ctx.basic_cache = &basic_cache;
  ctx.counters.lockouts = &lockouts;
  ctx.refresh = &refresh;
  ctx.revocations = &revocations;
  ctx.user_states = &user_states;
  ctx.audit = &audit_log;
  ctx.hasher = &*hasher;
  ctx.password_policy = PolicyFrom(config);
  ctx.hash_pool = &hash_pool;
  ctx.db_pool = &db_pool;
  ctx.metrics = &metrics;
  ctx.counters.login_attempts = &login_attempts;
  ctx.counters.token_verifications = &token_verifications;
  ctx.clock = &clock;
  ctx.directory = &directory;
  ctx.permission_usage = &permission_usage;
  ctx.api_keys = &api_key_cache;
  ctx.api_key_usage = &api_key_usage;
  ctx.counters.api_key_verifications = &api_key_verifications;
  ctx.counters.forward_auth = &forward_auth_decisions;
  ctx.counters.dpop_proofs = &dpop_proofs;
  ctx.dpop_replay = &dpop_replay;
  ctx.dpop_nonces = &dpop_nonces;
  ctx.dpop_replay_shared = (*store)->BackendName() == "postgres";
  ctx.forward_auth_rules = &*forward_auth_rules;

  http::Router router;
  api::AddRoutes(router, ctx);

  http::ServerOptions options;
  options.host = config.server.listen_host;
  options.port = config.server.listen_port;
  options.max_body_bytes = config.server.max_body_bytes;
  options.max_header_bytes = config.server.max_header_bytes;
  options.header_timeout = std::chrono::milliseconds(config.server.header_timeout_ms);
  options.idle_timeout = std::chrono::milliseconds(config.server.idle_timeout_ms);
  options.max_connections = config.server.max_connections;
  options.threads = config.server.threads;
  options.hsts_max_age = config.tls.hsts_max_age;
  std::vector<Cidr> proxies = config.server.trusted_proxies;
  options.is_trusted_proxy = [proxies](std::string_view peer) {
    std::optional<IpAddress> ip = ParseIp(peer);
    if (!ip) return false;
    for (const Cidr& c : proxies) {
      if (c.Contains(*ip)) return true;
    }
    return false;
  };
  if (config.tls.mode != "off") {
    Result<std::shared_ptr<boost::asio::ssl::context>> tls = SetUpTls(config);
    if (!tls.ok()) return fail(tls.status());
    options.tls = *tls;
    options.reload_tls = [&config] { return SetUpTls(config); };
  }
  AddHttpMetrics(metrics, options);

  // Housekeeping once a minute, off the network threads: scheduled key rotation, retiring keys
  // whose tokens have all expired, pruning expired revocations and refresh-token families.
  token::KeyManager* key_manager = keys->get();
  store::Store* db = store->get();
  const std::int64_t max_token_lifetime_s = config.tokens.access_ttl_s + config.tokens.leeway_s;
  const std::int64_t rotation_days = config.tokens.key_rotation_days;
  PeriodicTask housekeeping(std::chrono::seconds(60), [&, key_manager, db] {
    UnixSeconds now = clock.Now();
    if (key_manager->RotationDue(now, rotation_days)) {
      // One instance rotates; the others see the new key when they re-check under the lock.
      (void)db->RunExclusively("keys.rotate", [&]() -> Status {
        if (Status s = key_manager->Reload(); !s.ok()) return s;
        if (!key_manager->RotationDue(now, rotation_days)) return Status::Ok();
        Result<std::vector<token::RotatedKey>> rotated = key_manager->Rotate();
        if (!rotated.ok()) return rotated.status();
        audit::AuditContext system;
        system.actor = "system";
        api::RecordKeyRotation(audit_log, system, *rotated, key_manager->active_alg(), "schedule");
        return Status::Ok();
      });
    }
    (void)key_manager->RetireExpired(now, max_token_lifetime_s);
    revocations.Prune(now);
    (void)db->PruneRevokedJtis(now - config.tokens.leeway_s);
    (void)refresh.Prune();
    // Spent codes stay a day so that a late replay still finds (and revokes) what they issued.
    (void)db->PruneAuthorizationCodes(now - 86'400);
    (void)db->PruneBrowserSessions(now);
    (void)db->PruneDpopProofs(now);
    (void)throttle_ptr->Prune();
    (void)permission_usage.Flush(*db);
    (void)api_key_usage.Flush(*db);
    (void)db->PruneUserChanges(now - kUserChangeRetentionS);
    (void)db->PruneChanges(now - kUserChangeRetentionS);
  });
  // Argon2 buffers (~19 MiB per hash worker) kept between logins are unmapped once
  // password::kArgon2IdleRelease has passed without a hash, so RSS falls back 2-3 s after the
  // last login. Never waits for a hash in progress; takes microseconds.
  PeriodicTask argon2_release(std::chrono::seconds(1), [&] { hasher->ReleaseIdleMemory(); });
  follower.Start();

  Result<std::unique_ptr<http::Server>> server = http::Server::Create(options, router);
  if (!server.ok()) return fail(server.status());
  std::string scheme = options.tls ? "https" : "http";
  Status run = (*server)->Run([&] {
    log::Info("serve.listening", {{"address", config.server.listen_host},
                                  {"port", static_cast<std::int64_t>((*server)->port())},
                                  {"scheme", scheme},
                                  {"issuer", config.tokens.issuer},
                                  {"signing_kid", (*keys)->active_kid()}});
    // What start-up freed (config, migrations, bootstrap) goes back to the kernel now rather
    // than sitting in the heap of an idle server: about 0.2 MB.
    (void)malloc_trim(0);
  });
  housekeeping.Stop();
  argon2_release.Stop();
  follower.Stop();
  (void)permission_usage.Flush(*db);
  (void)api_key_usage.Flush(*db);
  hash_pool.Shutdown();
  db_pool.Shutdown();
  if (!run.ok()) return fail(run);
  log::Info("serve.stopped");
  log::Flush();  // also at exit; explicit so nothing depends on how main returns
  return 0;
}

}  // namespace portcullis::app
