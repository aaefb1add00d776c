// Storage ports: the interfaces through which the rest of Portcullis reads and writes durable
// state (users, roles, signing keys, refresh tokens, OAuth2 clients, the access-token revocation
// list, the audit log, brute-force throttle state). Implementations live in store/sqlite/ (and
// later store/postgres/, store/memory/); src/app/ chooses one. Only std and base types appear here,
// so callers never see a database API.
//
// Errors are canonical Status codes: kNotFound (no such row), kAlreadyExists (a unique key would
// be violated), kUnavailable (database busy or locked; retry), kFailedPrecondition (schema newer
// than this binary; a change that would leave kAdminRole without a holder), kInternal (anything
// else; the message names the failing operation and the database's own message, never the values
// bound to it).
//
// Thread-safety: every method of every implementation may be called concurrently from any
// number of threads.
//
//   Result<std::unique_ptr<Store>> store = OpenSqliteStore({.path = "data/portcullis.db"});
//   if (!store.ok()) return store.status();
//   if (Result<int> applied = (*store)->Migrate(); !applied.ok()) return applied.status();
//   Result<User> user = (*store)->FindUserByUsername("Alice");
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/clock.h"
#include "base/status.h"

namespace portcullis::store {

// The key under which usernames are unique and looked up: ASCII letters A-Z are folded to a-z;
// every other byte (including UTF-8 sequences, bytes >= 0x80) is kept as is. Validating the
// username (length, allowed characters) is the caller's job.
std::string NormalizeUsername(std::string_view username);

// A user account as stored.
struct User {
  std::string id;                   // opaque, chosen by the caller (e.g. a random UUID)
  std::string username;             // as entered at creation
  std::string username_normalized;  // NormalizeUsername(username); unique
  std::optional<std::string> email;
  std::string password_hash;  // a PHC string ($argon2id$..., $2b$...); never a password
  bool disabled = false;
  // Tokens carrying a lower version ("uv") are rejected; see DESIGN.md §4.
  std::int64_t credential_version = 1;
  UnixSeconds created_at = 0;
  std::optional<UnixSeconds> last_login_at;
  std::vector<std::string> roles;  // role names, sorted ascending, unique
};

// What CreateUser needs; the store derives username_normalized and starts at
// credential_version 1, not disabled, never logged in.
struct NewUser {
  std::string id;
  std::string username;
  std::optional<std::string> email;
  std::string password_hash;
  std::vector<std::string> roles;  // each must exist; duplicates are ignored
  UnixSeconds created_at = 0;
};

// A named set of permissions ("resource:action", "*" wildcards; matching is authz's job).
struct Role {
  std::string name;
  std::string description;
  std::vector<std::string> permissions;  // sorted ascending, unique when read back
  UnixSeconds created_at = 0;
};

// One page of ListRolesPage. next_cursor is absent on the last page.
struct RolePage {
  std::vector<Role> items;
  std::optional<std::string> next_cursor;
};

// An API key (DESIGN §4): the caller presents "pcs_<id>_<secret>"; only the id and the SHA-256 of
// the secret are stored.
struct ApiKey {
  std::string id;           // 12 characters [a-z0-9]; not secret, used for lookup
  std::string secret_hash;  // lower-case hex SHA-256 of the 43-character secret (never the secret)
  std::string user_id;      // the owner
  std::string name;
  std::vector<std::string> scopes;  // sorted, unique when read back
  UnixSeconds created_at = 0;
  std::optional<UnixSeconds> expires_at;
  std::optional<UnixSeconds> last_used_at;
};

// One page of ListApiKeys. next_cursor is absent on the last page.
struct ApiKeyPage {
  std::vector<ApiKey> items;
  std::optional<std::string> next_cursor;
};

// A use of an API key, for RecordApiKeyUses.
struct ApiKeyUse {
  std::string id;
  UnixSeconds at = 0;
};

// A JWS signing key. The private half is sealed (encrypted with the master key) by the caller;
// the store only keeps the bytes.
struct SigningKey {
  std::string kid;
  std::string alg;                 // "EdDSA", "ES256", "RS256"; not interpreted here
  std::string state;               // "active" | "verify_only" | "retired"
  std::string sealed_private_key;  // opaque bytes, already encrypted by the caller
  std::string public_jwk;          // JSON text
  UnixSeconds created_at = 0;
  std::optional<UnixSeconds> deactivated_at;
};

// One page of ListUsers. next_cursor is absent on the last page.
struct UserPage {
  std::vector<User> items;
  std::optional<std::string> next_cursor;
};

// A user's token-relevant state: what the in-memory credential-version cache holds.
struct UserState {
  std::string id;
  std::int64_t credential_version = 1;
  bool disabled = false;
};

// What QueryUsers returns; unset fields don't filter. Results are ordered by username_normalized.
struct UserQuery {
  std::string cursor;  // opaque: a previous page's next_cursor; empty = from the start
  std::size_t limit = 50;
  // Users whose username_normalized starts with NormalizeUsername(*username_prefix).
  std::optional<std::string> username_prefix;
  std::optional<std::string> role;  // holders of this role
  std::optional<bool> disabled;
};

// The name of the built-in role that must always keep at least one holder (DESIGN §4).
inline constexpr std::string_view kAdminRole = "admin";

// One entry of the user change feed: a user's credential_version or disabled flag changed, or
// the user was created or deleted. A running server polls the feed to learn of changes made by
// the CLI or another instance (it then re-reads the user).
struct UserChange {
  std::int64_t seq = 0;  // increasing
  std::string user_id;
};

// The last time `user_id` passed a permission check that required `permission` (access review).
struct PermissionUse {
  std::string user_id;
  std::string permission;  // the permission the check required (not the held wildcard)
  UnixSeconds at = 0;

