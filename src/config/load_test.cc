#include "config/load.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <thread>

namespace portcullis::config {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

class LoadConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (std::filesystem::temp_directory_path() / "config_test.XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // Writes `contents` to a file in the temp dir and returns its path.
  std::string Write(const std::string& name, const std::string& contents) {
    const std::string path = (dir_ / name).string();
    std::ofstream(path) << contents;
    return path;
  }

  // Loads with only a config file holding `toml`.
  Result<Config> LoadToml(const std::string& toml) {
    LoadInputs in;
    in.config_file = Write("portcullis.toml", toml);
    return LoadConfig(in);
  }

  // Loads with only the given --set arguments.
  static Result<Config> LoadSet(std::vector<std::string> set_args) {
    LoadInputs in;
    in.set_args = std::move(set_args);
    return LoadConfig(in);
  }

  // The error message, or "OK" when loading succeeded (so EXPECT_EQ shows it on failure).
  static std::string ErrorOf(const Result<Config>& r) {
    if (r.ok()) return "OK";
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << r.status().ToString();
    return r.status().message();
  }

  std::filesystem::path dir_;
};

unsigned Cores() { return std::max(1u, std::thread::hardware_concurrency()); }

TEST_F(LoadConfigTest, EmptyInputsGiveEveryDocumentedDefault) {
  Result<Config> r = LoadConfig(LoadInputs{});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const Config& c = *r;
  EXPECT_EQ(c.data_dir, "./data");
  EXPECT_EQ(c.server.listen, "127.0.0.1:8443");
  EXPECT_EQ(c.server.listen_host, "127.0.0.1");
  EXPECT_EQ(c.server.listen_port, 8443);
  EXPECT_EQ(c.server.max_body_bytes, 65536u);
  EXPECT_EQ(c.server.max_header_bytes, 8192u);
  EXPECT_EQ(c.server.header_timeout_ms, 10000);
  EXPECT_EQ(c.server.idle_timeout_ms, 60000);
  EXPECT_EQ(c.server.max_connections, 10000u);
  EXPECT_EQ(c.server.threads, Cores());
  EXPECT_FALSE(c.server.behind_tls_proxy);
  EXPECT_TRUE(c.server.trusted_proxies.empty());
  EXPECT_EQ(c.tls.mode, "auto");
  EXPECT_EQ(c.tls.cert_file, "");
  EXPECT_EQ(c.tls.key_file, "");
  EXPECT_EQ(c.tls.min_version, "1.2");
  EXPECT_EQ(c.tls.hsts_max_age, 31536000);
  EXPECT_EQ(c.database.url, "sqlite:./data/portcullis.db");
  EXPECT_EQ(c.database.pool_size, 4u);
  EXPECT_EQ(c.tokens.issuer, "https://127.0.0.1:8443");
  EXPECT_THAT(c.tokens.audience, ElementsAre("portcullis"));
  EXPECT_EQ(c.tokens.access_ttl_s, 900);
  EXPECT_EQ(c.tokens.refresh_idle_ttl_s, 1209600);
  EXPECT_EQ(c.tokens.refresh_absolute_ttl_s, 2592000);
  EXPECT_EQ(c.tokens.refresh_reuse_grace_s, 0);
  EXPECT_EQ(c.tokens.leeway_s, 30);
  EXPECT_EQ(c.tokens.signing_alg, "EdDSA");
  EXPECT_EQ(c.tokens.key_rotation_days, 30);
  EXPECT_EQ(c.tokens.cache_max_entries, 100000u);
  EXPECT_EQ(c.tokens.cache_max_bytes, std::size_t{16} << 20);
  EXPECT_EQ(c.password.argon2_memory_kib, 19456u);
  EXPECT_EQ(c.password.argon2_iterations, 2u);
  EXPECT_EQ(c.password.argon2_parallelism, 1u);
  EXPECT_EQ(c.password.min_length, 12u);
  EXPECT_EQ(c.password.max_length, 256u);
  EXPECT_TRUE(c.password.reject_common);
  EXPECT_EQ(c.password.hash_workers, Cores());
  EXPECT_EQ(c.password.hash_queue, 256u);
  EXPECT_EQ(c.lockout.max_failures, 5);
  EXPECT_EQ(c.lockout.base_lock_s, 60);
  EXPECT_EQ(c.lockout.max_lock_s, 3600);
  EXPECT_EQ(c.lockout.account_max_failures, 100);
  EXPECT_EQ(c.lockout.account_window_s, 3600);
  EXPECT_EQ(c.lockout.known_source_days, 30);
  EXPECT_EQ(c.lockout.ip_max_failures, 50);
  EXPECT_EQ(c.lockout.ip_window_s, 300);
  EXPECT_EQ(c.lockout.max_entries, 100000);
  EXPECT_EQ(c.apikeys.default_ttl_days, 0);
  EXPECT_TRUE(c.basic.enabled);
  EXPECT_EQ(c.basic.cache_ttl_s, 30);
  EXPECT_FALSE(c.registration.open);
  EXPECT_THAT(c.registration.default_roles, ElementsAre("user"));
  EXPECT_TRUE(c.oauth2.password_grant);
  EXPECT_EQ(c.master_key.file, "./data/master.key");
  EXPECT_TRUE(c.forward_auth_rules.empty());
  EXPECT_EQ(c.log.level, "info");
  EXPECT_EQ(c.log.format, "json");
}

TEST_F(LoadConfigTest, FileSetsKeysInEverySection) {
  Result<Config> r = LoadToml(R"(
data_dir = "/var/lib/pc"
[server]
listen = "0.0.0.0:9000"
behind_tls_proxy = true
trusted_proxies = ["10.0.0.0/8", "::1"]
threads = 3
[tls]
mode = "off"
min_version = "1.3"
[database]
pool_size = 8
[tokens]
audience = ["api", "portcullis"]
access_ttl_s = 600
signing_alg = "ES256"
[password]
argon2_memory_kib = 65536
hash_workers = 2
[lockout]
max_failures = 3
[apikeys]
default_ttl_days = 90
[basic]
enabled = false
[registration]
open = true
default_roles = []
[oauth2]
password_grant = false
[master_key]
file = "/etc/pc/master.key"
[log]
level = "debug"
format = "text"
)");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const Config& c = *r;
  EXPECT_EQ(c.data_dir, "/var/lib/pc");
  EXPECT_EQ(c.server.listen_host, "0.0.0.0");
  EXPECT_EQ(c.server.listen_port, 9000);
  EXPECT_TRUE(c.server.behind_tls_proxy);
  ASSERT_EQ(c.server.trusted_proxies.size(), 2u);
  EXPECT_EQ(c.server.trusted_proxies[0].ToString(), "10.0.0.0/8");
  EXPECT_EQ(c.server.trusted_proxies[1].ToString(), "::1/128");
  EXPECT_EQ(c.server.threads, 3u);
  EXPECT_EQ(c.tls.mode, "off");
  EXPECT_EQ(c.tls.min_version, "1.3");
  EXPECT_EQ(c.database.url, "sqlite:/var/lib/pc/portcullis.db");
  EXPECT_EQ(c.database.pool_size, 8u);
  EXPECT_EQ(c.tokens.issuer, "http://0.0.0.0:9000");
  EXPECT_THAT(c.tokens.audience, ElementsAre("api", "portcullis"));
  EXPECT_EQ(c.tokens.access_ttl_s, 600);
  EXPECT_EQ(c.tokens.signing_alg, "ES256");
  EXPECT_EQ(c.password.argon2_memory_kib, 65536u);
  EXPECT_EQ(c.password.hash_workers, 2u);
  EXPECT_EQ(c.lockout.max_failures, 3);
  EXPECT_EQ(c.apikeys.default_ttl_days, 90);
  EXPECT_FALSE(c.basic.enabled);
  EXPECT_TRUE(c.registration.open);
  EXPECT_TRUE(c.registration.default_roles.empty());
  EXPECT_FALSE(c.oauth2.password_grant);
  EXPECT_EQ(c.master_key.file, "/etc/pc/master.key");
  EXPECT_EQ(c.log.level, "debug");
  EXPECT_EQ(c.log.format, "text");
}

TEST_F(LoadConfigTest, ListenPrecedenceIsFlagsThenEnvThenFileThenDefault) {
  LoadInputs in;
  in.config_file = Write("a.toml", "[server]\nlisten = \"127.0.0.1:1001\"\n");
  in.env["PORTCULLIS_LISTEN"] = "127.0.0.1:1002";
  in.set_args = {"server.listen=127.0.0.1:1003"};
  in.listen = "127.0.0.1:1004";
  EXPECT_EQ(LoadConfig(in)->server.listen_port, 1004);
  in.listen.reset();
  EXPECT_EQ(LoadConfig(in)->server.listen_port, 1003);
  in.set_args.clear();
  EXPECT_EQ(LoadConfig(in)->server.listen_port, 1002);
  in.env.clear();
  EXPECT_EQ(LoadConfig(in)->server.listen_port, 1001);
  in.config_file.reset();
  EXPECT_EQ(LoadConfig(in)->server.listen_port, 8443);
}

TEST_F(LoadConfigTest, DataDirPrecedenceIsFlagThenSetThenEnvThenFile) {
  LoadInputs in;
  in.config_file = Write("a.toml", "data_dir = \"/file\"\n");
  in.env["PORTCULLIS_DATA_DIR"] = "/env";
  in.set_args = {"data_dir=/set"};
  in.data_dir = "/flag";
  EXPECT_EQ(LoadConfig(in)->data_dir, "/flag");
  in.data_dir.reset();
  EXPECT_EQ(LoadConfig(in)->data_dir, "/set");
  in.set_args.clear();
  EXPECT_EQ(LoadConfig(in)->data_dir, "/env");
  in.env.clear();
  EXPECT_EQ(LoadConfig(in)->data_dir, "/file");
}

TEST_F(LoadConfigTest, EnvironmentVariablesMapToTheirKeys) {
  LoadInputs in;
  in.env["PORTCULLIS_CONFIG"] = Write("env.toml", "[lockout]\nmax_failures = 7\n");
  in.env["PORTCULLIS_DATA_DIR"] = "/srv/pc";
  in.env["PORTCULLIS_DATABASE_URL"] = "sqlite:/tmp/other.db";
  in.env["PORTCULLIS_LISTEN"] = "[::1]:8080";
  in.env["PORTCULLIS_UNRELATED"] = "ignored";
  Result<Config> r = LoadConfig(in);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->lockout.max_failures, 7);
  EXPECT_EQ(r->data_dir, "/srv/pc");
  EXPECT_EQ(r->database.url, "sqlite:/tmp/other.db");
  EXPECT_EQ(r->master_key.file, "/srv/pc/master.key");
  EXPECT_EQ(r->server.listen_host, "::1");
  EXPECT_EQ(r->server.listen_port, 8080);
  EXPECT_EQ(r->tokens.issuer, "https://[::1]:8080");
}

