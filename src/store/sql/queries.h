// The SQL of the storage ports, shared by the SQLite and PostgreSQL backends (store/sql/
// sql_store.h runs it on either). Internal to store/.
//
// One dialect for both: parameters are written ?1, ?2, ... (SQLite's numbered form; the
// PostgreSQL connection rewrites them to $1, $2, ...), upserts use ON CONFLICT, "the later of two
// times" is a CASE (SQLite's two-argument MAX is PostgreSQL's GREATEST), and insertion order is
// the column `rowid` (SQLite's implicit one; an identity column of that name in the PostgreSQL
// schema). What truly differs (schema DDL, triggers, migration bookkeeping, locking) lives in
// each backend's migrations and connection layer.
//
// Thread-safety: immutable data.
#pragma once

#include <string_view>

namespace portcullis::store::sql {

// The later of two Unix times, in both dialects.
#define PORTCULLIS_LATER(a, b) "CASE WHEN " b " > " a " THEN " b " ELSE " a " END"

// Users with their roles, one row per (user, role), LEFT JOIN so role-less users appear too.
// Columns 0-8 are the user, 9 the role name (NULL if none). A single statement reads one
// consistent snapshot, so a user is never seen with half-updated roles.
#define PORTCULLIS_USER_COLUMNS                                                     \
  "u.id, u.username, u.username_normalized, u.email, u.password_hash, u.disabled, " \
  "u.credential_version, u.created_at, u.last_login_at, ur.role_name "

constexpr std::string_view kFindUserById =
    "SELECT " PORTCULLIS_USER_COLUMNS
    "FROM users u LEFT JOIN user_roles ur ON ur.user_id = u.id "
    "WHERE u.id = ?1 ORDER BY ur.role_name";
constexpr std::string_view kFindUserByNormalizedName =
    "SELECT " PORTCULLIS_USER_COLUMNS
    "FROM users u LEFT JOIN user_roles ur ON ur.user_id = u.id "
    "WHERE u.username_normalized = ?1 ORDER BY ur.role_name";
// ?1 cursor (exclusive; NULL = from the start), ?2 fetch limit, [?3, ?4) the username prefix
// range as a byte range ('' and NULL = no bound above when there is no prefix), so the unique
// index is searched, not scanned. ?5 role, ?6 disabled (0/1); NULL = no filter.
// The inner LIMIT pages users, not (user, role) rows.
constexpr std::string_view kQueryUsers =
    "SELECT " PORTCULLIS_USER_COLUMNS
    "FROM (SELECT * FROM users "
    "      WHERE username_normalized >= ?3 AND (?4 IS NULL OR username_normalized < ?4) "
    "        AND (?1 IS NULL OR username_normalized > ?1) "
    "        AND (?5 IS NULL OR EXISTS (SELECT 1 FROM user_roles f "
    "                                   WHERE f.user_id = users.id AND f.role_name = ?5)) "
    "        AND (?6 IS NULL OR disabled = ?6) "
    "      ORDER BY username_normalized LIMIT ?2) u "
    "LEFT JOIN user_roles ur ON ur.user_id = u.id "
    "ORDER BY u.username_normalized, ur.role_name";
#undef PORTCULLIS_USER_COLUMNS

constexpr std::string_view kInsertUser =
    "INSERT INTO users (id, username, username_normalized, email, password_hash, disabled, "
    "credential_version, created_at, last_login_at) "
    "VALUES (?1, ?2, ?3, ?4, ?5, 0, 1, ?6, NULL)";
constexpr std::string_view kRoleExists = "SELECT 1 FROM roles WHERE name = ?1";
constexpr std::string_view kInsertUserRole =
    "INSERT INTO user_roles (user_id, role_name) VALUES (?1, ?2) ON CONFLICT DO NOTHING";
constexpr std::string_view kCountUsers = "SELECT COUNT(*) FROM users";
constexpr std::string_view kUpdatePasswordHash =
    "UPDATE users SET password_hash = ?2 WHERE id = ?1";
constexpr std::string_view kRecordLogin = "UPDATE users SET last_login_at = ?2 WHERE id = ?1";
constexpr std::string_view kUpdateUserEmail = "UPDATE users SET email = ?2 WHERE id = ?1";
constexpr std::string_view kUserStateById =
    "SELECT id, credential_version, disabled FROM users WHERE id = ?1";
constexpr std::string_view kUsernameById = "SELECT username_normalized FROM users WHERE id = ?1";
constexpr std::string_view kRolesOfUser =
    "SELECT role_name FROM user_roles WHERE user_id = ?1 ORDER BY role_name";
constexpr std::string_view kDeleteUserRole =
    "DELETE FROM user_roles WHERE user_id = ?1 AND role_name = ?2";
constexpr std::string_view kCountRoleHolders =
    "SELECT COUNT(*) FROM user_roles WHERE role_name = ?1";
constexpr std::string_view kDeleteUserRoles = "DELETE FROM user_roles WHERE user_id = ?1";
constexpr std::string_view kDeleteUserPermissionUses =
    "DELETE FROM permission_uses WHERE user_id = ?1";
constexpr std::string_view kDeleteUserRefreshTokens =
    "DELETE FROM refresh_tokens WHERE user_id = ?1";
constexpr std::string_view kDeleteUserKnownSources =
    "DELETE FROM known_sources WHERE username_normalized = ?1";
constexpr std::string_view kDeleteUser = "DELETE FROM users WHERE id = ?1";

constexpr std::string_view kUserChangesSince =
    "SELECT seq, user_id FROM user_changes WHERE seq > ?1 ORDER BY seq LIMIT ?2";
constexpr std::string_view kLatestUserChange = "SELECT COALESCE(MAX(seq), 0) FROM user_changes";
constexpr std::string_view kPruneUserChanges = "DELETE FROM user_changes WHERE at < ?1";

// The WHERE makes the SELECT skip users that don't exist (and keeps SQLite's parser from reading
// ON CONFLICT as a join constraint). A later time wins; an earlier one never moves it back.
constexpr std::string_view kRecordPermissionUse =
    "INSERT INTO permission_uses (user_id, permission, last_used_at) "
    "SELECT ?1, ?2, ?3 WHERE EXISTS (SELECT 1 FROM users WHERE id = ?1) "
    "ON CONFLICT (user_id, permission) "
    "DO UPDATE SET last_used_at = " PORTCULLIS_LATER("permission_uses.last_used_at",
                                                     "excluded.last_used_at");
constexpr std::string_view kListPermissionUses =
    "SELECT user_id, permission, last_used_at FROM permission_uses ORDER BY user_id, permission";

constexpr std::string_view kUpsertRole =
    "INSERT INTO roles (name, description, created_at) VALUES (?1, ?2, ?3) "
    "ON CONFLICT (name) DO UPDATE SET description = excluded.description";
constexpr std::string_view kDeleteRolePermissions =
    "DELETE FROM role_permissions WHERE role_name = ?1";
constexpr std::string_view kInsertRolePermission =
    "INSERT INTO role_permissions (role_name, permission) VALUES (?1, ?2) ON CONFLICT DO NOTHING";
constexpr std::string_view kRolesWithPermissions =
    "SELECT r.name, r.description, r.created_at, rp.permission "
    "FROM roles r LEFT JOIN role_permissions rp ON rp.role_name = r.name "
    "WHERE ?1 IS NULL OR r.name = ?1 ORDER BY r.name, rp.permission";
// ?1 cursor (exclusive; NULL = from the start), ?2 fetch limit: a page of roles with their
// permissions (the LIMIT counts roles, not joined rows).
constexpr std::string_view kListRolesPage =
    "SELECT r.name, r.description, r.created_at, rp.permission "
    "FROM (SELECT name, description, created_at FROM roles "
    "WHERE ?1 IS NULL OR name > ?1 ORDER BY name LIMIT ?2) r "
    "LEFT JOIN role_permissions rp ON rp.role_name = r.name ORDER BY r.name, rp.permission";
constexpr std::string_view kInsertRole =
    "INSERT INTO roles (name, description, created_at) VALUES (?1, ?2, ?3)";
constexpr std::string_view kUpdateRoleDescription =
    "UPDATE roles SET description = ?2 WHERE name = ?1";
constexpr std::string_view kPermissionsOfRole =
    "SELECT permission FROM role_permissions WHERE role_name = ?1 ORDER BY permission";
constexpr std::string_view kDeleteRole = "DELETE FROM roles WHERE name = ?1";
constexpr std::string_view kDeleteRoleMemberships = "DELETE FROM user_roles WHERE role_name = ?1";
constexpr std::string_view kBumpRoleHolders =
    "UPDATE users SET credential_version = credential_version + 1 "
    "WHERE id IN (SELECT user_id FROM user_roles WHERE role_name = ?1) "
    "RETURNING id, credential_version, disabled";
constexpr std::string_view kUsersWithRole =
    "SELECT user_id FROM user_roles WHERE role_name = ?1 ORDER BY user_id";
constexpr std::string_view kPermissionsOfUser =
    "SELECT DISTINCT rp.permission FROM user_roles ur "
    "JOIN role_permissions rp ON rp.role_name = ur.role_name "
    "WHERE ur.user_id = ?1 ORDER BY rp.permission";

constexpr std::string_view kInsertSigningKey =
    "INSERT INTO signing_keys (kid, alg, state, sealed_private_key, public_jwk, created_at, "
    "deactivated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";
constexpr std::string_view kListSigningKeys =
    "SELECT kid, alg, state, sealed_private_key, public_jwk, created_at, deactivated_at "
    "FROM signing_keys ORDER BY created_at, rowid";
constexpr std::string_view kReplaceSealedPrivateKey =
    "UPDATE signing_keys SET sealed_private_key = ?2 WHERE kid = ?1";
constexpr std::string_view kUpdateSigningKeyState =
    "UPDATE signing_keys SET state = ?2, deactivated_at = ?3 WHERE kid = ?1";

constexpr std::string_view kBumpCredentialVersion =
    "UPDATE users SET credential_version = credential_version + 1 WHERE id = ?1 "
    "RETURNING credential_version";
// ?2 is 0 or 1: disabling bumps the credential version in the same statement.
constexpr std::string_view kSetUserDisabled =
    "UPDATE users SET disabled = ?2, credential_version = credential_version + ?2 WHERE id = ?1 "
    "RETURNING id, credential_version, disabled";
constexpr std::string_view kListUserStates =
    "SELECT id, credential_version, disabled FROM users ORDER BY id";

#define PORTCULLIS_REFRESH_COLUMNS                                            \
  "token_hash, family_id, user_id, client_id, scope, issued_at, expires_at, " \
  "family_expires_at, parent_hash, used_at, revoked_at, dpop_jkt "
constexpr std::string_view kInsertRefreshToken =
    "INSERT INTO refresh_tokens (" PORTCULLIS_REFRESH_COLUMNS
    ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)";
