-- 0008: OAuth client metadata for browser sign-in (issue #12, DESIGN.md §8). Existing clients
-- keep working: client_secret_basic, no redirect URIs, ID tokens signed with RS256.
-- redirect_uris and post_logout_redirect_uris are JSON arrays of strings stored verbatim (they
-- are matched by exact string comparison). A public client (token_endpoint_auth_method 'none')
-- has secret_hash '' (no secret).
-- Runs inside a transaction opened by the migration runner; do not BEGIN/COMMIT here.

ALTER TABLE clients ADD COLUMN redirect_uris TEXT NOT NULL DEFAULT '[]'
  CHECK (json_valid(redirect_uris) AND json_type(redirect_uris) = 'array');
ALTER TABLE clients ADD COLUMN token_endpoint_auth_method TEXT NOT NULL
  DEFAULT 'client_secret_basic'
  CHECK (token_endpoint_auth_method IN ('client_secret_basic', 'client_secret_post', 'none'));
ALTER TABLE clients ADD COLUMN post_logout_redirect_uris TEXT NOT NULL DEFAULT '[]'
  CHECK (json_valid(post_logout_redirect_uris) AND json_type(post_logout_redirect_uris) = 'array');
ALTER TABLE clients ADD COLUMN id_token_signed_response_alg TEXT NOT NULL DEFAULT 'RS256'
  CHECK (id_token_signed_response_alg IN ('RS256', 'EdDSA', 'ES256'));
