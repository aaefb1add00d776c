"""DPoP, sender-constrained tokens (issue #13, DESIGN.md §9, RFC 9449), against the real binary.

Proofs are built here with `cryptography` keys and PyJWT, the way a Python client would: the
token endpoint binds what it issues to the proof's key (token_type DPoP, cnf.jkt, a public
client's refresh family); resources, forward auth and introspection accept the token only with a
fresh proof for that very request; replays, other keys, other URLs, Bearer use and bad proofs are
refused with RFC 9449 §7 errors; server nonces; clients that require DPoP."""
import base64
import hashlib
import http.client
import json
import os
import tempfile
import time
import uuid

import jwt
import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from conftest import ADMIN_PASSWORD, admin_token, login, start_server

RULES = """
[[forward_auth.rule]]
path = "/app/**"
require = "authenticated"
"""


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class Key:
    """A client's DPoP key pair and the proofs it signs."""

    def __init__(self, alg="ES256"):
        self.alg = alg
        if alg == "ES256":
            self.private = ec.generate_private_key(ec.SECP256R1())
            numbers = self.private.public_key().public_numbers()
            self.jwk = {"kty": "EC", "crv": "P-256", "x": b64url(numbers.x.to_bytes(32, "big")),
                        "y": b64url(numbers.y.to_bytes(32, "big"))}
            members = ("crv", "kty", "x", "y")
        else:
            self.private = ed25519.Ed25519PrivateKey.generate()
            raw = self.private.public_key().public_bytes(serialization.Encoding.Raw,
                                                        serialization.PublicFormat.Raw)
            self.jwk = {"kty": "OKP", "crv": "Ed25519", "x": b64url(raw)}
            members = ("crv", "kty", "x")
        canonical = json.dumps({m: self.jwk[m] for m in members}, separators=(",", ":"),
                               sort_keys=True)
        self.jkt = b64url(hashlib.sha256(canonical.encode()).digest())

    def proof(self, method, url, token=None, nonce=None, iat=None, jti=None, headers=None,
              **claims):
        body = {"jti": jti or uuid.uuid4().hex, "htm": method, "htu": url,
                "iat": int(time.time()) if iat is None else iat}
        if token is not None:
            body["ath"] = b64url(hashlib.sha256(token.encode()).digest())
        if nonce is not None:
            body["nonce"] = nonce
        body.update(claims)
        header = {"typ": "dpop+jwt", "jwk": self.jwk}
        header.update(headers or {})
        return jwt.encode(body, self.private, algorithm=self.alg, headers=header)


def jwt_claims(token):
    return jwt.decode(token, options={"verify_signature": False})


@pytest.fixture(scope="module")
def env():
    fd, path = tempfile.mkstemp(prefix="portcullis-dpop-", suffix=".toml")
    with os.fdopen(fd, "w") as f:
        f.write(RULES)
    server = start_server(args=["--config", path])
    yield server
    server.stop()


def token_url(server):
    return server.url("/oauth2/token")


def dpop_login(server, key):
    url = token_url(server)
    return requests.post(
        url, data={"grant_type": "password", "username": "admin", "password": ADMIN_PASSWORD},
        headers={"DPoP": key.proof("POST", url)}, timeout=10)


def me(server, token, key=None, proof=None, scheme="DPoP"):
    url = server.url("/v1/me")
    headers = {"Authorization": f"{scheme} {token}"}
    if proof is not None:
        headers["DPoP"] = proof
    elif key is not None:
        headers["DPoP"] = key.proof("GET", url, token=token)
    return requests.get(url, headers=headers, timeout=5)


def assert_dpop_401(r, error):
    assert r.status_code == 401, r.text
    challenge = r.headers["WWW-Authenticate"]
    assert challenge.startswith("DPoP "), challenge
    assert f'error="{error}"' in challenge, challenge
    assert 'algs="ES256 EdDSA"' in challenge


# ---------------------------------------------------------------- token endpoint


def test_discovery_lists_the_proof_algorithms(env):
    meta = requests.get(env.url("/.well-known/openid-configuration"), timeout=5).json()
    assert meta["dpop_signing_alg_values_supported"] == ["ES256", "EdDSA"]


@pytest.mark.parametrize("alg", ["ES256", "EdDSA"])
def test_password_grant_with_a_proof_issues_a_bound_token(env, alg):
    key = Key(alg)
    r = dpop_login(env, key)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["token_type"] == "DPoP"
    assert jwt_claims(body["access_token"])["cnf"] == {"jkt": key.jkt}
    ok = me(env, body["access_token"], key)
    assert ok.status_code == 200, ok.text
    assert ok.json()["username"] == "admin"
    assert ok.json()["auth_method"] == "dpop"


