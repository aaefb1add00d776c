// Loading the configuration: defaults < TOML file < environment < command-line flags
// (DESIGN §3), then derived defaults, then validation. Misconfiguration is fatal at start-up, so
// every problem comes back as an InvalidArgument Status whose message names the key, e.g.
//   unknown configuration key 'server.listn' (at /etc/portcullis.toml:3)
//   invalid value for 'lockout.max_failures': expected an integer >= 1, got "abc" (from --set)
//   'tokens.access_ttl_s' must be between 1 and 3600, got 7200 (at /etc/portcullis.toml:9)
// Messages never contain a secret (Config has none).
//
// Layers, lowest first:
//   1. defaults (config.h);
//   2. the TOML file named by LoadInputs::config_file, else by env PORTCULLIS_CONFIG, else none;
//   3. env PORTCULLIS_LISTEN -> server.listen, PORTCULLIS_DATA_DIR -> data_dir,
//      PORTCULLIS_DATABASE_URL -> database.url (an empty variable counts as unset);
//   4. flags: every --set in order, then --listen, --data-dir, --tls.
// A later layer replaces a whole value (arrays are not merged). After merging:
//   database.url    "" -> "sqlite:<data_dir>/portcullis.db"
//   master_key.file "" -> "<data_dir>/master.key"
//   tokens.issuer   "" -> "https://<listen>" ("http://<listen>" when tls.mode is "off")
//   server.threads, password.hash_workers 0 -> std::thread::hardware_concurrency() (>= 1)
//   server.listen_host / listen_port        <- parsed from server.listen
//
// Thread-safety: LoadConfig is a pure function of its inputs plus the file system (it reads the
// config file and checks that TLS files exist). ReadEnvironment reads `environ`; call it before
// starting threads that might setenv.
//
//   LoadInputs in;
//   in.env = ReadEnvironment();
//   in.config_file = flags.config;  // ...
//   Result<Config> config = LoadConfig(in);
//   if (!config.ok()) { std::cerr << config.status().message() << "\n"; return 2; }
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "config/config.h"

namespace portcullis::config {

struct LoadInputs {
  std::optional<std::string> config_file;  // --config FILE
  std::map<std::string, std::string> env;  // from ReadEnvironment(), or a test's own map
  std::vector<std::string> set_args;       // each "section.key=value" from --set, in order
  std::optional<std::string> listen;       // --listen HOST:PORT
  std::optional<std::string> data_dir;     // --data-dir DIR
  std::optional<std::string> tls;          // --tls auto|off|CERT,KEY
};

// Builds the effective configuration from `inputs` (see the layering above) and validates it.
// --set values are read as TOML values when they parse as one (`5`, `true`, `["a","b"]`, `"x"`),
// as plain strings otherwise; a key that takes a string (or a list of strings) always takes the
// raw text, so `--set tls.min_version=1.3` means "1.3", not the float 1.3. Returns
// InvalidArgument naming the key for an unknown key (in the file or in --set), a wrong type, an
// out-of-range value or a failed cross-key rule, InvalidArgument naming the file and line for a
// TOML syntax error, and NotFound when the config file cannot be read.
//
// Rules beyond types and ranges: server.listen is HOST:PORT or [IPV6]:PORT; tls.mode "off" only
// with a loopback listen host ("localhost" counts) or server.behind_tls_proxy = true; tls.mode
// "files" needs cert_file and key_file, which must name existing files whenever set (and are set
// together); refresh_absolute_ttl_s >= refresh_idle_ttl_s; max_lock_s >= base_lock_s;
// min_length <= max_length; argon2_parallelism = 1; database.url is "sqlite:PATH" (postgresql://
// is recognised and rejected: no PostgreSQL backend in this build); tokens.issuer is an http(s)
// URL; each trusted proxy is a CIDR without host bits (base/ip.h); every forward_auth rule has a
// `require` of "public", "authenticated" or a non-empty array of permissions, and methods that
// are upper-case HTTP methods or "*".
Result<Config> LoadConfig(const LoadInputs& inputs);

// Every PORTCULLIS_* variable of the process environment, name -> value. Besides the four that
// LoadConfig reads (PORTCULLIS_CONFIG, _LISTEN, _DATA_DIR, _DATABASE_URL) this includes the secret
// PORTCULLIS_MASTER_KEY and PORTCULLIS_ADMIN_PASSWORD, which the app consumes: treat the map as
// secret, never log or print it, and let it go out of scope once start-up is done.
std::map<std::string, std::string> ReadEnvironment();

// The effective configuration as a TOML document, every key included (derived values as
// resolved), in a form LoadConfig reads back to the same Config. For `portcullis config show`.
std::string ConfigToToml(const Config& config);

}  // namespace portcullis::config
