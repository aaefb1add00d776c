-- 0002: refresh tokens, OAuth2 clients, the access-token revocation list, and an append-only
-- audit log (issue #3, DESIGN.md §4 and §6).
-- Runs inside a transaction opened by the migration runner; do not BEGIN/COMMIT here.
-- Times are Unix seconds. Tables are STRICT (SQLite >= 3.37) so a wrong type is an error.

-- One row per refresh token ever issued, until its family's absolute expiry has passed. The
-- token itself is never stored, only the hex SHA-256 of it. No foreign keys: user_id may be a
-- client_id (client tokens) and client_id may be the built-in public client "default".
CREATE TABLE refresh_tokens (
  token_hash TEXT PRIMARY KEY NOT NULL,
  family_id TEXT NOT NULL,
  user_id TEXT NOT NULL,
  client_id TEXT NOT NULL,
  scope TEXT NOT NULL DEFAULT '',
  issued_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  family_expires_at INTEGER NOT NULL,
  parent_hash TEXT,
  used_at INTEGER,
  revoked_at INTEGER
) STRICT;
CREATE INDEX refresh_tokens_by_family ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_by_user ON refresh_tokens (user_id);
CREATE INDEX refresh_tokens_by_client ON refresh_tokens (client_id);
CREATE INDEX refresh_tokens_by_family_expiry ON refresh_tokens (family_expires_at);
-- Not UNIQUE: within the reuse grace window an unused successor is revoked and replaced by a new
-- token that may name the same parent.
CREATE INDEX refresh_tokens_by_parent ON refresh_tokens (parent_hash)
  WHERE parent_hash IS NOT NULL;

-- Confidential OAuth2 clients. grant_types and scopes are JSON arrays of strings, kept in the
-- caller's order.
CREATE TABLE clients (
  client_id TEXT PRIMARY KEY NOT NULL,
  name TEXT NOT NULL,
  secret_hash TEXT NOT NULL,
  grant_types TEXT NOT NULL DEFAULT '[]'
    CHECK (json_valid(grant_types) AND json_type(grant_types) = 'array'),
  scopes TEXT NOT NULL DEFAULT '[]'
    CHECK (json_valid(scopes) AND json_type(scopes) = 'array'),
  created_at INTEGER NOT NULL
) STRICT;

-- Revoked access tokens, by jti, until the token would have expired anyway.
CREATE TABLE revoked_jtis (
  jti TEXT PRIMARY KEY NOT NULL,
  expires_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX revoked_jtis_by_expiry ON revoked_jtis (expires_at);

-- The audit log is append-only at the database level, not just by convention.
CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN
  SELECT RAISE(ABORT, 'audit_events is append-only');
END;
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN
  SELECT RAISE(ABORT, 'audit_events is append-only');
END;
-- ListAudit's ?user= matches actor or subject.
CREATE INDEX audit_events_by_actor ON audit_events (actor);
CREATE INDEX audit_events_by_subject ON audit_events (subject);
