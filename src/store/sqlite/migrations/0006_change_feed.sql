-- 0006: the change feed of shared state other than users (issue #10, DESIGN.md §6): revoked
-- access tokens and signing-key changes. Running servers follow it (and user_changes, 0004) to
-- update what they keep in memory; with PostgreSQL, NOTIFY wakes them, here they poll.
-- Runs inside a transaction opened by the migration runner; do not BEGIN/COMMIT here.
-- Times are Unix seconds. Tables are STRICT (SQLite >= 3.37) so a wrong type is an error.

-- AUTOINCREMENT: a seq is never reused, even after pruning, so a follower's "after" stays valid.
CREATE TABLE change_events (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  kind TEXT NOT NULL CHECK (kind IN ('jti', 'keys', 'client')),
  subject TEXT NOT NULL,
  at INTEGER NOT NULL
) STRICT;
CREATE INDEX change_events_by_at ON change_events (at);

-- Filled by triggers, so every writer (store method, CLI, another instance) appends.
CREATE TRIGGER revoked_jtis_feed_after_insert AFTER INSERT ON revoked_jtis
BEGIN
  INSERT INTO change_events (kind, subject, at)
  VALUES ('jti', NEW.jti, CAST(strftime('%s', 'now') AS INTEGER));
END;
CREATE TRIGGER revoked_jtis_feed_after_update AFTER UPDATE OF expires_at ON revoked_jtis
  WHEN OLD.expires_at IS NOT NEW.expires_at
BEGIN
  INSERT INTO change_events (kind, subject, at)
  VALUES ('jti', NEW.jti, CAST(strftime('%s', 'now') AS INTEGER));
END;
CREATE TRIGGER signing_keys_feed_after_insert AFTER INSERT ON signing_keys
BEGIN
  INSERT INTO change_events (kind, subject, at)
  VALUES ('keys', NEW.kid, CAST(strftime('%s', 'now') AS INTEGER));
END;
CREATE TRIGGER signing_keys_feed_after_update AFTER UPDATE ON signing_keys
BEGIN
  INSERT INTO change_events (kind, subject, at)
  VALUES ('keys', NEW.kid, CAST(strftime('%s', 'now') AS INTEGER));
END;
CREATE TRIGGER clients_feed_after_delete AFTER DELETE ON clients
BEGIN
  INSERT INTO change_events (kind, subject, at)
  VALUES ('client', OLD.client_id, CAST(strftime('%s', 'now') AS INTEGER));
END;