constexpr std::string_view kFindRefreshToken =
    "SELECT " PORTCULLIS_REFRESH_COLUMNS "FROM refresh_tokens WHERE token_hash = ?1";
// Several tokens can name the same parent after ReplaceUnusedSuccessor: the newest one wins.
constexpr std::string_view kFindSuccessor =
    "SELECT " PORTCULLIS_REFRESH_COLUMNS
    "FROM refresh_tokens WHERE parent_hash = ?1 ORDER BY rowid DESC LIMIT 1";
#undef PORTCULLIS_REFRESH_COLUMNS
constexpr std::string_view kRefreshTokenState =
    "SELECT family_id, used_at, revoked_at FROM refresh_tokens WHERE token_hash = ?1";
constexpr std::string_view kMarkRefreshTokenUsed =
    "UPDATE refresh_tokens SET used_at = ?2 "
    "WHERE token_hash = ?1 AND used_at IS NULL AND revoked_at IS NULL";
constexpr std::string_view kRevokeUnusedRefreshToken =
    "UPDATE refresh_tokens SET revoked_at = ?2 "
    "WHERE token_hash = ?1 AND used_at IS NULL AND revoked_at IS NULL";
constexpr std::string_view kRevokeRefreshFamily =
    "UPDATE refresh_tokens SET revoked_at = ?2 WHERE family_id = ?1 AND revoked_at IS NULL";
