// Storage ports: the interfaces through which the rest of Portcullis reads and writes durable
// state (users, roles, signing keys). Implementations live in store/sqlite/ (and later
// store/postgres/, store/memory/); src/app/ chooses one. Only std and base types appear here, so
// callers never see a database API.
//
// Errors are canonical Status codes: kNotFound (no such row), kAlreadyExists (a unique key would
// be violated), kUnavailable (database busy or locked; retry), kFailedPrecondition (schema newer
// than this binary), kInternal (anything else; the message names the failing operation and the
// database's own message, never the values bound to it).
//
// Thread-safety: every method of every implementation may be called concurrently from any
// number of threads.
//
//   Result<std::unique_ptr<Store>> store = OpenSqliteStore({.path = "data/portcullis.db"});
//   if (!store.ok()) return store.status();
//   if (Result<int> applied = (*store)->Migrate(); !applied.ok()) return applied.status();
//   Result<User> user = (*store)->FindUserByUsername("Alice");
#pragma once

#include <cstddef>
#include <cstdint>
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

  // Union of the permissions of the user's roles, sorted, unique. An unknown user has none
  // (an empty list, not kNotFound).
  virtual Result<std::vector<std::string>> PermissionsOfUser(std::string_view user_id) = 0;
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
};

// The whole store: all ports plus schema management.
class Store : public UserStore, public RoleStore, public SigningKeyStore {
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
};

}  // namespace portcullis::store
