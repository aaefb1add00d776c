-- 0005: API keys (PostgreSQL; see store/sqlite/migrations/0005_api_keys.sql).
-- Runs inside a transaction opened by the migration runner; do not BEGIN/COMMIT here.

CREATE TABLE api_keys (
  id TEXT COLLATE "C" PRIMARY KEY,
  secret_hash TEXT COLLATE "C" NOT NULL CHECK (length(secret_hash) = 64),
  user_id TEXT COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  name TEXT COLLATE "C" NOT NULL,
  scopes TEXT COLLATE "C" NOT NULL DEFAULT '[]',
  created_at BIGINT NOT NULL,
  expires_at BIGINT,
  last_used_at BIGINT
);
CREATE INDEX api_keys_by_user ON api_keys (user_id, id);

-- A revoked key must stop working on every instance within about a second: its owner is
-- appended to the user change feed, whose followers drop the owner's cached keys.
CREATE FUNCTION portcullis_api_keys_feed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO user_changes (user_id, at) VALUES (OLD.user_id, EXTRACT(EPOCH FROM now())::BIGINT);
  RETURN OLD;
END
$$;
CREATE TRIGGER api_keys_feed AFTER DELETE ON api_keys
  FOR EACH ROW EXECUTE FUNCTION portcullis_api_keys_feed();
