"""Forward auth (issue #6, DESIGN §4 "Forward auth" and "Forward-auth paths"): GET
/v1/forward-auth as nginx auth_request / Traefik ForwardAuth call it. Rules come from a TOML
file; the original request is described by X-Forwarded-* (or X-Original-*) headers.

Covers: public rules (200, no identity), authenticated rules (401 + WWW-Authenticate, 200 with
identity headers), permission rules (403 without), client_credentials tokens (X-Auth-Client-Id),
Basic credentials, header fallbacks, path normalization tricks, host globs, methods, default
deny, forged identity headers, and start-up refusal of invalid rules."""
import os
import tempfile
import uuid

import pytest
import requests

from conftest import ADMIN_PASSWORD, admin_token, login, start_server

PASSWORD = "amber-falcon-orchard-58"
IDENTITY_HEADERS = ("X-Auth-User", "X-Auth-User-Id", "X-Auth-Client-Id", "X-Auth-Roles",
                    "X-Auth-Scopes")

RULES = """
[[forward_auth.rule]]
path = "/public/**"
require = "public"

[[forward_auth.rule]]
path = "/admin/**"
require = ["fwd:admin"]

[[forward_auth.rule]]
host = "*.example.com"
path = "/hosted/**"
require = "public"

[[forward_auth.rule]]
path = "/app/**"
methods = ["GET", "HEAD"]
require = "authenticated"

[[forward_auth.rule]]
path = "/reports/*/view"
require = ["reports:read", "reports:list"]
"""


def write_config(text):
    fd, path = tempfile.mkstemp(prefix="portcullis-fwd-", suffix=".toml")
    with os.fdopen(fd, "w") as f:
        f.write(text)
    return path


@pytest.fixture(scope="module")
def env():
    server = start_server(args=["--config", write_config(RULES)])
    admin = admin_token(server)

    def admin_call(method, path, body):
        r = requests.request(method, server.url(path), json=body, timeout=10,
                             headers={"Authorization": f"Bearer {admin}"})
        assert r.status_code == 201, r.text
        return r.json()

    s = uuid.uuid4().hex[:8]
    role = admin_call("POST", "/v1/roles", {"name": f"reporter-{s}",
                                             "permissions": ["reports:read", "reports:list"]})
    half = admin_call("POST", "/v1/roles", {"name": f"half-{s}", "permissions": ["reports:read"]})
    reporter = admin_call("POST", "/v1/users", {"username": f"reporter-{s}", "password": PASSWORD,
                                                "roles": ["user", role["name"]]})
    plain = admin_call("POST", "/v1/users", {"username": f"plain-{s}", "password": PASSWORD,
                                             "roles": ["user", half["name"]]})
    client = admin_call("POST", "/v1/clients", {"name": f"svc-{s}",
                                                 "grant_types": ["client_credentials"],
                                                 "scopes": ["reports:read", "reports:list"]})

    def token(username):
        r = login(server, username=username, password=PASSWORD)
        assert r.status_code == 200, r.text
        return r.json()["access_token"]

    r = requests.post(server.url("/oauth2/token"), data={"grant_type": "client_credentials"},
                      auth=(client["client_id"], client["client_secret"]), timeout=10)
    assert r.status_code == 200, r.text
    yield {
        "server": server,
        "admin": admin,
        "reporter": reporter,
        "reporter_token": token(reporter["username"]),
        "plain": plain,
        "plain_token": token(plain["username"]),
        "client": client,
        "client_token": r.json()["access_token"],
    }
    server.stop()


def fwd(env, uri=None, method=None, host=None, token=None, headers=None, auth=None):
    h = {}
    if uri is not None:
        h["X-Forwarded-Uri"] = uri
    if method is not None:
        h["X-Forwarded-Method"] = method
    if host is not None:
        h["X-Forwarded-Host"] = host
    if token is not None:
        h["Authorization"] = f"Bearer {token}"
    h.update(headers or {})
    return requests.get(env["server"].url("/v1/forward-auth"), headers=h, auth=auth, timeout=10)


def assert_no_identity(r):
    for name in IDENTITY_HEADERS:
        assert name not in r.headers, (name, r.headers)