TEST_F(LoadConfigTest, ConfigFlagWinsOverConfigEnvironmentVariable) {
  LoadInputs in;
  in.env["PORTCULLIS_CONFIG"] = Write("env.toml", "[lockout]\nmax_failures = 7\n");
  in.config_file = Write("flag.toml", "[lockout]\nmax_failures = 9\n");
  EXPECT_EQ(LoadConfig(in)->lockout.max_failures, 9);
}

TEST_F(LoadConfigTest, EmptyEnvironmentVariableCountsAsUnset) {
  LoadInputs in;
  in.env["PORTCULLIS_LISTEN"] = "";
  in.env["PORTCULLIS_CONFIG"] = "";
  Result<Config> r = LoadConfig(in);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->server.listen, "127.0.0.1:8443");
}

TEST_F(LoadConfigTest, SetReadsTypedTomlValues) {
  Result<Config> r = LoadSet({"lockout.max_failures=5", "lockout.max_failures=8",
                              "basic.enabled=false", "tokens.audience=[\"api\",\"portcullis\"]",
                              "registration.default_roles=[]", "log.level=\"warn\""});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->lockout.max_failures, 8);  // the last --set wins
  EXPECT_FALSE(r->basic.enabled);
  EXPECT_THAT(r->tokens.audience, ElementsAre("api", "portcullis"));
  EXPECT_TRUE(r->registration.default_roles.empty());
  EXPECT_EQ(r->log.level, "warn");
}

