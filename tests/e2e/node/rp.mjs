// openid-client v6 as a relying party of Portcullis (driven by tests/e2e/test_oidc_clients.py).
//   node rp.mjs authorize <issuer> <client_id> <redirect_uri>
//     -> {"url", "code_verifier", "state", "nonce"} on stdout
//   node rp.mjs callback <issuer> <client_id> <callback_url> <code_verifier> <state> <nonce>
//     -> {"claims", "userinfo", "token_type"} on stdout
// The loopback test server speaks http, which openid-client refuses unless allowInsecureRequests.
import * as client from 'openid-client';

const [mode, issuer, clientId, ...rest] = process.argv.slice(2);
const options = issuer.startsWith('http://') ? { execute: [client.allowInsecureRequests] } : {};
const config = await client.discovery(new URL(issuer), clientId, undefined, client.None(),
                                      { ...options, timeout: 10 });

if (mode === 'authorize') {
  const [redirectUri] = rest;
  const codeVerifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const nonce = client.randomNonce();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri,
    scope: 'openid profile email',
    code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
    code_challenge_method: 'S256',
    state,
    nonce,
  });
  console.log(JSON.stringify({ url: url.href, code_verifier: codeVerifier, state, nonce }));
} else if (mode === 'callback') {
  const [callbackUrl, codeVerifier, state, nonce] = rest;
  const tokens = await client.authorizationCodeGrant(config, new URL(callbackUrl), {
    pkceCodeVerifier: codeVerifier,
    expectedState: state,
    expectedNonce: nonce,
    idTokenExpected: true,
  });
  const claims = tokens.claims();
  const userinfo = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
  console.log(JSON.stringify({ claims, userinfo, token_type: tokens.token_type }));
} else {
  console.error(`unknown mode ${mode}`);
  process.exit(2);
}
