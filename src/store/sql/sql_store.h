// The storage ports (store/store.h) written once in SQL, for every backend: SqlStore<Backend>
// holds all the queries' logic, transactions and row mapping; a Backend supplies the
// connection layer and what truly differs between database engines. Internal to store/:
// store/sqlite/sqlite_store.cc and store/postgres/postgres_store.cc instantiate it.
//
// A Backend provides:
//   types     Connection, Lease (a pooled Connection, used like a pointer), Statement,
//             Transaction (Begin: a write transaction; BeginExclusive: one that also excludes
//             every other BeginExclusive of the deployment, for invariants that span rows,
//             e.g. "admin keeps a holder", and for migrations)
//   members   Lease Acquire(); Status RunExclusively(name, fn);
//             std::unique_ptr<ChangeListener> ListenForChanges()
//   statics   kName; AutocommitWriteLock(Connection&) (an RAII object; SQLite serializes this
//             process's autocommit writes with its transactions, PostgreSQL needs nothing);
//             Migrations(); EnsureSchemaTable(Connection&); CurrentSchemaVersion(Connection&)
// Statements are prepared from the shared SQL text of store/sql/queries.h; the column
// accessors map NULL to "" / 0 / nullopt the same way in both.
//
// Thread-safety: as store.h promises; each call borrows its own connection.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <ctime>
#include <functional>
#include <iterator>
#include <limits>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/json.h"
#include "base/status.h"
#include "store/sql/group_commit.h"
#include "store/sql/queries.h"
#include "store/sql/sql_common.h"
#include "store/store.h"

namespace portcullis::store::sql {

// The highest applied migration on `connection`, 0 when schema_migrations doesn't exist yet;
// `has_table_sql` is the backend's catalog query answering COUNT(*) of that table.
template <typename Statement, typename Connection>
Result<int> ReadSchemaVersion(Connection& connection, std::string_view has_table_sql) {
  Result<Statement> has_table = connection.Prepare(has_table_sql);
  if (!has_table.ok()) return has_table.status();
  Result<bool> row = has_table->Step();
  if (!row.ok()) return row.status();
  if (!*row || has_table->ColumnInt64(0) == 0) return 0;
  Result<Statement> max_version = connection.Prepare(kMaxSchemaVersion);
  if (!max_version.ok()) return max_version.status();
  row = max_version->Step();
  if (!row.ok()) return row.status();
  if (!*row) return 0;
  const std::int64_t version = max_version->ColumnInt64(0);
  if (version < 0 || version > std::numeric_limits<int>::max()) {
    return InternalError("schema_migrations holds an out-of-range version");
  }
  return static_cast<int>(version);
}

// Wall-clock Unix seconds, for bookkeeping rows (schema_migrations) that are not driven by an
// injected clock.
inline UnixSeconds WallClockNow() { return static_cast<UnixSeconds>(std::time(nullptr)); }

template <typename Stmt>
Result<std::vector<User>> ReadUsersWithRoles(Stmt& stmt) {
  std::vector<User> users;
  while (true) {
    Result<bool> row = stmt.Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    std::string id = stmt.ColumnText(0);
    if (users.empty() || users.back().id != id) {
      User user;
      user.id = std::move(id);
      user.username = stmt.ColumnText(1);
      user.username_normalized = stmt.ColumnText(2);
      user.email = stmt.ColumnOptionalText(3);
      user.password_hash = stmt.ColumnText(4);
      user.disabled = stmt.ColumnInt64(5) != 0;
      user.credential_version = stmt.ColumnInt64(6);
      user.created_at = stmt.ColumnInt64(7);
      user.last_login_at = stmt.ColumnOptionalInt64(8);
      users.push_back(std::move(user));
    }
    if (std::optional<std::string> role = stmt.ColumnOptionalText(9)) {
      users.back().roles.push_back(std::move(*role));
    }
  }
  return users;
}

template <typename Stmt>
Result<std::vector<Role>> ReadRolesWithPermissions(Stmt& stmt) {
  std::vector<Role> roles;
  while (true) {
    Result<bool> row = stmt.Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    std::string name = stmt.ColumnText(0);
    if (roles.empty() || roles.back().name != name) {
      Role role;
      role.name = std::move(name);
      role.description = stmt.ColumnText(1);
      role.created_at = stmt.ColumnInt64(2);
      roles.push_back(std::move(role));
    }
    if (std::optional<std::string> permission = stmt.ColumnOptionalText(3)) {
      roles.back().permissions.push_back(std::move(*permission));
    }
  }
  return roles;
}

// Steps a statement that must produce no further rows (the tail of an UPDATE ... RETURNING), so
// that an autocommit write is committed, and its error seen, before the caller returns.
template <typename Stmt>
Status FinishStatement(Stmt& stmt) {
  Result<bool> row = stmt.Step();
  if (!row.ok()) return row.status();
  if (*row) return InternalError("statement returned more rows than expected");
  return Status::Ok();
}

template <typename Stmt>
UserState ReadUserState(const Stmt& stmt) {
  UserState state;
  state.id = stmt.ColumnText(0);
  state.credential_version = stmt.ColumnInt64(1);
  state.disabled = stmt.ColumnInt64(2) != 0;
  return state;
}

template <typename Stmt>
RefreshToken ReadRefreshToken(const Stmt& stmt) {
  RefreshToken token;
  token.token_hash = stmt.ColumnText(0);
  token.family_id = stmt.ColumnText(1);
  token.user_id = stmt.ColumnText(2);
  token.client_id = stmt.ColumnText(3);
  token.scope = stmt.ColumnText(4);
  token.issued_at = stmt.ColumnInt64(5);
  token.expires_at = stmt.ColumnInt64(6);
  token.family_expires_at = stmt.ColumnInt64(7);
  token.parent_hash = stmt.ColumnOptionalText(8);
  token.used_at = stmt.ColumnOptionalInt64(9);
  token.revoked_at = stmt.ColumnOptionalInt64(10);
  token.dpop_jkt = stmt.ColumnOptionalText(11);
  return token;
}

template <typename Stmt>
Result<Client> ReadClient(const Stmt& stmt) {
  Client client;
  client.client_id = stmt.ColumnText(0);
  client.name = stmt.ColumnText(1);
  client.secret_hash = stmt.ColumnText(2);
  Result<std::vector<std::string>> grant_types =
      StringsFromJson(stmt.ColumnText(3), "clients.grant_types");
  if (!grant_types.ok()) return grant_types.status();
  client.grant_types = std::move(*grant_types);
  Result<std::vector<std::string>> scopes = StringsFromJson(stmt.ColumnText(4), "clients.scopes");
  if (!scopes.ok()) return scopes.status();
  client.scopes = std::move(*scopes);
  client.created_at = stmt.ColumnInt64(5);
  Result<std::vector<std::string>> redirect_uris =
      StringsFromJson(stmt.ColumnText(6), "clients.redirect_uris");
  if (!redirect_uris.ok()) return redirect_uris.status();
  client.redirect_uris = std::move(*redirect_uris);
  client.token_endpoint_auth_method = stmt.ColumnText(7);
  Result<std::vector<std::string>> post_logout =
      StringsFromJson(stmt.ColumnText(8), "clients.post_logout_redirect_uris");
  if (!post_logout.ok()) return post_logout.status();
  client.post_logout_redirect_uris = std::move(*post_logout);
  client.id_token_signed_response_alg = stmt.ColumnText(9);
  client.require_dpop = stmt.ColumnInt64(10) != 0;
  return client;
}

template <typename Stmt>
Result<ApiKey> ReadApiKey(const Stmt& stmt) {
  ApiKey key;
  key.id = stmt.ColumnText(0);
  key.secret_hash = stmt.ColumnText(1);
  key.user_id = stmt.ColumnText(2);
  key.name = stmt.ColumnText(3);
  Result<std::vector<std::string>> scopes = StringsFromJson(stmt.ColumnText(4), "api_keys.scopes");
  if (!scopes.ok()) return scopes.status();
  key.scopes = std::move(*scopes);
  key.created_at = stmt.ColumnInt64(5);
  key.expires_at = stmt.ColumnOptionalInt64(6);
  key.last_used_at = stmt.ColumnOptionalInt64(7);
  return key;
}

template <typename Stmt>
AuthorizationCode ReadAuthorizationCode(const Stmt& stmt) {
  AuthorizationCode code;
  code.code_hash = stmt.ColumnText(0);
  code.client_id = stmt.ColumnText(1);
  code.user_id = stmt.ColumnText(2);
  code.redirect_uri = stmt.ColumnText(3);
  code.code_challenge = stmt.ColumnText(4);
  code.scope = stmt.ColumnText(5);
  code.nonce = stmt.ColumnOptionalText(6);
  code.auth_time = stmt.ColumnInt64(7);
  code.amr = stmt.ColumnText(8);
  code.session_id = stmt.ColumnText(9);
  code.created_at = stmt.ColumnInt64(10);
  code.expires_at = stmt.ColumnInt64(11);
  code.used_at = stmt.ColumnOptionalInt64(12);
  code.access_jti = stmt.ColumnOptionalText(13);
  code.access_expires_at = stmt.ColumnOptionalInt64(14);
  code.refresh_family_id = stmt.ColumnOptionalText(15);
  code.dpop_jkt = stmt.ColumnOptionalText(16);
  return code;
}

template <typename Stmt>
BrowserSession ReadBrowserSession(const Stmt& stmt) {
  BrowserSession session;
  session.id = stmt.ColumnText(0);
  session.token_hash = stmt.ColumnText(1);
  session.user_id = stmt.ColumnText(2);
  session.credential_version = stmt.ColumnInt64(3);
  session.auth_time = stmt.ColumnInt64(4);
  session.amr = stmt.ColumnText(5);
  session.created_at = stmt.ColumnInt64(6);
  session.last_seen_at = stmt.ColumnInt64(7);
  session.expires_at = stmt.ColumnInt64(8);
  session.client_ip = stmt.ColumnText(9);
  session.user_agent = stmt.ColumnText(10);
  return session;
}

template <typename Stmt>
AuditEvent ReadAuditEvent(const Stmt& stmt) {
  AuditEvent event;
  event.id = stmt.ColumnInt64(0);
  event.time = stmt.ColumnInt64(1);
  event.type = stmt.ColumnText(2);
  event.actor = stmt.ColumnText(3);
  event.subject = stmt.ColumnText(4);
  event.client_ip = stmt.ColumnText(5);
  event.user_agent = stmt.ColumnText(6);
  event.request_id = stmt.ColumnText(7);
  event.details_json = stmt.ColumnText(8);
  return event;
}

template <typename Stmt>
ThrottleRecord ReadThrottleRecord(const Stmt& stmt) {
  ThrottleRecord record;
  record.key = stmt.ColumnText(0);
  record.failures = stmt.ColumnInt64(1);
  record.window_start = stmt.ColumnInt64(2);
  record.locked_until = stmt.ColumnInt64(3);
  record.lock_level = stmt.ColumnInt64(4);
  record.updated_at = stmt.ColumnInt64(5);
  record.in_flight = stmt.ColumnInt64(6);
  record.in_flight_until = stmt.ColumnInt64(7);
  record.version = stmt.ColumnInt64(8);
  return record;
}

// Binds ?1-?8 of kPutThrottle / kCasInsertThrottle / kCasUpdateThrottle.
template <typename Stmt>
void BindThrottleRecord(Stmt& stmt, const ThrottleRecord& record) {
  stmt.BindText(1, record.key)
      .BindInt64(2, record.failures)
      .BindInt64(3, record.window_start)
      .BindInt64(4, record.locked_until)
      .BindInt64(5, record.lock_level)
      .BindInt64(6, record.updated_at)
      .BindInt64(7, record.in_flight)
      .BindInt64(8, record.in_flight_until);
}

template <typename Backend>
class SqlStore final : public Store {
 public:
  using Connection = typename Backend::Connection;
  using Lease = typename Backend::Lease;
  using Statement = typename Backend::Statement;
  using Transaction = typename Backend::Transaction;

