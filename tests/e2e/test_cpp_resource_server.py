"""examples/cpp-resource-server (issue #14, DESIGN §11) against a real Portcullis: the example,
built against the INSTALLED C++ package by ctest cpp_example_build (PORTCULLIS_CPP_EXAMPLE is its
binary), protects GET /orders (orders:read) and POST /orders/{id}/refund (orders:refund) with one
portcullis::Verifier::Verify call. Tokens come from the running server; DPoP proofs are built
with cryptography + PyJWT (test_dpop.py's Key)."""
import base64
import os
import subprocess
import tempfile

import jwt
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import ed25519

from conftest import admin_token, start_server
from test_dpop import Key

EXAMPLE = os.environ.get("PORTCULLIS_CPP_EXAMPLE", "")
PASSWORD = "correct horse battery staple 42"

if not EXAMPLE:
    pytest.skip("PORTCULLIS_CPP_EXAMPLE is not set (ctest cpp_example_build builds it)",
                allow_module_level=True)


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class Example:
    def __init__(self, issuer, audience, jwks_url):
        self.log = tempfile.NamedTemporaryFile(prefix="cpp-example-", suffix=".log", delete=False)
        self.proc = subprocess.Popen(
            [EXAMPLE, "--issuer", issuer, "--audience", audience, "--jwks-url", jwks_url,
             "--port", "0", "--jwks-min-refresh", "0"],
            stdout=subprocess.PIPE, stderr=self.log, text=True)
        line = self.proc.stdout.readline()
        assert line.startswith("listening on "), (line, self.log_text())
        self.base = f"http://127.0.0.1:{int(line.split()[-1])}"

    def log_text(self):
        with open(self.log.name, errors="replace") as f:
            return f.read()

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.unlink(self.log.name)


@pytest.fixture(scope="module")
def env():
    server = start_server()
    admin = {"Authorization": "Bearer " + admin_token(server)}
    for role, permissions in (("clerk", ["orders:read"]), ("manager", ["orders:*"])):
        r = requests.post(server.url("/v1/roles"), headers=admin, timeout=10,
                          json={"name": role, "permissions": permissions})
        assert r.status_code == 201, r.text
    for username, roles in (("clerk", ["clerk"]), ("manager", ["manager"]), ("guest", [])):
        r = requests.post(server.url("/v1/users"), headers=admin, timeout=10,
                          json={"username": username, "password": PASSWORD, "roles": roles})
        assert r.status_code == 201, r.text
    issuer = requests.get(server.url("/.well-known/openid-configuration"),
                          timeout=5).json()["issuer"]
    token = token_of(server, "guest")
    aud = jwt.decode(token, options={"verify_signature": False})["aud"]
    audience = aud if isinstance(aud, str) else aud[0]
    example = Example(issuer, audience, server.url("/.well-known/jwks.json"))
    yield {"server": server, "admin": admin, "example": example}
    example.stop()
    server.stop()


