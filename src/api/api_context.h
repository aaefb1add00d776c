// ApiContext: what the endpoint handlers may use, handed over by the composition root (src/app).
// Handlers parse and validate input, call one service, and render the result; policy lives in
// the services (authn, authz, token), never here (STYLE point 16).
#pragma once

#include <string>

#include "admin/directory.h"
#include "audit/audit_log.h"
#include "authn/api_key_cache.h"
#include "authn/basic_cache.h"
#include "authn/browser_sessions.h"
#include "authn/client_authenticator.h"
#include "authn/mfa.h"
#include "authn/password_authenticator.h"
#include "authn/throttle.h"
#include "authz/forward_auth.h"
#include "base/clock.h"
#include "base/metrics.h"
#include "base/worker_pool.h"
#include "config/config.h"
#include "crypto/master_key.h"
#include "crypto/random.h"
#include "http/router.h"
#include "password/hasher.h"
#include "password/policy.h"
#include "store/store.h"
#include "token/dpop_state.h"
#include "token/key_manager.h"
#include "token/refresh_service.h"
#include "token/revocation_set.h"
#include "token/token_service.h"
#include "token/user_state_cache.h"

namespace portcullis::api {

struct ApiMetrics {
  Counter* login_attempts = nullptr;         // {result}
  Counter* token_verifications = nullptr;    // {result}
  Counter* lockouts = nullptr;               // {kind}
  Counter* api_key_verifications = nullptr;  // {result}; optional
  Counter* forward_auth = nullptr;           // {result}: allowed, public, unauthenticated,
                                             // missing_permission, no_rule, bad_path, bad_request
  Counter* dpop_proofs = nullptr;            // {result}: ok or a jose::DpopError name
};

struct ApiContext {
  const config::Config* config = nullptr;
  store::Store* store = nullptr;
  token::KeyManager* keys = nullptr;
  token::TokenService* tokens = nullptr;
  authn::PasswordAuthenticator* passwords = nullptr;
  authn::ClientAuthenticator* client_authenticator = nullptr;
  authn::Throttle* throttle = nullptr;       // brute-force defence for every password/secret check
  authn::BasicCache* basic_cache = nullptr;  // successful HTTP Basic verifications
  token::RefreshService* refresh = nullptr;
  token::RevocationSet* revocations = nullptr;
  token::UserStateCache* user_states = nullptr;
  audit::AuditLog* audit = nullptr;
  const password::Hasher* hasher = nullptr;
  password::PolicyOptions password_policy;
  WorkerPool* hash_pool = nullptr;  // Argon2id verifications (with their user lookup)
  WorkerPool* db_pool = nullptr;    // every other database call
  Metrics* metrics = nullptr;
  ApiMetrics counters;
  const Clock* clock = nullptr;
  const http::Router* router = nullptr;                // the route table, for /openapi.json
  admin::Directory* directory = nullptr;               // user and role administration, registration
  admin::PermissionUsage* permission_usage = nullptr;  // passed permission checks (access review)
  authn::ApiKeyCache* api_keys = nullptr;       // successful API-key verifications; null = off
  authn::ApiKeyUsage* api_key_usage = nullptr;  // last-used times, flushed by housekeeping
  // [[forward_auth.rule]], compiled once at start-up; null = no rules (deny everything).
  const authz::ForwardRuleSet* forward_auth_rules = nullptr;
  authn::BrowserSessions* sessions = nullptr;     // browser sign-in sessions (DESIGN §8)
  crypto::Random* random = nullptr;               // the OS CSPRNG (codes, CSRF tokens)
  const crypto::MasterKey* master_key = nullptr;  // seals sign-in tickets between the two steps
  authn::Mfa* mfa = nullptr;                      // TOTP (DESIGN §8)
  // DPoP (DESIGN §9): proofs seen in this process; server nonces; whether proofs must also be
  // recorded in the store because several instances share it (PostgreSQL).
  token::DpopReplayCache* dpop_replay = nullptr;
  token::DpopNonces* dpop_nonces = nullptr;
  bool dpop_replay_shared = false;
};

}  // namespace portcullis::api