def test_without_a_proof_tokens_stay_bearer(env):
    r = login(env)
    assert r.status_code == 200
    assert r.json()["token_type"] == "Bearer"
    assert "cnf" not in jwt_claims(r.json()["access_token"])


def test_bad_proofs_at_the_token_endpoint_are_invalid_dpop_proof(env):
    key = Key()
    url = token_url(env)
    form = {"grant_type": "password", "username": "admin", "password": ADMIN_PASSWORD}
    bad = {
        "wrong method": key.proof("GET", url),
        "wrong url": key.proof("POST", env.url("/oauth2/introspect")),
        "old": key.proof("POST", url, iat=int(time.time()) - 300),
        "future": key.proof("POST", url, iat=int(time.time()) + 300),
        "typ": key.proof("POST", url, headers={"typ": "JWT"}),
        "garbage": "not.a.proof",
        "hs256": jwt.encode({"jti": "x", "htm": "POST", "htu": url, "iat": int(time.time())},
                            "secret", algorithm="HS256",
                            headers={"typ": "dpop+jwt", "jwk": key.jwk}),
    }
    for name, proof in bad.items():
        r = requests.post(url, data=form, headers={"DPoP": proof}, timeout=10)
        assert r.status_code == 400, (name, r.text)
        assert r.json()["error"] == "invalid_dpop_proof", name
        assert r.headers["Cache-Control"] == "no-store"
    # Two proofs: refused, not picked from (requests cannot repeat a header; http.client can).
    two = [("DPoP", key.proof("POST", url)), ("DPoP", key.proof("POST", url))]
    conn = http.client.HTTPConnection("127.0.0.1", env.port, timeout=10)
    body = "&".join(f"{k}={v}" for k, v in form.items())
    conn.putrequest("POST", "/oauth2/token")
    conn.putheader("Content-Type", "application/x-www-form-urlencoded")
    conn.putheader("Content-Length", str(len(body)))
    for name, value in two:
        conn.putheader(name, value)
    conn.endheaders(body.encode())
    resp = conn.getresponse()
    assert resp.status == 400
    assert json.loads(resp.read())["error"] == "invalid_dpop_proof"
    conn.close()


def test_a_proof_is_accepted_once(env):
    key = Key()
    url = token_url(env)
    proof = key.proof("POST", url)
    form = {"grant_type": "password", "username": "admin", "password": ADMIN_PASSWORD}
    first = requests.post(url, data=form, headers={"DPoP": proof}, timeout=10)
    assert first.status_code == 200, first.text
    again = requests.post(url, data=form, headers={"DPoP": proof}, timeout=10)
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_dpop_proof"


def test_public_refresh_token_is_bound_to_the_key(env):
    key, thief = Key(), Key("EdDSA")
    r = dpop_login(env, key)
    refresh = r.json()["refresh_token"]
    url = token_url(env)
    form = {"grant_type": "refresh_token", "refresh_token": refresh}
    # Without a proof, or with another key: refused, and the token is not spent.
    r = requests.post(url, data=form, timeout=10)
    assert r.status_code == 400 and r.json()["error"] == "invalid_dpop_proof", r.text
    r = requests.post(url, data=form, headers={"DPoP": thief.proof("POST", url)}, timeout=10)
    assert r.status_code == 400 and r.json()["error"] == "invalid_dpop_proof", r.text
    # The holder of the key rotates it; the new pair is bound again.
    r = requests.post(url, data=form, headers={"DPoP": key.proof("POST", url)}, timeout=10)
    assert r.status_code == 200, r.text
    assert r.json()["token_type"] == "DPoP"
    assert jwt_claims(r.json()["access_token"])["cnf"]["jkt"] == key.jkt
    r2 = requests.post(url, data={"grant_type": "refresh_token",
                                  "refresh_token": r.json()["refresh_token"]}, timeout=10)
    assert r2.status_code == 400 and r2.json()["error"] == "invalid_dpop_proof"


def client(env, admin, **extra):
    body = {"name": "dpop-" + uuid.uuid4().hex[:6], "grant_types": ["client_credentials"],
            "scopes": ["users:read"], **extra}
    r = requests.post(env.url("/v1/clients"), json=body,
                      headers={"Authorization": f"Bearer {admin}"}, timeout=5)
    assert r.status_code == 201, r.text
    return r.json()