constexpr std::string_view kRevokeUserRefreshTokens =
    "UPDATE refresh_tokens SET revoked_at = ?2 WHERE user_id = ?1 AND revoked_at IS NULL";
constexpr std::string_view kRevokeClientRefreshTokens =
    "UPDATE refresh_tokens SET revoked_at = ?2 WHERE client_id = ?1 AND revoked_at IS NULL";
constexpr std::string_view kPruneRefreshTokens =
    "DELETE FROM refresh_tokens WHERE family_expires_at <= ?1";

// Re-revoking keeps the later expiry, so a jti is never un-revoked early.
constexpr std::string_view kAddRevokedJti =
    "INSERT INTO revoked_jtis (jti, expires_at) VALUES (?1, ?2) "
    "ON CONFLICT (jti) DO UPDATE SET expires_at = " PORTCULLIS_LATER("revoked_jtis.expires_at",
                                                                     "excluded.expires_at");
constexpr std::string_view kListRevokedJtis =
    "SELECT jti, expires_at FROM revoked_jtis WHERE expires_at > ?1 ORDER BY expires_at, jti";
constexpr std::string_view kPruneRevokedJtis = "DELETE FROM revoked_jtis WHERE expires_at <= ?1";

#define PORTCULLIS_CLIENT_COLUMNS                                                         \
  "client_id, name, secret_hash, grant_types, scopes, created_at, redirect_uris, "        \
  "token_endpoint_auth_method, post_logout_redirect_uris, id_token_signed_response_alg, " \
  "require_dpop "