TEST_F(LoadConfigTest, SetTakesPlainStringsWhenValueIsNotToml) {
  Result<Config> r = LoadSet({"log.format=text", "tokens.issuer=https://auth.example.com",
                              "database.url=sqlite:/tmp/x.db", "tokens.audience=api",
                              "server.trusted_proxies=192.168.0.0/16"});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->log.format, "text");
  EXPECT_EQ(r->tokens.issuer, "https://auth.example.com");
  EXPECT_EQ(r->database.url, "sqlite:/tmp/x.db");
  EXPECT_THAT(r->tokens.audience, ElementsAre("api"));
  ASSERT_EQ(r->server.trusted_proxies.size(), 1u);
  EXPECT_EQ(r->server.trusted_proxies[0].ToString(), "192.168.0.0/16");
}

TEST_F(LoadConfigTest, SetOnStringKeyKeepsRawTextOfNumbersAndDates) {
  Result<Config> r = LoadSet({"tls.min_version=1.3", "master_key.file=1979-05-27"});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->tls.min_version, "1.3");
  EXPECT_EQ(r->master_key.file, "1979-05-27");
}

TEST_F(LoadConfigTest, SetValueCannotInjectFurtherKeys) {
  Result<Config> r = LoadSet({"master_key.file=x\n[lockout]\nmax_failures = 1"});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->master_key.file, "x\n[lockout]\nmax_failures = 1");
  EXPECT_EQ(r->lockout.max_failures, 5);
}

TEST_F(LoadConfigTest, SetWithoutEqualsSignIsRejected) {
  EXPECT_EQ(ErrorOf(LoadSet({"lockout.max_failures"})),
            "invalid --set \"lockout.max_failures\": expected KEY=VALUE");
  EXPECT_EQ(ErrorOf(LoadSet({"=5"})), "invalid --set \"=5\": expected KEY=VALUE");
}

TEST_F(LoadConfigTest, UnknownKeyInFileIsNamedWithFileAndLine) {
  LoadInputs in;
  in.config_file = Write("bad.toml", "[server]\nlisten = \"127.0.0.1:1\"\nlistn = \"x\"\n");
  EXPECT_EQ(ErrorOf(LoadConfig(in)),
            "unknown configuration key 'server.listn' (at " + *in.config_file + ":3)");
}

TEST_F(LoadConfigTest, UnknownSectionAndTopLevelKeyInFileAreNamed) {
  EXPECT_THAT(ErrorOf(LoadToml("[sever]\nlisten = \"x\"\n")),
              HasSubstr("unknown configuration key 'sever' (at "));
  EXPECT_THAT(ErrorOf(LoadToml("datadir = \"x\"\n")),
              HasSubstr("unknown configuration key 'datadir' (at "));
}

