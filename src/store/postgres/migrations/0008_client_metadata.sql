-- 0008: OAuth client metadata for browser sign-in (PostgreSQL; see
-- store/sqlite/migrations/0008_client_metadata.sql). Existing clients keep working:
-- client_secret_basic, no redirect URIs, ID tokens signed with RS256.
-- Runs inside a transaction opened by the migration runner; do not BEGIN/COMMIT here.

ALTER TABLE clients ADD COLUMN redirect_uris TEXT COLLATE "C" NOT NULL DEFAULT '[]'
  CHECK (jsonb_typeof(redirect_uris::jsonb) = 'array');
ALTER TABLE clients ADD COLUMN token_endpoint_auth_method TEXT COLLATE "C" NOT NULL
  DEFAULT 'client_secret_basic'
  CHECK (token_endpoint_auth_method IN ('client_secret_basic', 'client_secret_post', 'none'));
ALTER TABLE clients ADD COLUMN post_logout_redirect_uris TEXT COLLATE "C" NOT NULL DEFAULT '[]'
  CHECK (jsonb_typeof(post_logout_redirect_uris::jsonb) = 'array');
ALTER TABLE clients ADD COLUMN id_token_signed_response_alg TEXT COLLATE "C" NOT NULL
  DEFAULT 'RS256' CHECK (id_token_signed_response_alg IN ('RS256', 'EdDSA', 'ES256'));
