-- 0010: sender-constrained tokens, DPoP (DESIGN §9, RFC 9449).
-- Runs inside a transaction opened by the migration runner; do not BEGIN/COMMIT here.

-- The RFC 7638 thumbprint of the key a public client's refresh-token family is bound to
-- (RFC 9449 §5); NULL = not bound. Successors inherit it.
ALTER TABLE refresh_tokens ADD COLUMN dpop_jkt TEXT;

-- A client that must prove possession of a key on every token request (no Bearer tokens).
ALTER TABLE clients ADD COLUMN require_dpop INTEGER NOT NULL DEFAULT 0 CHECK (require_dpop IN (0, 1));

-- Proofs already seen (RFC 9449 §11.1), shared by the instances of a deployment: the key is the
-- hex SHA-256 of the proof key's thumbprint and the proof's jti; a row is a replay until
-- expires_at, and may then be reused or pruned.
CREATE TABLE dpop_proofs (
  proof_key TEXT PRIMARY KEY NOT NULL CHECK (length(proof_key) = 64),
  expires_at INTEGER NOT NULL
) STRICT;
CREATE INDEX dpop_proofs_by_expiry ON dpop_proofs (expires_at);
