-- 0011: authorization codes bound to a DPoP key (PostgreSQL; see
-- store/sqlite/migrations/0011_dpop_code_binding.sql).
-- Runs inside a transaction opened by the migration runner; do not BEGIN/COMMIT here.

ALTER TABLE authorization_codes ADD COLUMN dpop_jkt TEXT COLLATE "C";