constexpr std::string_view kInsertClient =
    "INSERT INTO clients (" PORTCULLIS_CLIENT_COLUMNS
    ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)";
constexpr std::string_view kFindClient =
    "SELECT " PORTCULLIS_CLIENT_COLUMNS "FROM clients WHERE client_id = ?1";
constexpr std::string_view kListClients =
    "SELECT " PORTCULLIS_CLIENT_COLUMNS
    "FROM clients WHERE ?1 IS NULL OR client_id > ?1 ORDER BY client_id LIMIT ?2";
#undef PORTCULLIS_CLIENT_COLUMNS
// DPoP proofs seen (RFC 9449 §11.1): one row per (key, jti) until it expires. ?1 key, ?2 expiry,
// ?3 now. A row whose time is over is taken over; a live one makes this a replay (no row changes).
constexpr std::string_view kRecordDpopProof =
    "INSERT INTO dpop_proofs (proof_key, expires_at) VALUES (?1, ?2) "
    "ON CONFLICT (proof_key) DO UPDATE SET expires_at = excluded.expires_at "
    "WHERE dpop_proofs.expires_at <= ?3";
constexpr std::string_view kPruneDpopProofs = "DELETE FROM dpop_proofs WHERE expires_at <= ?1";
constexpr std::string_view kDeleteClient = "DELETE FROM clients WHERE client_id = ?1";

#define PORTCULLIS_API_KEY_COLUMNS \
  "id, secret_hash, user_id, name, scopes, created_at, expires_at, last_used_at "
constexpr std::string_view kInsertApiKey = "INSERT INTO api_keys (" PORTCULLIS_API_KEY_COLUMNS
                                           ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, NULL)";
constexpr std::string_view kFindApiKey =
    "SELECT " PORTCULLIS_API_KEY_COLUMNS "FROM api_keys WHERE id = ?1";
// ?1 cursor (exclusive; NULL = from the start), ?2 fetch limit, ?3 owner (NULL = every owner).
constexpr std::string_view kListApiKeys =
    "SELECT " PORTCULLIS_API_KEY_COLUMNS
    "FROM api_keys WHERE (?1 IS NULL OR id > ?1) AND (?3 IS NULL OR user_id = ?3) "
    "ORDER BY id LIMIT ?2";