  template <typename... Args>
  explicit SqlStore(Args&&... args) : backend_(std::forward<Args>(args)...) {}

  Result<User> CreateUser(const NewUser& new_user) override {
    std::vector<std::string> roles = new_user.roles;
    std::sort(roles.begin(), roles.end());
    roles.erase(std::unique(roles.begin(), roles.end()), roles.end());

    Lease connection = backend_.Acquire();
    Result<Transaction> tx = Transaction::Begin(*connection);
    if (!tx.ok()) return tx.status();

    User user;
    user.id = new_user.id;
    user.username = new_user.username;
    user.username_normalized = NormalizeUsername(new_user.username);
    user.email = new_user.email;
    user.password_hash = new_user.password_hash;
    user.created_at = new_user.created_at;
    {
      Result<Statement> insert = connection->Prepare(kInsertUser);
      if (!insert.ok()) return insert.status();
      insert->BindText(1, user.id)
          .BindText(2, user.username)
          .BindText(3, user.username_normalized)
          .BindOptionalText(4, user.email)
          .BindText(5, user.password_hash)
          .BindInt64(6, user.created_at);
      if (Status s = insert->Run(); !s.ok()) {
        if (s.code() == StatusCode::kAlreadyExists)
          return AlreadyExistsError("user already exists");
        return s;
      }
    }
    for (const std::string& role : roles) {
      if (Status s = CheckRoleExists(*connection, role); !s.ok()) return s;
      Result<Statement> insert_role = connection->Prepare(kInsertUserRole);
      if (!insert_role.ok()) return insert_role.status();
      insert_role->BindText(1, user.id).BindText(2, role);
      if (Status s = insert_role->Run(); !s.ok()) return s;
    }
    if (Status s = tx->Commit(); !s.ok()) return s;
    user.roles = std::move(roles);
    return user;
  }

  Result<User> FindUserByUsername(std::string_view username) override {
    return FindOneUser(kFindUserByNormalizedName, NormalizeUsername(username));
  }

  Result<User> FindUserById(std::string_view id) override { return FindOneUser(kFindUserById, id); }

  Result<UserPage> ListUsers(std::string_view cursor, std::size_t limit) override {
    UserQuery query;
    query.cursor = std::string(cursor);
    query.limit = limit;
    return QueryUsers(query);
  }

  Result<UserPage> QueryUsers(const UserQuery& query) override {
    if (query.limit == 0) return InvalidArgumentError("limit must be at least 1");
    if (!IsWellFormedUserCursor(query.cursor)) return InvalidArgumentError("malformed cursor");

    Lease connection = backend_.Acquire();
    Result<Statement> stmt = connection->Prepare(kQueryUsers);
    if (!stmt.ok()) return stmt.status();
    if (query.cursor.empty()) {
      stmt->BindOptionalText(1, std::nullopt);
    } else {
      stmt->BindText(1, query.cursor);
    }
    stmt->BindInt64(2, PageFetchLimit(query.limit));
    // A byte range instead of LIKE: no wildcard escaping ('%', '_' are ordinary bytes here) and
    // the bytewise order of the unique index.
    const std::string lower = NormalizeUsername(query.username_prefix.value_or(""));
    stmt->BindText(3, lower);
    stmt->BindOptionalText(4, PrefixUpperBound(lower));  // NULL: no bound above
    stmt->BindOptionalText(5, query.role);
    if (query.disabled.has_value()) {
      stmt->BindInt64(6, *query.disabled ? 1 : 0);
    } else {
      stmt->BindOptionalInt64(6, std::nullopt);
    }
    Result<std::vector<User>> users = ReadUsersWithRoles(*stmt);
    if (!users.ok()) return users.status();

    UserPage page;
    page.items = std::move(*users);
    if (page.items.size() > query.limit) {
      page.items.resize(query.limit);
      page.next_cursor = page.items.back().username_normalized;
    }
    return page;
  }

  Status UpdateUserEmail(std::string_view user_id,
                         const std::optional<std::string>& email) override {
    return UpdateUserRow(kUpdateUserEmail, user_id,
                         [&](Statement& stmt) { stmt.BindOptionalText(2, email); });
  }

  Result<UserState> SetUserRoles(std::string_view user_id,
                                 const std::vector<std::string>& roles) override {
    const std::vector<std::string> wanted = SortedUnique(roles);
    Lease connection = backend_.Acquire();
    Result<Transaction> tx = Transaction::BeginExclusive(*connection);
    if (!tx.ok()) return tx.status();

    if (Result<UserState> exists = ReadUserStateById(*connection, user_id); !exists.ok()) {
      return exists.status();
    }
    for (const std::string& role : wanted) {
      if (Status s = CheckRoleExists(*connection, role); !s.ok()) {
        if (s.code() == StatusCode::kNotFound) return InvalidArgumentError("unknown role: " + role);
        return s;
      }
    }
    Result<std::int64_t> admins_before = CountRoleHolders(*connection, kAdminRole);
    if (!admins_before.ok()) return admins_before.status();
    Result<std::vector<std::string>> held = ReadStrings(*connection, kRolesOfUser, user_id);
    if (!held.ok()) return held.status();

    std::vector<std::string> removed;
    std::set_difference(held->begin(), held->end(), wanted.begin(), wanted.end(),
                        std::back_inserter(removed));
    for (const std::string& role : removed) {
      Result<Statement> remove = connection->Prepare(kDeleteUserRole);
      if (!remove.ok()) return remove.status();
      remove->BindText(1, user_id).BindText(2, role);
      if (Status s = remove->Run(); !s.ok()) return s;
    }
    for (const std::string& role : wanted) {
      Result<Statement> insert = connection->Prepare(kInsertUserRole);
      if (!insert.ok()) return insert.status();
      insert->BindText(1, user_id).BindText(2, role);
      if (Status s = insert->Run(); !s.ok()) return s;
    }
    if (Status s = CheckAdminKeepsHolder(*connection, *admins_before); !s.ok()) return s;
    if (!removed.empty()) {
      // Tokens issued while the user held the removed role must stop granting it (DESIGN §4).
      Result<Statement> bump = connection->Prepare(kBumpCredentialVersion);
      if (!bump.ok()) return bump.status();
      bump->BindText(1, user_id);
      if (Status s = bump->Run(); !s.ok()) return s;
    }
    Result<UserState> state = ReadUserStateById(*connection, user_id);
    if (!state.ok()) return state.status();
    if (Status s = tx->Commit(); !s.ok()) return s;
    return state;
  }

  Status DeleteUser(std::string_view user_id) override {
    Lease connection = backend_.Acquire();
    Result<Transaction> tx = Transaction::BeginExclusive(*connection);
    if (!tx.ok()) return tx.status();

    std::string username_normalized;
    {
      Result<Statement> select = connection->Prepare(kUsernameById);
      if (!select.ok()) return select.status();
      select->BindText(1, user_id);
      Result<bool> row = select->Step();
      if (!row.ok()) return row.status();
      if (!*row) return NotFoundError("user not found");
      username_normalized = select->ColumnText(0);
    }
    Result<std::int64_t> admins_before = CountRoleHolders(*connection, kAdminRole);
    if (!admins_before.ok()) return admins_before.status();
    // Explicit deletes rather than relying on ON DELETE CASCADE alone: refresh_tokens and
    // known_sources have no foreign key to users.
    for (std::string_view sql : {kDeleteUserRoles, kDeleteUserPermissionUses,
                                 kDeleteUserRefreshTokens, kDeleteUserApiKeys, kDeleteUser}) {
      Result<Statement> remove = connection->Prepare(sql);
      if (!remove.ok()) return remove.status();
      remove->BindText(1, user_id);
      if (Status s = remove->Run(); !s.ok()) return s;
    }
    {
      Result<Statement> remove = connection->Prepare(kDeleteUserKnownSources);
      if (!remove.ok()) return remove.status();
      remove->BindText(1, username_normalized);
      if (Status s = remove->Run(); !s.ok()) return s;
    }
    if (Status s = CheckAdminKeepsHolder(*connection, *admins_before); !s.ok()) return s;
    return tx->Commit();
  }

  Result<std::vector<UserChange>> UserChangesSince(std::int64_t after_seq,
                                                   std::size_t limit) override {
    if (limit == 0) return InvalidArgumentError("limit must be at least 1");
    Lease connection = backend_.Acquire();
    Result<Statement> stmt = connection->Prepare(kUserChangesSince);
    if (!stmt.ok()) return stmt.status();
    stmt->BindInt64(1, after_seq).BindInt64(2, PageFetchLimit(limit) - 1);
    std::vector<UserChange> changes;
    while (true) {
      Result<bool> row = stmt->Step();
      if (!row.ok()) return row.status();
      if (!*row) break;
      changes.push_back(UserChange{.seq = stmt->ColumnInt64(0), .user_id = stmt->ColumnText(1)});
    }
    return changes;
  }

  Result<std::int64_t> LatestUserChange() override { return ReadCount(kLatestUserChange); }

  Result<int> PruneUserChanges(UnixSeconds before) override {
    Lease connection = backend_.Acquire();
    [[maybe_unused]] auto writer = Backend::AutocommitWriteLock(*connection);
    Result<Statement> stmt = connection->Prepare(kPruneUserChanges);
    if (!stmt.ok()) return stmt.status();
    stmt->BindInt64(1, before);
    if (Status s = stmt->Run(); !s.ok()) return s;
    return ChangesAsInt(stmt->Changes());
  }

  Status RecordPermissionUses(const std::vector<PermissionUse>& uses) override {
    if (uses.empty()) return Status::Ok();
    Lease connection = backend_.Acquire();
    Result<Transaction> tx = Transaction::Begin(*connection);
    if (!tx.ok()) return tx.status();
    for (const PermissionUse& use : uses) {
      Result<Statement> upsert = connection->Prepare(kRecordPermissionUse);
      if (!upsert.ok()) return upsert.status();
      upsert->BindText(1, use.user_id).BindText(2, use.permission).BindInt64(3, use.at);
      if (Status s = upsert->Run(); !s.ok()) return s;
    }
    return tx->Commit();
  }

  Result<std::vector<PermissionUse>> ListPermissionUses() override {
    Lease connection = backend_.Acquire();
    Result<Statement> stmt = connection->Prepare(kListPermissionUses);
    if (!stmt.ok()) return stmt.status();
    std::vector<PermissionUse> uses;
    while (true) {
      Result<bool> row = stmt->Step();
      if (!row.ok()) return row.status();
      if (!*row) break;
      uses.push_back(PermissionUse{.user_id = stmt->ColumnText(0),
                                   .permission = stmt->ColumnText(1),
                                   .at = stmt->ColumnInt64(2)});
    }
    return uses;
  }

