-- 0007: throttle records shared live by several instances (PostgreSQL; see
-- store/sqlite/migrations/0007_shared_throttle.sql).
-- Runs inside a transaction opened by the migration runner; do not BEGIN/COMMIT here.

ALTER TABLE throttles
  ADD COLUMN in_flight BIGINT NOT NULL DEFAULT 0 CHECK (in_flight >= 0),
  ADD COLUMN in_flight_until BIGINT NOT NULL DEFAULT 0,
  ADD COLUMN version BIGINT NOT NULL DEFAULT 1;