def test_client_credentials_and_require_dpop(env):
    admin = admin_token(env)
    url = token_url(env)
    plain = client(env, admin)
    assert plain["require_dpop"] is False
    key = Key()
    r = requests.post(url, data={"grant_type": "client_credentials"},
                      auth=(plain["client_id"], plain["client_secret"]),
                      headers={"DPoP": key.proof("POST", url)}, timeout=10)
    assert r.status_code == 200, r.text
    assert r.json()["token_type"] == "DPoP"
    assert me(env, r.json()["access_token"], key).json()["kind"] == "client"

    strict = client(env, admin, require_dpop=True)
    assert strict["require_dpop"] is True
    r = requests.post(url, data={"grant_type": "client_credentials"},
                      auth=(strict["client_id"], strict["client_secret"]), timeout=10)
    assert r.status_code == 400 and r.json()["error"] == "invalid_dpop_proof", r.text
    r = requests.post(url, data={"grant_type": "client_credentials"},
                      auth=(strict["client_id"], strict["client_secret"]),
                      headers={"DPoP": key.proof("POST", url)}, timeout=10)
    assert r.status_code == 200 and r.json()["token_type"] == "DPoP", r.text
    bad = requests.post(env.url("/v1/clients"), json={"name": "x", "require_dpop": "yes"},
                        headers={"Authorization": f"Bearer {admin}"}, timeout=5)
    assert bad.status_code == 400


# ---------------------------------------------------------------- resources


@pytest.fixture
def bound(env):
    key = Key()
    r = dpop_login(env, key)
    assert r.status_code == 200, r.text
    return key, r.json()["access_token"]


def test_a_bound_token_as_bearer_is_refused(env, bound):
    key, token = bound
    r = requests.get(env.url("/v1/me"), headers={"Authorization": f"Bearer {token}"}, timeout=5)
    assert_dpop_401(r, "invalid_token")
    # Also after the token was accepted (and cached) with its proof.
    assert me(env, token, key).status_code == 200
    r = requests.get(env.url("/v1/me"), headers={"Authorization": f"Bearer {token}"}, timeout=5)
    assert_dpop_401(r, "invalid_token")


def test_resource_proofs_are_checked_per_request(env, bound):
    key, token = bound
    url = env.url("/v1/me")
    now = int(time.time())
    cases = {
        "missing": None,
        "no ath": key.proof("GET", url),
        "wrong ath": key.proof("GET", url, token=token + "x"),
        "wrong method": key.proof("POST", url, token=token),
        "wrong url": key.proof("GET", env.url("/v1/api-keys"), token=token),
        "old": key.proof("GET", url, token=token, iat=now - 120),
        "other key": Key().proof("GET", url, token=token),
        "none alg": (b64url(json.dumps({"typ": "dpop+jwt", "alg": "none", "jwk": key.jwk})
                            .encode()) + "." + b64url(json.dumps(
                                {"jti": "n", "htm": "GET", "htu": url, "iat": now}).encode())
                     + ".c2ln"),
    }
    for name, proof in cases.items():
        headers = {"Authorization": f"DPoP {token}"}
        if proof is not None:
            headers["DPoP"] = proof
        r = requests.get(url, headers=headers, timeout=5)
        assert_dpop_401(r, "invalid_dpop_proof")
        assert r.headers["Content-Type"].startswith("application/problem+json"), name
    # The query is not part of htu; host case and the default port do not matter.
    r = me(env, token, proof=key.proof("GET", url.replace("http://", "HTTP://") + "?a=b",
                                       token=token))
    assert r.status_code == 200, r.text
    # A replayed proof is refused even though it is otherwise perfect.
    proof = key.proof("GET", url, token=token)
    assert me(env, token, proof=proof).status_code == 200
    assert_dpop_401(me(env, token, proof=proof), "invalid_dpop_proof")


def test_a_bearer_token_under_the_dpop_scheme_is_refused(env):
    key = Key()
    token = login(env).json()["access_token"]
    assert_dpop_401(me(env, token, key), "invalid_token")
    assert_dpop_401(me(env, "garbage.token.here", key), "invalid_token")