  Result<std::vector<Status>> ImportUsers(const std::vector<NewUser>& batch) override {
    Lease connection = backend_.Acquire();
    Result<Transaction> tx = Transaction::Begin(*connection);
    if (!tx.ok()) return tx.status();
    std::vector<Status> results;
    results.reserve(batch.size());
    for (const NewUser& row : batch) {
      Result<RowVerdict> verdict = ImportOneUser(*connection, row);
      if (!verdict.ok()) return verdict.status();  // a database error: the guard rolls back
      results.push_back(std::move(verdict->status));
    }
    if (Status s = tx->Commit(); !s.ok()) return s;
    return results;
  }

  Result<std::int64_t> CountUsers() override { return ReadCount(kCountUsers); }

  Status UpdatePasswordHash(std::string_view user_id, std::string_view phc) override {
    return UpdateUserRow(kUpdatePasswordHash, user_id,
                         [&](Statement& stmt) { stmt.BindText(2, phc); });
  }

  Status RecordLogin(std::string_view user_id, UnixSeconds at) override {
    return UpdateUserRow(kRecordLogin, user_id, [&](Statement& stmt) { stmt.BindInt64(2, at); });
  }

  Status UpsertRole(const Role& role) override {
    Lease connection = backend_.Acquire();
    Result<Transaction> tx = Transaction::Begin(*connection);
    if (!tx.ok()) return tx.status();
    {
      Result<Statement> upsert = connection->Prepare(kUpsertRole);
      if (!upsert.ok()) return upsert.status();
      upsert->BindText(1, role.name).BindText(2, role.description).BindInt64(3, role.created_at);
      if (Status s = upsert->Run(); !s.ok()) return s;
    }
    {
      Result<Statement> clear = connection->Prepare(kDeleteRolePermissions);
      if (!clear.ok()) return clear.status();
      clear->BindText(1, role.name);
      if (Status s = clear->Run(); !s.ok()) return s;
    }
    for (const std::string& permission : role.permissions) {
      Result<Statement> insert = connection->Prepare(kInsertRolePermission);
      if (!insert.ok()) return insert.status();
      insert->BindText(1, role.name).BindText(2, permission);
      if (Status s = insert->Run(); !s.ok()) return s;
    }
    return tx->Commit();
  }

  Result<Role> FindRole(std::string_view name) override {
    Result<std::vector<Role>> roles = SelectRoles(name);
    if (!roles.ok()) return roles.status();
    if (roles->empty()) return NotFoundError("role not found");
    return std::move(roles->front());
  }

  Result<std::vector<Role>> ListRoles() override { return SelectRoles(std::nullopt); }

  Result<RolePage> ListRolesPage(std::string_view cursor, std::size_t limit) override {
    if (limit == 0) return InvalidArgumentError("limit must be at least 1");
    if (cursor.find('\0') != std::string_view::npos)
      return InvalidArgumentError("malformed cursor");
    Lease connection = backend_.Acquire();
    Result<Statement> stmt = connection->Prepare(kListRolesPage);
    if (!stmt.ok()) return stmt.status();
    if (cursor.empty()) {
      stmt->BindOptionalText(1, std::nullopt);
    } else {
      stmt->BindText(1, cursor);
    }
    stmt->BindInt64(2, PageFetchLimit(limit));
    Result<std::vector<Role>> roles = ReadRolesWithPermissions(*stmt);
    if (!roles.ok()) return roles.status();
    RolePage page;
    page.items = std::move(*roles);
    if (page.items.size() > limit) {
      page.items.resize(limit);
      page.next_cursor = page.items.back().name;
    }
    return page;
  }

  Result<std::vector<std::string>> PermissionsOfUser(std::string_view user_id) override {
    Lease connection = backend_.Acquire();
    Result<Statement> stmt = connection->Prepare(kPermissionsOfUser);
    if (!stmt.ok()) return stmt.status();
    stmt->BindText(1, user_id);
    std::vector<std::string> permissions;
    while (true) {
      Result<bool> row = stmt->Step();
      if (!row.ok()) return row.status();
      if (!*row) break;
      permissions.push_back(stmt->ColumnText(0));
    }
    return permissions;
  }

  Status CreateRole(const Role& role) override {
    Lease connection = backend_.Acquire();
    Result<Transaction> tx = Transaction::Begin(*connection);
    if (!tx.ok()) return tx.status();
    {
      Result<Statement> insert = connection->Prepare(kInsertRole);
      if (!insert.ok()) return insert.status();
      insert->BindText(1, role.name).BindText(2, role.description).BindInt64(3, role.created_at);
      if (Status s = insert->Run(); !s.ok()) {
        if (s.code() == StatusCode::kAlreadyExists)
          return AlreadyExistsError("role already exists");
        return s;
      }
    }
    if (Status s = InsertRolePermissions(*connection, role); !s.ok()) return s;
    return tx->Commit();
  }

  Result<std::vector<UserState>> UpdateRole(const Role& role) override {
    const std::vector<std::string> wanted = SortedUnique(role.permissions);
    Lease connection = backend_.Acquire();
    Result<Transaction> tx = Transaction::Begin(*connection);
    if (!tx.ok()) return tx.status();
    {
      Result<Statement> update = connection->Prepare(kUpdateRoleDescription);
      if (!update.ok()) return update.status();
      update->BindText(1, role.name).BindText(2, role.description);
      if (Status s = update->Run(); !s.ok()) return s;
      if (update->Changes() == 0) return NotFoundError("role not found");
    }
    Result<std::vector<std::string>> had = ReadStrings(*connection, kPermissionsOfRole, role.name);
    if (!had.ok()) return had.status();
    {
      Result<Statement> clear = connection->Prepare(kDeleteRolePermissions);
      if (!clear.ok()) return clear.status();
      clear->BindText(1, role.name);
      if (Status s = clear->Run(); !s.ok()) return s;
    }
    if (Status s = InsertRolePermissions(*connection, role); !s.ok()) return s;
    // Conservative: a holder is bumped even if another of their roles still grants the removed
    // permission; a needless re-login is cheaper than a token granting too much.
    const bool removed_any = !std::includes(wanted.begin(), wanted.end(), had->begin(), had->end());
    std::vector<UserState> bumped;
    if (removed_any) {
      Result<std::vector<UserState>> states = BumpRoleHolders(*connection, role.name);
      if (!states.ok()) return states.status();
      bumped = std::move(*states);
    }
    if (Status s = tx->Commit(); !s.ok()) return s;
    return bumped;
  }

  Result<std::vector<UserState>> DeleteRole(std::string_view name) override {
    Lease connection = backend_.Acquire();
    Result<Transaction> tx = Transaction::Begin(*connection);
    if (!tx.ok()) return tx.status();
    if (Status s = CheckRoleExists(*connection, name); !s.ok()) return s;
    Result<std::vector<UserState>> bumped = BumpRoleHolders(*connection, name);
    if (!bumped.ok()) return bumped.status();
    for (std::string_view sql : {kDeleteRoleMemberships, kDeleteRolePermissions, kDeleteRole}) {
      Result<Statement> remove = connection->Prepare(sql);
      if (!remove.ok()) return remove.status();
      remove->BindText(1, name);
      if (Status s = remove->Run(); !s.ok()) return s;
    }
    if (Status s = tx->Commit(); !s.ok()) return s;
    return bumped;
  }

  Result<std::vector<std::string>> UsersWithRole(std::string_view name) override {
    Lease connection = backend_.Acquire();
    return ReadStrings(*connection, kUsersWithRole, name);
  }

  Status InsertSigningKey(const SigningKey& key) override {
    if (!IsValidKeyState(key.state)) return InvalidArgumentError("unknown signing key state");
    Lease connection = backend_.Acquire();
    Result<Statement> stmt = connection->Prepare(kInsertSigningKey);
    if (!stmt.ok()) return stmt.status();
    stmt->BindText(1, key.kid)
        .BindText(2, key.alg)
        .BindText(3, key.state)
        .BindBlob(4, key.sealed_private_key)
        .BindText(5, key.public_jwk)
        .BindInt64(6, key.created_at)
        .BindOptionalInt64(7, key.deactivated_at);
    Status s = stmt->Run();
    if (s.code() == StatusCode::kAlreadyExists) return AlreadyExistsError("signing key kid exists");
    return s;
  }

  Result<std::vector<SigningKey>> ListSigningKeys() override {
    Lease connection = backend_.Acquire();
    Result<Statement> stmt = connection->Prepare(kListSigningKeys);
    if (!stmt.ok()) return stmt.status();
    std::vector<SigningKey> keys;
    while (true) {
      Result<bool> row = stmt->Step();
      if (!row.ok()) return row.status();
      if (!*row) break;
      SigningKey key;
      key.kid = stmt->ColumnText(0);
      key.alg = stmt->ColumnText(1);
      key.state = stmt->ColumnText(2);
      key.sealed_private_key = stmt->ColumnBlob(3);
      key.public_jwk = stmt->ColumnText(4);
      key.created_at = stmt->ColumnInt64(5);
      key.deactivated_at = stmt->ColumnOptionalInt64(6);
      keys.push_back(std::move(key));
    }
    return keys;
  }

  Status UpdateSigningKeyState(std::string_view kid, std::string_view state,
                               std::optional<UnixSeconds> deactivated_at) override {
    if (!IsValidKeyState(state)) return InvalidArgumentError("unknown signing key state");
    Lease connection = backend_.Acquire();
    Result<Statement> stmt = connection->Prepare(kUpdateSigningKeyState);
    if (!stmt.ok()) return stmt.status();
    stmt->BindText(1, kid).BindText(2, state).BindOptionalInt64(3, deactivated_at);
    if (Status s = stmt->Run(); !s.ok()) return s;
    if (stmt->Changes() == 0) return NotFoundError("signing key not found");
    return Status::Ok();
  }

  Status ReplaceSealedPrivateKeys(
      const std::vector<std::pair<std::string, std::string>>& sealed_by_kid) override {
    Lease connection = backend_.Acquire();
    Result<Transaction> tx = Transaction::Begin(*connection);
    if (!tx.ok()) return tx.status();
    std::vector<Statement> updates;
    updates.reserve(sealed_by_kid.size());
    for (const auto& [kid, sealed] : sealed_by_kid) {
      Result<Statement> stmt = connection->Prepare(kReplaceSealedPrivateKey);
      if (!stmt.ok()) return stmt.status();
      stmt->BindText(1, kid).BindBlob(2, sealed);
      stmt->Defer();  // all in one round trip
      updates.push_back(std::move(*stmt));
    }
    for (Statement& stmt : updates) {
      if (Status s = stmt.Run(); !s.ok()) return s;
      if (stmt.Changes() == 0) return NotFoundError("signing key not found");
    }
    return tx->Commit();
  }

  Status Ping() override {
    Lease connection = backend_.Acquire();
    Result<Statement> stmt = connection->Prepare(kPing);
    if (!stmt.ok()) return stmt.status();
    return stmt->Run();
  }

  Result<int> SchemaVersion() override {
    Lease connection = backend_.Acquire();
    return Backend::CurrentSchemaVersion(*connection);
  }

