-- 0005: API keys (issue #6, DESIGN §4 "API key format").
-- Runs inside a transaction opened by the migration runner; do not BEGIN/COMMIT here.
-- Times are Unix seconds. Tables are STRICT (SQLite >= 3.37) so a wrong type is an error.

-- A key is presented as "pcs_<id>_<secret>"; only the id and the lower-case hex SHA-256 of the
-- secret are stored, never the secret. Scopes are a JSON array of permission strings (sorted,
-- unique), read and written whole like clients.scopes. Deleted with the owner.
CREATE TABLE api_keys (
  id TEXT PRIMARY KEY NOT NULL,
  secret_hash TEXT NOT NULL CHECK (length(secret_hash) = 64),
  user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  scopes TEXT NOT NULL DEFAULT '[]',
  created_at INTEGER NOT NULL,
  expires_at INTEGER,
  last_used_at INTEGER
) STRICT;
CREATE INDEX api_keys_by_user ON api_keys (user_id, id);

-- A revoked key must stop working on every running server within about a second: the owner is
-- appended to the user change feed (0004), whose followers drop the owner's cached keys. A
-- trigger, so every path (store method, CLI, cascade from a user deletion) appends.
CREATE TRIGGER api_keys_feed_after_delete AFTER DELETE ON api_keys
BEGIN
  INSERT INTO user_changes (user_id, at)
  VALUES (OLD.user_id, CAST(strftime('%s', 'now') AS INTEGER));
END;
