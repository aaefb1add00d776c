"""Third-party OpenID Connect relying parties against Portcullis's code flow (DESIGN.md §8).

1. Authlib (OAuth2Session, PKCE S256): create_authorization_url, the login followed with
   requests, fetch_token, then the ID token verified with authlib.jose against the JWKS.
2. openid-client v6 (node, ESM; tests/e2e/node/rp.mjs): discovery, buildAuthorizationUrl with
   PKCE, the login done here with requests, authorizationCodeGrant with state/nonce checks and
   fetchUserInfo. Its package is installed by `npm install` in tests/e2e/node when node_modules is
   missing; the test skips (with npm's output) only if that install fails.

The server is the loopback http one (conftest's `server`); openid-client is told
allowInsecureRequests for it."""
import json
import os
import shutil
import subprocess

import pytest
import requests

from browser_flow import create_client, parse_form
from conftest import ADMIN_PASSWORD

NODE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "node")
REDIRECT = "http://127.0.0.1:9/cb"  # never fetched: the 303's Location is read instead


def follow_login(authorize_url, server, username="admin", password=ADMIN_PASSWORD):
    """A browser's part: open the authorize URL, fill in the login page, return the callback URL
    the 303 points to."""
    browser = requests.Session()
    page = browser.get(authorize_url, allow_redirects=False, timeout=10)
    assert page.status_code == 200, page.text
    form = parse_form(page.text)
    data = dict(form.inputs, username=username, password=password)
    r = browser.post(server.url(form.action), data=data, allow_redirects=False, timeout=10)
    assert r.status_code == 303, r.text
    assert r.headers["Location"].startswith(REDIRECT + "?")
    return r.headers["Location"]


def discovery(server):
    r = requests.get(server.url("/.well-known/openid-configuration"), timeout=5)
    assert r.status_code == 200, r.text
    return r.json()


# --------------------------------------------------------------------------------------- Authlib

def test_authlib_relying_party(server):
    requests_client = pytest.importorskip("authlib.integrations.requests_client")
    from authlib.jose import JsonWebKey, jwt
    from authlib.common.security import generate_token

    meta = discovery(server)
    client = create_client(server, redirect_uris=(REDIRECT,))
    session = requests_client.OAuth2Session(
        client["client_id"], scope="openid profile email", redirect_uri=REDIRECT,
        code_challenge_method="S256", token_endpoint_auth_method="none")
    verifier = generate_token(64)
    nonce = generate_token(16)
    url, state = session.create_authorization_url(meta["authorization_endpoint"],
                                                  code_verifier=verifier, nonce=nonce)
    assert "code_challenge=" in url and "code_challenge_method=S256" in url

    callback = follow_login(url, server)
    token = session.fetch_token(meta["token_endpoint"], authorization_response=callback,
                                code_verifier=verifier, state=state, timeout=10)
    assert token["token_type"].lower() == "bearer" and token["access_token"]

    jwks = JsonWebKey.import_key_set(requests.get(meta["jwks_uri"], timeout=5).json())
    claims = jwt.decode(token["id_token"], jwks, claims_options={
        "iss": {"essential": True, "value": meta["issuer"]},
        "aud": {"essential": True, "value": client["client_id"]},
        "nonce": {"essential": True, "value": nonce},
        "sub": {"essential": True},
        "exp": {"essential": True},
    })
    claims.validate(leeway=30)
    assert claims["preferred_username"] == "admin" and claims["amr"] == ["pwd"]
    assert claims["azp"] == client["client_id"]

    info = session.get(meta["userinfo_endpoint"], timeout=5)
    assert info.status_code == 200 and info.json()["sub"] == claims["sub"]


# ------------------------------------------------------------------------- openid-client (node)

def ensure_openid_client():
    node = shutil.which("node")
    assert node, "node is not installed (scripts/install-deps.sh)"
    if os.path.isdir(os.path.join(NODE_DIR, "node_modules", "openid-client")):
        return node
    npm = shutil.which("npm")
    assert npm, "npm is not installed"
    try:
        r = subprocess.run([npm, "install", "--no-audit", "--no-fund"], cwd=NODE_DIR,
                           capture_output=True, text=True, timeout=180)
    except subprocess.TimeoutExpired:
        pytest.skip("npm install of openid-client timed out (no registry reachable?)")
    if r.returncode != 0:
        pytest.skip("npm install of openid-client failed:\n" + r.stdout + r.stderr)
    return node


def run_node(node, *args):
    r = subprocess.run([node, os.path.join(NODE_DIR, "rp.mjs"), *args], cwd=NODE_DIR,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    return json.loads(r.stdout.strip().splitlines()[-1])


def test_openid_client_v6_relying_party(server):
    node = ensure_openid_client()
    client = create_client(server, redirect_uris=(REDIRECT,))
    issuer = discovery(server)["issuer"]
    start = run_node(node, "authorize", issuer, client["client_id"], REDIRECT)
    assert "code_challenge_method=S256" in start["url"]
    callback = follow_login(start["url"], server)
    out = run_node(node, "callback", issuer, client["client_id"], callback,
                   start["code_verifier"], start["state"], start["nonce"])
    claims = out["claims"]
    assert claims["iss"] == issuer and claims["aud"] == client["client_id"]
    assert claims["nonce"] == start["nonce"] and claims["preferred_username"] == "admin"
    assert out["userinfo"]["sub"] == claims["sub"]
    assert out["token_type"].lower() == "bearer"