TEST_F(LoadConfigTest, UnknownKeyInSetIsNamed) {
  EXPECT_EQ(ErrorOf(LoadSet({"server.listn=127.0.0.1:1"})),
            "unknown configuration key 'server.listn' (from --set)");
  EXPECT_EQ(ErrorOf(LoadSet({"server=1"})), "unknown configuration key 'server' (from --set)");
  EXPECT_EQ(ErrorOf(LoadSet({"server.listen_port=1"})),
            "unknown configuration key 'server.listen_port' (from --set)");
}

TEST_F(LoadConfigTest, WrongTypeNamesKeyExpectationAndValue) {
  EXPECT_EQ(ErrorOf(LoadSet({"lockout.max_failures=abc"})),
            "invalid value for 'lockout.max_failures': expected an integer between 1 and 1000, "
            "got \"abc\" (from --set)");
  EXPECT_EQ(ErrorOf(LoadSet({"basic.enabled=yes"})),
            "invalid value for 'basic.enabled': expected true or false, got \"yes\" (from --set)");
  EXPECT_EQ(ErrorOf(LoadSet({"tokens.access_ttl_s=1.5"})),
            "invalid value for 'tokens.access_ttl_s': expected an integer between 1 and 3600, "
            "got 1.5 (from --set)");
  LoadInputs in;
  in.config_file = Write("t.toml", "[tls]\nmin_version = 1.2\n");
  EXPECT_EQ(ErrorOf(LoadConfig(in)),
            "invalid value for 'tls.min_version': expected \"1.2\" or \"1.3\", got 1.2 (at " +
                *in.config_file + ":2)");
  EXPECT_THAT(ErrorOf(LoadToml("server = 5\n")),
              HasSubstr("invalid value for 'server': expected a table [server], got 5"));
  EXPECT_THAT(ErrorOf(LoadToml("[tokens]\naudience = [1, 2]\n")),
              HasSubstr("invalid value for 'tokens.audience': expected a non-empty array of "
                        "non-empty strings, got an array"));
}

TEST_F(LoadConfigTest, IntegerRangesAreEnforcedWithTheKeyNamed) {
  EXPECT_EQ(ErrorOf(LoadSet({"tokens.access_ttl_s=3601"})),
            "'tokens.access_ttl_s' must be between 1 and 3600, got 3601 (from --set)");
  EXPECT_EQ(ErrorOf(LoadSet({"tokens.access_ttl_s=0"})),
            "'tokens.access_ttl_s' must be between 1 and 3600, got 0 (from --set)");
  EXPECT_EQ(ErrorOf(LoadSet({"lockout.max_failures=0"})),
            "'lockout.max_failures' must be between 1 and 1000, got 0 (from --set)");
  EXPECT_EQ(ErrorOf(LoadSet({"password.argon2_memory_kib=7"})),
            "'password.argon2_memory_kib' must be between 8 and 4194304, got 7 (libsodium's "
            "Argon2id accepts 8 KiB to 4 GiB) (from --set)");
  EXPECT_EQ(ErrorOf(LoadSet({"lockout.account_max_failures=101"})),
            "'lockout.account_max_failures' must be between 1 and 100, got 101 (NIST SP 800-63B "
            "caps an account at 100 consecutive failures) (from --set)");
  EXPECT_EQ(ErrorOf(LoadSet({"password.min_length=7"})),
            "'password.min_length' must be between 8 and 4096, got 7 (NIST SP 800-63B requires at "
            "least 8 characters) (from --set)");
  EXPECT_EQ(ErrorOf(LoadSet({"tls.hsts_max_age=-1"})),
            "'tls.hsts_max_age' must be between 0 and 315360000, got -1 (from --set)");
  EXPECT_EQ(ErrorOf(LoadSet({"server.max_body_bytes=0"})),
            "'server.max_body_bytes' must be between 1 and 1073741824, got 0 (from --set)");
  EXPECT_EQ(ErrorOf(LoadSet({"database.pool_size=0"})),
            "'database.pool_size' must be between 1 and 1024, got 0 (from --set)");
  EXPECT_EQ(ErrorOf(LoadSet({"server.threads=-1"})),
            "'server.threads' must be between 0 and 1024, got -1 (from --set)");
}

TEST_F(LoadConfigTest, Argon2ParallelismMustBeOneAndTheMessageSaysWhy) {
  EXPECT_EQ(ErrorOf(LoadSet({"password.argon2_parallelism=4"})),
            "'password.argon2_parallelism' must be 1, got 4 (libsodium computes Argon2id with a "
            "single lane, so hashes are always p=1; raise argon2_memory_kib or "
            "argon2_iterations instead) (from --set)");
}