def assert_401(r):
    assert r.status_code == 401, (r.status_code, r.text)
    assert r.headers["WWW-Authenticate"].startswith("Bearer realm=\"portcullis\""), r.headers
    assert r.headers["Cache-Control"] == "no-store"
    assert_no_identity(r)


def assert_403(r):
    assert r.status_code == 403, (r.status_code, r.text)
    assert r.headers["Cache-Control"] == "no-store"
    assert_no_identity(r)


# ---------------------------------------------------------------- rules and identity

def test_public_rule_allows_without_credentials_and_without_identity(env):
    r = fwd(env, "/public/hello")
    assert r.status_code == 200, r.text
    assert r.text == ""
    assert r.headers["Cache-Control"] == "no-store"
    assert_no_identity(r)
    # Even with a valid credential a public rule adds no identity.
    r = fwd(env, "/public/hello", token=env["reporter_token"])
    assert r.status_code == 200
    assert_no_identity(r)


def test_forged_identity_headers_never_come_back(env):
    forged = {"X-Auth-User": "admin", "X-Auth-User-Id": "forged", "X-Auth-Client-Id": "forged",
              "X-Auth-Roles": "admin", "X-Auth-Scopes": "*"}
    r = fwd(env, "/public/hello", headers=forged)
    assert r.status_code == 200
    assert_no_identity(r)
    assert_401(fwd(env, "/app/x", headers=forged))
    r = fwd(env, "/app/x", token=env["plain_token"], headers=forged)
    assert r.status_code == 200
    assert r.headers["X-Auth-User"] == env["plain"]["username"]
    assert r.headers["X-Auth-User-Id"] == env["plain"]["id"]
    assert "X-Auth-Client-Id" not in r.headers


def test_authenticated_rule_needs_a_valid_credential(env):
    r = fwd(env, "/app/x")
    assert_401(r)
    assert "error=" not in r.headers["WWW-Authenticate"]  # RFC 6750 §3.1: no credentials
    r = fwd(env, "/app/x", token="not-a-real-token")
    assert_401(r)
    assert 'error="invalid_token"' in r.headers["WWW-Authenticate"]
    r = fwd(env, "/app/x", headers={"Authorization": "Bearer"})
    assert_401(r)


def test_authenticated_rule_sets_identity_headers(env):
    r = fwd(env, "/app/dashboard", token=env["reporter_token"])
    assert r.status_code == 200, r.text
    assert r.text == ""
    assert r.headers["Cache-Control"] == "no-store"
    reporter = env["reporter"]
    assert r.headers["X-Auth-User"] == reporter["username"]
    assert r.headers["X-Auth-User-Id"] == reporter["id"]
    assert sorted(r.headers["X-Auth-Roles"].split(",")) == sorted(reporter["roles"])
    assert sorted(r.headers["X-Auth-Scopes"].split(" ")) == ["reports:list", "reports:read"]
    assert "X-Auth-Client-Id" not in r.headers


def test_admin_token_identity(env):
    r = fwd(env, "/admin/panel", token=env["admin"])
    assert r.status_code == 200, r.text
    assert r.headers["X-Auth-User"] == "admin"
    assert "admin" in r.headers["X-Auth-Roles"].split(",")


def test_permission_rule_needs_every_listed_permission(env):
    assert_401(fwd(env, "/reports/7/view"))
    # plain holds reports:read but not reports:list.
    assert_403(fwd(env, "/reports/7/view", token=env["plain_token"]))
    assert_403(fwd(env, "/admin/x", token=env["plain_token"]))
    r = fwd(env, "/reports/7/view", token=env["reporter_token"])
    assert r.status_code == 200, r.text
    assert r.headers["X-Auth-User"] == env["reporter"]["username"]
    # '*' stays inside one segment.
    assert_403(fwd(env, "/reports/7/8/view", token=env["reporter_token"]))


def test_client_credentials_token_sets_client_id(env):
    r = fwd(env, "/reports/1/view", token=env["client_token"])
    assert r.status_code == 200, r.text
    assert r.headers["X-Auth-Client-Id"] == env["client"]["client_id"]
    assert "X-Auth-User" not in r.headers
    assert "X-Auth-User-Id" not in r.headers
    assert sorted(r.headers["X-Auth-Scopes"].split(" ")) == ["reports:list", "reports:read"]
    assert_403(fwd(env, "/admin/x", token=env["client_token"]))


