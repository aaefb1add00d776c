"""The integration examples (issue #6): examples/fastapi/app.py verifying Portcullis tokens
locally with PyJWT's PyJWKClient, and the same app behind examples/nginx/nginx.conf, where nginx
asks Portcullis GET /v1/forward-auth (auth_request) before every request.

One Portcullis (started with examples/nginx/portcullis.toml), two uvicorn processes (direct,
and behind nginx with TRUST_PROXY_HEADERS=1) and one nginx, all on loopback, shared by the
module. Every process is stopped in teardown; every wait is bounded."""
import base64
import http.client
import importlib.util
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import uuid

import jwt
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from conftest import ADMIN_PASSWORD, PY_SDK_PATH, free_port, login, start_server

# The app verifies tokens with the Portcullis Python SDK: ctest passes the build tree's copy;
# sanitizer builds do not build it (then an installed copy serves, if there is one).
if not PY_SDK_PATH:
    pytest.importorskip("portcullis_verifier", reason="the Python SDK is not built here")

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
APP_DIR = os.path.join(REPO, "examples", "fastapi")
NGINX_TEMPLATE = os.path.join(REPO, "examples", "nginx", "nginx.conf")
PORTCULLIS_TOML = os.path.join(REPO, "examples", "nginx", "portcullis.toml")
NGINX = "/usr/sbin/nginx"
PYTHON = "/usr/bin/python3"
PASSWORD = "amber-falcon-orchard-58"
IDENTITY_HEADERS = ("X-Auth-User", "X-Auth-User-Id", "X-Auth-Client-Id", "X-Auth-Roles",
                    "X-Auth-Scopes")


# ---------------------------------------------------------------- processes

class Proc:
    """A started child process with its log file."""

    def __init__(self, name, cmd, env, log_path, cwd=None):
        self.name = name
        self.log_path = log_path
        with open(log_path, "ab") as log:
            self.proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=log,
                                         stderr=subprocess.STDOUT)

    def log_text(self):
        with open(self.log_path, "r", encoding="utf-8", errors="replace") as f:
            return f.read()

    def stop(self, timeout=10):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=timeout)

    def wait_until(self, ready, what, timeout=30):
        """Polls ready() (True when done) until the deadline; fails with the log otherwise."""
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited early:\n{self.log_text()}")
            try:
                if ready():
                    return
            except (requests.RequestException, OSError):
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"{self.name}: {what} not within {timeout}s:\n"
                                   f"{self.log_text()}")
            time.sleep(0.05)


def start_uvicorn(tmp, name, portcullis_url, trust_proxy_headers, ca_bundle=None):
    port = free_port()
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PORTCULLIS_URL": portcullis_url,
           "PORTCULLIS_AUDIENCE": "portcullis", "REQUIRED_PERMISSION": "articles:read",
           "TRUST_PROXY_HEADERS": "1" if trust_proxy_headers else "0"}
    if PY_SDK_PATH:
        env["PYTHONPATH"] = os.pathsep.join(PY_SDK_PATH)
    if ca_bundle:
        env["PORTCULLIS_CA_BUNDLE"] = ca_bundle
    proc = Proc(name, [PYTHON, "-m", "uvicorn", "--app-dir", APP_DIR, "app:app", "--host",
                       "127.0.0.1", "--port", str(port), "--log-level", "warning"],
                env, os.path.join(tmp, f"{name}.log"), cwd=tmp)
    base = f"http://127.0.0.1:{port}"
    proc.base = base
    proc.wait_until(lambda: requests.get(base + "/public/hello", timeout=1).status_code == 200,
                    "GET /public/hello answered 200")
    return proc