#undef PORTCULLIS_API_KEY_COLUMNS
constexpr std::string_view kUserExists = "SELECT 1 FROM users WHERE id = ?1";
constexpr std::string_view kDeleteApiKey = "DELETE FROM api_keys WHERE id = ?1";
// A later time wins; an earlier one never moves it back. Unknown ids change nothing.
constexpr std::string_view kRecordApiKeyUse =
    "UPDATE api_keys SET last_used_at = " PORTCULLIS_LATER("COALESCE(last_used_at, ?2)",
                                                           "?2") " WHERE id = ?1";
constexpr std::string_view kDeleteUserApiKeys = "DELETE FROM api_keys WHERE user_id = ?1";
constexpr std::string_view kUserTaken =
    "SELECT 1 FROM users WHERE id = ?1 OR username_normalized = ?2";

constexpr std::string_view kAppendAudit =
    "INSERT INTO audit_events (time, type, actor, subject, client_ip, user_agent, request_id, "
    "details) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) RETURNING id";
constexpr std::string_view kListAudit =
    "SELECT id, time, type, actor, subject, client_ip, user_agent, request_id, details "
    "FROM audit_events "
    "WHERE (?1 IS NULL OR time >= ?1) AND (?2 IS NULL OR type = ?2) "
    "  AND (?3 IS NULL OR actor = ?3 OR subject = ?3) AND (?4 IS NULL OR id < ?4) "
    "ORDER BY id DESC LIMIT ?5";

#define PORTCULLIS_THROTTLE_COLUMNS                                     \
  "key, failures, window_start, locked_until, lock_level, updated_at, " \
  "in_flight, in_flight_until, version "
constexpr std::string_view kGetThrottle =
    "SELECT " PORTCULLIS_THROTTLE_COLUMNS "FROM throttles WHERE key = ?1";
// One statement: instances sharing the database never interleave a half-written record.
constexpr std::string_view kPutThrottle =
    "INSERT INTO throttles (" PORTCULLIS_THROTTLE_COLUMNS
    ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 1) "
    "ON CONFLICT (key) DO UPDATE SET failures = excluded.failures, "
    "window_start = excluded.window_start, locked_until = excluded.locked_until, "
    "lock_level = excluded.lock_level, updated_at = excluded.updated_at, "
    "in_flight = excluded.in_flight, in_flight_until = excluded.in_flight_until, "
    "version = throttles.version + 1";
// Compare-and-swap (ThrottleStore::CompareAndSwapThrottles): ?9 is the version read; the
// insert succeeds only for an absent key, the update only for an unchanged row.
constexpr std::string_view kCasInsertThrottle =
    "INSERT INTO throttles (" PORTCULLIS_THROTTLE_COLUMNS
    ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 1) ON CONFLICT (key) DO NOTHING";
constexpr std::string_view kCasUpdateThrottle =
    "UPDATE throttles SET failures = ?2, window_start = ?3, locked_until = ?4, lock_level = ?5, "
    "updated_at = ?6, in_flight = ?7, in_flight_until = ?8, version = version + 1 "
    "WHERE key = ?1 AND version = ?9";
// Records with keys in [?1, ?2): the caller filters out pairs of longer usernames sharing the
// prefix.
constexpr std::string_view kThrottlesInRange =
    "SELECT " PORTCULLIS_THROTTLE_COLUMNS
    "FROM throttles WHERE key >= ?1 AND key < ?2 ORDER BY key";
constexpr std::string_view kListThrottles =
    "SELECT " PORTCULLIS_THROTTLE_COLUMNS "FROM throttles WHERE updated_at >= ?1 ORDER BY key";
#undef PORTCULLIS_THROTTLE_COLUMNS
constexpr std::string_view kDeleteThrottle = "DELETE FROM throttles WHERE key = ?1";
constexpr std::string_view kPruneThrottles = "DELETE FROM throttles WHERE updated_at < ?1";
// Keys in [?1, ?2): the caller filters out pairs of longer usernames sharing the prefix.
constexpr std::string_view kThrottleKeysInRange =
    "SELECT key FROM throttles WHERE key >= ?1 AND key < ?2 ORDER BY key";