def test_forward_auth_checks_the_proof_against_the_original_request(env, bound):
    key, token = bound
    original = "https://app.example:8443/app/orders"

    def fwd(proof, uri="/app/orders?page=2", method="GET"):
        headers = {"Authorization": f"DPoP {token}", "X-Forwarded-Method": method,
                   "X-Forwarded-Proto": "https", "X-Forwarded-Host": "app.example:8443",
                   "X-Forwarded-Uri": uri}
        if proof is not None:
            headers["DPoP"] = proof
        return requests.get(env.url("/v1/forward-auth"), headers=headers, timeout=5)

    ok = fwd(key.proof("GET", original, token=token))
    assert ok.status_code == 200, ok.text
    assert ok.headers["X-Auth-User"] == "admin"
    assert_dpop_401(fwd(None), "invalid_dpop_proof")
    assert_dpop_401(fwd(key.proof("GET", "https://app.example:8443/app/other", token=token)),
                    "invalid_dpop_proof")
    assert_dpop_401(fwd(key.proof("GET", original, token=token), method="POST"),
                    "invalid_dpop_proof")
    r = requests.get(env.url("/v1/forward-auth"),
                     headers={"Authorization": f"Bearer {token}", "X-Forwarded-Uri": "/app/x"},
                     timeout=5)
    assert_dpop_401(r, "invalid_token")


def test_introspection_reports_the_binding(env, bound):
    key, token = bound
    admin = admin_token(env)
    c = client(env, admin, scopes=[])
    r = requests.post(env.url("/oauth2/introspect"), data={"token": token},
                      auth=(c["client_id"], c["client_secret"]), timeout=5)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["active"] is True
    assert body["token_type"] == "DPoP"
    assert body["cnf"] == {"jkt": key.jkt}
    plain = login(env).json()["access_token"]
    r = requests.post(env.url("/oauth2/introspect"), data={"token": plain},
                      auth=(c["client_id"], c["client_secret"]), timeout=5)
    assert "cnf" not in r.json() and r.json()["token_type"] == "Bearer"


def test_metrics_count_proofs(env, bound):
    text = requests.get(env.url("/metrics"), timeout=5).text
    assert 'portcullis_dpop_proofs_total{result="ok"}' in text
    assert "portcullis_dpop_replay_cache_entries" in text


# ---------------------------------------------------------------- nonces


def test_server_nonces(tmp_path):
    config = tmp_path / "nonce.toml"
    config.write_text("[dpop]\nrequire_nonce = true\n")
    server = start_server(args=["--config", str(config)])
    try:
        key = Key()
        url = token_url(server)
        form = {"grant_type": "password", "username": "admin", "password": ADMIN_PASSWORD}
        r = requests.post(url, data=form, headers={"DPoP": key.proof("POST", url)}, timeout=10)
        assert r.status_code == 400, r.text
        assert r.json()["error"] == "use_dpop_nonce"
        nonce = r.headers["DPoP-Nonce"]
        bad = requests.post(url, data=form,
                            headers={"DPoP": key.proof("POST", url, nonce="forged")}, timeout=10)
        assert bad.json()["error"] == "use_dpop_nonce"
        r = requests.post(url, data=form, headers={"DPoP": key.proof("POST", url, nonce=nonce)},
                          timeout=10)
        assert r.status_code == 200, r.text
        token = r.json()["access_token"]
        me_url = server.url("/v1/me")
        r = requests.get(me_url, headers={"Authorization": f"DPoP {token}",
                                          "DPoP": key.proof("GET", me_url, token=token)},
                         timeout=5)
        assert_dpop_401(r, "use_dpop_nonce")
        nonce = r.headers["DPoP-Nonce"]
        r = requests.get(me_url, headers={
            "Authorization": f"DPoP {token}",
            "DPoP": key.proof("GET", me_url, token=token, nonce=nonce)}, timeout=5)
        assert r.status_code == 200, r.text
    finally:
        server.stop()


def test_userinfo_refuses_a_bound_token_as_bearer_and_logout_takes_a_dpop_token(env, bound):
    key, token = bound
    r = requests.get(env.url("/oauth2/userinfo"), headers={"Authorization": f"Bearer {token}"},
                     timeout=5)
    assert_dpop_401(r, "invalid_token")
    url = env.url("/oauth2/userinfo")
    r = requests.get(url, headers={"Authorization": f"DPoP {token}"}, timeout=5)
    assert_dpop_401(r, "invalid_dpop_proof")
    # With its proof it gets as far as the scope check (this token has no "openid").
    r = requests.get(url, headers={"Authorization": f"DPoP {token}",
                                   "DPoP": key.proof("GET", url, token=token)}, timeout=5)
    assert r.status_code == 403, r.text

    logout = env.url("/v1/logout")
    r = requests.post(logout, headers={"Authorization": f"DPoP {token}",
                                       "DPoP": key.proof("POST", logout, token=token)}, timeout=5)
    assert r.status_code == 204, r.text
    assert_dpop_401(me(env, token, key), "invalid_token")


