-- 0011: authorization codes bound to a DPoP key (RFC 9449 §10, the `dpop_jkt` authorization
-- request parameter). Runs inside a transaction opened by the migration runner; do not BEGIN/COMMIT here.

-- The RFC 7638 thumbprint the code is bound to: its redemption needs a DPoP proof by that key.
-- NULL = not bound.
ALTER TABLE authorization_codes ADD COLUMN dpop_jkt TEXT;