  friend bool operator==(const PermissionUse&, const PermissionUse&) = default;
};

class UserStore {
 public:
  virtual ~UserStore() = default;

  // Inserts a user with the given roles in one transaction and returns it as stored.
  // kAlreadyExists if the normalized username (or the id) is taken; kNotFound if a role doesn't
  // exist. Nothing is written on failure.
  virtual Result<User> CreateUser(const NewUser& new_user) = 0;

  // Looks a user up by NormalizeUsername(username). kNotFound if there is none.
  virtual Result<User> FindUserByUsername(std::string_view username) = 0;

  // Looks a user up by id. kNotFound if there is none.
  virtual Result<User> FindUserById(std::string_view id) = 0;

  // Up to `limit` users ordered by username_normalized (bytewise), starting after `cursor`
  // (empty = from the start). The cursor is opaque to callers: pass back next_cursor as is.
  // kInvalidArgument if limit is 0; capping large limits is the caller's job.
  virtual Result<UserPage> ListUsers(std::string_view cursor, std::size_t limit) = 0;

  // The number of users.
  virtual Result<std::int64_t> CountUsers() = 0;

  // Replaces the user's password hash (a PHC string), durably (synchronous=FULL) before
  // returning. Does not change credential_version; kNotFound if the user doesn't exist.
  virtual Status UpdatePasswordHash(std::string_view user_id, std::string_view phc) = 0;

  // Sets last_login_at to `at`. kNotFound if the user doesn't exist.
  virtual Status RecordLogin(std::string_view user_id, UnixSeconds at) = 0;

  // Increments users.credential_version by one and returns the new value (durable). kNotFound.
  virtual Result<std::int64_t> BumpCredentialVersion(std::string_view user_id) = 0;

  // Sets disabled; when disabling, also bumps the credential version in the same transaction.
  // Returns the resulting UserState. kNotFound.
  virtual Result<UserState> SetUserDisabled(std::string_view user_id, bool disabled) = 0;

  // Every user's id, credential_version and disabled flag (for the in-memory cache at start-up).
  virtual Result<std::vector<UserState>> ListUserStates() = 0;

  // Users matching the query (see UserQuery), up to query.limit of them; pass next_cursor back
  // with the same filters for the next page. kInvalidArgument if limit is 0 or the cursor is
  // malformed (not one this store hands out). ListUsers(cursor, limit) is QueryUsers without
  // filters.
  virtual Result<UserPage> QueryUsers(const UserQuery& query) = 0;

  // Sets (or, with nullopt, clears) the user's email. Validation is the caller's. kNotFound.
  virtual Status UpdateUserEmail(std::string_view user_id,
                                 const std::optional<std::string>& email) = 0;

  // Replaces the user's roles with `roles` (duplicates ignored) in one transaction. When a role
  // the user held is not in `roles`, credential_version is bumped in the same transaction (their
  // older tokens stop granting it). kNotFound if the user doesn't exist; kInvalidArgument
  // (message names the role) if a role doesn't exist; kFailedPrecondition if the change would
  // leave kAdminRole without any holder. Nothing is written on failure. Returns the new state.
  virtual Result<UserState> SetUserRoles(std::string_view user_id,
                                         const std::vector<std::string>& roles) = 0;

  // Deletes the user with their role memberships, refresh tokens, API keys, permission uses and
  // known sources, in one transaction. kNotFound; kFailedPrecondition if the user is the last
  // holder of kAdminRole. Nothing is written on failure.
  virtual Status DeleteUser(std::string_view user_id) = 0;

  // Up to `limit` feed entries with seq > `after_seq`, oldest first. Every change of
  // credential_version or disabled, every user creation and deletion appends one (the SQLite
  // store does it with triggers, so no code path can forget); a seq is never reused, even after
  // pruning. kInvalidArgument if limit is 0.
  virtual Result<std::vector<UserChange>> UserChangesSince(std::int64_t after_seq,
                                                           std::size_t limit) = 0;

  // The highest seq in the feed, 0 if empty (where a starting server begins polling).
  virtual Result<std::int64_t> LatestUserChange() = 0;

  // Deletes feed entries older than `before` (wall-clock Unix seconds; entries are stamped with
  // the database's clock, not an injected one); returns how many.
  virtual Result<int> PruneUserChanges(UnixSeconds before) = 0;

