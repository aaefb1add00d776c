-- 0001: users, roles, signing keys and the audit log.
-- Runs inside a transaction opened by the migration runner; do not BEGIN/COMMIT here.
-- Times are Unix seconds. Tables are STRICT (SQLite >= 3.37) so a wrong type is an error.

CREATE TABLE users (
  id TEXT PRIMARY KEY NOT NULL,
  username TEXT NOT NULL,
  username_normalized TEXT NOT NULL UNIQUE,
  email TEXT,
  password_hash TEXT NOT NULL,
  disabled INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
  credential_version INTEGER NOT NULL DEFAULT 1,
  created_at INTEGER NOT NULL,
  last_login_at INTEGER
) STRICT;

CREATE TABLE roles (
  name TEXT PRIMARY KEY NOT NULL,
  description TEXT NOT NULL DEFAULT '',
  created_at INTEGER NOT NULL
) STRICT;

-- One row per (role, permission): set semantics and SQL-side unions without JSON parsing.
CREATE TABLE role_permissions (
  role_name TEXT NOT NULL REFERENCES roles (name) ON DELETE CASCADE ON UPDATE CASCADE,
  permission TEXT NOT NULL,
  PRIMARY KEY (role_name, permission)
) STRICT, WITHOUT ROWID;

CREATE TABLE user_roles (
  user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  role_name TEXT NOT NULL REFERENCES roles (name) ON DELETE CASCADE ON UPDATE CASCADE,
  PRIMARY KEY (user_id, role_name)
) STRICT, WITHOUT ROWID;
CREATE INDEX user_roles_by_role ON user_roles (role_name);

CREATE TABLE signing_keys (
  kid TEXT PRIMARY KEY NOT NULL,
  alg TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('active', 'verify_only', 'retired')),
  sealed_private_key BLOB NOT NULL,
  public_jwk TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  deactivated_at INTEGER
) STRICT;

CREATE TABLE audit_events (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  time INTEGER NOT NULL,
  type TEXT NOT NULL,
  actor TEXT,
  subject TEXT,
  client_ip TEXT,
  user_agent TEXT,
  request_id TEXT,
  details TEXT NOT NULL DEFAULT '{}'
) STRICT;
CREATE INDEX audit_events_by_time ON audit_events (time);
CREATE INDEX audit_events_by_type_time ON audit_events (type, time);

-- Built-in roles.
INSERT INTO roles (name, description, created_at)
  VALUES ('admin', 'Full access', CAST(strftime('%s', 'now') AS INTEGER)),
         ('user', 'Default role of signed-up users', CAST(strftime('%s', 'now') AS INTEGER));
INSERT INTO role_permissions (role_name, permission) VALUES ('admin', '*');
