-- 0009: browser sign-in (PostgreSQL; see store/sqlite/migrations/0009_browser_sign_in.sql).
-- Runs inside a transaction opened by the migration runner; do not BEGIN/COMMIT here.
-- client_id is deliberately not a foreign key (deleting a client must not fail; codes are pruned).

CREATE TABLE authorization_codes (
  code_hash TEXT COLLATE "C" PRIMARY KEY CHECK (length(code_hash) = 64),
  client_id TEXT COLLATE "C" NOT NULL,
  user_id TEXT COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  redirect_uri TEXT COLLATE "C" NOT NULL,
  code_challenge TEXT COLLATE "C" NOT NULL,
  scope TEXT COLLATE "C" NOT NULL,
  nonce TEXT COLLATE "C",
  auth_time BIGINT NOT NULL,
  amr TEXT COLLATE "C" NOT NULL,
  session_id TEXT COLLATE "C" NOT NULL,
  created_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL,
  used_at BIGINT,
  access_jti TEXT COLLATE "C",
  access_expires_at BIGINT,
  refresh_family_id TEXT COLLATE "C",
  CHECK (expires_at >= created_at)
);
CREATE INDEX authorization_codes_by_expiry ON authorization_codes (expires_at);

CREATE TABLE browser_sessions (
  id TEXT COLLATE "C" PRIMARY KEY,
  token_hash TEXT COLLATE "C" NOT NULL UNIQUE CHECK (length(token_hash) = 64),
  user_id TEXT COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  credential_version BIGINT NOT NULL,
  auth_time BIGINT NOT NULL,
  amr TEXT COLLATE "C" NOT NULL,
  created_at BIGINT NOT NULL,
  last_seen_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL,
  client_ip TEXT COLLATE "C" NOT NULL,
  user_agent TEXT COLLATE "C" NOT NULL
);
CREATE INDEX browser_sessions_by_user ON browser_sessions (user_id);
CREATE INDEX browser_sessions_by_expiry ON browser_sessions (expires_at);

CREATE TABLE totp_enrollments (
  user_id TEXT COLLATE "C" PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
  sealed_secret BYTEA NOT NULL,
  confirmed INTEGER NOT NULL DEFAULT 0 CHECK (confirmed IN (0, 1)),
  created_at BIGINT NOT NULL,
  confirmed_at BIGINT,
  last_used_step BIGINT NOT NULL DEFAULT 0,
  CHECK (confirmed = 0 OR confirmed_at IS NOT NULL)
);

CREATE TABLE totp_recovery_codes (
  user_id TEXT COLLATE "C" NOT NULL REFERENCES totp_enrollments (user_id) ON DELETE CASCADE,
  code_hash TEXT COLLATE "C" NOT NULL CHECK (length(code_hash) = 64),
  PRIMARY KEY (user_id, code_hash)
);