  // Upserts each (user_id, permission) with its time, in one transaction; a later time wins, an
  // earlier one never moves it back. Uses of users that no longer exist are skipped.
  virtual Status RecordPermissionUses(const std::vector<PermissionUse>& uses) = 0;

  // Every recorded use, ordered by user_id then permission.
  virtual Result<std::vector<PermissionUse>> ListPermissionUses() = 0;

  // User import (`portcullis user import`): inserts the users of `batch` in ONE transaction. A row
  // whose username (normalized) or id is taken — by an existing user or an earlier row of the
  // batch — gets kAlreadyExists, a row naming an unknown role kInvalidArgument; such rows are
  // skipped and the others committed together. Returns one Status per row, in order. On a
  // database error nothing of the batch is written and that error is returned.
  virtual Result<std::vector<Status>> ImportUsers(const std::vector<NewUser>& batch) = 0;
};

class RoleStore {
 public:
  virtual ~RoleStore() = default;

  // Creates the role, or replaces the description and the whole permission set of an existing
  // one (its created_at is kept). Does not touch users' credential versions.
  virtual Status UpsertRole(const Role& role) = 0;

  // The named role. kNotFound if there is none.
  virtual Result<Role> FindRole(std::string_view name) = 0;

  // Every role, ordered by name.
  virtual Result<std::vector<Role>> ListRoles() = 0;

  // Up to `limit` roles ordered by name (bytewise), starting after `cursor` (empty = from the
  // start); pass next_cursor back as is for the next page. kInvalidArgument if limit is 0 or the
  // cursor is malformed (holds a NUL: no role name does).
  virtual Result<RolePage> ListRolesPage(std::string_view cursor, std::size_t limit) = 0;

  // Union of the permissions of the user's roles, sorted, unique. An unknown user has none
  // (an empty list, not kNotFound).
  virtual Result<std::vector<std::string>> PermissionsOfUser(std::string_view user_id) = 0;

  // Creates a role (created_at as given). kAlreadyExists if the name is taken.
  virtual Status CreateRole(const Role& role) = 0;

  // Replaces the description and the whole permission set of an existing role (created_at kept)
  // in one transaction. When a permission the role had is not in the new set, every holder's
  // credential_version is bumped in the same transaction; their new states are returned (empty
  // when nothing was removed). kNotFound if there is no such role.
  virtual Result<std::vector<UserState>> UpdateRole(const Role& role) = 0;

  // Deletes the role and every membership of it, bumping each former holder's
  // credential_version, in one transaction; returns their new states. kNotFound; refusing to
  // delete built-in roles is the caller's decision.
  virtual Result<std::vector<UserState>> DeleteRole(std::string_view name) = 0;

  // Ids of the users holding the role, sorted. An unknown role has none.
  virtual Result<std::vector<std::string>> UsersWithRole(std::string_view name) = 0;
};

class SigningKeyStore {
 public:
  virtual ~SigningKeyStore() = default;

  // Stores a new key. kAlreadyExists on a kid clash; kInvalidArgument on an unknown state.
  virtual Status InsertSigningKey(const SigningKey& key) = 0;

  // Every key, oldest first (by created_at, then insertion order).
  virtual Result<std::vector<SigningKey>> ListSigningKeys() = 0;

  // Moves the key to `state` and sets (or clears) deactivated_at. kNotFound if no key has this
  // kid; kInvalidArgument on an unknown state.
  virtual Status UpdateSigningKeyState(std::string_view kid, std::string_view state,
                                       std::optional<UnixSeconds> deactivated_at) = 0;

  // Master-key rotation: replaces the sealed private key of each kid, all in one transaction
  // (kNotFound, changing nothing, if one of the kids is gone).
  virtual Status ReplaceSealedPrivateKeys(
      const std::vector<std::pair<std::string, std::string>>& sealed_by_kid) = 0;
};

// A refresh token as stored (DESIGN.md §4). Tokens of one login form a family; each rotation
// marks the presented token used and inserts its successor (parent_hash = the used token).
struct AuditEvent;

struct RefreshToken {
  std::string token_hash;  // lower-case hex SHA-256 of the opaque token (never the token)
  std::string family_id;
  std::string user_id;    // the subject (a user id; for client tokens the client_id)
  std::string client_id;  // the client the token was issued to ("default" = public client)
  std::string scope;      // space-separated
  UnixSeconds issued_at = 0;
  UnixSeconds expires_at = 0;              // idle expiry of this token
  UnixSeconds family_expires_at = 0;       // absolute expiry of the whole family
  std::optional<std::string> parent_hash;  // the token this one replaced
  std::optional<UnixSeconds> used_at;      // set when it was rotated (spent)
  std::optional<UnixSeconds> revoked_at;   // set when it or its family was revoked
  // RFC 9449 §5: the RFC 7638 thumbprint of the DPoP key a public client's family is bound to
  // (every rotation then needs a proof by that key); nullopt = not bound. Inherited.
  std::optional<std::string> dpop_jkt{};
};

// An entry of the access-token revocation list: the jti is refused until expires_at.
struct RevokedJti {
  std::string jti;
  UnixSeconds expires_at = 0;
};

class TokenStore {
 public:
  virtual ~TokenStore() = default;

