-- 0012: recovery codes stored keyed (docs/threat-model.md F7).
-- Runs inside a transaction opened by the migration runner; do not BEGIN/COMMIT here.

-- New codes are stored as "k1:" and 64 hex characters (an HMAC under a key derived from the
-- user's sealed TOTP secret, authn::KeyedRecoveryCodeHash); codes issued before keep their
-- unkeyed 64-character SHA-256 until used. SQLite cannot alter a CHECK, so the table is rebuilt
-- (nothing references it; its rows are copied as they are).
CREATE TABLE totp_recovery_codes_0012 (
  user_id TEXT NOT NULL REFERENCES totp_enrollments (user_id) ON DELETE CASCADE,
  code_hash TEXT NOT NULL
    CHECK (length(code_hash) = 64 OR (length(code_hash) = 67 AND substr(code_hash, 1, 3) = 'k1:')),
  PRIMARY KEY (user_id, code_hash)
) STRICT;
INSERT INTO totp_recovery_codes_0012 (user_id, code_hash)
  SELECT user_id, code_hash FROM totp_recovery_codes;
DROP TABLE totp_recovery_codes;
ALTER TABLE totp_recovery_codes_0012 RENAME TO totp_recovery_codes;