  Result<int> Migrate() override {
    const std::span<const Migration> migrations = Backend::Migrations();
    const int latest = migrations.empty() ? 0 : migrations.back().version;

    Lease connection = backend_.Acquire();
    if (Status s = Backend::EnsureSchemaTable(*connection); !s.ok()) return s;
    Result<int> before = Backend::CurrentSchemaVersion(*connection);
    if (!before.ok()) return before.status();
    if (*before > latest) return NewerSchemaError(*before, latest);

    int applied = 0;
    for (const Migration& migration : migrations) {
      // Re-read the version inside each exclusive write transaction: another process may be
      // migrating at the same moment (SQLite: the write lock; PostgreSQL: an advisory lock).
      Result<Transaction> tx = Transaction::BeginExclusive(*connection);
      if (!tx.ok()) return tx.status();
      Result<int> current = Backend::CurrentSchemaVersion(*connection);
      if (!current.ok()) return current.status();
      if (*current > latest) return NewerSchemaError(*current, latest);
      if (migration.version <= *current) continue;  // the guard rolls back the empty tx

      const std::string context = "migration " + std::string(migration.name);
      const std::string sql(migration.sql);
      if (Status s = connection->Exec(sql.c_str(), context); !s.ok()) return s;
      Result<Statement> record = connection->Prepare(kInsertSchemaVersion);
      if (!record.ok()) return record.status();
      record->BindInt64(1, migration.version).BindInt64(2, WallClockNow());
      if (Status s = record->Run(); !s.ok()) return WithContext(s, context);
      if (Status s = tx->Commit(); !s.ok()) return WithContext(s, context);
      ++applied;
    }
    return applied;
  }

  std::string_view BackendName() const override { return Backend::kName; }

  Status RunExclusively(std::string_view name, const std::function<Status()>& fn) override {
    return backend_.RunExclusively(name, fn);
  }

  std::unique_ptr<ChangeListener> ListenForChanges() override {
    return backend_.ListenForChanges();
  }

  Result<std::vector<ChangeEvent>> ChangesSince(std::int64_t after_seq,
                                                std::size_t limit) override {
    if (limit == 0) return InvalidArgumentError("limit must be at least 1");
    Lease connection = backend_.Acquire();
    Result<Statement> stmt = connection->Prepare(kChangesSince);
    if (!stmt.ok()) return stmt.status();
    stmt->BindInt64(1, after_seq).BindInt64(2, PageFetchLimit(limit) - 1);
    std::vector<ChangeEvent> changes;
    while (true) {
      Result<bool> row = stmt->Step();
      if (!row.ok()) return row.status();
      if (!*row) break;
      changes.push_back(ChangeEvent{.seq = stmt->ColumnInt64(0),
                                    .kind = stmt->ColumnText(1),
                                    .subject = stmt->ColumnText(2),
                                    .at = stmt->ColumnInt64(3)});
    }
    return changes;
  }

  Result<std::int64_t> LatestChange() override { return ReadCount(kLatestChange); }

  Result<int> PruneChanges(UnixSeconds before) override {
    return RunTimedDelete(kPruneChanges, before);
  }

  Result<std::int64_t> BumpCredentialVersion(std::string_view user_id) override {
    Lease connection = backend_.Acquire();
    Result<Statement> stmt = connection->Prepare(kBumpCredentialVersion);
    if (!stmt.ok()) return stmt.status();
    stmt->BindText(1, user_id);
    Result<bool> row = stmt->Step();
    if (!row.ok()) return row.status();
    if (!*row) return NotFoundError("user not found");
    const std::int64_t version = stmt->ColumnInt64(0);
    if (Status s = FinishStatement(*stmt); !s.ok()) return s;
    return version;
  }

  Result<UserState> SetUserDisabled(std::string_view user_id, bool disabled) override {
    Lease connection = backend_.Acquire();
    Result<Statement> stmt = connection->Prepare(kSetUserDisabled);
    if (!stmt.ok()) return stmt.status();
    stmt->BindText(1, user_id).BindInt64(2, disabled ? 1 : 0);
    Result<bool> row = stmt->Step();
    if (!row.ok()) return row.status();
    if (!*row) return NotFoundError("user not found");
    UserState state = ReadUserState(*stmt);
    if (Status s = FinishStatement(*stmt); !s.ok()) return s;
    return state;
  }

  Result<std::vector<UserState>> ListUserStates() override {
    Lease connection = backend_.Acquire();
    Result<Statement> stmt = connection->Prepare(kListUserStates);
    if (!stmt.ok()) return stmt.status();
    std::vector<UserState> states;
    while (true) {
      Result<bool> row = stmt->Step();
      if (!row.ok()) return row.status();
      if (!*row) break;
      states.push_back(ReadUserState(*stmt));
    }
    return states;
  }

  Status InsertRefreshToken(const RefreshToken& token) override {
    return commits_.Run(
        [&](Connection& connection) { return InsertRefreshTokenRow(connection, token); });
  }

  Result<RefreshToken> FindRefreshToken(std::string_view token_hash) override {
    Result<std::optional<RefreshToken>> token = FindOneRefreshToken(kFindRefreshToken, token_hash);
    if (!token.ok()) return token.status();
    if (!token->has_value()) return NotFoundError("refresh token not found");
    return std::move(**token);
  }

  Result<std::optional<RefreshToken>> FindSuccessor(std::string_view parent_hash) override {
    return FindOneRefreshToken(kFindSuccessor, parent_hash);
  }

  Status RotateRefreshToken(std::string_view old_hash, const RefreshToken& next, UnixSeconds now,
                            AuditEvent* audit = nullptr) override {
    if (next.parent_hash != std::optional<std::string>(old_hash)) {
      return InvalidArgumentError("rotated refresh token must name the old token as its parent");
    }
    if (audit != nullptr) {
      if (Status valid = ValidateAuditDetails(*audit); !valid.ok()) return valid;
    }
    // Group-committed (store/sql/group_commit.h). SQLite: the batch's IMMEDIATE transaction holds
    // the write lock before the read below, so across connections and processes exactly one
    // rotation of a token can see it unused. PostgreSQL: the conditional UPDATE is the guard (a
    // concurrent rotation's row version makes it change nothing). Round trips on PostgreSQL:
    // read + mark, then insert (with the COMMIT when it is the batch's last write).
    return commits_.Run([&](Connection& connection) -> Status {
      Result<Statement> state = connection.Prepare(kRefreshTokenState);
      if (!state.ok()) return state.status();
      state->BindText(1, old_hash);
      state->Defer();
      // Marking before the checks is harmless: any refusal below rolls this write back.
      Result<Statement> mark = connection.Prepare(kMarkRefreshTokenUsed);
      if (!mark.ok()) return mark.status();
      mark->BindText(1, old_hash).BindInt64(2, now);
      mark->Defer();
      Result<bool> row = state->Step();
      if (!row.ok()) return row.status();
      if (!*row) return NotFoundError("refresh token not found");
      if (state->ColumnOptionalInt64(2).has_value()) {
        return FailedPreconditionError("refresh token is revoked");
      }
      if (state->ColumnOptionalInt64(1).has_value()) {
        return AbortedError("refresh token was already used");
      }
      if (state->ColumnText(0) != next.family_id) {
        return InvalidArgumentError("rotated refresh token must stay in its family");
      }
      // Conditional even though the row was just read: the guard against a lost update does
      // not rely on the locking mode alone.
      if (Status s = mark->Run(); !s.ok()) return s;
      if (mark->Changes() != 1) return AbortedError("refresh token was already used");
      Result<Statement> insert = PrepareRefreshTokenInsert(connection, next);
      if (!insert.ok()) return insert.status();
      insert->Defer();
      if (audit != nullptr) {  // travels with the insert
        Result<std::int64_t> id = AppendAuditRow(connection, *audit);
        if (!id.ok()) return id.status();
        audit->id = *id;
      }
      return Status::Ok();
    });
  }

  Status ReplaceUnusedSuccessor(std::string_view successor_hash, const RefreshToken& next,
                                UnixSeconds now) override {
    return commits_.Run([&](Connection& connection) -> Status {
      Result<Statement> revoke = connection.Prepare(kRevokeUnusedRefreshToken);
      if (!revoke.ok()) return revoke.status();
      revoke->BindText(1, successor_hash).BindInt64(2, now);
      if (Status s = revoke->Run(); !s.ok()) return s;
      if (revoke->Changes() != 1) {
        return AbortedError("successor refresh token is absent, used or revoked");
      }
      Result<Statement> insert = PrepareRefreshTokenInsert(connection, next);
      if (!insert.ok()) return insert.status();
      insert->Defer();
      return Status::Ok();
    });
  }

  Result<int> RevokeRefreshFamily(std::string_view family_id, UnixSeconds now) override {
    return RunKeyedWrite(kRevokeRefreshFamily, family_id, now);
  }

  Result<int> RevokeUserRefreshTokens(std::string_view user_id, UnixSeconds now) override {
    return RunKeyedWrite(kRevokeUserRefreshTokens, user_id, now);
  }

  Result<int> PruneRefreshTokens(UnixSeconds now) override {
    return RunTimedDelete(kPruneRefreshTokens, now);
  }

  Status AddRevokedJti(std::string_view jti, UnixSeconds expires_at) override {
    Lease connection = backend_.Acquire();
    Result<Statement> stmt = connection->Prepare(kAddRevokedJti);
    if (!stmt.ok()) return stmt.status();
    stmt->BindText(1, jti).BindInt64(2, expires_at);
    return stmt->Run();
  }

  Result<std::vector<RevokedJti>> ListRevokedJtis(UnixSeconds now) override {
    Lease connection = backend_.Acquire();
    Result<Statement> stmt = connection->Prepare(kListRevokedJtis);
    if (!stmt.ok()) return stmt.status();
    stmt->BindInt64(1, now);
    std::vector<RevokedJti> revoked;
    while (true) {
      Result<bool> row = stmt->Step();
      if (!row.ok()) return row.status();
      if (!*row) break;
      revoked.push_back(RevokedJti{.jti = stmt->ColumnText(0), .expires_at = stmt->ColumnInt64(1)});
    }
    return revoked;
  }

  Result<int> PruneRevokedJtis(UnixSeconds now) override {
    return RunTimedDelete(kPruneRevokedJtis, now);
  }

  Status CreateClient(const Client& client) override {
    Lease connection = backend_.Acquire();
    Result<Statement> stmt = connection->Prepare(kInsertClient);
    if (!stmt.ok()) return stmt.status();
    stmt->BindText(1, client.client_id)
        .BindText(2, client.name)
        .BindText(3, client.secret_hash)
        .BindText(4, StringsToJson(client.grant_types))
        .BindText(5, StringsToJson(client.scopes))
        .BindInt64(6, client.created_at)
        .BindText(7, StringsToJson(client.redirect_uris))
        .BindText(8, client.token_endpoint_auth_method)
        .BindText(9, StringsToJson(client.post_logout_redirect_uris))
        .BindText(10, client.id_token_signed_response_alg)
        .BindInt64(11, client.require_dpop ? 1 : 0);
    Status s = stmt->Run();
    if (s.code() == StatusCode::kAlreadyExists) return AlreadyExistsError("client already exists");
    return s;
  }

  Result<Client> FindClient(std::string_view client_id) override {
    Lease connection = backend_.Acquire();
    Result<Statement> stmt = connection->Prepare(kFindClient);
    if (!stmt.ok()) return stmt.status();
    stmt->BindText(1, client_id);
    Result<bool> row = stmt->Step();
    if (!row.ok()) return row.status();
    if (!*row) return NotFoundError("client not found");
    return ReadClient(*stmt);
  }