  // Stores a new refresh token. kAlreadyExists on a token_hash clash.
  virtual Status InsertRefreshToken(const RefreshToken& token) = 0;

  // The token with this hash. kNotFound if there is none.
  virtual Result<RefreshToken> FindRefreshToken(std::string_view token_hash) = 0;

  // The token whose parent_hash is `parent_hash` (its successor), if any. If several name it
  // (after ReplaceUnusedSuccessor), the most recently inserted one.
  virtual Result<std::optional<RefreshToken>> FindSuccessor(std::string_view parent_hash) = 0;

  // ONE atomic step (BEGIN IMMEDIATE): if `old_hash` exists, is not used and not revoked, set its
  // used_at = now and insert `next` (caller sets next.parent_hash = old_hash, same family).
  // kAborted if already used (a concurrent or replayed refresh: exactly one caller wins),
  // kFailedPrecondition if revoked (checked before used), kNotFound if absent; kInvalidArgument
  // (nothing written) if next.parent_hash != old_hash or next.family_id differs from the old
  // token's; kAlreadyExists (nothing written) if next.token_hash is taken.
  // `audit`, when given, is appended in the same transaction (all or nothing) and its id set.
  virtual Status RotateRefreshToken(std::string_view old_hash, const RefreshToken& next,
                                    UnixSeconds now, AuditEvent* audit = nullptr) = 0;

  // ONE atomic step, for the reuse grace window: if `successor_hash` exists, is unused and not
  // revoked, set its revoked_at = now and insert `next`. kAborted otherwise. next.parent_hash is
  // not checked (it may name the successor's parent or the successor).
  virtual Status ReplaceUnusedSuccessor(std::string_view successor_hash, const RefreshToken& next,
                                        UnixSeconds now) = 0;

  // Sets revoked_at = now on every not-yet-revoked token of the family; returns how many.
  virtual Result<int> RevokeRefreshFamily(std::string_view family_id, UnixSeconds now) = 0;

  // Same for every token of a user (logout-all, password change, disable).
  virtual Result<int> RevokeUserRefreshTokens(std::string_view user_id, UnixSeconds now) = 0;

  // Deletes tokens whose family_expires_at <= now; returns how many.
  virtual Result<int> PruneRefreshTokens(UnixSeconds now) = 0;

  // Access-token revocation list: refuses `jti` until the token's exp. Idempotent; adding a known
  // jti again keeps the later expires_at.
  virtual Status AddRevokedJti(std::string_view jti, UnixSeconds expires_at) = 0;

  // Every entry with expires_at > now.
  virtual Result<std::vector<RevokedJti>> ListRevokedJtis(UnixSeconds now) = 0;

  // Deletes entries with expires_at <= now; returns how many.
  virtual Result<int> PruneRevokedJtis(UnixSeconds now) = 0;
};

// An OAuth2 client. The store keeps what it is given; the rules (which URIs, which grant types
// for which auth method) are checked before a client is created (authn/client_metadata.h).
struct Client {
  std::string client_id;  // [a-z0-9_-], chosen by the caller
  std::string name;
  // Lower-case hex SHA-256 of a >= 256-bit secret (never the secret); "" for a public client
  // (token_endpoint_auth_method "none"), which has no secret.
  std::string secret_hash;
  std::vector<std::string> grant_types;  // e.g. {"client_credentials","refresh_token"}
  std::vector<std::string> scopes;
  UnixSeconds created_at = 0;
  // DESIGN.md §8. Redirect URIs are stored verbatim (matched by exact string comparison).
  // (Default member initializers on the new fields keep older designated initializers valid.)
  std::vector<std::string> redirect_uris{};
  // "client_secret_basic", "client_secret_post" or "none".
  std::string token_endpoint_auth_method = "client_secret_basic";
  std::vector<std::string> post_logout_redirect_uris{};
  std::string id_token_signed_response_alg = "RS256";  // "RS256", "EdDSA" or "ES256"
  // DESIGN §9: every token request of this client must carry a DPoP proof (tokens are bound).
  bool require_dpop = false;
};

// One page of ListClients. next_cursor is absent on the last page.
struct ClientPage {
  std::vector<Client> items;
  std::optional<std::string> next_cursor;
};

class ClientStore {
 public:
  virtual ~ClientStore() = default;

  // Stores a new client. kAlreadyExists if the client_id is taken.
  virtual Status CreateClient(const Client& client) = 0;

  // The client with this id. kNotFound if there is none.
  virtual Result<Client> FindClient(std::string_view client_id) = 0;

  // Up to `limit` clients ordered by client_id, starting after `cursor` (empty = from the start).
  // kInvalidArgument if limit is 0.
  virtual Result<ClientPage> ListClients(std::string_view cursor, std::size_t limit) = 0;

  // Deletes the client and revokes (revoked_at = now) its refresh tokens, in one transaction.
  // kNotFound if there is no such client.
  virtual Status DeleteClient(std::string_view client_id, UnixSeconds now) = 0;
};

class ApiKeyStore {
 public:
  virtual ~ApiKeyStore() = default;