def test_basic_credentials_work(env):
    r = fwd(env, "/app/x", auth=(env["reporter"]["username"], PASSWORD))
    assert r.status_code == 200, r.text
    assert r.headers["X-Auth-User"] == env["reporter"]["username"]
    r = fwd(env, "/app/x", auth=(env["reporter"]["username"], "wrong-password-123"))
    assert r.status_code == 401
    assert "WWW-Authenticate" in r.headers
    assert_no_identity(r)


def test_api_keys_work_with_their_effective_scopes(env):
    def create_key(scopes):
        return requests.post(env["server"].url("/v1/api-keys"), timeout=10,
                             json={"name": "fwd", "scopes": scopes},
                             headers={"Authorization": f"Bearer {env['reporter_token']}"})

    r = create_key(["reports:read"])
    assert r.status_code == 201, r.text
    narrow = r.json()["key"]
    r = fwd(env, "/app/x", headers={"X-API-Key": narrow})
    assert r.status_code == 200, r.text
    assert r.headers["X-Auth-User"] == env["reporter"]["username"]
    assert r.headers["X-Auth-Scopes"] == "reports:read"
    # The key's scopes, not the owner's permissions, decide.
    assert_403(fwd(env, "/reports/1/view", headers={"X-API-Key": narrow}))
    r = create_key(["reports:read", "reports:list"])
    assert r.status_code == 201, r.text
    r = fwd(env, "/reports/1/view", headers={"Authorization": f"ApiKey {r.json()['key']}"})
    assert r.status_code == 200, r.text
    wrong = narrow[:-1] + ("A" if narrow[-1] != "A" else "B")
    assert_401(fwd(env, "/app/x", headers={"X-API-Key": wrong}))


# ---------------------------------------------------------------- what the proxy tells us

def test_original_uri_and_method_fallbacks(env):
    # X-Original-URI (nginx) when X-Forwarded-Uri is absent.
    r = requests.get(env["server"].url("/v1/forward-auth"),
                     headers={"X-Original-URI": "/public/x"}, timeout=10)
    assert r.status_code == 200
    r = requests.get(env["server"].url("/v1/forward-auth"),
                     headers={"X-Original-URI": "/app/x"}, timeout=10)
    assert_401(r)
    # X-Forwarded-Uri wins over X-Original-URI.
    r = requests.get(env["server"].url("/v1/forward-auth"),
                     headers={"X-Forwarded-Uri": "/app/x", "X-Original-URI": "/public/x"},
                     timeout=10)
    assert_401(r)
    # X-Original-Method when X-Forwarded-Method is absent: POST is not allowed on /app.
    r = requests.get(env["server"].url("/v1/forward-auth"),
                     headers={"X-Original-URI": "/app/x", "X-Original-Method": "POST",
                              "Authorization": f"Bearer {env['reporter_token']}"}, timeout=10)
    assert_403(r)
    # No URI at all means "/", which no rule here matches.
    assert_403(requests.get(env["server"].url("/v1/forward-auth"), timeout=10))


def test_methods_are_matched_per_rule(env):
    t = env["reporter_token"]
    assert fwd(env, "/app/x", method="GET", token=t).status_code == 200
    assert fwd(env, "/app/x", method="HEAD", token=t).status_code == 200
    assert fwd(env, "/app/x", method="get", token=t).status_code == 200  # methods upper-cased
    assert_403(fwd(env, "/app/x", method="DELETE", token=t))  # no rule: default deny
    assert_403(fwd(env, "/app/x", method="GET POST", token=t))  # not a method
    assert fwd(env, "/reports/1/view", method="DELETE", token=t).status_code == 200  # any method


def test_query_string_is_ignored(env):
    assert fwd(env, "/public/x?next=/admin/y").status_code == 200
    assert_401(fwd(env, "/admin/y?from=/public/x"))