  Result<ClientPage> ListClients(std::string_view cursor, std::size_t limit) override {
    if (limit == 0) return InvalidArgumentError("limit must be at least 1");
    Lease connection = backend_.Acquire();
    Result<Statement> stmt = connection->Prepare(kListClients);
    if (!stmt.ok()) return stmt.status();
    if (cursor.empty()) {
      stmt->BindOptionalText(1, std::nullopt);
    } else {
      stmt->BindText(1, cursor);
    }
    stmt->BindInt64(2, PageFetchLimit(limit));
    ClientPage page;
    while (true) {
      Result<bool> row = stmt->Step();
      if (!row.ok()) return row.status();
      if (!*row) break;
      Result<Client> client = ReadClient(*stmt);
      if (!client.ok()) return client.status();
      page.items.push_back(std::move(*client));
    }
    if (page.items.size() > limit) {
      page.items.resize(limit);
      page.next_cursor = page.items.back().client_id;
    }
    return page;
  }

  Status DeleteClient(std::string_view client_id, UnixSeconds now) override {
    Lease connection = backend_.Acquire();
    Result<Transaction> tx = Transaction::Begin(*connection);
    if (!tx.ok()) return tx.status();
    {
      Result<Statement> remove = connection->Prepare(kDeleteClient);
      if (!remove.ok()) return remove.status();
      remove->BindText(1, client_id);
      if (Status s = remove->Run(); !s.ok()) return s;
      if (remove->Changes() == 0) return NotFoundError("client not found");
    }
    {
      Result<Statement> revoke = connection->Prepare(kRevokeClientRefreshTokens);
      if (!revoke.ok()) return revoke.status();
      revoke->BindText(1, client_id).BindInt64(2, now);
      if (Status s = revoke->Run(); !s.ok()) return s;
    }
    return tx->Commit();
  }

  Status CreateApiKey(const ApiKey& key) override {
    Lease connection = backend_.Acquire();
    Result<Transaction> tx = Transaction::Begin(*connection);
    if (!tx.ok()) return tx.status();
    {
      // Checked first so a missing owner is kNotFound by name, not a bare FOREIGN KEY failure.
      Result<Statement> owner = connection->Prepare(kUserExists);
      if (!owner.ok()) return owner.status();
      owner->BindText(1, key.user_id);
      Result<bool> row = owner->Step();
      if (!row.ok()) return row.status();
      if (!*row) return NotFoundError("user not found");
    }
    {
      Result<Statement> insert = connection->Prepare(kInsertApiKey);
      if (!insert.ok()) return insert.status();
      insert->BindText(1, key.id)
          .BindText(2, key.secret_hash)
          .BindText(3, key.user_id)
          .BindText(4, key.name)
          .BindText(5, StringsToJson(SortedUnique(key.scopes)))
          .BindInt64(6, key.created_at)
          .BindOptionalInt64(7, key.expires_at);
      if (Status s = insert->Run(); !s.ok()) {
        if (s.code() == StatusCode::kAlreadyExists) return AlreadyExistsError("api key exists");
        return s;
      }
    }
    return tx->Commit();
  }

  Result<ApiKey> FindApiKey(std::string_view id) override {
    Lease connection = backend_.Acquire();
    Result<Statement> stmt = connection->Prepare(kFindApiKey);
    if (!stmt.ok()) return stmt.status();
    stmt->BindText(1, id);
    Result<bool> row = stmt->Step();
    if (!row.ok()) return row.status();
    if (!*row) return NotFoundError("api key not found");
    return ReadApiKey(*stmt);
  }

  Result<ApiKeyPage> ListApiKeys(const std::optional<std::string>& user_id, std::string_view cursor,
                                 std::size_t limit) override {
    if (limit == 0) return InvalidArgumentError("limit must be at least 1");
    Lease connection = backend_.Acquire();
    Result<Statement> stmt = connection->Prepare(kListApiKeys);
    if (!stmt.ok()) return stmt.status();
    if (cursor.empty()) {
      stmt->BindOptionalText(1, std::nullopt);
    } else {
      stmt->BindText(1, cursor);
    }
    stmt->BindInt64(2, PageFetchLimit(limit)).BindOptionalText(3, user_id);
    ApiKeyPage page;
    while (true) {
      Result<bool> row = stmt->Step();
      if (!row.ok()) return row.status();
      if (!*row) break;
      Result<ApiKey> key = ReadApiKey(*stmt);
      if (!key.ok()) return key.status();
      page.items.push_back(std::move(*key));
    }
    if (page.items.size() > limit) {
      page.items.resize(limit);
      page.next_cursor = page.items.back().id;
    }
    return page;
  }

  Status DeleteApiKey(std::string_view id) override {
    Lease connection = backend_.Acquire();
    // A transaction: the delete and the feed entry its trigger appends commit together.
    Result<Transaction> tx = Transaction::Begin(*connection);
    if (!tx.ok()) return tx.status();
    {
      Result<Statement> remove = connection->Prepare(kDeleteApiKey);
      if (!remove.ok()) return remove.status();
      remove->BindText(1, id);
      if (Status s = remove->Run(); !s.ok()) return s;
      if (remove->Changes() == 0) return NotFoundError("api key not found");
    }
    return tx->Commit();
  }

  Status RecordApiKeyUses(const std::vector<ApiKeyUse>& uses) override {
    if (uses.empty()) return Status::Ok();
    Lease connection = backend_.Acquire();
    Result<Transaction> tx = Transaction::Begin(*connection);
    if (!tx.ok()) return tx.status();
    for (const ApiKeyUse& use : uses) {
      Result<Statement> update = connection->Prepare(kRecordApiKeyUse);
      if (!update.ok()) return update.status();
      update->BindText(1, use.id).BindInt64(2, use.at);
      if (Status s = update->Run(); !s.ok()) return s;
    }
    return tx->Commit();
  }

  Result<std::int64_t> AppendAudit(const AuditEvent& event) override {
    if (Status valid = ValidateAuditDetails(event); !valid.ok()) return valid;
    std::int64_t id = 0;
    Status s = commits_.Run([&](Connection& connection) -> Status {
      Result<std::int64_t> appended = AppendAuditRow(connection, event);
      if (!appended.ok()) return appended.status();
      id = *appended;
      return Status::Ok();
    });
    if (!s.ok()) return s;
    return id;
  }

  Result<AuditPage> ListAudit(const AuditFilter& filter) override {
    if (filter.limit == 0) return InvalidArgumentError("limit must be at least 1");
    Lease connection = backend_.Acquire();
    Result<Statement> stmt = connection->Prepare(kListAudit);
    if (!stmt.ok()) return stmt.status();
    stmt->BindOptionalInt64(1, filter.since)
        .BindOptionalText(2, filter.type)
        .BindOptionalText(3, filter.user)
        .BindOptionalInt64(4, filter.before_id)
        .BindInt64(5, PageFetchLimit(filter.limit));
    AuditPage page;
    while (true) {
      Result<bool> row = stmt->Step();
      if (!row.ok()) return row.status();
      if (!*row) break;
      page.items.push_back(ReadAuditEvent(*stmt));
    }
    if (page.items.size() > filter.limit) {
      page.items.resize(filter.limit);
      page.next_cursor = std::to_string(page.items.back().id);
    }
    return page;
  }

  Result<std::optional<ThrottleRecord>> GetThrottle(std::string_view key) override {
    Lease connection = backend_.Acquire();
    Result<Statement> stmt = connection->Prepare(kGetThrottle);
    if (!stmt.ok()) return stmt.status();
    stmt->BindText(1, key);
    Result<bool> row = stmt->Step();
    if (!row.ok()) return row.status();
    if (!*row) return std::optional<ThrottleRecord>();
    return std::optional<ThrottleRecord>(ReadThrottleRecord(*stmt));
  }

  Result<std::vector<std::optional<ThrottleRecord>>> GetThrottles(
      const std::vector<std::string>& keys) override {
    Lease connection = backend_.Acquire();
    std::vector<Statement> reads;
    reads.reserve(keys.size());
    for (const std::string& key : keys) {
      Result<Statement> stmt = connection->Prepare(kGetThrottle);
      if (!stmt.ok()) return stmt.status();
      stmt->BindText(1, key);
      stmt->Defer();  // all in one round trip
      reads.push_back(std::move(*stmt));
    }
    std::vector<std::optional<ThrottleRecord>> records;
    records.reserve(keys.size());
    for (Statement& stmt : reads) {
      Result<bool> row = stmt.Step();
      if (!row.ok()) return row.status();
      records.push_back(*row ? std::optional<ThrottleRecord>(ReadThrottleRecord(stmt))
                             : std::nullopt);
    }
    return records;
  }

  Status PutThrottle(const ThrottleRecord& record) override {
    if (record.key.empty()) return InvalidArgumentError("throttle key is empty");
    Lease connection = backend_.Acquire();
    [[maybe_unused]] auto writer = Backend::AutocommitWriteLock(*connection);
    Result<Statement> stmt = connection->Prepare(kPutThrottle);
    if (!stmt.ok()) return stmt.status();
    BindThrottleRecord(*stmt, record);
    return stmt->Run();
  }

  Result<bool> CompareAndSwapThrottles(const std::vector<ThrottleRecord>& records) override {
    for (const ThrottleRecord& record : records) {
      if (record.key.empty()) return InvalidArgumentError("throttle key is empty");
    }
    if (records.empty()) return true;
    Lease connection = backend_.Acquire();
    // Round trips on PostgreSQL: BEGIN + every write, then COMMIT (or ROLLBACK).
    Result<Transaction> tx = Transaction::Begin(*connection);
    if (!tx.ok()) return tx.status();
    std::vector<Statement> writes;
    writes.reserve(records.size());
    for (const ThrottleRecord& record : records) {
      Result<Statement> stmt =
          connection->Prepare(record.version == 0 ? kCasInsertThrottle : kCasUpdateThrottle);
      if (!stmt.ok()) return stmt.status();
      BindThrottleRecord(*stmt, record);
      if (record.version != 0) stmt->BindInt64(9, record.version);
      stmt->Defer();
      writes.push_back(std::move(*stmt));
    }
    for (Statement& stmt : writes) {
      if (Status s = stmt.Run(); !s.ok()) return s;
      if (stmt.Changes() != 1) return false;  // changed meanwhile: the guard rolls back
    }
    if (Status s = tx->Commit(); !s.ok()) return s;
    return true;
  }

  Status DeleteThrottle(std::string_view key) override {
    Lease connection = backend_.Acquire();
    Result<Statement> stmt = connection->Prepare(kDeleteThrottle);
    if (!stmt.ok()) return stmt.status();
    stmt->BindText(1, key);
    return stmt->Run();
  }

  Result<std::vector<ThrottleRecord>> ListThrottles(UnixSeconds updated_since) override {
    Lease connection = backend_.Acquire();
    Result<Statement> stmt = connection->Prepare(kListThrottles);
    if (!stmt.ok()) return stmt.status();
    stmt->BindInt64(1, updated_since);
    std::vector<ThrottleRecord> records;
    while (true) {
      Result<bool> row = stmt->Step();
      if (!row.ok()) return row.status();
      if (!*row) break;
      records.push_back(ReadThrottleRecord(*stmt));
    }
    return records;
  }

  Result<int> PruneThrottles(UnixSeconds stale_before) override {
    return RunTimedDelete(kPruneThrottles, stale_before);
  }

  // Pair keys of a user are "pair:<user>|<ip>": the range ["pair:<user>|", "pair:<user>}")
  // ('}' follows '|') holds them, plus pairs of usernames extending "<user>|", which keep a '|'
  // after the prefix (IsPairOf is false for them).
  static std::pair<std::string, std::string> PairRange(std::string_view normalized_username) {
    std::string prefix = "pair:" + std::string(normalized_username) + "|";
    std::string end = prefix;
    end.back() = '}';
    return {std::move(prefix), std::move(end)};
  }
  static bool IsPairOf(std::string_view key, std::string_view prefix) {
    return key.starts_with(prefix) && key.find('|', prefix.size()) == std::string_view::npos;
  }