  // Stores a new key. kAlreadyExists on an id clash; kNotFound if the owner doesn't exist.
  virtual Status CreateApiKey(const ApiKey& key) = 0;

  // The key with this id. kNotFound if there is none.
  virtual Result<ApiKey> FindApiKey(std::string_view id) = 0;

  // Up to `limit` keys ordered by id, starting after `cursor` (empty = from the start); only the
  // keys of `user_id` when given. kInvalidArgument if limit is 0.
  virtual Result<ApiKeyPage> ListApiKeys(const std::optional<std::string>& user_id,
                                         std::string_view cursor, std::size_t limit) = 0;

  // Deletes the key (revocation). Appends its owner to the user change feed, so running servers
  // drop any cached verification of it. kNotFound if there is no such key.
  virtual Status DeleteApiKey(std::string_view id) = 0;

  // Sets last_used_at for each key, in one transaction; a later time wins, unknown ids are
  // skipped.
  virtual Status RecordApiKeyUses(const std::vector<ApiKeyUse>& uses) = 0;
};

// One entry of the append-only audit log.
struct AuditEvent {
  std::int64_t id = 0;  // assigned by the store, increasing
  UnixSeconds time = 0;
  std::string type;     // e.g. "login.succeeded" (DESIGN §4 "Audit event types")
  std::string actor;    // who did it: user id, client id, "cli", "system", or "" (anonymous)
  std::string subject;  // whom/what it concerns: user id, client id, kid, family id
  std::string client_ip, user_agent, request_id;
  std::string details_json = "{}";  // a JSON object as text; never a secret
};

// Which audit events ListAudit returns; unset fields don't filter.
struct AuditFilter {
  std::optional<UnixSeconds> since;  // time >= since
  std::optional<std::string> type;   // exact type
  std::optional<std::string> user;   // actor == user OR subject == user
  std::size_t limit = 50;
  std::optional<std::int64_t> before_id;  // cursor: id < before_id (newest first)
};

// One page of ListAudit. next_cursor (the last item's id, decimal) is absent on the last page.
struct AuditPage {
  std::vector<AuditEvent> items;
  std::optional<std::string> next_cursor;
};

class AuditStore {
 public:
  virtual ~AuditStore() = default;

  // Appends the event (its id is ignored) and returns the id the store assigned. Empty
  // details_json is stored as "{}"; anything but a JSON object is kInvalidArgument.
  virtual Result<std::int64_t> AppendAudit(const AuditEvent& event) = 0;

  // Events matching the filter, newest (highest id) first. kInvalidArgument if limit is 0.
  virtual Result<AuditPage> ListAudit(const AuditFilter& filter) = 0;
};

// An authorization code (DESIGN.md §8): single use, short-lived, bound to everything the
// authorize request said. Only the SHA-256 of the code is stored.
struct AuthorizationCode {
  std::string code_hash;  // lower-case hex SHA-256 of the code (never the code)
  std::string client_id;
  std::string user_id;
  std::string redirect_uri;    // exactly as sent to /oauth2/authorize
  std::string code_challenge;  // PKCE S256 challenge (base64url, 43 characters)
  std::string scope;           // space-separated, as granted
  std::optional<std::string> nonce;
  UnixSeconds auth_time = 0;  // when the user last authenticated (the session's auth time)
  std::string amr;            // space-separated methods, e.g. "pwd" or "pwd otp"
  std::string session_id;     // the browser session the code came from (BrowserSession::id)
  UnixSeconds created_at = 0;
  UnixSeconds expires_at = 0;
  std::optional<UnixSeconds> used_at;  // set by the one redemption that wins
  // What the redemption issued, written in the same step as used_at so that a replay can
  // revoke it (DESIGN §8): the access token's jti and exp, and the refresh family if any.
  std::optional<std::string> access_jti;
  std::optional<UnixSeconds> access_expires_at;
  std::optional<std::string> refresh_family_id;
  // RFC 9449 §10: the RFC 7638 thumbprint of the DPoP key the redemption must prove; nullopt =
  // not bound.
  std::optional<std::string> dpop_jkt;
};

// What a redemption will issue (pre-generated by the caller, see ConsumeAuthorizationCode).
struct CodeIssue {
  std::string access_jti;
  UnixSeconds access_expires_at = 0;
  std::optional<std::string> refresh_family_id;
};

// The outcome of ConsumeAuthorizationCode: the stored code and whether this call was the first
// redemption. When first_use is false the code carries the earlier redemption's used_at and issue.
struct ConsumedCode {
  AuthorizationCode code;
  bool first_use = false;
};

// A browser session behind the __Host-portcullis_session cookie (DESIGN.md §8). The cookie value
// is never stored: only its SHA-256 (token_hash). `id` is a separate random handle shown in
// GET /v1/me/sessions and used to revoke one session.
struct BrowserSession {
  std::string id;          // 16+ characters [a-z0-9], not secret
  std::string token_hash;  // lower-case hex SHA-256 of the cookie value; unique
  std::string user_id;
  std::int64_t credential_version = 0;  // the user's version at sign-in; lower = ended
  UnixSeconds auth_time = 0;            // when the user authenticated (password [+ TOTP])
  std::string amr;                      // space-separated, e.g. "pwd" or "pwd otp"
  UnixSeconds created_at = 0;
  UnixSeconds last_seen_at = 0;
  UnixSeconds expires_at = 0;
  std::string client_ip;
  std::string user_agent;