TEST_F(LoadConfigTest, EnumeratedStringsAreChecked) {
  EXPECT_EQ(ErrorOf(LoadSet({"tls.mode=on"})),
            "invalid value for 'tls.mode': expected \"auto\", \"off\" or \"files\", got \"on\" "
            "(from --set)");
  EXPECT_EQ(ErrorOf(LoadSet({"tls.min_version=1.1"})),
            "invalid value for 'tls.min_version': expected \"1.2\" or \"1.3\", got \"1.1\" "
            "(from --set)");
  EXPECT_EQ(ErrorOf(LoadSet({"tokens.signing_alg=HS256"})),
            "invalid value for 'tokens.signing_alg': expected \"EdDSA\", \"ES256\" or \"RS256\", "
            "got \"HS256\" (from --set)");
  EXPECT_EQ(ErrorOf(LoadSet({"log.level=verbose"})),
            "invalid value for 'log.level': expected \"debug\", \"info\", \"warn\" or \"error\", "
            "got \"verbose\" (from --set)");
  EXPECT_EQ(ErrorOf(LoadSet({"log.format=xml"})),
            "invalid value for 'log.format': expected \"json\" or \"text\", got \"xml\" "
            "(from --set)");
}

TEST_F(LoadConfigTest, CrossKeyRulesAreEnforced) {
  EXPECT_EQ(ErrorOf(LoadSet({"tokens.refresh_idle_ttl_s=100", "tokens.refresh_absolute_ttl_s=99"})),
            "'tokens.refresh_absolute_ttl_s' (99) must be >= 'tokens.refresh_idle_ttl_s' (100)");
  EXPECT_EQ(ErrorOf(LoadSet({"password.min_length=300"})),
            "'password.min_length' (300) must be <= 'password.max_length' (256)");
  EXPECT_EQ(ErrorOf(LoadSet({"lockout.base_lock_s=600", "lockout.max_lock_s=60"})),
            "'lockout.max_lock_s' (60) must be >= 'lockout.base_lock_s' (600)");
  EXPECT_EQ(ErrorOf(LoadSet({"tokens.issuer=auth.example.com"})),
            "invalid value for 'tokens.issuer': expected an http(s) URL, got \"auth.example.com\"");
  EXPECT_EQ(ErrorOf(LoadSet({"data_dir=\"\""})), "invalid value for 'data_dir': must not be empty");
}

TEST_F(LoadConfigTest, TrustedProxiesMustBeCidrs) {
  EXPECT_EQ(ErrorOf(LoadSet({"server.trusted_proxies=[\"10.0.0.0/8\", \"10.0.0.1/8\"]"})),
            "invalid value for 'server.trusted_proxies': \"10.0.0.1/8\" is not a CIDR network like "
            "\"10.0.0.0/8\" or \"2001:db8::/32\" (host bits must be zero) (from --set)");
  EXPECT_THAT(ErrorOf(LoadSet({"server.trusted_proxies=proxy.local"})),
              HasSubstr("\"proxy.local\" is not a CIDR network"));
}

TEST_F(LoadConfigTest, ListenMustBeHostColonPort) {
  for (const char* bad :
       {"8443", "127.0.0.1", "127.0.0.1:", "127.0.0.1:65536", "127.0.0.1:-1", "::1:8443",
        "[::1]8443", "[127.0.0.1]:80", "[::1]:", ":8443", "bad host:1", "127.0.0.1:08443x"}) {
    EXPECT_EQ(ErrorOf(LoadSet({std::string("server.listen=") + bad})),
              std::string("invalid value for 'server.listen': expected HOST:PORT or "
                          "[IPV6]:PORT, got \"") +
                  bad + "\"")
        << bad;
  }
  Result<Config> r = LoadSet({"server.listen=localhost:0"});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->server.listen_host, "localhost");
  EXPECT_EQ(r->server.listen_port, 0);
}

TEST_F(LoadConfigTest, TlsOffIsAllowedOnLoopback) {
  for (const char* listen : {"127.0.0.1:8080", "127.1.2.3:8080", "[::1]:8080", "localhost:80"}) {
    LoadInputs in;
    in.tls = "off";
    in.listen = listen;
    Result<Config> r = LoadConfig(in);
    ASSERT_TRUE(r.ok()) << listen << ": " << r.status().ToString();
    EXPECT_EQ(r->tls.mode, "off");
    EXPECT_EQ(r->tokens.issuer, std::string("http://") + listen);
  }
}

TEST_F(LoadConfigTest, TlsOffIsRejectedOnPublicAddressUnlessBehindProxy) {
  LoadInputs in;
  in.tls = "off";
  in.listen = "0.0.0.0:8080";
  EXPECT_EQ(ErrorOf(LoadConfig(in)),
            "'tls.mode' \"off\" (--tls off) is only allowed when 'server.listen' is a loopback "
            "address or 'server.behind_tls_proxy' = true; listen is \"0.0.0.0:8080\"");
  in.set_args = {"server.behind_tls_proxy=true"};
  Result<Config> r = LoadConfig(in);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->tls.mode, "off");
}

TEST_F(LoadConfigTest, TlsOffFromFileFollowsTheSameRule) {
  EXPECT_THAT(
      ErrorOf(LoadToml("[server]\nlisten = \"[2001:db8::1]:443\"\n[tls]\nmode = \"off\"\n")),
      HasSubstr("'tls.mode' \"off\" (--tls off) is only allowed"));
}