constexpr std::string_view kRecordKnownSource =
    "INSERT INTO known_sources (username_normalized, network_key, last_success_at) "
    "VALUES (?1, ?2, ?3) ON CONFLICT (username_normalized, network_key) "
    "DO UPDATE SET last_success_at = " PORTCULLIS_LATER("known_sources.last_success_at",
                                                        "excluded.last_success_at");
constexpr std::string_view kIsKnownSource =
    "SELECT 1 FROM known_sources "
    "WHERE username_normalized = ?1 AND network_key = ?2 AND last_success_at >= ?3";
constexpr std::string_view kPruneKnownSources =
    "DELETE FROM known_sources WHERE last_success_at < ?1";

constexpr std::string_view kPing = "SELECT 1";
constexpr std::string_view kMaxSchemaVersion =
    "SELECT COALESCE(MAX(version), 0) FROM schema_migrations";
constexpr std::string_view kInsertSchemaVersion =
    "INSERT INTO schema_migrations (version, applied_at) VALUES (?1, ?2)";

// The change feed of everything but users (see ChangeFeedStore): rows appended by triggers.
constexpr std::string_view kChangesSince =
    "SELECT seq, kind, subject, at FROM change_events WHERE seq > ?1 ORDER BY seq LIMIT ?2";
constexpr std::string_view kLatestChange = "SELECT COALESCE(MAX(seq), 0) FROM change_events";
constexpr std::string_view kPruneChanges = "DELETE FROM change_events WHERE at < ?1";

// Browser sign-in (see BrowserSignInStore; migration 0009).
#define PORTCULLIS_AUTHORIZATION_CODE_COLUMNS                                                   \
  "code_hash, client_id, user_id, redirect_uri, code_challenge, scope, nonce, auth_time, amr, " \
  "session_id, created_at, expires_at, used_at, access_jti, access_expires_at, "                \
  "refresh_family_id, dpop_jkt"
constexpr std::string_view kInsertAuthorizationCode =
    "INSERT INTO authorization_codes (" PORTCULLIS_AUTHORIZATION_CODE_COLUMNS
    ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, NULL, NULL, NULL, NULL, ?13)";
// The one redemption that wins: only an unused code changes (?1 hash, ?2 now, ?3 jti, ?4 exp,
// ?5 refresh family or NULL).
constexpr std::string_view kConsumeAuthorizationCode =
    "UPDATE authorization_codes SET used_at = ?2, access_jti = ?3, access_expires_at = ?4, "
    "refresh_family_id = ?5 WHERE code_hash = ?1 AND used_at IS NULL";
constexpr std::string_view kFindAuthorizationCode =
    "SELECT " PORTCULLIS_AUTHORIZATION_CODE_COLUMNS
    " FROM authorization_codes WHERE code_hash = ?1";
constexpr std::string_view kPruneAuthorizationCodes =
    "DELETE FROM authorization_codes WHERE expires_at <= ?1";

#define PORTCULLIS_BROWSER_SESSION_COLUMNS                                                  \
  "id, token_hash, user_id, credential_version, auth_time, amr, created_at, last_seen_at, " \
  "expires_at, client_ip, user_agent"
constexpr std::string_view kInsertBrowserSession =
    "INSERT INTO browser_sessions (" PORTCULLIS_BROWSER_SESSION_COLUMNS
    ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)";
constexpr std::string_view kFindBrowserSession =
    "SELECT " PORTCULLIS_BROWSER_SESSION_COLUMNS " FROM browser_sessions WHERE token_hash = ?1";
// A later time wins; an earlier one never moves it back. The row is matched either way, so the
// changed-row count tells whether the session exists.
constexpr std::string_view kTouchBrowserSession =
    "UPDATE browser_sessions SET last_seen_at = " PORTCULLIS_LATER("last_seen_at",
                                                                   "?2") " WHERE id = ?1";