  friend bool operator==(const BrowserSession&, const BrowserSession&) = default;
};

// A user's TOTP enrolment (DESIGN.md §8). The secret is sealed with the master key by the caller.
struct TotpEnrollment {
  std::string user_id;
  std::string sealed_secret;  // opaque bytes
  bool confirmed = false;
  UnixSeconds created_at = 0;
  std::optional<UnixSeconds> confirmed_at;
  // The highest time step a code was accepted for; a code is accepted once (step > this).
  std::int64_t last_used_step = 0;
  // Unused ones only, opaque to the store: "k1:" + 64 hex (authn::KeyedRecoveryCodeHash) or,
  // issued before that, 64 hex (lower-case SHA-256).
  std::vector<std::string> recovery_code_hashes;

  friend bool operator==(const TotpEnrollment&, const TotpEnrollment&) = default;
};

// One stored recovery-code value to replace (BrowserSignInStore::ReplaceRecoveryCodeHashes).
struct RecoveryCodeReplacement {
  std::string user_id;
  std::string from;
  std::string to;
};

class BrowserSignInStore {
 public:
  virtual ~BrowserSignInStore() = default;

  // --- authorization codes ---
  // Stores a new code. kAlreadyExists on a code_hash clash.
  virtual Status InsertAuthorizationCode(const AuthorizationCode& code) = 0;

  // ONE atomic step: if the code exists and is unused, sets used_at = now and records `issue`
  // (first_use = true, the returned code shows the new values); if it was used already, changes
  // nothing and returns it as stored (first_use = false). kNotFound if there is no such code.
  // Expiry is the caller's check.
  virtual Result<ConsumedCode> ConsumeAuthorizationCode(std::string_view code_hash,
                                                        const CodeIssue& issue,
                                                        UnixSeconds now) = 0;

  // Deletes codes with expires_at <= before; returns how many.
  virtual Result<int> PruneAuthorizationCodes(UnixSeconds before) = 0;

  // RFC 9449 §11.1, shared by the instances of a deployment: records the DPoP proof
  // `proof_key` (64 hex characters: SHA-256 of its key thumbprint and jti) as seen until
  // `expires_at`. true when it was not seen before, or its earlier record had expired at `now`;
  // false when it is a replay (nothing changes).
  virtual Result<bool> RecordDpopProof(std::string_view proof_key, UnixSeconds expires_at,
                                       UnixSeconds now) = 0;
  // Deletes proof records expired at `before`; returns how many.
  virtual Result<int> PruneDpopProofs(UnixSeconds before) = 0;

  // --- browser sessions ---
  // Stores a new session. kAlreadyExists on an id or token_hash clash; kNotFound if the user
  // does not exist.
  virtual Status CreateBrowserSession(const BrowserSession& session) = 0;

  // The session whose cookie hashes to `token_hash`. kNotFound if there is none.
  virtual Result<BrowserSession> FindBrowserSession(std::string_view token_hash) = 0;

  // Sets last_seen_at (a later time wins). kNotFound if there is no such session.
  virtual Status TouchBrowserSession(std::string_view id, UnixSeconds at) = 0;

  // The user's sessions with expires_at > now, newest first.
  virtual Result<std::vector<BrowserSession>> ListBrowserSessions(std::string_view user_id,
                                                                  UnixSeconds now) = 0;

  // Deletes the user's session `id`. kNotFound if the user has no such session (another user's
  // session id is kNotFound too).
  virtual Status DeleteBrowserSession(std::string_view user_id, std::string_view id) = 0;

  // Deletes every session of the user; returns how many (logout-all, password change, disable).
  virtual Result<int> DeleteUserBrowserSessions(std::string_view user_id) = 0;

  // Deletes sessions with expires_at <= now; returns how many.
  virtual Result<int> PruneBrowserSessions(UnixSeconds now) = 0;

  // --- TOTP ---
  // Stores an unconfirmed enrolment, replacing an unconfirmed one of the same user.
  // kAlreadyExists if the user has a confirmed enrolment; kNotFound if the user does not exist.
  virtual Status PutPendingTotp(const TotpEnrollment& enrollment) = 0;

  // The user's enrolment (confirmed or not). kNotFound if there is none.
  virtual Result<TotpEnrollment> FindTotp(std::string_view user_id) = 0;

  // ONE atomic step: confirms the user's unconfirmed enrolment, stores the recovery code hashes
  // and sets last_used_step = step. kNotFound if there is no enrolment; kAborted if it is
  // already confirmed or step <= last_used_step.
  virtual Status ConfirmTotp(std::string_view user_id,
                             const std::vector<std::string>& recovery_code_hashes,
                             std::int64_t step, UnixSeconds now) = 0;