TEST_F(LoadConfigTest, TlsFlagWithTwoFilesSelectsFilesMode) {
  const std::string cert = Write("cert.pem", "cert");
  const std::string key = Write("key.pem", "key");
  LoadInputs in;
  in.tls = cert + "," + key;
  Result<Config> r = LoadConfig(in);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->tls.mode, "files");
  EXPECT_EQ(r->tls.cert_file, cert);
  EXPECT_EQ(r->tls.key_file, key);
}

TEST_F(LoadConfigTest, TlsFlagAndFilesAreValidated) {
  LoadInputs in;
  in.tls = "on";
  EXPECT_EQ(ErrorOf(LoadConfig(in)),
            "invalid value for '--tls': expected \"auto\", \"off\" or \"CERT_FILE,KEY_FILE\", got "
            "\"on\"");
  in.tls = "a,b,c";
  EXPECT_THAT(ErrorOf(LoadConfig(in)), HasSubstr("invalid value for '--tls'"));
  in.tls = (dir_ / "missing.pem").string() + "," + Write("key.pem", "k");
  EXPECT_EQ(ErrorOf(LoadConfig(in)), "invalid value for 'tls.cert_file': file \"" +
                                         (dir_ / "missing.pem").string() +
                                         "\" does not exist or is not a regular file");
  EXPECT_EQ(ErrorOf(LoadSet({"tls.mode=files"})),
            "'tls.mode' \"files\" needs both 'tls.cert_file' and 'tls.key_file'");
  EXPECT_EQ(ErrorOf(LoadSet({"tls.cert_file=" + Write("c.pem", "c")})),
            "'tls.cert_file' and 'tls.key_file' must be set together");
}

TEST_F(LoadConfigTest, PostgresUrlIsAcceptedAndNeverQuotedBack) {
  LoadInputs in;
  in.env["PORTCULLIS_DATABASE_URL"] = "postgresql://pc:hunter2@db/pc?sslmode=verify-full";
  Result<Config> config = LoadConfig(in);
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->database.url, "postgresql://pc:hunter2@db/pc?sslmode=verify-full");
  EXPECT_TRUE(LoadSet({"database.url=postgres://db/pc"}).ok());
  const std::string message = ErrorOf(LoadSet({"database.url=postgresql://pc:hunter2@db/ pc"}));
  EXPECT_EQ(message, "invalid value for 'database.url': contains whitespace");
  EXPECT_THAT(message, ::testing::Not(HasSubstr("hunter2")));
  EXPECT_EQ(ErrorOf(LoadSet({"database.url=mysql://x"})),
            "invalid value for 'database.url': expected \"sqlite:PATH\" or \"postgresql://...\"");
  EXPECT_THAT(ErrorOf(LoadSet({"database.url=sqlite:"})), HasSubstr("expected \"sqlite:PATH\""));
}

TEST_F(LoadConfigTest, DerivedDefaultsFollowDataDirAndListenButNotExplicitValues) {
  LoadInputs in;
  in.data_dir = "/d";
  in.listen = "127.0.0.1:9443";
  Result<Config> r = LoadConfig(in);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->database.url, "sqlite:/d/portcullis.db");
  EXPECT_EQ(r->master_key.file, "/d/master.key");
  EXPECT_EQ(r->tokens.issuer, "https://127.0.0.1:9443");

  in.set_args = {"database.url=sqlite:/x.db", "master_key.file=/keys/m",
                 "tokens.issuer=https://a.b", "server.threads=2", "password.hash_workers=5"};
  r = LoadConfig(in);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->database.url, "sqlite:/x.db");
  EXPECT_EQ(r->master_key.file, "/keys/m");
  EXPECT_EQ(r->tokens.issuer, "https://a.b");
  EXPECT_EQ(r->server.threads, 2u);
  EXPECT_EQ(r->password.hash_workers, 5u);
}

TEST_F(LoadConfigTest, TomlSyntaxErrorNamesFileAndLine) {
  LoadInputs in;
  in.config_file = Write("syntax.toml", "[server]\nlisten = \"127.0.0.1:1\"\nthreads = = 2\n");
  Result<Config> r = LoadConfig(in);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(r.status().message(),
              HasSubstr("syntax error in config file '" + *in.config_file + "' at line 3"));
}

TEST_F(LoadConfigTest, MissingConfigFileIsNotFound) {
  LoadInputs in;
  in.config_file = (dir_ / "nope.toml").string();
  Result<Config> r = LoadConfig(in);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(r.status().message(), "cannot read config file '" + *in.config_file + "'");
}

