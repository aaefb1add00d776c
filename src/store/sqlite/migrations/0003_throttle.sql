-- 0003: brute-force defence state (issue #4, DESIGN.md §5): throttle counters and locks, and the
-- networks each user has logged in from ("known sources").
-- Runs inside a transaction opened by the migration runner; do not BEGIN/COMMIT here.
-- Times are Unix seconds. Tables are STRICT (SQLite >= 3.37) so a wrong type is an error.

-- One row per key: "pair:<user>|<ip>", "account:<user>", "ip:<ip>". Written with single-statement
-- upserts so instances sharing the database never see a half-written row.
CREATE TABLE throttles (
  key TEXT PRIMARY KEY NOT NULL,
  failures INTEGER NOT NULL DEFAULT 0 CHECK (failures >= 0),
  window_start INTEGER NOT NULL DEFAULT 0,
  locked_until INTEGER NOT NULL DEFAULT 0,
  lock_level INTEGER NOT NULL DEFAULT 0 CHECK (lock_level >= 0),
  updated_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX throttles_by_updated_at ON throttles (updated_at);

-- Networks (/24 IPv4, /64 IPv6) from which a user logged in successfully: exempt from the
-- account-wide back-off for known_source_days.
CREATE TABLE known_sources (
  username_normalized TEXT NOT NULL,
  network_key TEXT NOT NULL,
  last_success_at INTEGER NOT NULL,
  PRIMARY KEY (username_normalized, network_key)
) STRICT, WITHOUT ROWID;
CREATE INDEX known_sources_by_last_success ON known_sources (last_success_at);