  // Compare-and-set: last_used_step = step only if step > last_used_step (each code is accepted
  // once, across instances). kAborted if not; kNotFound if there is no enrolment.
  virtual Status UseTotpStep(std::string_view user_id, std::int64_t step) = 0;

  // Removes one unused recovery code. kNotFound if the user has no such unused code.
  virtual Status UseRecoveryCode(std::string_view user_id, std::string_view code_hash) = 0;

  // Deletes the enrolment and its recovery codes. kNotFound if there is none.
  virtual Status DeleteTotp(std::string_view user_id) = 0;

  // Threat model F7: every unused recovery code still in the legacy unkeyed form (64 hex, no
  // "k1:"), as (user_id, code_hash), ordered by user_id then code_hash.
  virtual Result<std::vector<std::pair<std::string, std::string>>>
  ListLegacyRecoveryCodeHashes() = 0;

  // Replaces stored recovery-code values, all in one transaction: each `from` value of the user
  // becomes `to`. A `from` that is gone (the code was used meanwhile) is skipped. Returns how
  // many were replaced.
  virtual Result<int> ReplaceRecoveryCodeHashes(
      const std::vector<RecoveryCodeReplacement>& replacements) = 0;

  // Master-key rotation: every enrolment's (user_id, sealed_secret), ordered by user_id.
  virtual Result<std::vector<std::pair<std::string, std::string>>> ListSealedTotpSecrets() = 0;

  // Replaces the sealed secret of each user, all in one transaction (kNotFound, changing
  // nothing, if one of the enrolments is gone).
  virtual Status ReplaceSealedTotpSecrets(
      const std::vector<std::pair<std::string, std::string>>& sealed_by_user) = 0;
};

// Brute-force defence state (DESIGN.md §5), one row per key. Keys are built by authn::Throttle:
// "pair:<normalized user>|<source ip>", "account:<normalized user>", "ip:<source ip>". An IP never
// contains '|', so the user part of a pair key ends at its last '|'.
struct ThrottleRecord {
  std::string key;
  std::int64_t failures = 0;     // consecutive (pair) or within the window (account, ip)
  UnixSeconds window_start = 0;  // start of the counting window (account, ip); 0 for pairs
  UnixSeconds locked_until = 0;  // refused while now < locked_until; 0 = never locked
  std::int64_t lock_level = 0;   // locks started so far (drives the doubling); 0 = none
  UnixSeconds updated_at = 0;    // last change; drives pruning and loading at start-up
  // Attempts admitted by any instance and not yet completed (several instances sharing one
  // database, DESIGN §6); they count against the budget until in_flight_until, after which an
  // instance that died holding them no longer matters.
  std::int64_t in_flight = 0;
  UnixSeconds in_flight_until = 0;
  // Bumped by every write; read by CompareAndSwapThrottles. Ignored by PutThrottle.
  std::int64_t version = 0;

  friend bool operator==(const ThrottleRecord&, const ThrottleRecord&) = default;
};

class ThrottleStore {
 public:
  virtual ~ThrottleStore() = default;

  // The record stored under `key`, or nullopt if there is none.
  virtual Result<std::optional<ThrottleRecord>> GetThrottle(std::string_view key) = 0;

  // The records of several keys, in the order of `keys` (nullopt where there is none); one round
  // trip on PostgreSQL. Each record is read atomically; together they are not a snapshot.
  virtual Result<std::vector<std::optional<ThrottleRecord>>> GetThrottles(
      const std::vector<std::string>& keys) {
    std::vector<std::optional<ThrottleRecord>> records;
    for (const std::string& key : keys) {
      Result<std::optional<ThrottleRecord>> record = GetThrottle(key);
      if (!record.ok()) return record.status();
      records.push_back(std::move(*record));
    }
    return records;
  }

  // Inserts the record or replaces every field of the one with the same key (record.version is
  // ignored; the stored version is bumped), in one atomic statement (instances sharing a
  // database never see a half-written record). kInvalidArgument if the key is empty.
  virtual Status PutThrottle(const ThrottleRecord& record) = 0;

  // ONE atomic step for instances sharing the database: writes every record in one transaction,
  // each only if the stored row still has record.version (0 = the key must be absent); each
  // written row gets version + 1. Returns false, writing nothing, when any of them changed
  // meanwhile (the caller re-reads and decides again). kInvalidArgument if a key is empty.
  virtual Result<bool> CompareAndSwapThrottles(const std::vector<ThrottleRecord>& records) = 0;

  // Deletes the record; deleting an absent key is OK (idempotent).
  virtual Status DeleteThrottle(std::string_view key) = 0;

  // Every record with updated_at >= updated_since, ordered by key (for loading at start-up).
  virtual Result<std::vector<ThrottleRecord>> ListThrottles(UnixSeconds updated_since) = 0;

  // Deletes records with updated_at < stale_before; returns how many. Locks are not consulted:
  // the caller picks stale_before at least the longest lock before now (a lock always ends
  // within max_lock_s or the ip window of its record's updated_at).
  virtual Result<int> PruneThrottles(UnixSeconds stale_before) = 0;

