// Configuration: one plain struct per TOML section of DESIGN §3, with the documented defaults.
//
// A default-constructed Config is the "nothing configured" state. Keys whose defaults depend on
// other keys (database.url, master_key.file, tokens.issuer, server.threads = 0,
// password.hash_workers = 0) are filled in by config::LoadConfig (load.h), which also validates
// every value; code outside this module should only ever see a Config that came from LoadConfig.
// The TOML key of each field is its section name and field name ("lockout.max_failures"), except
// the top-level `data_dir` and the `[[forward_auth.rule]]` array of tables.
//
// Config holds no secrets: the master key and the initial admin password come from the
// environment (PORTCULLIS_MASTER_KEY, PORTCULLIS_ADMIN_PASSWORD) and are read by the app as
// SecretString, never stored here.
//
// Thread-safety: plain values; share a const Config freely.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/ip.h"

namespace portcullis::config {

// [server]
struct ServerConfig {
  // "HOST:PORT" or "[IPV6]:PORT"; port 0 asks the OS for a free port (tests).
  std::string listen = "127.0.0.1:8443";
  // Derived from `listen` by LoadConfig; not TOML keys. The host has no brackets.
  std::string listen_host = "127.0.0.1";
  std::uint16_t listen_port = 8443;
  std::size_t max_body_bytes = 65536;
  std::size_t max_header_bytes = 8192;
  std::int64_t header_timeout_ms = 10000;
  std::int64_t idle_timeout_ms = 60000;
  std::size_t max_connections = 10000;
  // 0 = one per core; LoadConfig replaces 0 with std::thread::hardware_concurrency() (>= 1).
  unsigned threads = 0;
  // A TLS-terminating proxy sits in front: permits tls.mode "off" on a non-loopback address.
  bool behind_tls_proxy = false;
  // Peers whose X-Forwarded-For is believed; otherwise the socket peer is the client IP.
  std::vector<Cidr> trusted_proxies;
};

// [tls]
struct TlsConfig {
  // "auto": cert_file/key_file if set, else a self-signed certificate in the data dir.
  // "off": plain HTTP (loopback or behind_tls_proxy only). "files": cert_file and key_file.
  std::string mode = "auto";
  std::string cert_file;
  std::string key_file;
  std::string min_version = "1.2";  // "1.2" or "1.3"
  std::int64_t hsts_max_age = 31536000;
};

// [database]
struct DatabaseConfig {
  // "sqlite:PATH" (default "sqlite:<data_dir>/portcullis.db") or "postgresql://..." (not
  // available in this build; rejected by LoadConfig).
  std::string url;
  std::size_t pool_size = 4;
};

// [tokens]
struct TokensConfig {
  // Default "<scheme>://<listen>", the scheme actually served; set it to the public URL.
  std::string issuer;
  std::vector<std::string> audience = {"portcullis"};
  std::int64_t access_ttl_s = 900;  // 1..3600
  std::int64_t refresh_idle_ttl_s = 1209600;
  std::int64_t refresh_absolute_ttl_s = 2592000;  // >= refresh_idle_ttl_s
  std::int64_t refresh_reuse_grace_s = 0;
  std::int64_t leeway_s = 30;
  std::string signing_alg = "EdDSA";  // "EdDSA", "ES256" or "RS256"
  std::int64_t key_rotation_days = 30;
  // Bounds of the verified-token cache (token::TokenService::kDefaultCacheLimits).
  std::size_t cache_max_entries = 100'000;
  std::size_t cache_max_bytes = 16 << 20;
};

// [password]
struct PasswordConfig {
  std::uint32_t argon2_memory_kib = 19456;
  std::uint32_t argon2_iterations = 2;
  std::uint32_t argon2_parallelism = 1;  // must be 1: libsodium's Argon2id is single-lane
  std::size_t min_length = 12;
  std::size_t max_length = 256;
  bool reject_common = true;
  // 0 = one per core; LoadConfig replaces 0 with the core count (>= 1).
  unsigned hash_workers = 0;
  std::size_t hash_queue = 256;
};

// [lockout] (DESIGN §5)
struct LockoutConfig {
  int max_failures = 5;
  std::int64_t base_lock_s = 60;
  std::int64_t max_lock_s = 3600;
  int account_max_failures = 100;
  std::int64_t account_window_s = 3600;
  int known_source_days = 30;
  int ip_max_failures = 50;
  std::int64_t ip_window_s = 300;
  // Not in DESIGN §3: the cap of throttle records held in memory (threat-model F8).
  int max_entries = 100'000;
};

// [apikeys]
struct ApiKeysConfig {
  int default_ttl_days = 0;  // 0 = keys do not expire unless the creator says so
};

// [basic]
struct BasicConfig {
  bool enabled = true;
  std::int64_t cache_ttl_s = 30;
};

// [registration]
struct RegistrationConfig {
  bool open = false;
  std::vector<std::string> default_roles = {"user"};
};

// [oauth2]
struct OAuth2Config {
  bool password_grant = true;
};

// [ui]: branding of the server-rendered sign-in pages (DESIGN §8).
struct UiConfig {
  std::string product_name = "Portcullis";
  std::string logo_url;  // "" = no logo; else an https URL (or a path on this server)
};

// [sessions]: browser sessions behind the __Host-portcullis_session cookie (DESIGN §8).
struct SessionsConfig {
  std::int64_t ttl_s = 86'400;  // a session ends this long after sign-in
};

// [mfa] (DESIGN §8).
struct MfaConfig {
  // Users holding one of these roles must enrol TOTP; until then their tokens carry only the
  // permission to enrol.
  std::vector<std::string> required_roles;
};

// [dpop]: sender-constrained tokens (DESIGN §9, RFC 9449).
struct DpopConfig {
  std::int64_t proof_max_age_s = 60;  // a proof is accepted this long after its iat
  std::int64_t proof_leeway_s = 5;    // and this far before it (clock skew)
  bool require_nonce = false;         // demand a server nonce (DPoP-Nonce, use_dpop_nonce)
  // Proofs remembered against replay; when all hold live proofs, new proofs are refused (503).
  std::int64_t replay_cache_entries = 200'000;
};

// [master_key]
struct MasterKeyConfig {
  std::string file;  // default "<data_dir>/master.key"
};

// One [[forward_auth.rule]]. Rules are tried in order; the first whose host, path and method
// match decides; no match means deny.
struct ForwardAuthRule {
  // What a matching request needs (TOML `require`): "public", "authenticated", or an array of
  // permissions that must all be held.
  enum class Kind { kPublic, kAuthenticated, kPermissions };

