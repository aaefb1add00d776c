// The composition root: the one place that knows every concrete class (STYLE point 3). It turns a
// validated Config into a running server — data dir, master key, store and migrations, signing
// keys, bootstrap administrator, worker pools, TLS, routes — and the CLI subcommands reuse its
// pieces so they act on the same database as a running server.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <string>

#include "authn/throttle.h"
#include "base/secret.h"
#include "base/status.h"
#include "config/config.h"
#include "crypto/master_key.h"
#include "crypto/random.h"
#include "password/hasher.h"
#include "password/policy.h"
#include "store/store.h"

namespace portcullis::app {

// Creates the data directory (mode 0700) if missing.
Status EnsureDataDir(const config::Config& config);

// PORTCULLIS_MASTER_KEY (base64 of 32 bytes) if set, else the key file; when neither exists the
// file is created with mode 0600 and a warning is logged. Errors name the source, never the key.
// PORTCULLIS_PREVIOUS_MASTER_KEY, when set, becomes the key's previous key (MasterKey::SetPrevious:
// data sealed under it still opens), for rotating the master key (docs/deployment.md).
Result<crypto::MasterKey> LoadOrCreateMasterKey(const config::Config& config,
                                                const std::map<std::string, std::string>& env,
                                                crypto::Random& random);

// Opens the configured database (SQLite or PostgreSQL, by the URL's scheme) without migrating.
// kUnavailable when a PostgreSQL database cannot be reached (the message never holds the
// password).
Result<std::unique_ptr<store::Store>> OpenStoreUnmigrated(const config::Config& config);

// Opens the configured database and applies pending migrations (PostgreSQL: under an advisory
// lock, so instances starting together migrate once).
Result<std::unique_ptr<store::Store>> OpenStore(const config::Config& config);

password::Argon2Params HasherParams(const config::Config& config);
password::PolicyOptions PolicyFrom(const config::Config& config);
authn::LockoutPolicy LockoutPolicyFrom(const config::Config& config);

// On an empty database, creates user `admin` with role `admin`: password from
// PORTCULLIS_ADMIN_PASSWORD (must satisfy the password policy), else a random one printed once
// to `err`. Does nothing when any user exists.
Status BootstrapAdmin(store::Store& store, const password::Hasher& hasher,
                      const config::Config& config, const std::map<std::string, std::string>& env,
                      crypto::Random& random, std::ostream& err);

// Runs the server until SIGTERM/SIGINT; returns the process exit code.
int Serve(const config::Config& config, const std::map<std::string, std::string>& env);

}  // namespace portcullis::app
