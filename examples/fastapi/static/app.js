// Browser sign-in with the authorization code flow + PKCE (S256) against Portcullis.
// The verifier never leaves this tab until the code exchange; crypto.subtle needs a secure
// context (https, or http://127.0.0.1 / http://localhost).
// Portcullis does not answer CORS on /oauth2/token, so the code is exchanged by this app's
// backend (POST /auth/callback), which forwards it as a public client (client_id alone).
'use strict';

const $ = (id) => document.getElementById(id);

function base64url(bytes) {
  let s = '';
  for (const b of new Uint8Array(bytes)) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function randomString(n) {
  return base64url(crypto.getRandomValues(new Uint8Array(n)));
}

async function s256(text) {
  return base64url(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text)));
}

function redirectUri() {
  return window.location.origin + window.location.pathname;
}

async function config() {
  const r = await fetch('/auth/config');
  if (!r.ok) throw new Error('GET /auth/config: ' + r.status);
  return r.json();
}

async function signIn() {
  const cfg = await config();
  const verifier = randomString(48);  // 64 characters
  const state = randomString(16);
  sessionStorage.setItem('pkce_verifier', verifier);
  sessionStorage.setItem('oauth_state', state);
  const url = new URL(cfg.authorization_endpoint);
  url.search = new URLSearchParams({
    response_type: 'code',
    client_id: cfg.client_id,
    redirect_uri: redirectUri(),
    scope: 'openid profile',
    state,
    code_challenge: await s256(verifier),
    code_challenge_method: 'S256',
  }).toString();
  window.location.assign(url.href);
}

async function finishSignIn(params) {
  const verifier = sessionStorage.getItem('pkce_verifier');
  const state = sessionStorage.getItem('oauth_state');
  sessionStorage.removeItem('pkce_verifier');
  sessionStorage.removeItem('oauth_state');
  history.replaceState(null, '', redirectUri());  // drop ?code=… from the address bar
  if (params.get('error')) throw new Error('sign-in failed: ' + params.get('error'));
  if (!verifier || params.get('state') !== state) throw new Error('state does not match');
  const r = await fetch('/auth/callback', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ code: params.get('code'), code_verifier: verifier,
                           redirect_uri: redirectUri(), iss: params.get('iss') }),
  });
  const body = await r.json();
  if (!r.ok) throw new Error('code exchange: ' + JSON.stringify(body));
  sessionStorage.setItem('access_token', body.access_token);  // this tab only
}

async function callApi() {
  const token = sessionStorage.getItem('access_token');
  if (!token) return;
  const r = await fetch('/me-local', { headers: { Authorization: 'Bearer ' + token } });
  const body = await r.json();
  $('result').textContent = JSON.stringify(body, null, 2);
  $('status').textContent = r.ok ? 'Signed in as ' + body.username + '.' : 'The API refused the token.';
  $('result').dataset.status = String(r.status);
  $('sign-out').hidden = false;
}

function showError(e) {
  $('status').textContent = String(e.message || e);
  $('status').className = 'error';
}

$('sign-in').addEventListener('click', () => signIn().catch(showError));
$('sign-out').addEventListener('click', () => {
  sessionStorage.removeItem('access_token');
  window.location.assign(redirectUri());
});

(async () => {
  const params = new URLSearchParams(window.location.search);
  if (params.has('code') || params.has('error')) await finishSignIn(params);
  await callApi();
})().catch(showError);