  Result<std::vector<ThrottleRecord>> ThrottlesOfUsers(
      const std::vector<std::string>& normalized_usernames) override {
    Lease connection = backend_.Acquire();
    struct Reads {
      std::string prefix;
      Statement account, pairs;
    };
    std::vector<Reads> reads;
    reads.reserve(normalized_usernames.size());
    for (const std::string& user : normalized_usernames) {
      auto [prefix, end] = PairRange(user);
      Result<Statement> account = connection->Prepare(kGetThrottle);
      if (!account.ok()) return account.status();
      account->BindText(1, "account:" + user);
      account->Defer();  // every user's two reads in one round trip
      Result<Statement> pairs = connection->Prepare(kThrottlesInRange);
      if (!pairs.ok()) return pairs.status();
      pairs->BindText(1, prefix).BindText(2, end);
      pairs->Defer();
      reads.push_back(Reads{std::move(prefix), std::move(*account), std::move(*pairs)});
    }
    std::vector<ThrottleRecord> records;
    for (Reads& read : reads) {
      for (Statement* stmt : {&read.account, &read.pairs}) {
        while (true) {
          Result<bool> row = stmt->Step();
          if (!row.ok()) return row.status();
          if (!*row) break;
          ThrottleRecord record = ReadThrottleRecord(*stmt);
          if (stmt == &read.pairs && !IsPairOf(record.key, read.prefix)) continue;
          records.push_back(std::move(record));
        }
      }
    }
    return records;
  }

  Result<int> DeleteThrottlesForUser(std::string_view normalized_username) override {
    const std::string account_key = "account:" + std::string(normalized_username);
    const auto [pair_prefix, pair_end] = PairRange(normalized_username);

    Lease connection = backend_.Acquire();
    Result<Transaction> tx = Transaction::Begin(*connection);
    if (!tx.ok()) return tx.status();
    std::vector<std::string> keys = {account_key};
    {
      Result<Statement> select = connection->Prepare(kThrottleKeysInRange);
      if (!select.ok()) return select.status();
      select->BindText(1, pair_prefix).BindText(2, pair_end);
      while (true) {
        Result<bool> row = select->Step();
        if (!row.ok()) return row.status();
        if (!*row) break;
        std::string key = select->ColumnText(0);
        if (IsPairOf(key, pair_prefix)) keys.push_back(std::move(key));
      }
    }
    std::vector<Statement> removes;
    removes.reserve(keys.size());
    for (const std::string& key : keys) {
      Result<Statement> remove = connection->Prepare(kDeleteThrottle);
      if (!remove.ok()) return remove.status();
      remove->BindText(1, key);
      remove->Defer();  // all deletes in one round trip
      removes.push_back(std::move(*remove));
    }
    std::int64_t deleted = 0;
    for (Statement& remove : removes) {
      if (Status s = remove.Run(); !s.ok()) return s;
      deleted += remove.Changes();
    }
    if (Status s = tx->Commit(); !s.ok()) return s;
    return ChangesAsInt(deleted);
  }

  Status RecordKnownSource(std::string_view normalized_username, std::string_view network_key,
                           UnixSeconds at) override {
    Lease connection = backend_.Acquire();
    Result<Statement> stmt = connection->Prepare(kRecordKnownSource);
    if (!stmt.ok()) return stmt.status();
    stmt->BindText(1, normalized_username).BindText(2, network_key).BindInt64(3, at);
    return stmt->Run();
  }

  Result<bool> IsKnownSource(std::string_view normalized_username, std::string_view network_key,
                             UnixSeconds since) override {
    Lease connection = backend_.Acquire();
    Result<Statement> stmt = connection->Prepare(kIsKnownSource);
    if (!stmt.ok()) return stmt.status();
    stmt->BindText(1, normalized_username).BindText(2, network_key).BindInt64(3, since);
    return stmt->Step();
  }

  Result<int> PruneKnownSources(UnixSeconds stale_before) override {
    return RunTimedDelete(kPruneKnownSources, stale_before);
  }

  // --- BrowserSignInStore ---

  Status InsertAuthorizationCode(const AuthorizationCode& code) override {
    Lease connection = backend_.Acquire();
    Result<Statement> insert = connection->Prepare(kInsertAuthorizationCode);
    if (!insert.ok()) return insert.status();
    insert->BindText(1, code.code_hash)
        .BindText(2, code.client_id)
        .BindText(3, code.user_id)
        .BindText(4, code.redirect_uri)
        .BindText(5, code.code_challenge)
        .BindText(6, code.scope)
        .BindOptionalText(7, code.nonce)
        .BindInt64(8, code.auth_time)
        .BindText(9, code.amr)
        .BindText(10, code.session_id)
        .BindInt64(11, code.created_at)
        .BindInt64(12, code.expires_at)
        .BindOptionalText(13, code.dpop_jkt);
    // A missing user is the foreign key's kNotFound (both backends map it so).
    if (Status s = insert->Run(); !s.ok()) {
      if (s.code() == StatusCode::kAlreadyExists) {
        return AlreadyExistsError("authorization code exists");
      }
      return s;
    }
    return Status::Ok();
  }

  Result<ConsumedCode> ConsumeAuthorizationCode(std::string_view code_hash, const CodeIssue& issue,
                                                UnixSeconds now) override {
    Lease connection = backend_.Acquire();
    Result<Transaction> tx = Transaction::Begin(*connection);
    if (!tx.ok()) return tx.status();
    ConsumedCode consumed;
    {
      // The conditional UPDATE is the guard: of concurrent redemptions exactly one changes the
      // row (PostgreSQL re-checks `used_at IS NULL` after waiting for the other's row lock).
      Result<Statement> consume = connection->Prepare(kConsumeAuthorizationCode);
      if (!consume.ok()) return consume.status();
      consume->BindText(1, code_hash)
          .BindInt64(2, now)
          .BindText(3, issue.access_jti)
          .BindInt64(4, issue.access_expires_at)
          .BindOptionalText(5, issue.refresh_family_id);
      if (Status s = consume->Run(); !s.ok()) return s;
      consumed.first_use = consume->Changes() == 1;
    }
    {
      Result<Statement> find = connection->Prepare(kFindAuthorizationCode);
      if (!find.ok()) return find.status();
      find->BindText(1, code_hash);
      Result<bool> row = find->Step();
      if (!row.ok()) return row.status();
      if (!*row) return NotFoundError("authorization code not found");
      consumed.code = ReadAuthorizationCode(*find);
    }
    if (Status s = tx->Commit(); !s.ok()) return s;
    return consumed;
  }

  Result<int> PruneAuthorizationCodes(UnixSeconds before) override {
    return RunTimedDelete(kPruneAuthorizationCodes, before);
  }

  Result<bool> RecordDpopProof(std::string_view proof_key, UnixSeconds expires_at,
                               UnixSeconds now) override {
    Lease connection = backend_.Acquire();
    Result<Statement> stmt = connection->Prepare(kRecordDpopProof);
    if (!stmt.ok()) return stmt.status();
    stmt->BindText(1, proof_key).BindInt64(2, expires_at).BindInt64(3, now);
    if (Status s = stmt->Run(); !s.ok()) return s;
    return stmt->Changes() == 1;
  }

  Result<int> PruneDpopProofs(UnixSeconds before) override {
    return RunTimedDelete(kPruneDpopProofs, before);
  }

  Status CreateBrowserSession(const BrowserSession& session) override {
    Lease connection = backend_.Acquire();
    Result<Statement> insert = connection->Prepare(kInsertBrowserSession);
    if (!insert.ok()) return insert.status();
    insert->BindText(1, session.id)
        .BindText(2, session.token_hash)
        .BindText(3, session.user_id)
        .BindInt64(4, session.credential_version)
        .BindInt64(5, session.auth_time)
        .BindText(6, session.amr)
        .BindInt64(7, session.created_at)
        .BindInt64(8, session.last_seen_at)
        .BindInt64(9, session.expires_at)
        .BindText(10, session.client_ip)
        .BindText(11, session.user_agent);
    // A missing user is the foreign key's kNotFound; an id or token_hash clash kAlreadyExists.
    if (Status s = insert->Run(); !s.ok()) {
      if (s.code() == StatusCode::kAlreadyExists) {
        return AlreadyExistsError("browser session exists");
      }
      if (s.code() == StatusCode::kNotFound) return NotFoundError("user not found");
      return s;
    }
    return Status::Ok();
  }

  Result<BrowserSession> FindBrowserSession(std::string_view token_hash) override {
    Lease connection = backend_.Acquire();
    Result<Statement> stmt = connection->Prepare(kFindBrowserSession);
    if (!stmt.ok()) return stmt.status();
    stmt->BindText(1, token_hash);
    Result<bool> row = stmt->Step();
    if (!row.ok()) return row.status();
    if (!*row) return NotFoundError("browser session not found");
    return ReadBrowserSession(*stmt);
  }

  Status TouchBrowserSession(std::string_view id, UnixSeconds at) override {
    Result<int> changed = RunKeyedWrite(kTouchBrowserSession, id, at);
    if (!changed.ok()) return changed.status();
    if (*changed == 0) return NotFoundError("browser session not found");
    return Status::Ok();
  }

  Result<std::vector<BrowserSession>> ListBrowserSessions(std::string_view user_id,
                                                          UnixSeconds now) override {
    Lease connection = backend_.Acquire();
    Result<Statement> stmt = connection->Prepare(kListBrowserSessions);
    if (!stmt.ok()) return stmt.status();
    stmt->BindText(1, user_id).BindInt64(2, now);
    std::vector<BrowserSession> sessions;
    while (true) {
      Result<bool> row = stmt->Step();
      if (!row.ok()) return row.status();
      if (!*row) break;
      sessions.push_back(ReadBrowserSession(*stmt));
    }
    return sessions;
  }

  Status DeleteBrowserSession(std::string_view user_id, std::string_view id) override {
    Lease connection = backend_.Acquire();
    Result<Statement> remove = connection->Prepare(kDeleteBrowserSession);
    if (!remove.ok()) return remove.status();
    remove->BindText(1, user_id).BindText(2, id);
    if (Status s = remove->Run(); !s.ok()) return s;
    if (remove->Changes() == 0) return NotFoundError("browser session not found");
    return Status::Ok();
  }

  Result<int> DeleteUserBrowserSessions(std::string_view user_id) override {
    Lease connection = backend_.Acquire();
    Result<Statement> remove = connection->Prepare(kDeleteUserBrowserSessions);
    if (!remove.ok()) return remove.status();
    remove->BindText(1, user_id);
    if (Status s = remove->Run(); !s.ok()) return s;
    return ChangesAsInt(remove->Changes());
  }

  Result<int> PruneBrowserSessions(UnixSeconds now) override {
    return RunTimedDelete(kPruneBrowserSessions, now);
  }

