-- 0009: browser sign-in (DESIGN §8): authorization codes, browser sessions, TOTP enrolments.
-- Runs inside a transaction opened by the migration runner; do not BEGIN/COMMIT here.
-- Times are Unix seconds. Tables are STRICT (SQLite >= 3.37) so a wrong type is an error.

-- Only the lower-case hex SHA-256 of a code is stored. client_id references clients loosely (no
-- foreign key): a code lives minutes, the token endpoint looks the client up again at redemption,
-- and deleting a client must neither fail nor touch codes; PruneAuthorizationCodes removes them.
-- Deleted with the user. used_at and the issue columns are written by the one redemption that wins.
CREATE TABLE authorization_codes (
  code_hash TEXT PRIMARY KEY NOT NULL CHECK (length(code_hash) = 64),
  client_id TEXT NOT NULL,
  user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  redirect_uri TEXT NOT NULL,
  code_challenge TEXT NOT NULL,
  scope TEXT NOT NULL,
  nonce TEXT,
  auth_time INTEGER NOT NULL,
  amr TEXT NOT NULL,
  session_id TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  used_at INTEGER,
  access_jti TEXT,
  access_expires_at INTEGER,
  refresh_family_id TEXT,
  CHECK (expires_at >= created_at)
) STRICT;
CREATE INDEX authorization_codes_by_expiry ON authorization_codes (expires_at);

-- The cookie value is never stored, only its SHA-256 (token_hash). Deleted with the user.
CREATE TABLE browser_sessions (
  id TEXT PRIMARY KEY NOT NULL,
  token_hash TEXT NOT NULL UNIQUE CHECK (length(token_hash) = 64),
  user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  credential_version INTEGER NOT NULL,
  auth_time INTEGER NOT NULL,
  amr TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  last_seen_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  client_ip TEXT NOT NULL,
  user_agent TEXT NOT NULL
) STRICT;
CREATE INDEX browser_sessions_by_user ON browser_sessions (user_id);
CREATE INDEX browser_sessions_by_expiry ON browser_sessions (expires_at);

-- One enrolment per user; the secret is sealed with the master key by the caller. confirmed is
-- 0/1 (as users.disabled). Deleted with the user.
CREATE TABLE totp_enrollments (
  user_id TEXT PRIMARY KEY NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  sealed_secret BLOB NOT NULL,
  confirmed INTEGER NOT NULL DEFAULT 0 CHECK (confirmed IN (0, 1)),
  created_at INTEGER NOT NULL,
  confirmed_at INTEGER,
  last_used_step INTEGER NOT NULL DEFAULT 0,
  CHECK (confirmed = 0 OR confirmed_at IS NOT NULL)
) STRICT;

-- Unused recovery codes only (a used one is deleted). Deleted with the enrolment, and so with
-- the user.
CREATE TABLE totp_recovery_codes (
  user_id TEXT NOT NULL REFERENCES totp_enrollments (user_id) ON DELETE CASCADE,
  code_hash TEXT NOT NULL CHECK (length(code_hash) = 64),
  PRIMARY KEY (user_id, code_hash)
) STRICT;