def start_nginx(tmp, portcullis_port, app_port):
    prefix = os.path.join(tmp, "nginx")
    for sub in ("logs", "tmp"):
        os.makedirs(os.path.join(prefix, sub), exist_ok=True)
    # When run as root, nginx's workers run as nobody: they must reach the prefix.
    for path in (tmp, prefix, os.path.join(prefix, "tmp")):
        os.chmod(path, 0o755)
    port = free_port()
    with open(NGINX_TEMPLATE, encoding="utf-8") as f:
        conf = f.read()
    conf = (conf.replace("{{LISTEN}}", f"127.0.0.1:{port}")
            .replace("{{PORTCULLIS}}", f"127.0.0.1:{portcullis_port}")
            .replace("{{APP}}", f"127.0.0.1:{app_port}"))
    unfilled = [line for line in conf.splitlines()
                if "{{" in line and not line.lstrip().startswith("#")]
    assert unfilled == [], unfilled
    conf_path = os.path.join(prefix, "nginx.conf")
    with open(conf_path, "w", encoding="utf-8") as f:
        f.write(conf)
    error_log = os.path.join(prefix, "logs", "error.log")
    cmd = [NGINX, "-p", prefix + "/", "-e", error_log, "-c", conf_path, "-g",
           f"daemon off; pid {os.path.join(prefix, 'nginx.pid')};"]
    check = subprocess.run([*cmd, "-t"], capture_output=True, text=True, timeout=30)
    assert check.returncode == 0, check.stderr
    proc = Proc("nginx", cmd, dict(os.environ), os.path.join(prefix, "logs", "stdout.log"))
    proc.error_log = error_log
    base = f"http://127.0.0.1:{port}"
    proc.base = base
    # Any HTTP answer means nginx is listening (the answer itself depends on forward auth).
    proc.wait_until(lambda: requests.get(base + "/public/hello", timeout=1) is not None,
                    "nginx listening")
    return proc


# ---------------------------------------------------------------- fixtures and helpers

def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def basic(username, password):
    raw = f"{username}:{password}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


def token_of(server, username, password=PASSWORD):
    r = login(server, username=username, password=password)
    assert r.status_code == 200, r.text
    return r.json()["access_token"]


def admin_call(server, token, method, path, body):
    r = requests.request(method, server.url(path), headers=bearer(token), json=body, timeout=10)
    assert r.status_code == 201, r.text
    return r.json()


@pytest.fixture(scope="module")
def stack():
    tmp = tempfile.mkdtemp(prefix="portcullis-examples-")
    procs = []
    server = None
    try:
        data_dir = os.path.join(tmp, "portcullis")
        os.makedirs(data_dir)
        server = start_server(data_dir=data_dir, args=("--config", PORTCULLIS_TOML))
        r = login(server)
        assert r.status_code == 200, r.text
        admin = r.json()["access_token"]
        suffix = uuid.uuid4().hex[:8]
        reader_role = admin_call(server, admin, "POST", "/v1/roles",
                                 {"name": f"reader-{suffix}", "permissions": ["articles:read"]})
        alice = admin_call(server, admin, "POST", "/v1/users",
                           {"username": f"alice-{suffix}", "password": PASSWORD,
                            "roles": ["user", reader_role["name"]]})
        bob = admin_call(server, admin, "POST", "/v1/users",
                         {"username": f"bob-{suffix}", "password": PASSWORD, "roles": ["user"]})
        client = admin_call(server, admin, "POST", "/v1/clients",
                            {"name": f"reports-{suffix}", "grant_types": ["client_credentials"],
                             "scopes": ["articles:read"]})
        r = requests.post(server.url("/oauth2/token"), data={"grant_type": "client_credentials"},
                          auth=(client["client_id"], client["client_secret"]), timeout=10)
        assert r.status_code == 200, r.text
        client_token = r.json()["access_token"]

        direct = start_uvicorn(tmp, "uvicorn-direct", server.base, trust_proxy_headers=False)
        procs.append(direct)
        upstream = start_uvicorn(tmp, "uvicorn-upstream", server.base, trust_proxy_headers=True)
        procs.append(upstream)
        nginx = None
        if os.path.exists(NGINX):
            nginx = start_nginx(tmp, server.port, int(upstream.base.rsplit(":", 1)[1]))
            procs.append(nginx)
        yield {
            "server": server, "direct": direct.base, "nginx": nginx.base if nginx else None,
            "nginx_proc": nginx, "admin": admin, "alice": alice, "bob": bob,
            "alice_token": token_of(server, alice["username"]),
            "bob_token": token_of(server, bob["username"]), "client": client,
            "client_token": client_token,
        }
    finally:
        for p in reversed(procs):
            p.stop()
        if server is not None:
            server.stop()
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture(scope="module")
def via_nginx(stack):
    """The nginx base URL; skips when nginx is not installed, fails clearly without forward
    auth in the server."""
    if stack["nginx"] is None:
        # scripts/install-deps.sh installs nginx: in CI a missing nginx is a failure, not a skip.
        assert not os.environ.get("CI"), f"{NGINX} is missing in CI (scripts/install-deps.sh)"
        pytest.skip(f"{NGINX} is not installed (apt-get install nginx)")
    r = requests.get(stack["server"].url("/v1/forward-auth"),
                     headers={"X-Forwarded-Uri": "/public/hello"}, timeout=10)
    assert r.status_code == 200, ("GET /v1/forward-auth does not work in this portcullis build",
                                  r.status_code, r.text)
    return stack["nginx"]