def test_path_tricks_are_normalized_or_denied(env):
    plain = env["plain_token"]
    # Dot segments resolve before matching: the admin rule decides.
    assert_401(fwd(env, "/public/../admin/x"))
    assert_403(fwd(env, "/public/../admin/x", token=plain))
    assert_401(fwd(env, "/public/%2e%2e/admin/x"))
    assert_401(fwd(env, "/public/.%2E/admin/x"))
    assert_401(fwd(env, "/../admin"))
    # Repeated slashes are merged.
    assert_401(fwd(env, "//admin//x"))
    assert_403(fwd(env, "//admin///x", token=plain))
    assert fwd(env, "//public///x").status_code == 200
    # Unreserved escapes are decoded: %61dmin is admin.
    assert_401(fwd(env, "/%61dmin/x"))
    # Encoded separators, backslashes and NULs are refused outright, even under a public prefix.
    for uri in ("/public/%2Fadmin", "/public/%2fadmin", "/public%2F..%2Fadmin", "/public/%5Cx",
                "/public/%5c..%5cadmin", "/public/\\..\\admin", "/public/%00", "/public/%zz",
                "public/x", "http://evil.example/public/x"):
        assert_403(fwd(env, uri, token=env["admin"]))
    # Paths are case-sensitive: /ADMIN is not /admin, and no rule matches it.
    assert_403(fwd(env, "/ADMIN/x"))


def test_host_globs(env):
    assert fwd(env, "/hosted/x", host="app.example.com").status_code == 200
    assert fwd(env, "/hosted/x", host="App.Example.COM:8443").status_code == 200
    assert_403(fwd(env, "/hosted/x", host="example.com"))
    assert_403(fwd(env, "/hosted/x", host="a.b.example.com"))
    assert_403(fwd(env, "/hosted/x", host="app.example.org"))
    assert_403(fwd(env, "/hosted/x", host="app.example.com, evil.org"))
    # Without X-Forwarded-Host the Host header is used (127.0.0.1 here): no match.
    assert_403(fwd(env, "/hosted/x"))


def test_no_matching_rule_is_denied(env):
    assert_403(fwd(env, "/nothing/here"))
    assert_403(fwd(env, "/nothing/here", token=env["admin"]))
    assert_403(fwd(env, "/"))


def metric(env, result):
    text = requests.get(env["server"].url("/metrics"), timeout=10).text
    line = f'portcullis_forward_auth_decisions_total{{result="{result}"}} '
    for row in text.splitlines():
        if row.startswith(line):
            return int(float(row[len(line):]))
    return 0


def test_decisions_are_counted_by_result(env):
    before = {r: metric(env, r) for r in ("public", "unauthenticated", "no_rule", "bad_path")}
    assert fwd(env, "/public/x").status_code == 200
    assert fwd(env, "/app/x").status_code == 401
    assert fwd(env, "/nothing-matches-this").status_code == 403
    assert fwd(env, "/app/%2Fetc").status_code == 403
    for result, n in before.items():
        assert metric(env, result) == n + 1, result


def test_other_methods_on_the_endpoint_are_not_allowed(env):
    r = requests.post(env["server"].url("/v1/forward-auth"), timeout=10)
    assert r.status_code == 405


# ---------------------------------------------------------------- start-up validation

@pytest.mark.parametrize("rule,key,reason", [
    ('path = "/api**"\nrequire = "public"', "forward_auth.rule[1].path",
     "'**' must be a whole path segment"),
    ('host = "app.example.com:443"\nrequire = "public"', "forward_auth.rule[1].host",
     "a host glob has no port"),
    ('methods = ["get"]\nrequire = "public"', "forward_auth.rule[1].methods",
     "upper-case HTTP methods"),
    ('require = ["Not A Permission"]', "forward_auth.rule[1].require", "is not a permission"),
    ('require = "admin"', "forward_auth.rule[1].require", "expected \"public\""),
])
def test_invalid_rule_stops_the_server_naming_the_key(rule, key, reason):
    config = write_config('[[forward_auth.rule]]\nrequire = "public"\n\n'
                          f"[[forward_auth.rule]]\n{rule}\n")
    with pytest.raises(RuntimeError) as e:
        start_server(args=["--config", config])
    message = str(e.value)
    assert "configuration error" in message, message
    assert f"'{key}'" in message, message
    assert reason in message, message