def token_of(server, username, headers=None):
    r = requests.post(server.url("/oauth2/token"), timeout=30, headers=headers or {},
                      data={"grant_type": "password", "username": username, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return r.json()["access_token"]


def call(env, method, path, headers=None):
    return requests.request(method, env["example"].base + path, headers=headers or {}, timeout=10)


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def test_a_permitted_token_gets_200(env):
    r = call(env, "GET", "/orders", bearer(token_of(env["server"], "clerk")))
    assert r.status_code == 200, r.text
    assert r.json()["username"] == "clerk" and r.json()["orders"]
    r = call(env, "POST", "/orders/A-1001/refund", bearer(token_of(env["server"], "manager")))
    assert r.status_code == 200, r.text
    assert r.json()["refunded"] == "A-1001"


def test_a_missing_permission_is_403_insufficient_scope(env):
    r = call(env, "GET", "/orders", bearer(token_of(env["server"], "guest")))
    assert r.status_code == 403, r.text
    assert r.headers["WWW-Authenticate"] == \
        'Bearer realm="orders", error="insufficient_scope", scope="orders:read"'
    r = call(env, "POST", "/orders/A-1001/refund", bearer(token_of(env["server"], "clerk")))
    assert r.status_code == 403
    assert 'scope="orders:refund"' in r.headers["WWW-Authenticate"]


def test_missing_and_bad_tokens_are_401(env):
    r = call(env, "GET", "/orders")
    assert r.status_code == 401
    assert r.headers["WWW-Authenticate"] == 'Bearer realm="orders"'
    token = token_of(env["server"], "clerk")
    header, payload, _ = token.split(".")
    foreign = ed25519.Ed25519PrivateKey.generate()
    claims = jwt.decode(token, options={"verify_signature": False})
    for bad in ("garbage", header + "." + payload + "." + b64url(os.urandom(64)),
                jwt.encode(claims, foreign, algorithm="EdDSA",
                           headers={"typ": "at+jwt", "kid": "unknown-kid"}),
                jwt.encode(dict(claims, aud="another-api"), foreign, algorithm="EdDSA",
                           headers={"typ": "at+jwt", "kid": jwt.get_unverified_header(token)["kid"]})):
        r = call(env, "GET", "/orders", bearer(bad))
        assert r.status_code == 401, r.text
        assert r.headers["WWW-Authenticate"] == 'Bearer realm="orders", error="invalid_token"'
    r = call(env, "GET", "/orders", {"Authorization": "Basic Y2xlcms6cGFzcw=="})
    assert r.status_code == 401 and 'error="invalid_request"' in r.headers["WWW-Authenticate"]
    log = env["example"].log_text()
    assert "token refused: bad_signature" in log and "token refused: key_not_found" in log
    assert token not in log


def test_dpop_bound_tokens_need_a_proof_for_this_request(env):
    key = Key("ES256")
    url = env["server"].url("/oauth2/token")
    token = token_of(env["server"], "clerk", headers={"DPoP": key.proof("POST", url)})
    orders = env["example"].base + "/orders"
    proof = key.proof("GET", orders, token=token)
    r = call(env, "GET", "/orders", {"Authorization": f"DPoP {token}", "DPoP": proof})
    assert r.status_code == 200, r.text
    # The same proof again: a replay.
    r = call(env, "GET", "/orders", {"Authorization": f"DPoP {token}", "DPoP": proof})
    assert r.status_code == 401
    assert r.headers["WWW-Authenticate"] == 'DPoP algs="ES256 EdDSA", error="invalid_dpop_proof"'
    # As Bearer: refused with a DPoP challenge (RFC 9449 §7.1).
    r = call(env, "GET", "/orders", bearer(token))
    assert r.status_code == 401
    assert r.headers["WWW-Authenticate"] == 'DPoP algs="ES256 EdDSA", error="invalid_token"'
    for proof in (key.proof("GET", env["example"].base + "/elsewhere", token=token),
                  key.proof("POST", orders, token=token), Key("EdDSA").proof("GET", orders,
                                                                            token=token), None):
        headers = {"Authorization": f"DPoP {token}"}
        if proof:
            headers["DPoP"] = proof
        r = call(env, "GET", "/orders", headers)
        assert r.status_code == 401, r.text
        assert r.headers["WWW-Authenticate"] == \
            'DPoP algs="ES256 EdDSA", error="invalid_dpop_proof"'


def test_a_token_under_a_new_signing_key_is_accepted(env):
    before = token_of(env["server"], "clerk")
    r = requests.post(env["server"].url("/v1/keys/rotate"), headers=env["admin"], timeout=30)
    assert r.status_code in (200, 201), r.text
    after = token_of(env["server"], "clerk")
    assert jwt.get_unverified_header(after)["kid"] != jwt.get_unverified_header(before)["kid"]
    # Unknown kid: the example refetches the JWKS (--jwks-min-refresh 0 here; 30 s by default).
    for token in (after, before):
        r = call(env, "GET", "/orders", bearer(token))
        assert r.status_code == 200, r.text


def test_real_tokens_for_another_audience_or_issuer_are_refused(env):
    """The server's own, validly signed tokens, checked by example instances configured for
    another audience and for another issuer: both refuse them (401 invalid_token) and log why."""
    server = env["server"]
    issuer = requests.get(server.url("/.well-known/openid-configuration"),
                          timeout=5).json()["issuer"]
    token = token_of(server, "manager")
    aud = jwt.decode(token, options={"verify_signature": False})["aud"]
    audience = aud if isinstance(aud, str) else aud[0]
    jwks = server.url("/.well-known/jwks.json")
    for example, reason in ((Example(issuer, "billing-api", jwks), "audience_mismatch"),
                            (Example(issuer + "/other", audience, jwks), "issuer_mismatch")):
        try:
            r = requests.get(example.base + "/orders", headers=bearer(token), timeout=10)
            assert r.status_code == 401, r.text
            assert r.headers["WWW-Authenticate"] == \
                'Bearer realm="orders", error="invalid_token"'
            assert f"token refused: {reason}" in example.log_text()
            assert token not in example.log_text()
        finally:
            example.stop()
    # The instance configured like the server accepts the very same token.
    assert call(env, "GET", "/orders", bearer(token)).status_code == 200


def test_keys_never_fetched_answer_503_with_retry_after(env):
    """An issuer whose JWKS cannot be fetched (nothing listens there): the example starts, answers
    503 + Retry-After for protected routes (not 401: the token may be fine), /healthz stays open."""
    import socket
    with socket.socket() as s:  # a free loopback port with nothing listening on it
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}/.well-known/jwks.json"
    example = Example("https://auth.invalid", "orders-api", dead)
    try:
        token = token_of(env["server"], "clerk")
        r = requests.get(example.base + "/orders", headers=bearer(token), timeout=30)
        assert r.status_code == 503, r.text
        assert r.headers["Retry-After"] == "5"
        assert requests.get(example.base + "/healthz", timeout=10).status_code == 200
        assert token not in example.log_text()
    finally:
        example.stop()


def run_example(args, env_vars=None, timeout=10):
    """Runs the example to its exit (for settings it refuses): (exit status, stderr)."""
    proc = subprocess.run([EXAMPLE] + args, capture_output=True, text=True, timeout=timeout,
                          env=dict(os.environ, **(env_vars or {})))
    return proc.returncode, proc.stderr


@pytest.mark.parametrize("args, message", [
    ([], "--issuer and --audience are required"),
    (["--issuer", "https://a.example"], "--issuer and --audience are required"),
    (["--issuer", "https://a.example", "--audience", "x", "--port", "8o80"], "--port must be"),
    (["--issuer", "https://a.example", "--audience", "x", "--port", "99999"], "--port must be"),
    (["--issuer", "https://a.example", "--audience", "x", "--port", "-1"], "--port must be"),
    (["--issuer", "https://a.example", "--audience", "x", "--port", ""], "--port must be"),
    (["--issuer", "https://a.example", "--audience", "x", "--jwks-min-refresh", "soon"],
     "--jwks-min-refresh must be"),
    (["--issuer", "https://a.example", "--audience", "x", "--bind", "localhost:80"],
     "--bind must be an IP address"),
    (["--issuer", "https://a.example", "--audience", "x", "--prot", "80"], "unknown flag --prot"),
    (["--issuer", "https://a.example", "--audience"], "--audience needs a value"),
    (["--issuer", "http://a.example", "--audience", "x", "--jwks-url", "ftp://a/jwks"],
     "bad verifier options"),
])
def test_bad_settings_exit_2_with_a_message(args, message):
    status, stderr = run_example(args)
    assert status == 2, stderr
    assert message in stderr, stderr
    assert "terminate" not in stderr and "Aborted" not in stderr


def test_a_port_in_use_exits_1_with_a_message(env):
    port = env["example"].base.rsplit(":", 1)[1]
    status, stderr = run_example(["--issuer", "https://a.example", "--audience", "x",
                                  "--port", port])
    assert status == 1, stderr
    assert f"cannot listen on 127.0.0.1 port {port}" in stderr, stderr
    assert "terminate" not in stderr and "Aborted" not in stderr


def test_settings_from_the_environment_and_flags_win(env):
    """ORDERS_* variables configure the example; a flag given too wins over its variable."""
    server = env["server"]
    issuer = requests.get(server.url("/.well-known/openid-configuration"),
                          timeout=5).json()["issuer"]
    token = token_of(server, "clerk")
    aud = jwt.decode(token, options={"verify_signature": False})["aud"]
    audience = aud if isinstance(aud, str) else aud[0]
    variables = {"ORDERS_ISSUER": issuer, "ORDERS_AUDIENCE": "billing-api",
                 "ORDERS_JWKS_URL": server.url("/.well-known/jwks.json"),
                 "ORDERS_BIND": "127.0.0.1", "ORDERS_PORT": "0"}
    for flags, expected in (([], 401), (["--audience", audience], 200)):
        proc = subprocess.Popen([EXAMPLE] + flags, stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, text=True,
                                env=dict(os.environ, **variables))
        try:
            line = proc.stdout.readline()
            assert line.startswith("listening on "), line
            base = f"http://127.0.0.1:{int(line.split()[-1])}"
            r = requests.get(base + "/orders", headers=bearer(token), timeout=10)
            assert r.status_code == expected, r.text
        finally:
            proc.terminate()
            proc.wait(timeout=10)