TEST_F(LoadConfigTest, ForwardAuthRulesAreReadInOrder) {
  Result<Config> r = LoadToml(R"(
[[forward_auth.rule]]
host = "app.example.com"
path = "/public/**"
require = "public"

[[forward_auth.rule]]
path = "/admin/**"
methods = ["GET", "POST"]
require = ["users:read", "users:write"]

[[forward_auth.rule]]
require = "authenticated"
)");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const std::vector<ForwardAuthRule>& rules = r->forward_auth_rules;
  ASSERT_EQ(rules.size(), 3u);
  EXPECT_EQ(rules[0].host, "app.example.com");
  EXPECT_EQ(rules[0].path, "/public/**");
  EXPECT_THAT(rules[0].methods, ElementsAre("*"));
  EXPECT_EQ(rules[0].kind, ForwardAuthRule::Kind::kPublic);
  EXPECT_EQ(rules[1].host, "*");
  EXPECT_THAT(rules[1].methods, ElementsAre("GET", "POST"));
  EXPECT_EQ(rules[1].kind, ForwardAuthRule::Kind::kPermissions);
  EXPECT_THAT(rules[1].permissions, ElementsAre("users:read", "users:write"));
  EXPECT_EQ(rules[2].kind, ForwardAuthRule::Kind::kAuthenticated);
  EXPECT_EQ(rules[2].path, "/**");
}

TEST_F(LoadConfigTest, ForwardAuthRulesCanBeSetFromCommandLine) {
  Result<Config> r = LoadSet({"forward_auth.rule=[{path=\"/x/**\", require=\"public\"}]"});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->forward_auth_rules.size(), 1u);
  EXPECT_EQ(r->forward_auth_rules[0].path, "/x/**");
  EXPECT_EQ(r->forward_auth_rules[0].kind, ForwardAuthRule::Kind::kPublic);
}

TEST_F(LoadConfigTest, ForwardAuthRuleFieldsAreValidated) {
  EXPECT_THAT(ErrorOf(LoadToml("[[forward_auth.rule]]\nhots = \"x\"\nrequire = \"public\"\n")),
              HasSubstr("unknown configuration key 'forward_auth.rule[0].hots' (at "));
  EXPECT_THAT(ErrorOf(LoadToml("[[forward_auth.rule]]\nrequire = \"public\"\n"
                               "[[forward_auth.rule]]\npath = \"/a\"\n")),
              HasSubstr("'forward_auth.rule[1].require' is required: \"public\", "
                        "\"authenticated\" or an array of permission strings"));
  EXPECT_THAT(ErrorOf(LoadToml("[[forward_auth.rule]]\nrequire = \"admin\"\n")),
              HasSubstr("invalid value for 'forward_auth.rule[0].require': expected \"public\", "
                        "\"authenticated\" or an array of permission strings, got \"admin\""));
  EXPECT_THAT(ErrorOf(LoadToml("[[forward_auth.rule]]\nrequire = []\n")),
              HasSubstr("invalid value for 'forward_auth.rule[0].require': expected a non-empty "
                        "array of permission strings, got an array"));
  EXPECT_THAT(
      ErrorOf(LoadToml("[[forward_auth.rule]]\nmethods = [\"get\"]\nrequire = \"public\"\n")),
      HasSubstr("invalid value for 'forward_auth.rule[0].methods': expected an array of "
                "upper-case HTTP methods or \"*\", got an array"));
  EXPECT_THAT(ErrorOf(LoadToml("[[forward_auth.rule]]\npath = \"admin\"\nrequire = \"public\"\n")),
              HasSubstr("invalid value for 'forward_auth.rule[0].path': expected a path pattern "
                        "starting with '/', got \"admin\""));
  EXPECT_THAT(ErrorOf(LoadToml("[forward_auth]\nrules = []\n")),
              HasSubstr("unknown configuration key 'forward_auth.rules'"));
  EXPECT_THAT(ErrorOf(LoadToml("[forward_auth]\nrule = 1\n")),
              HasSubstr("invalid value for 'forward_auth.rule': expected an array of tables"));
}

TEST_F(LoadConfigTest, ForwardAuthRuleGlobsAreValidatedNamingTheKey) {
  EXPECT_THAT(
      ErrorOf(LoadToml("[[forward_auth.rule]]\nrequire = \"public\"\n"
                       "[[forward_auth.rule]]\nrequire = \"public\"\n"
                       "[[forward_auth.rule]]\npath = \"/api**\"\nrequire = \"public\"\n")),
      HasSubstr("invalid value for 'forward_auth.rule[2].path': '**' must be a whole path segment "
                "(\"/a/**\"), got \"/api**\" (at "));
  EXPECT_THAT(
      ErrorOf(LoadToml("[[forward_auth.rule]]\npath = \"/a/../b\"\nrequire = \"public\"\n")),
      HasSubstr("invalid value for 'forward_auth.rule[0].path': a path glob has no \".\" "
                "or \"..\" segments, got \"/a/../b\""));
  EXPECT_THAT(ErrorOf(LoadToml("[[forward_auth.rule]]\npath = \"/a%2Fb\"\nrequire = \"public\"\n")),
              HasSubstr("invalid value for 'forward_auth.rule[0].path': a path glob holds only "
                        "letters, digits, '-', '.', '_', '~', '*' and '/', got \"/a%2Fb\""));
  EXPECT_THAT(ErrorOf(LoadToml("[[forward_auth.rule]]\nhost = \"app.example.com:443\"\n"
                               "require = \"public\"\n")),
              HasSubstr("invalid value for 'forward_auth.rule[0].host': a host glob has no port "
                        "(ports are ignored), got \"app.example.com:443\""));
  EXPECT_THAT(ErrorOf(LoadToml("[[forward_auth.rule]]\nhost = \"**.example.com\"\n"
                               "require = \"public\"\n")),
              HasSubstr("invalid value for 'forward_auth.rule[0].host': '**' has no meaning in a "
                        "host glob; use '*'"));
  EXPECT_THAT(ErrorOf(LoadSet({"forward_auth.rule=[{path=\"//x\", require=\"public\"}]"})),
              HasSubstr("invalid value for 'forward_auth.rule[0].path': a path glob has no empty "
                        "segments (\"//\"), got \"//x\" (from --set)"));
}

