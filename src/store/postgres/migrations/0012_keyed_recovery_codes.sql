-- 0012: recovery codes stored keyed (PostgreSQL; see
-- store/sqlite/migrations/0012_keyed_recovery_codes.sql).
-- Runs inside a transaction opened by the migration runner; do not BEGIN/COMMIT here.

ALTER TABLE totp_recovery_codes DROP CONSTRAINT totp_recovery_codes_code_hash_check;
ALTER TABLE totp_recovery_codes ADD CONSTRAINT totp_recovery_codes_code_hash_check
  CHECK (length(code_hash) = 64 OR (length(code_hash) = 67 AND substr(code_hash, 1, 3) = 'k1:'));