  Status PutPendingTotp(const TotpEnrollment& enrollment) override {
    Lease connection = backend_.Acquire();
    Result<Transaction> tx = Transaction::Begin(*connection);
    if (!tx.ok()) return tx.status();
    {
      Result<Statement> state = connection->Prepare(kTotpState);
      if (!state.ok()) return state.status();
      state->BindText(1, enrollment.user_id);
      Result<bool> row = state->Step();
      if (!row.ok()) return row.status();
      if (*row && state->ColumnInt64(0) != 0) {
        return AlreadyExistsError("a confirmed TOTP enrolment exists");
      }
    }
    // Replaces an unconfirmed enrolment; its recovery codes go with it (ON DELETE CASCADE).
    if (Status s = RunUserStatement(*connection, kDeleteTotp, enrollment.user_id); !s.ok()) {
      return s;
    }
    {
      Result<Statement> insert = connection->Prepare(kInsertPendingTotp);
      if (!insert.ok()) return insert.status();
      insert->BindText(1, enrollment.user_id)
          .BindBlob(2, enrollment.sealed_secret)
          .BindInt64(3, enrollment.created_at)
          .BindInt64(4, enrollment.last_used_step);
      if (Status s = insert->Run(); !s.ok()) {
        // The foreign key to users: kNotFound in both backends.
        if (s.code() == StatusCode::kNotFound) return NotFoundError("user not found");
        // A concurrent PutPendingTotp inserted first (PostgreSQL; SQLite's writer lock orders).
        if (s.code() == StatusCode::kAlreadyExists) {
          return AbortedError("TOTP enrolment changed concurrently");
        }
        return s;
      }
    }
    if (Status s =
            InsertRecoveryCodes(*connection, enrollment.user_id, enrollment.recovery_code_hashes);
        !s.ok()) {
      return s;
    }
    return tx->Commit();
  }

  Result<TotpEnrollment> FindTotp(std::string_view user_id) override {
    Lease connection = backend_.Acquire();
    // One transaction so the enrolment and its recovery codes are one snapshot.
    Result<Transaction> tx = Transaction::Begin(*connection);
    if (!tx.ok()) return tx.status();
    TotpEnrollment enrollment;
    {
      Result<Statement> find = connection->Prepare(kFindTotp);
      if (!find.ok()) return find.status();
      find->BindText(1, user_id);
      Result<bool> row = find->Step();
      if (!row.ok()) return row.status();
      if (!*row) return NotFoundError("TOTP enrolment not found");
      enrollment.user_id = find->ColumnText(0);
      enrollment.sealed_secret = find->ColumnBlob(1);
      enrollment.confirmed = find->ColumnInt64(2) != 0;
      enrollment.created_at = find->ColumnInt64(3);
      enrollment.confirmed_at = find->ColumnOptionalInt64(4);
      enrollment.last_used_step = find->ColumnInt64(5);
    }
    {
      Result<Statement> codes = connection->Prepare(kListTotpRecoveryCodes);
      if (!codes.ok()) return codes.status();
      codes->BindText(1, user_id);
      while (true) {
        Result<bool> row = codes->Step();
        if (!row.ok()) return row.status();
        if (!*row) break;
        enrollment.recovery_code_hashes.push_back(codes->ColumnText(0));
      }
    }
    if (Status s = tx->Commit(); !s.ok()) return s;
    return enrollment;
  }

  Status ConfirmTotp(std::string_view user_id, const std::vector<std::string>& recovery_code_hashes,
                     std::int64_t step, UnixSeconds now) override {
    Lease connection = backend_.Acquire();
    Result<Transaction> tx = Transaction::Begin(*connection);
    if (!tx.ok()) return tx.status();
    {
      // The conditional UPDATE is the guard; it runs first so that PostgreSQL holds the row lock
      // before anything else is decided.
      Result<Statement> confirm = connection->Prepare(kConfirmTotp);
      if (!confirm.ok()) return confirm.status();
      confirm->BindText(1, user_id).BindInt64(2, step).BindInt64(3, now);
      if (Status s = confirm->Run(); !s.ok()) return s;
      if (confirm->Changes() != 1) {
        Result<Statement> exists = connection->Prepare(kTotpExists);
        if (!exists.ok()) return exists.status();
        exists->BindText(1, user_id);
        Result<bool> row = exists->Step();
        if (!row.ok()) return row.status();
        if (!*row) return NotFoundError("TOTP enrolment not found");
        return AbortedError("TOTP enrolment is confirmed already or the step was used");
      }
    }
    // The confirmed enrolment's recovery codes are exactly the given ones.
    if (Status s = RunUserStatement(*connection, kDeleteTotpRecoveryCodes, user_id); !s.ok()) {
      return s;
    }
    if (Status s = InsertRecoveryCodes(*connection, user_id, recovery_code_hashes); !s.ok()) {
      return s;
    }
    return tx->Commit();
  }

  Status UseTotpStep(std::string_view user_id, std::int64_t step) override {
    Lease connection = backend_.Acquire();
    Result<Statement> cas = connection->Prepare(kUseTotpStep);
    if (!cas.ok()) return cas.status();
    cas->BindText(1, user_id).BindInt64(2, step);
    if (Status s = cas->Run(); !s.ok()) return s;
    if (cas->Changes() == 1) return Status::Ok();
    // Not changed: tell a missing enrolment from a used step (a racing deletion between the two
    // statements reads as kNotFound, which is as true).
    Result<Statement> exists = connection->Prepare(kTotpExists);
    if (!exists.ok()) return exists.status();
    exists->BindText(1, user_id);
    Result<bool> row = exists->Step();
    if (!row.ok()) return row.status();
    if (!*row) return NotFoundError("TOTP enrolment not found");
    return AbortedError("TOTP step already used");
  }

  Status UseRecoveryCode(std::string_view user_id, std::string_view code_hash) override {
    Lease connection = backend_.Acquire();
    Result<Statement> remove = connection->Prepare(kUseTotpRecoveryCode);
    if (!remove.ok()) return remove.status();
    remove->BindText(1, user_id).BindText(2, code_hash);
    if (Status s = remove->Run(); !s.ok()) return s;
    if (remove->Changes() == 0) return NotFoundError("recovery code not found");
    return Status::Ok();
  }

  Result<std::vector<std::pair<std::string, std::string>>> ListLegacyRecoveryCodeHashes() override {
    Lease connection = backend_.Acquire();
    Result<Statement> stmt = connection->Prepare(kListLegacyTotpRecoveryCodes);
    if (!stmt.ok()) return stmt.status();
    std::vector<std::pair<std::string, std::string>> out;
    while (true) {
      Result<bool> row = stmt->Step();
      if (!row.ok()) return row.status();
      if (!*row) break;
      out.emplace_back(stmt->ColumnText(0), stmt->ColumnText(1));
    }
    return out;
  }

  Result<int> ReplaceRecoveryCodeHashes(
      const std::vector<RecoveryCodeReplacement>& replacements) override {
    Lease connection = backend_.Acquire();
    Result<Transaction> tx = Transaction::Begin(*connection);
    if (!tx.ok()) return tx.status();
    int replaced = 0;
    for (const RecoveryCodeReplacement& r : replacements) {
      Result<Statement> stmt = connection->Prepare(kReplaceTotpRecoveryCode);
      if (!stmt.ok()) return stmt.status();
      stmt->BindText(1, r.user_id).BindText(2, r.from).BindText(3, r.to);
      if (Status s = stmt->Run(); !s.ok()) return s;
      replaced += ChangesAsInt(stmt->Changes());
    }
    if (Status s = tx->Commit(); !s.ok()) return s;
    return replaced;
  }

  Result<std::vector<std::pair<std::string, std::string>>> ListSealedTotpSecrets() override {
    Lease connection = backend_.Acquire();
    Result<Statement> stmt = connection->Prepare(kListSealedTotpSecrets);
    if (!stmt.ok()) return stmt.status();
    std::vector<std::pair<std::string, std::string>> out;
    while (true) {
      Result<bool> row = stmt->Step();
      if (!row.ok()) return row.status();
      if (!*row) break;
      out.emplace_back(stmt->ColumnText(0), stmt->ColumnBlob(1));
    }
    return out;
  }

  Status ReplaceSealedTotpSecrets(
      const std::vector<std::pair<std::string, std::string>>& sealed_by_user) override {
    Lease connection = backend_.Acquire();
    Result<Transaction> tx = Transaction::Begin(*connection);
    if (!tx.ok()) return tx.status();
    std::vector<Statement> updates;
    updates.reserve(sealed_by_user.size());
    for (const auto& [user_id, sealed] : sealed_by_user) {
      Result<Statement> stmt = connection->Prepare(kReplaceSealedTotpSecret);
      if (!stmt.ok()) return stmt.status();
      stmt->BindText(1, user_id).BindBlob(2, sealed);
      stmt->Defer();  // all in one round trip
      updates.push_back(std::move(*stmt));
    }
    for (Statement& stmt : updates) {
      if (Status s = stmt.Run(); !s.ok()) return s;
      if (stmt.Changes() == 0) return NotFoundError("TOTP enrolment not found");
    }
    return tx->Commit();
  }

  Status DeleteTotp(std::string_view user_id) override {
    Lease connection = backend_.Acquire();
    Result<Statement> remove = connection->Prepare(kDeleteTotp);
    if (!remove.ok()) return remove.status();
    remove->BindText(1, user_id);
    if (Status s = remove->Run(); !s.ok()) return s;
    if (remove->Changes() == 0) return NotFoundError("TOTP enrolment not found");
    return Status::Ok();
  }

 private:
  // Runs a one-statement write with ?1 = user_id on `connection` (inside the caller's transaction).
  static Status RunUserStatement(Connection& connection, std::string_view sql,
                                 std::string_view user_id) {
    Result<Statement> stmt = connection.Prepare(sql);
    if (!stmt.ok()) return stmt.status();
    stmt->BindText(1, user_id);
    return stmt->Run();
  }

  // Inserts the user's recovery code hashes, duplicates in `hashes` collapsed.
  static Status InsertRecoveryCodes(Connection& connection, std::string_view user_id,
                                    const std::vector<std::string>& hashes) {
    for (const std::string& hash : SortedUnique(hashes)) {
      Result<Statement> insert = connection.Prepare(kInsertTotpRecoveryCode);
      if (!insert.ok()) return insert.status();
      insert->BindText(1, user_id).BindText(2, hash);
      if (Status s = insert->Run(); !s.ok()) return s;
    }
    return Status::Ok();
  }

  static Status ValidateAuditDetails(const AuditEvent& event) {
    if (event.details_json.empty()) return Status::Ok();  // stored as {}
    Result<boost::json::value> parsed = ParseJson(event.details_json);
    if (!parsed.ok() || !parsed->is_object()) {
      return InvalidArgumentError("audit details must be a JSON object");
    }
    return Status::Ok();
  }

  // Appends `event` (details validated by the caller) inside the caller's transaction; its id.
  static Result<std::int64_t> AppendAuditRow(Connection& connection, const AuditEvent& event) {
    std::string_view details = event.details_json;
    if (details.empty()) details = "{}";
    Result<Statement> stmt = connection.Prepare(kAppendAudit);
    if (!stmt.ok()) return stmt.status();
    stmt->BindInt64(1, event.time)
        .BindText(2, event.type)
        .BindText(3, event.actor)
        .BindText(4, event.subject)
        .BindText(5, event.client_ip)
        .BindText(6, event.user_agent)
        .BindText(7, event.request_id)
        .BindText(8, details);
    Result<bool> row = stmt->Step();
    if (!row.ok()) return row.status();
    if (!*row) return InternalError("audit insert returned no id");
    const std::int64_t id = stmt->ColumnInt64(0);
    if (Status s = FinishStatement(*stmt); !s.ok()) return s;
    return id;
  }

