-- 0004: RBAC administration (issue #5, DESIGN.md §4): a feed of user changes that running
-- servers poll to refresh their credential-version caches, and the last use of each permission
-- per user (for the access review).
-- Runs inside a transaction opened by the migration runner; do not BEGIN/COMMIT here.
-- Times are Unix seconds. Tables are STRICT (SQLite >= 3.37) so a wrong type is an error.

-- One row per creation, deletion, credential_version change or disabled change of a user.
-- AUTOINCREMENT: a seq is never reused, even after pruning, so a poller's "after" stays valid.
-- No foreign key: entries of deleted users must stay.
CREATE TABLE user_changes (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  user_id TEXT NOT NULL,
  at INTEGER NOT NULL
) STRICT;
CREATE INDEX user_changes_by_at ON user_changes (at);

-- Filled by triggers, so no code path (store method, CLI, raw SQL) can forget to append.
CREATE TRIGGER users_feed_after_insert AFTER INSERT ON users
BEGIN
  INSERT INTO user_changes (user_id, at) VALUES (NEW.id, CAST(strftime('%s', 'now') AS INTEGER));
END;
CREATE TRIGGER users_feed_after_delete AFTER DELETE ON users
BEGIN
  INSERT INTO user_changes (user_id, at) VALUES (OLD.id, CAST(strftime('%s', 'now') AS INTEGER));
END;
-- Only when a value actually changed: "UPDATE ... SET disabled = 0" on an enabled user is no
-- change, and neither is an email, password hash or last-login update.
CREATE TRIGGER users_feed_after_update AFTER UPDATE OF credential_version, disabled ON users
  WHEN OLD.credential_version IS NOT NEW.credential_version OR OLD.disabled IS NOT NEW.disabled
BEGIN
  INSERT INTO user_changes (user_id, at) VALUES (NEW.id, CAST(strftime('%s', 'now') AS INTEGER));
END;

-- The last time each user passed a check requiring each permission; deleted with the user.
CREATE TABLE permission_uses (
  user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  permission TEXT NOT NULL,
  last_used_at INTEGER NOT NULL,
  PRIMARY KEY (user_id, permission)
) STRICT, WITHOUT ROWID;