  // The "account:<u>" record and every "pair:<u>|<ip>" record of exactly these normalized
  // usernames (not of usernames that merely start with one), for showing who is locked; one
  // round trip on PostgreSQL.
  virtual Result<std::vector<ThrottleRecord>> ThrottlesOfUsers(
      const std::vector<std::string>& normalized_usernames) = 0;

  // Admin unlock: deletes "account:<u>" and every "pair:<u>|<ip>" of exactly this normalized
  // username (not those of a username that merely starts with it); returns how many.
  virtual Result<int> DeleteThrottlesForUser(std::string_view normalized_username) = 0;

  // Remembers that `normalized_username` logged in successfully from `network_key` (a
  // SourceNetworkKey, e.g. "203.0.113.0/24") at `at`. Upsert; a later `at` wins, an earlier one
  // never moves the time back.
  virtual Status RecordKnownSource(std::string_view normalized_username,
                                   std::string_view network_key, UnixSeconds at) = 0;

  // True when the user logged in successfully from `network_key` at or after `since`.
  virtual Result<bool> IsKnownSource(std::string_view normalized_username,
                                     std::string_view network_key, UnixSeconds since) = 0;

  // Deletes known sources last used before `stale_before`; returns how many.
  virtual Result<int> PruneKnownSources(UnixSeconds stale_before) = 0;
};

// One entry of the change feed of shared state other than users (DESIGN §6): a revoked access
// token (kind kChangeRevokedJti, subject = the jti), a signing-key change (kChangeSigningKeys,
// subject = the kid) or a deleted client (kChangeClientDeleted, subject = the client_id).
// Appended by database triggers, so every writer (store, CLI, another instance) is seen; other
// instances follow the feed to update what they keep in memory.
struct ChangeEvent {
  std::int64_t seq = 0;  // increasing, never reused
  std::string kind;
  std::string subject;
  UnixSeconds at = 0;  // the database's clock when the change was written

  friend bool operator==(const ChangeEvent&, const ChangeEvent&) = default;
};
inline constexpr std::string_view kChangeRevokedJti = "jti";
inline constexpr std::string_view kChangeSigningKeys = "keys";
inline constexpr std::string_view kChangeClientDeleted = "client";

class ChangeFeedStore {
 public:
  virtual ~ChangeFeedStore() = default;

  // Up to `limit` entries with seq > `after_seq`, oldest first. kInvalidArgument if limit is 0.
  virtual Result<std::vector<ChangeEvent>> ChangesSince(std::int64_t after_seq,
                                                        std::size_t limit) = 0;

  // The highest seq in the feed, 0 if empty.
  virtual Result<std::int64_t> LatestChange() = 0;

  // Deletes entries older than `before` (wall-clock Unix seconds, the database's clock).
  virtual Result<int> PruneChanges(UnixSeconds before) = 0;
};

// Wakes whoever follows the change feeds when another writer changed shared state: PostgreSQL
// LISTEN/NOTIFY (channel "portcullis_changes"); SQLite has no notifications, so Wait only times
// out (the follower then polls, which is the fallback anyway).
//
// Thread-safety: Wait from one thread; Interrupt from any.
class ChangeListener {
 public:
  virtual ~ChangeListener() = default;

  // Blocks until a notification arrives, Interrupt is called, or `timeout` passes. True when a
  // notification (or an Interrupt) woke it; false on timeout or a lost connection (the caller
  // polls either way).
  virtual bool Wait(std::chrono::milliseconds timeout) = 0;

  // Makes the current (or next) Wait return at once.
  virtual void Interrupt() = 0;
};

// The whole store: all ports plus schema management.
class Store : public UserStore,
              public RoleStore,
              public SigningKeyStore,
              public TokenStore,
              public ClientStore,
              public ApiKeyStore,
              public AuditStore,
              public ThrottleStore,
              public ChangeFeedStore,
              public BrowserSignInStore {
 public:
  // Runs a trivial query; OK when the database answers (for /readyz).
  virtual Status Ping() = 0;

  // The highest applied migration, 0 for an empty database.
  virtual Result<int> SchemaVersion() = 0;

  // Applies every pending migration, each in its own transaction, and returns how many were
  // applied (0 when up to date). kFailedPrecondition if the database has a newer schema than
  // this binary knows.
  virtual Result<int> Migrate() = 0;

  // "sqlite", "postgres", "memory": for logs and /readyz.
  virtual std::string_view BackendName() const = 0;

  // Runs `fn` while holding the deployment-wide lock `name`, so that instances starting at the
  // same moment serialize one-time work (bootstrap administrator, first key set, key rotation).
  // PostgreSQL: a session advisory lock on a dedicated connection; SQLite (one host): a
  // process-wide mutex. `fn` may use the store. Returns fn's status, or the error that kept
  // the lock from being taken.
  virtual Status RunExclusively(std::string_view name, const std::function<Status()>& fn) = 0;

  // A listener for change notifications from other writers (see ChangeListener).
  virtual std::unique_ptr<ChangeListener> ListenForChanges() = 0;
};

}  // namespace portcullis::store