def test_forwarded_proto_and_host_count_only_from_a_trusted_proxy(env):
    public_url = "https://api.public.example/v1/me"
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "api.public.example"}

    def call(server, key, token):
        headers = {"Authorization": f"DPoP {token}",
                   "DPoP": key.proof("GET", public_url, token=token), **forwarded}
        return requests.get(server.url("/v1/me"), headers=headers, timeout=5)

    # Not configured as a trusted proxy: the proof must name the URL the server itself saw.
    key = Key()
    token = dpop_login(env, key).json()["access_token"]
    assert_dpop_401(call(env, key, token), "invalid_dpop_proof")

    trusting = start_server(args=["--set", 'server.trusted_proxies=["127.0.0.1/32"]'])
    try:
        key = Key()
        token = dpop_login(trusting, key).json()["access_token"]
        r = call(trusting, key, token)
        assert r.status_code == 200, r.text
    finally:
        trusting.stop()


def test_authorization_code_grant_with_a_proof_binds_tokens_and_the_public_refresh_family(env):
    from browser_flow import RelyingParty, create_client

    rp = RelyingParty(env, create_client(env, public=True))
    code = rp.sign_in()["code"]
    key = Key("EdDSA")
    url = token_url(env)
    r = requests.post(url, timeout=10, headers={"DPoP": key.proof("POST", url)}, data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": rp.redirect_uri,
        "code_verifier": rp.verifier, "client_id": rp.client["client_id"]})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["token_type"] == "DPoP"
    assert jwt_claims(body["access_token"])["cnf"] == {"jkt": key.jkt}
    assert "id_token" in body and "cnf" not in jwt_claims(body["id_token"])
    # The public client's refresh family is bound to the key.
    form = {"grant_type": "refresh_token", "refresh_token": body["refresh_token"],
            "client_id": rp.client["client_id"]}
    r = requests.post(url, data=form, timeout=10)
    assert r.status_code == 400 and r.json()["error"] == "invalid_dpop_proof", r.text
    r = requests.post(url, data=form, headers={"DPoP": key.proof("POST", url)}, timeout=10)
    assert r.status_code == 200 and r.json()["token_type"] == "DPoP", r.text


def redeem(env, rp, code, key=None):
    url = token_url(env)
    headers = {"DPoP": key.proof("POST", url)} if key is not None else {}
    return requests.post(url, timeout=10, headers=headers, data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": rp.redirect_uri,
        "code_verifier": rp.verifier, "client_id": rp.client["client_id"]})


def test_dpop_jkt_binds_the_authorization_code_to_the_key(env):  # RFC 9449 §10
    from browser_flow import RelyingParty, create_client

    key = Key("ES256")
    rp = RelyingParty(env, create_client(env, public=True))
    code = rp.sign_in(dpop_jkt=key.jkt)["code"]
    r = redeem(env, rp, code, key)
    assert r.status_code == 200, r.text
    assert r.json()["token_type"] == "DPoP"
    assert jwt_claims(r.json()["access_token"])["cnf"] == {"jkt": key.jkt}


@pytest.mark.parametrize("holder", ["no_proof", "other_key"])
def test_a_code_bound_by_dpop_jkt_is_refused_without_that_key(env, holder):
    from browser_flow import RelyingParty, create_client

    key = Key("EdDSA")
    rp = RelyingParty(env, create_client(env, public=True))
    code = rp.sign_in(dpop_jkt=key.jkt)["code"]
    # A stolen code is useless without the key: no proof, or a proof by the thief's own key.
    r = redeem(env, rp, code, None if holder == "no_proof" else Key("EdDSA"))
    assert r.status_code == 400, r.text
    assert r.json()["error"] == "invalid_dpop_proof"
    assert "access_token" not in r.json()
    # The code is spent by the attempt (as a wrong PKCE verifier spends it).
    r = redeem(env, rp, code, key)
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant", r.text


@pytest.mark.parametrize("bad", ["short", "A" * 42 + "=", "A" * 44, "A" * 42 + "/"])
def test_a_malformed_dpop_jkt_is_an_invalid_request_redirect(env, bad):
    from browser_flow import RelyingParty, create_client, query_of

    rp = RelyingParty(env, create_client(env, public=True))
    r = rp.authorize(dpop_jkt=bad)
    assert r.status_code in (302, 303), r.text[:300]
    q = query_of(r.headers["Location"])
    assert q["error"] == "invalid_request" and q["state"] == rp.state
    assert r.headers["Location"].startswith(rp.redirect_uri)