  // Globs as in authz/forward_auth.h, checked by LoadConfig with authz::ValidateHostGlob /
  // ValidatePathGlob: host "*", "example.com" or "*.example.com" ('*' within one label, case
  // ignored, no port); path "/api/**" ('*' within one segment, "**" any number of segments).
  std::string host = "*";
  std::string path = "/**";
  std::vector<std::string> methods = {"*"};  // upper-case HTTP methods, or "*"
  // LoadConfig always sets this from the mandatory `require` key.
  Kind kind = Kind::kAuthenticated;
  // Non-empty exactly when kind == kPermissions; each one authz::IsValidPermission.
  std::vector<std::string> permissions;
};

// "public", "authenticated" or "permissions".
std::string_view ToString(ForwardAuthRule::Kind kind);

// [log]
struct LogConfig {
  std::string level = "info";   // "debug", "info", "warn" or "error"
  std::string format = "json";  // "json" or "text"
};

struct Config {
  std::string data_dir = "./data";  // top-level `data_dir`, --data-dir, PORTCULLIS_DATA_DIR
  ServerConfig server;
  TlsConfig tls;
  DatabaseConfig database;
  TokensConfig tokens;
  PasswordConfig password;
  LockoutConfig lockout;
  ApiKeysConfig apikeys;
  BasicConfig basic;
  RegistrationConfig registration;
  OAuth2Config oauth2;
  UiConfig ui;
  SessionsConfig sessions;
  MfaConfig mfa;
  DpopConfig dpop;
  MasterKeyConfig master_key;
  std::vector<ForwardAuthRule> forward_auth_rules;  // [[forward_auth.rule]]
  LogConfig log;
};

}  // namespace portcullis::config