def tampered(token):
    """The token with one signature character changed (in the middle: the last character of
    a base64url signature may carry only unused bits)."""
    head, payload, sig = token.split(".")
    i = len(sig) // 2
    sig = sig[:i] + ("A" if sig[i] != "A" else "B") + sig[i + 1:]
    return f"{head}.{payload}.{sig}"


def resigned(token, kid=None):
    """The same header and claims signed by a fresh Ed25519 key Portcullis never published."""
    header = jwt.get_unverified_header(token)
    claims = jwt.decode(token, options={"verify_signature": False})
    headers = {"kid": kid or header["kid"], "typ": header["typ"]}
    return jwt.encode(claims, Ed25519PrivateKey.generate(), algorithm="EdDSA", headers=headers)


def b64url(obj):
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()


def assert_401(r):
    assert r.status_code == 401, (r.status_code, r.text)
    assert r.headers["WWW-Authenticate"].startswith("Bearer"), r.headers


def get(base, path, headers=None):
    return requests.get(base + path, headers=headers or {}, timeout=10)


def raw_get(base, path, headers=None):
    """GET with the path sent byte for byte (requests/urllib3 may normalize dot segments)."""
    host, port = base.removeprefix("http://").rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        conn.request("GET", path, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read()
    finally:
        conn.close()


# ---------------------------------------------------------------- (a) direct to uvicorn

def test_direct_valid_token_with_the_permission_passes(stack):
    r = get(stack["direct"], "/articles", bearer(stack["alice_token"]))
    assert r.status_code == 200, r.text
    assert r.json()["reader"] == stack["alice"]["username"]
    assert len(r.json()["items"]) == 2


def test_direct_wildcard_scopes_grant_the_permission(stack):
    # admin's token has scope "*" (DESIGN §4 permission matcher).
    r = get(stack["direct"], "/articles", bearer(stack["admin"]))
    assert r.status_code == 200, r.text


def test_direct_client_credentials_token_passes(stack):
    r = get(stack["direct"], "/articles", bearer(stack["client_token"]))
    assert r.status_code == 200, r.text
    r = get(stack["direct"], "/me-local", bearer(stack["client_token"]))
    assert r.status_code == 200, r.text
    assert r.json()["sub"] == stack["client"]["client_id"]
    assert r.json()["username"] is None


def test_direct_missing_permission_is_403(stack):
    r = get(stack["direct"], "/articles", bearer(stack["bob_token"]))
    assert r.status_code == 403, r.text
    assert 'error="insufficient_scope"' in r.headers["WWW-Authenticate"]
    assert 'scope="articles:read"' in r.headers["WWW-Authenticate"]
    # ... while the token itself is fine:
    r = get(stack["direct"], "/me-local", bearer(stack["bob_token"]))
    assert r.status_code == 200, r.text
    assert r.json()["username"] == stack["bob"]["username"]
    assert r.json()["sub"] == stack["bob"]["id"]
    assert r.json()["scopes"] == []


def test_direct_no_credentials_is_401(stack):
    for path in ("/articles", "/me-local"):
        r = get(stack["direct"], path)
        assert_401(r)
    # Credentials that are not a Bearer token are no credentials to this app.
    assert_401(get(stack["direct"], "/articles", basic(stack["alice"]["username"], PASSWORD)))


def test_direct_tampered_token_is_401(stack):
    r = get(stack["direct"], "/articles", bearer(tampered(stack["alice_token"])))
    assert_401(r)
    assert 'error="invalid_token"' in r.headers["WWW-Authenticate"]


def test_direct_token_signed_by_another_key_is_401(stack):
    token = stack["alice_token"]
    assert_401(get(stack["direct"], "/articles", bearer(resigned(token))))
    assert_401(get(stack["direct"], "/articles", bearer(resigned(token, kid="not-a-known-kid"))))


def test_direct_malformed_and_downgraded_tokens_are_401(stack):
    token = stack["alice_token"]
    head, payload, _ = token.split(".")
    header = jwt.get_unverified_header(token)
    claims = jwt.decode(token, options={"verify_signature": False})
    alg_none = b64url({**header, "alg": "none"}) + "." + payload + "."
    # HS256 keyed with the public JWK's bytes: the classic algorithm confusion.
    jwks = requests.get(stack["server"].url("/.well-known/jwks.json"), timeout=10).json()
    signer = next(k for k in jwks["keys"] if k["kid"] == header["kid"])
    hmac = jwt.encode(claims, json.dumps(signer).encode(), algorithm="HS256",
                      headers={"kid": header["kid"], "typ": "at+jwt"})
    wrong_typ = b64url({**header, "typ": "JWT"}) + "." + token.split(".", 1)[1]
    for bad in ("garbage", "a.b.c", alg_none, hmac, wrong_typ, head + "." + payload):
        assert_401(get(stack["direct"], "/articles", bearer(bad)))


def load_app_module():
    """examples/fastapi/app.py imported into this process, to drive its app directly."""
    spec = importlib.util.spec_from_file_location(f"example_app_{uuid.uuid4().hex}",
                                                  os.path.join(APP_DIR, "app.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_verifier_checks_audience_and_issuer_and_reports_jwks_outage(stack):
    from fastapi.testclient import TestClient
    module = load_app_module()
    base, token = stack["server"].base, stack["alice_token"]

    def status_of(env):
        app = module.create_app(module.Settings.from_env(env))
        return TestClient(app).get("/me-local", headers=bearer(token)).status_code

    assert status_of({"PORTCULLIS_URL": base, "PORTCULLIS_AUDIENCE": "another-api"}) == 401
    assert status_of({"PORTCULLIS_URL": base, "PORTCULLIS_ISSUER": "https://someone-else"}) == 401
    # JWKS unreachable: 503 (the server's problem), not 401.
    assert status_of({"PORTCULLIS_URL": f"http://127.0.0.1:{free_port()}"}) == 503
    # The same app with the right settings accepts the token.
    assert status_of({"PORTCULLIS_URL": base}) == 200


def test_permission_matcher_is_portcullis_own():
    from portcullis_verifier import has_permission

    def grants(held, required):
        return has_permission({"scope": held}, required)

    assert grants("*", "articles:read")
    assert grants("articles:*", "articles:read")
    assert grants("*:read", "articles:read")
    assert grants("articles:read", "articles:read")
    assert not grants("articles:read", "articles:*")
    assert not grants("articles:write", "articles:read")
    assert not grants("articles", "articles:read")
    assert not grants("art*:read", "articles:read")


# conftest's health check polls without verification; everything here verifies.
@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
def test_https_portcullis_with_a_ca_bundle(tmp_path):
    """PORTCULLIS_CA_BUNDLE: the app fetches the JWKS over https trusting Portcullis's
    self-signed certificate; without the bundle the fetch fails and the app answers 503."""
    data_dir = tmp_path / "portcullis"
    data_dir.mkdir()
    server = start_server(data_dir=str(data_dir), tls="auto")
    procs = []
    try:
        cert = str(data_dir / "tls" / "cert.pem")
        r = requests.post(server.url("/oauth2/token"), verify=cert, timeout=10,
                          data={"grant_type": "password", "username": "admin",
                                "password": ADMIN_PASSWORD})
        assert r.status_code == 200, r.text
        token = r.json()["access_token"]
        trusting = start_uvicorn(str(tmp_path), "uvicorn-tls", server.base, False,
                                 ca_bundle=cert)
        procs.append(trusting)
        untrusting = start_uvicorn(str(tmp_path), "uvicorn-no-ca", server.base, False)
        procs.append(untrusting)
        r = get(trusting.base, "/articles", bearer(token))
        assert r.status_code == 200, r.text
        r = get(untrusting.base, "/articles", bearer(token))
        assert r.status_code == 503, r.text
    finally:
        for p in procs:
            p.stop()
        server.stop()


def test_direct_proxy_headers_are_not_trusted(stack):
    # Without TRUST_PROXY_HEADERS the app ignores X-Auth-* entirely.
    r = get(stack["direct"], "/whoami-proxied", {"X-Auth-User": "admin", "X-Auth-User-Id": "1"})
    assert r.status_code == 404, r.text
    r = get(stack["direct"], "/public/hello", {"X-Auth-User": "admin"})
    assert r.status_code == 200
    assert "proxied_identity" not in r.json()


# ---------------------------------------------------------------- (b) through nginx

def test_nginx_valid_token_with_the_permission_passes(stack, via_nginx):
    r = get(via_nginx, "/articles", bearer(stack["alice_token"]))
    assert r.status_code == 200, r.text
    assert r.json()["reader"] == stack["alice"]["username"]


def test_nginx_missing_permission_is_403(stack, via_nginx):
    r = get(via_nginx, "/articles", bearer(stack["bob_token"]))
    assert r.status_code == 403, r.text
    # alice holds articles:read but not articles:write; POST reaches the write rule.
    r = requests.post(via_nginx + "/articles", headers=bearer(stack["alice_token"]), json={},
                      timeout=10)
    assert r.status_code == 403, r.text
    # A client cannot pick the method forward auth sees.
    r = requests.post(via_nginx + "/articles", json={}, timeout=10,
                      headers={**bearer(stack["alice_token"]), "X-Forwarded-Method": "GET",
                               "X-Original-Method": "GET"})
    assert r.status_code == 403, r.text


def test_nginx_no_credentials_is_401(stack, via_nginx):
    for path in ("/articles", "/whoami-proxied", "/me-local"):
        assert_401(get(via_nginx, path))
    # A client cannot pick the URI forward auth sees either.
    assert_401(get(via_nginx, "/articles", {"X-Forwarded-Uri": "/public/hello",
                                            "X-Original-URI": "/public/hello"}))


def test_nginx_tampered_token_is_401(stack, via_nginx):
    assert_401(get(via_nginx, "/articles", bearer(tampered(stack["alice_token"]))))
    assert_401(get(via_nginx, "/articles", bearer(resigned(stack["alice_token"]))))


def test_nginx_client_sent_identity_headers_never_reach_the_app(stack, via_nginx):
    forged = {"X-Auth-User": "admin", "X-Auth-User-Id": "forged-id",
              "X-Auth-Client-Id": "forged-client", "X-Auth-Roles": "admin", "X-Auth-Scopes": "*"}
    r = get(via_nginx, "/whoami-proxied", {**forged, **bearer(stack["alice_token"])})
    assert r.status_code == 200, r.text
    seen = r.json()
    assert seen["X-Auth-User"] == stack["alice"]["username"]
    assert seen["X-Auth-User-Id"] == stack["alice"]["id"]
    assert seen["X-Auth-Client-Id"] is None
    assert sorted(seen["X-Auth-Roles"].split(",")) == sorted(stack["alice"]["roles"])
    assert seen["X-Auth-Scopes"].split() == ["articles:read"]
    # Forged headers alone authenticate nothing.
    assert_401(get(via_nginx, "/whoami-proxied", forged))


def test_nginx_public_path_works_without_credentials_and_without_identity(stack, via_nginx):
    r = get(via_nginx, "/public/hello", {"X-Auth-User": "admin", "X-Auth-User-Id": "forged-id"})
    assert r.status_code == 200, r.text
    assert r.json()["message"] == "hello"
    assert r.json()["proxied_identity"] == {name: None for name in IDENTITY_HEADERS}


def test_nginx_other_credentials_and_client_tokens(stack, via_nginx):
    # Forward auth takes every credential Portcullis accepts: here HTTP Basic.
    r = get(via_nginx, "/whoami-proxied", basic(stack["bob"]["username"], PASSWORD))
    assert r.status_code == 200, r.text
    assert r.json()["X-Auth-User"] == stack["bob"]["username"]
    # A client_credentials token: X-Auth-Client-Id instead of X-Auth-User.
    r = get(via_nginx, "/whoami-proxied", bearer(stack["client_token"]))
    assert r.status_code == 200, r.text
    assert r.json()["X-Auth-Client-Id"] == stack["client"]["client_id"]
    assert r.json()["X-Auth-User"] is None
    assert r.json()["X-Auth-User-Id"] is None


def test_nginx_api_keys_and_two_credentials(stack, via_nginx):
    r = requests.post(stack["server"].url("/v1/api-keys"), headers=bearer(stack["alice_token"]),
                      json={"name": "nginx-example", "scopes": ["articles:read"]}, timeout=10)
    assert r.status_code == 201, r.text
    key = r.json()["key"]
    r = get(via_nginx, "/whoami-proxied", {"X-API-Key": key, "X-Auth-User": "admin"})
    assert r.status_code == 200, r.text
    assert r.json()["X-Auth-User"] == stack["alice"]["username"]
    assert r.json()["X-Auth-Scopes"].split() == ["articles:read"]
    # Forward auth lets the key through to /articles, but the app verifies a Bearer token
    # itself there: an API key is no token to it (examples/fastapi/README.md).
    assert_401(get(via_nginx, "/articles", {"X-API-Key": key}))
    # Two credentials: Portcullis answers 400, which nginx turns into 500 (fails closed).
    r = get(via_nginx, "/whoami-proxied", {"X-API-Key": key, **bearer(stack["alice_token"])})
    assert r.status_code == 500, r.text


def test_nginx_unmatched_paths_are_denied(stack, via_nginx):
    # No rule matches: 403 even for a valid token (default deny); the app never sees it.
    r = get(via_nginx, "/docs", bearer(stack["alice_token"]))
    assert r.status_code == 403, r.text


def test_nginx_path_tricks_do_not_reach_protected_routes(stack, via_nginx):
    for path in ("/public/../articles", "/public/%2e%2e/articles", "/public/..%2farticles",
                 "//articles", "/public/%2E%2E/whoami-proxied"):
        status, headers, body = raw_get(via_nginx, path)
        assert status in (400, 401, 403), (path, status, body)


def test_nginx_logged_no_errors(stack, via_nginx):
    with open(stack["nginx_proc"].error_log, encoding="utf-8", errors="replace") as f:
        errors = [line for line in f if "[error]" in line or "[crit]" in line
                  or "[emerg]" in line]
    # The two-credentials request above (Portcullis's 400 is no answer auth_request expects).
    errors = [line for line in errors if "auth request unexpected status: 400" not in line]
    assert errors == []
