-- 0007: throttle records shared live by several instances (issue #10, DESIGN.md §5/§6):
-- attempts in flight on any instance, and a version for compare-and-swap updates.
-- Runs inside a transaction opened by the migration runner; do not BEGIN/COMMIT here.

ALTER TABLE throttles ADD COLUMN in_flight INTEGER NOT NULL DEFAULT 0 CHECK (in_flight >= 0);
ALTER TABLE throttles ADD COLUMN in_flight_until INTEGER NOT NULL DEFAULT 0;
ALTER TABLE throttles ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