  // Inserts `token` on `connection`; a token_hash clash is kAlreadyExists.
  static Result<Statement> PrepareRefreshTokenInsert(Connection& connection,
                                                     const RefreshToken& token) {
    Result<Statement> stmt = connection.Prepare(kInsertRefreshToken);
    if (!stmt.ok()) return stmt.status();
    stmt->BindText(1, token.token_hash)
        .BindText(2, token.family_id)
        .BindText(3, token.user_id)
        .BindText(4, token.client_id)
        .BindText(5, token.scope)
        .BindInt64(6, token.issued_at)
        .BindInt64(7, token.expires_at)
        .BindInt64(8, token.family_expires_at)
        .BindOptionalText(9, token.parent_hash)
        .BindOptionalInt64(10, token.used_at)
        .BindOptionalInt64(11, token.revoked_at)
        .BindOptionalText(12, token.dpop_jkt);
    return stmt;
  }

  // A refresh-token insert's outcome, without the database's wording of a duplicate.
  static Status RefreshInsertStatus(Status s) {
    if (s.code() == StatusCode::kAlreadyExists) return AlreadyExistsError("refresh token exists");
    return s;
  }

  static Status InsertRefreshTokenRow(Connection& connection, const RefreshToken& token) {
    Result<Statement> stmt = PrepareRefreshTokenInsert(connection, token);
    if (!stmt.ok()) return stmt.status();
    return RefreshInsertStatus(stmt->Run());
  }

  // The verdict on one imported row: OK, kAlreadyExists or kInvalidArgument.
  struct RowVerdict {
    Status status;
  };

  // One row of ImportUsers inside the caller's transaction: the row's verdict, or a database
  // error. The pre-checks make a constraint failure unlikely; a savepoint still undoes a
  // half-inserted row.
  static Result<RowVerdict> ImportOneUser(Connection& connection, const NewUser& row) {
    const std::string normalized = NormalizeUsername(row.username);
    {
      Result<Statement> taken = connection.Prepare(kUserTaken);
      if (!taken.ok()) return taken.status();
      taken->BindText(1, row.id).BindText(2, normalized);
      Result<bool> hit = taken->Step();
      if (!hit.ok()) return hit.status();
      if (*hit) return RowVerdict{AlreadyExistsError("user already exists")};
    }
    const std::vector<std::string> roles = SortedUnique(row.roles);
    for (const std::string& role : roles) {
      Status s = CheckRoleExists(connection, role);
      if (s.code() == StatusCode::kNotFound) {
        return RowVerdict{InvalidArgumentError("unknown role: " + role)};
      }
      if (!s.ok()) return s;
    }
    if (Status s = connection.Exec("SAVEPOINT import_row", "savepoint"); !s.ok()) return s;
    Status inserted = InsertUserRows(connection, row, normalized, roles);
    if (!inserted.ok()) {
      Status undo = connection.Exec("ROLLBACK TO import_row; RELEASE import_row", "rollback row");
      if (!undo.ok()) return undo;
      if (inserted.code() == StatusCode::kAlreadyExists) {
        return RowVerdict{AlreadyExistsError("user already exists")};
      }
      return inserted;
    }
    if (Status s = connection.Exec("RELEASE import_row", "release savepoint"); !s.ok()) return s;
    return RowVerdict{Status::Ok()};
  }

  // Inserts the user row and its role memberships (roles known to exist).
  static Status InsertUserRows(Connection& connection, const NewUser& row,
                               const std::string& normalized,
                               const std::vector<std::string>& roles) {
    Result<Statement> insert = connection.Prepare(kInsertUser);
    if (!insert.ok()) return insert.status();
    insert->BindText(1, row.id)
        .BindText(2, row.username)
        .BindText(3, normalized)
        .BindOptionalText(4, row.email)
        .BindText(5, row.password_hash)
        .BindInt64(6, row.created_at);
    if (Status s = insert->Run(); !s.ok()) return s;
    for (const std::string& role : roles) {
      Result<Statement> insert_role = connection.Prepare(kInsertUserRole);
      if (!insert_role.ok()) return insert_role.status();
      insert_role->BindText(1, row.id).BindText(2, role);
      if (Status s = insert_role->Run(); !s.ok()) return s;
    }
    return Status::Ok();
  }

  static Status CheckRoleExists(Connection& connection, std::string_view role) {
    Result<Statement> stmt = connection.Prepare(kRoleExists);
    if (!stmt.ok()) return stmt.status();
    stmt->BindText(1, role);
    Result<bool> row = stmt->Step();
    if (!row.ok()) return row.status();
    if (!*row) return NotFoundError("role not found: " + std::string(role));
    return Status::Ok();
  }

  // The user's state on `connection` (inside the caller's transaction). kNotFound.
  static Result<UserState> ReadUserStateById(Connection& connection, std::string_view user_id) {
    Result<Statement> stmt = connection.Prepare(kUserStateById);
    if (!stmt.ok()) return stmt.status();
    stmt->BindText(1, user_id);
    Result<bool> row = stmt->Step();
    if (!row.ok()) return row.status();
    if (!*row) return NotFoundError("user not found");
    return ReadUserState(*stmt);
  }

  // Column 0 of every row of `sql` with ?1 = key.
  static Result<std::vector<std::string>> ReadStrings(Connection& connection, std::string_view sql,
                                                      std::string_view key) {
    Result<Statement> stmt = connection.Prepare(sql);
    if (!stmt.ok()) return stmt.status();
    stmt->BindText(1, key);
    std::vector<std::string> values;
    while (true) {
      Result<bool> row = stmt->Step();
      if (!row.ok()) return row.status();
      if (!*row) break;
      values.push_back(stmt->ColumnText(0));
    }
    return values;
  }

  static Result<std::int64_t> CountRoleHolders(Connection& connection, std::string_view role) {
    Result<Statement> stmt = connection.Prepare(kCountRoleHolders);
    if (!stmt.ok()) return stmt.status();
    stmt->BindText(1, role);
    Result<bool> row = stmt->Step();
    if (!row.ok()) return row.status();
    if (!*row) return InternalError("COUNT(*) returned no row");
    return stmt->ColumnInt64(0);
  }

  // Called inside a write transaction after its changes: kFailedPrecondition (the caller's
  // transaction guard then rolls back) if kAdminRole had holders before and has none now. A
  // database that never had an admin (fresh, tests) is not blocked.
  static Status CheckAdminKeepsHolder(Connection& connection, std::int64_t holders_before) {
    if (holders_before == 0) return Status::Ok();
    Result<std::int64_t> holders_after = CountRoleHolders(connection, kAdminRole);
    if (!holders_after.ok()) return holders_after.status();
    if (*holders_after == 0) {
      return FailedPreconditionError("the role admin must keep at least one holder");
    }
    return Status::Ok();
  }

  static Status InsertRolePermissions(Connection& connection, const Role& role) {
    for (const std::string& permission : role.permissions) {
      Result<Statement> insert = connection.Prepare(kInsertRolePermission);
      if (!insert.ok()) return insert.status();
      insert->BindText(1, role.name).BindText(2, permission);
      if (Status s = insert->Run(); !s.ok()) return s;
    }
    return Status::Ok();
  }

  // Bumps the credential_version of every holder of `role`; returns their new states by id.
  static Result<std::vector<UserState>> BumpRoleHolders(Connection& connection,
                                                        std::string_view role) {
    Result<Statement> stmt = connection.Prepare(kBumpRoleHolders);
    if (!stmt.ok()) return stmt.status();
    stmt->BindText(1, role);
    std::vector<UserState> states;
    while (true) {
      Result<bool> row = stmt->Step();
      if (!row.ok()) return row.status();
      if (!*row) break;
      states.push_back(ReadUserState(*stmt));
    }
    // RETURNING order is unspecified.
    std::sort(states.begin(), states.end(),
              [](const UserState& a, const UserState& b) { return a.id < b.id; });
    return states;
  }

  Result<User> FindOneUser(std::string_view sql, std::string_view key) {
    Lease connection = backend_.Acquire();
    Result<Statement> stmt = connection->Prepare(sql);
    if (!stmt.ok()) return stmt.status();
    stmt->BindText(1, key);
    Result<std::vector<User>> users = ReadUsersWithRoles(*stmt);
    if (!users.ok()) return users.status();
    if (users->empty()) return NotFoundError("user not found");
    return std::move(users->front());
  }

  // Runs a single-row UPDATE keyed by user id (?1); `bind` binds the remaining parameters.
  template <typename BindFn>
  Status UpdateUserRow(std::string_view sql, std::string_view user_id, BindFn bind) {
    Lease connection = backend_.Acquire();
    [[maybe_unused]] auto writer = Backend::AutocommitWriteLock(*connection);
    Result<Statement> stmt = connection->Prepare(sql);
    if (!stmt.ok()) return stmt.status();
    stmt->BindText(1, user_id);
    bind(*stmt);
    if (Status s = stmt->Run(); !s.ok()) return s;
    if (stmt->Changes() == 0) return NotFoundError("user not found");
    return Status::Ok();
  }

  Result<std::vector<Role>> SelectRoles(std::optional<std::string_view> name) {
    Lease connection = backend_.Acquire();
    Result<Statement> stmt = connection->Prepare(kRolesWithPermissions);
    if (!stmt.ok()) return stmt.status();
    if (name.has_value()) {
      stmt->BindText(1, *name);
    } else {
      stmt->BindOptionalText(1, std::nullopt);
    }
    return ReadRolesWithPermissions(*stmt);
  }

  Result<std::optional<RefreshToken>> FindOneRefreshToken(std::string_view sql,
                                                          std::string_view key) {
    Lease connection = backend_.Acquire();
    Result<Statement> stmt = connection->Prepare(sql);
    if (!stmt.ok()) return stmt.status();
    stmt->BindText(1, key);
    Result<bool> row = stmt->Step();
    if (!row.ok()) return row.status();
    if (!*row) return std::optional<RefreshToken>();
    return std::optional<RefreshToken>(ReadRefreshToken(*stmt));
  }

  // Runs a one-statement write with ?1 = key, ?2 = time and returns the rows it changed.
  Result<int> RunKeyedWrite(std::string_view sql, std::string_view key, UnixSeconds time) {
    Lease connection = backend_.Acquire();
    Result<Statement> stmt = connection->Prepare(sql);
    if (!stmt.ok()) return stmt.status();
    stmt->BindText(1, key).BindInt64(2, time);
    if (Status s = stmt->Run(); !s.ok()) return s;
    return ChangesAsInt(stmt->Changes());
  }

  // The single integer a parameterless aggregate query (COUNT, COALESCE(MAX ...)) returns.
  Result<std::int64_t> ReadCount(std::string_view sql) {
    Lease connection = backend_.Acquire();
    Result<Statement> stmt = connection->Prepare(sql);
    if (!stmt.ok()) return stmt.status();
    Result<bool> row = stmt->Step();
    if (!row.ok()) return row.status();
    if (!*row) return InternalError("aggregate query returned no row");
    return stmt->ColumnInt64(0);
  }

  // Runs a one-statement DELETE with ?1 = now and returns the rows it removed.
  Result<int> RunTimedDelete(std::string_view sql, UnixSeconds now) {
    Lease connection = backend_.Acquire();
    Result<Statement> stmt = connection->Prepare(sql);
    if (!stmt.ok()) return stmt.status();
    stmt->BindInt64(1, now);
    if (Status s = stmt->Run(); !s.ok()) return s;
    return ChangesAsInt(stmt->Changes());
  }

  Backend backend_;
  // Refresh-token writes and audit rows: one transaction for all that arrive together.
  sql::GroupCommit<Backend> commits_{backend_};
};

}  // namespace portcullis::store::sql