TEST_F(LoadConfigTest, ForwardAuthRulePermissionsAreValidatedNamingTheKey) {
  EXPECT_THAT(
      ErrorOf(LoadToml("[[forward_auth.rule]]\nrequire = [\"users:read\", \"Users Write\"]\n")),
      HasSubstr("invalid value for 'forward_auth.rule[0].require': \"Users Write\" is not "
                "a permission (':'-separated segments of [a-z0-9_.-], or '*') (at "));
  EXPECT_THAT(ErrorOf(LoadToml("[[forward_auth.rule]]\nrequire = [\"users:\"]\n")),
              HasSubstr("'forward_auth.rule[0].require': \"users:\" is not a permission"));
  Result<Config> ok = LoadToml(
      "[[forward_auth.rule]]\nhost = \"*.Example.com\"\npath = \"/a/*/b/**\"\n"
      "require = [\"articles:*\", \"*\"]\n");
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ(ok->forward_auth_rules[0].host, "*.Example.com");
}

TEST_F(LoadConfigTest, ConfigToTomlRoundTripsTheEffectiveConfig) {
  Result<Config> first = LoadToml(R"(
data_dir = "/var/lib/pc"
[server]
trusted_proxies = ["10.0.0.0/8", "2001:db8::/32"]
[tokens]
audience = ["a", "b"]
[[forward_auth.rule]]
path = "/admin/**"
methods = ["GET"]
require = ["users:read"]
[[forward_auth.rule]]
require = "public"
)");
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  const std::string toml = ConfigToToml(*first);
  EXPECT_THAT(toml, HasSubstr("data_dir = '/var/lib/pc'"));
  EXPECT_THAT(toml, HasSubstr("[lockout]"));
  EXPECT_THAT(toml, HasSubstr("max_failures = 5"));
  EXPECT_THAT(toml, HasSubstr("[[forward_auth.rule]]"));

  LoadInputs in;
  in.config_file = Write("shown.toml", toml);
  Result<Config> second = LoadConfig(in);
  ASSERT_TRUE(second.ok()) << second.status().ToString() << "\n" << toml;
  EXPECT_EQ(ConfigToToml(*second), toml);
  EXPECT_EQ(second->server.trusted_proxies, first->server.trusted_proxies);
  ASSERT_EQ(second->forward_auth_rules.size(), 2u);
  EXPECT_EQ(second->forward_auth_rules[0].kind, ForwardAuthRule::Kind::kPermissions);
  EXPECT_EQ(second->forward_auth_rules[1].kind, ForwardAuthRule::Kind::kPublic);
}

TEST(ReadEnvironmentTest, CopiesEveryPortcullisVariableAndNothingElse) {
  ASSERT_EQ(setenv("PORTCULLIS_LISTEN", "127.0.0.1:1234", 1), 0);
  ASSERT_EQ(setenv("PORTCULLIS_EMPTY", "", 1), 0);
  ASSERT_EQ(setenv("PORTCULLIS_WITH_EQUALS", "a=b", 1), 0);
  ASSERT_EQ(setenv("NOT_PORTCULLIS_X", "x", 1), 0);
  std::map<std::string, std::string> env = ReadEnvironment();
  EXPECT_EQ(env["PORTCULLIS_LISTEN"], "127.0.0.1:1234");
  EXPECT_EQ(env.count("PORTCULLIS_EMPTY"), 1u);
  EXPECT_EQ(env["PORTCULLIS_WITH_EQUALS"], "a=b");
  EXPECT_EQ(env.count("NOT_PORTCULLIS_X"), 0u);
  for (const auto& [name, value] : env) EXPECT_TRUE(name.starts_with("PORTCULLIS_")) << name;
  unsetenv("PORTCULLIS_LISTEN");
  unsetenv("PORTCULLIS_EMPTY");
  unsetenv("PORTCULLIS_WITH_EQUALS");
  unsetenv("NOT_PORTCULLIS_X");
}

TEST(ForwardAuthRuleKindTest, ToStringNamesEveryKind) {
  EXPECT_EQ(ToString(ForwardAuthRule::Kind::kPublic), "public");
  EXPECT_EQ(ToString(ForwardAuthRule::Kind::kAuthenticated), "authenticated");
  EXPECT_EQ(ToString(ForwardAuthRule::Kind::kPermissions), "permissions");
}

}  // namespace
}  // namespace portcullis::config