// Newest first; id breaks a created_at tie so the order is stable.
constexpr std::string_view kListBrowserSessions =
    "SELECT " PORTCULLIS_BROWSER_SESSION_COLUMNS
    " FROM browser_sessions WHERE user_id = ?1 AND expires_at > ?2 "
    "ORDER BY created_at DESC, id DESC";
constexpr std::string_view kDeleteBrowserSession =
    "DELETE FROM browser_sessions WHERE user_id = ?1 AND id = ?2";
constexpr std::string_view kDeleteUserBrowserSessions =
    "DELETE FROM browser_sessions WHERE user_id = ?1";
constexpr std::string_view kPruneBrowserSessions =
    "DELETE FROM browser_sessions WHERE expires_at <= ?1";

#undef PORTCULLIS_AUTHORIZATION_CODE_COLUMNS
#undef PORTCULLIS_BROWSER_SESSION_COLUMNS

constexpr std::string_view kTotpState =
    "SELECT confirmed, last_used_step FROM totp_enrollments WHERE user_id = ?1";
constexpr std::string_view kFindTotp =
    "SELECT user_id, sealed_secret, confirmed, created_at, confirmed_at, last_used_step "
    "FROM totp_enrollments WHERE user_id = ?1";
constexpr std::string_view kListTotpRecoveryCodes =
    "SELECT code_hash FROM totp_recovery_codes WHERE user_id = ?1 ORDER BY code_hash";
// Deleting the enrolment also removes its recovery codes (ON DELETE CASCADE).
constexpr std::string_view kDeleteTotp = "DELETE FROM totp_enrollments WHERE user_id = ?1";
constexpr std::string_view kListSealedTotpSecrets =
    "SELECT user_id, sealed_secret FROM totp_enrollments ORDER BY user_id";
constexpr std::string_view kReplaceSealedTotpSecret =
    "UPDATE totp_enrollments SET sealed_secret = ?2 WHERE user_id = ?1";
constexpr std::string_view kDeleteTotpRecoveryCodes =
    "DELETE FROM totp_recovery_codes WHERE user_id = ?1";
constexpr std::string_view kInsertPendingTotp =
    "INSERT INTO totp_enrollments (user_id, sealed_secret, confirmed, created_at, confirmed_at, "
    "last_used_step) VALUES (?1, ?2, 0, ?3, NULL, ?4)";
// ?1 user, ?2 step, ?3 now: only an unconfirmed enrolment whose last step is below ?2.
constexpr std::string_view kConfirmTotp =
    "UPDATE totp_enrollments SET confirmed = 1, confirmed_at = ?3, last_used_step = ?2 "
    "WHERE user_id = ?1 AND confirmed = 0 AND last_used_step < ?2";
constexpr std::string_view kInsertTotpRecoveryCode =
    "INSERT INTO totp_recovery_codes (user_id, code_hash) VALUES (?1, ?2)";
// Compare-and-set (?1 user, ?2 step).
constexpr std::string_view kUseTotpStep =
    "UPDATE totp_enrollments SET last_used_step = ?2 WHERE user_id = ?1 AND last_used_step < ?2";
constexpr std::string_view kTotpExists = "SELECT 1 FROM totp_enrollments WHERE user_id = ?1";
constexpr std::string_view kUseTotpRecoveryCode =
    "DELETE FROM totp_recovery_codes WHERE user_id = ?1 AND code_hash = ?2";
// Legacy (unkeyed SHA-256) values are the 64-character ones; keyed ones are 67 ("k1:" + 64).
constexpr std::string_view kListLegacyTotpRecoveryCodes =
    "SELECT user_id, code_hash FROM totp_recovery_codes WHERE length(code_hash) = 64 "
    "ORDER BY user_id, code_hash";
constexpr std::string_view kReplaceTotpRecoveryCode =
    "UPDATE totp_recovery_codes SET code_hash = ?3 WHERE user_id = ?1 AND code_hash = ?2";

#undef PORTCULLIS_LATER

}  // namespace portcullis::store::sql
