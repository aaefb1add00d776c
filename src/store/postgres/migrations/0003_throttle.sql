-- 0003: brute-force defence state (PostgreSQL; see store/sqlite/migrations/0003_throttle.sql).
-- Runs inside a transaction opened by the migration runner; do not BEGIN/COMMIT here.

CREATE TABLE throttles (
  key TEXT COLLATE "C" PRIMARY KEY,
  failures BIGINT NOT NULL DEFAULT 0 CHECK (failures >= 0),
  window_start BIGINT NOT NULL DEFAULT 0,
  locked_until BIGINT NOT NULL DEFAULT 0,
  lock_level BIGINT NOT NULL DEFAULT 0 CHECK (lock_level >= 0),
  updated_at BIGINT NOT NULL
);
CREATE INDEX throttles_by_updated_at ON throttles (updated_at);

CREATE TABLE known_sources (
  username_normalized TEXT COLLATE "C" NOT NULL,
  network_key TEXT COLLATE "C" NOT NULL,
  last_success_at BIGINT NOT NULL,
  PRIMARY KEY (username_normalized, network_key)
);
CREATE INDEX known_sources_by_last_success ON known_sources (last_success_at);
