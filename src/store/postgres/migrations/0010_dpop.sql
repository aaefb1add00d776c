-- 0010: sender-constrained tokens, DPoP (PostgreSQL; see store/sqlite/migrations/0010_dpop.sql).
-- Runs inside a transaction opened by the migration runner; do not BEGIN/COMMIT here.

ALTER TABLE refresh_tokens ADD COLUMN dpop_jkt TEXT COLLATE "C";

ALTER TABLE clients ADD COLUMN require_dpop INTEGER NOT NULL DEFAULT 0 CHECK (require_dpop IN (0, 1));

CREATE TABLE dpop_proofs (
  proof_key TEXT COLLATE "C" PRIMARY KEY CHECK (length(proof_key) = 64),
  expires_at BIGINT NOT NULL
);
CREATE INDEX dpop_proofs_by_expiry ON dpop_proofs (expires_at);
