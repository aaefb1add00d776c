"""RBAC and administration (issue #5, DESIGN §4 "Administration"): admin routes and their
permissions, the self-escalation rules, mass assignment, narrowed scopes, token invalidation on
role/permission removal, the access review, audit of every change, user listing/e-mail/deletion,
the last-admin rule, built-in roles, and the users/roles CLI against a running server.

Every test makes its own users and roles (uuid suffixes), so the tests are independent of each
other and of their order; most share the module's server (conftest `server`)."""
import json
import time
import uuid

import jwt
import pytest
import requests

from conftest import ADMIN_PASSWORD, login, run_cli, start_server

PASSWORD = "plum-harbor-lantern-93"
OTHER_PASSWORD = "quiet-violet-meadow-71"


# ---------------------------------------------------------------- helpers

def suffix():
    return uuid.uuid4().hex[:8]


def name(prefix):
    """A fresh user or role name (valid for both: lowercase, digits and '-')."""
    return f"{prefix}-{suffix()}"


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def call(server, method, path, token=None, **kwargs):
    headers = bearer(token) if token else {}
    headers.update(kwargs.pop("headers", {}))
    return requests.request(method, server.url(path), headers=headers, timeout=10, **kwargs)


def me(server, token):
    return call(server, "GET", "/v1/me", token)


def assert_problem(r, status):
    """An RFC 9457 problem with this status."""
    assert r.status_code == status, (r.status_code, r.text)
    assert r.headers["Content-Type"].startswith("application/problem+json"), r.headers
    assert r.json()["status"] == status, r.text


def token_of(server, username, password=PASSWORD, **extra):
    r = login(server, username=username, password=password, **extra)
    assert r.status_code == 200, r.text
    return r.json()


def create_user(server, token, username=None, roles=None, email=None, password=PASSWORD):
    body = {"username": username or name("u"), "password": password}
    if roles is not None:
        body["roles"] = roles
    if email is not None:
        body["email"] = email
    r = call(server, "POST", "/v1/users", token, json=body)
    assert r.status_code == 201, r.text
    return r.json()


def create_role(server, token, role_name=None, permissions=(), description=None):
    body = {"name": role_name or name("r"), "permissions": list(permissions)}
    if description is not None:
        body["description"] = description
    r = call(server, "POST", "/v1/roles", token, json=body)
    assert r.status_code == 201, r.text
    return r.json()


def get_user(server, token, user_id):
    r = call(server, "GET", f"/v1/users/{user_id}", token)
    assert r.status_code == 200, r.text
    return r.json()


def set_roles(server, token, user_id, roles):
    return call(server, "PUT", f"/v1/users/{user_id}/roles", token, json={"roles": roles})


def audit(server, token, **params):
    params.setdefault("limit", 500)
    r = call(server, "GET", "/v1/audit", token, params=params)
    assert r.status_code == 200, r.text
    return r.json()["items"]


def list_all_users(server, token, **params):
    r = call(server, "GET", "/v1/users", token, params={"limit": 500, **params})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["next_cursor"] is None
    return body["items"]


def walk_users(server, token, **params):
    """Every page of GET /v1/users with limit=1; returns the items in order."""
    items, cursor, pages = [], None, 0
    while True:
        query = {"limit": 1, **params}
        if cursor:
            query["cursor"] = cursor
        r = call(server, "GET", "/v1/users", token, params=query)
        assert r.status_code == 200, r.text
        body = r.json()
        assert len(body["items"]) <= 1, body
        items.extend(body["items"])
        cursor = body["next_cursor"]
        pages += 1
        assert pages < 1000, "cursor walk does not end"
        if cursor is None:
            return items


def wait_for(predicate, timeout=5.0):
    """Polls `predicate` until it is true or `timeout` seconds pass (waiting for an event that
    the server learns of asynchronously, e.g. a CLI change through the user change feed)."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)


def roles_in(value):
    """Roles from an audit before/after or a CLI output: a list, or an object with "roles"."""
    return sorted(value if isinstance(value, list) else value["roles"])


def items_in(value):
    """A CLI --json listing: a JSON array, or an object with "items"."""
    return value if isinstance(value, list) else value["items"]


@pytest.fixture(scope="module")
def adm(server):
    """The bootstrap administrator: one token for the whole module, and their user id."""
    body = token_of(server, "admin", password=ADMIN_PASSWORD)
    who = me(server, body["access_token"]).json()
    return {"token": body["access_token"], "id": who["id"]}


@pytest.fixture(scope="module")
def open_server():
    s = start_server(args=["--set", "registration.open=true"])
    yield s
    s.stop()


# ---------------------------------------------------------------- 403 / 401 on admin routes

def admin_routes(victim_id, victim_role):
    """(method, path, json body) of every admin route, with bodies that would be valid."""
    return [
        ("GET", "/v1/users", None),
        ("POST", "/v1/users", {"username": name("intruder"), "password": PASSWORD}),
        ("GET", f"/v1/users/{victim_id}", None),
        ("PATCH", f"/v1/users/{victim_id}", {"disabled": True}),
        ("DELETE", f"/v1/users/{victim_id}", None),
        ("PUT", f"/v1/users/{victim_id}/roles", {"roles": ["user"]}),
        ("POST", f"/v1/users/{victim_id}/unlock", None),
        ("GET", "/v1/roles", None),
        ("POST", "/v1/roles", {"name": name("sneaky"), "permissions": []}),
        ("GET", f"/v1/roles/{victim_role}", None),
        ("PATCH", f"/v1/roles/{victim_role}", {"description": "hijacked"}),
        ("DELETE", f"/v1/roles/{victim_role}", None),
        ("GET", "/v1/access-review", None),
        ("GET", "/v1/audit", None),
        ("GET", "/v1/clients", None),
        ("POST", "/v1/clients", {"name": "sneaky-client"}),
        ("DELETE", "/v1/clients/no-such-client", None),
        ("GET", "/v1/keys", None),
        ("POST", "/v1/keys/rotate", None),
    ]


def test_non_admin_gets_403_and_anonymous_401_on_every_admin_route(server, adm):
    victim = create_user(server, adm["token"], roles=["user"])
    victim_role = create_role(server, adm["token"], permissions=["articles:read"],
                              description="untouched")["name"]
    plain = create_user(server, adm["token"])  # default roles
    assert plain["roles"] == ["user"]
    token = token_of(server, plain["username"])["access_token"]
    who = me(server, token).json()
    assert who["roles"] == ["user"] and who["permissions"] == []

    for method, path, body in admin_routes(victim["id"], victim_role):
        r = call(server, method, path, token, json=body)
        assert r.status_code == 403, (method, path, r.status_code, r.text)
        assert_problem(r, 403)
    for method, path, body in admin_routes(victim["id"], victim_role):
        r = call(server, method, path, json=body)
        assert r.status_code == 401, (method, path, r.status_code, r.text)
        assert "WWW-Authenticate" in r.headers, (method, path)

    # nothing changed
    after = get_user(server, adm["token"], victim["id"])
    assert after["disabled"] is False and after["roles"] == ["user"]
    role = call(server, "GET", f"/v1/roles/{victim_role}", adm["token"]).json()
    assert role["description"] == "untouched"


# ---------------------------------------------------------------- self-escalation rules

def test_admin_cannot_change_their_own_roles(server, adm):
    for roles in (["admin", "user"], ["admin"], ["user"]):
        r = set_roles(server, adm["token"], adm["id"], roles)
        assert_problem(r, 403)
    assert get_user(server, adm["token"], adm["id"])["roles"] == ["admin"]
    assert me(server, adm["token"]).status_code == 200


def test_granting_permissions_you_do_not_hold_is_refused(server, adm):
    editor = create_role(server, adm["token"], name("editor"), ["articles:*", "users:read"])
    manager = create_role(server, adm["token"], name("manager"),
                          ["users:write", "users:read", "roles:write"])
    helper = create_role(server, adm["token"], name("helper"), ["users:read"])
    m = create_user(server, adm["token"], roles=[manager["name"]])
    target = create_user(server, adm["token"])
    mt = token_of(server, m["username"])["access_token"]

    # can't give anyone "editor" (articles:* is not theirs)
    assert_problem(set_roles(server, mt, target["id"], ["user", editor["name"]]), 403)
    # nor create a user with it
    r = call(server, "POST", "/v1/users", mt,
             json={"username": name("u"), "password": PASSWORD, "roles": [editor["name"]]})
    assert_problem(r, 403)
    # nor create a role carrying articles:*
    r = call(server, "POST", "/v1/roles", mt,
             json={"name": name("articles"), "permissions": ["articles:*"]})
    assert_problem(r, 403)
    # nor add articles:* (or a narrower articles permission) to an existing role via PATCH
    for perms in (["users:read", "articles:*"], ["users:read", "articles:read"], ["*"]):
        r = call(server, "PATCH", f"/v1/roles/{helper['name']}", mt, json={"permissions": perms})
        assert_problem(r, 403)
    role = call(server, "GET", f"/v1/roles/{helper['name']}", adm["token"]).json()
    assert role["permissions"] == ["users:read"]
    assert get_user(server, adm["token"], target["id"])["roles"] == ["user"]

    # a role whose permissions they hold: fine
    r = set_roles(server, mt, target["id"], ["user", helper["name"]])
    assert r.status_code == 200, r.text
    assert sorted(r.json()["roles"]) == sorted(["user", helper["name"]])
    r = call(server, "POST", "/v1/roles", mt,
             json={"name": name("sub"), "permissions": ["users:read"]})
    assert r.status_code == 201, r.text
    # and they still can't touch their own roles
    assert_problem(set_roles(server, mt, m["id"], [manager["name"], editor["name"]]), 403)


# ---------------------------------------------------------------- mass assignment

def test_registration_ignores_privileged_fields(open_server):
    username = name("reg")
    r = requests.post(open_server.url("/v1/register"), timeout=10, json={
        "username": username, "password": PASSWORD, "roles": ["admin"], "disabled": False,
        "id": "x", "email": f"{username}@example.com"})
    assert r.status_code == 201, r.text
    user = r.json()
    assert user["roles"] == ["user"]
    assert user["id"] != "x" and user["username"] == username
    assert user["email"] == f"{username}@example.com"
    assert user["disabled"] is False

    token = token_of(open_server, username)["access_token"]
    who = me(open_server, token).json()
    assert who["roles"] == ["user"] and who["permissions"] == []
    assert jwt.decode(token, options={"verify_signature": False})["roles"] == ["user"]
    assert call(open_server, "GET", "/v1/users", token).status_code == 403

    # "disabled": true is ignored as well: the user can log in
    other = name("reg")
    r = requests.post(open_server.url("/v1/register"), timeout=10, json={
        "username": other, "password": PASSWORD, "disabled": True, "roles": ["admin"],
        "created_at": "2000-01-01T00:00:00Z", "last_login_at": None})
    assert r.status_code == 201, r.text
    assert r.json()["disabled"] is False and r.json()["roles"] == ["user"]
    token_of(open_server, other)

    admin = token_of(open_server, "admin",
                     password=ADMIN_PASSWORD)["access_token"]
    stored = get_user(open_server, admin, user["id"])
    assert stored["roles"] == ["user"] and stored["disabled"] is False
    created = [e for e in audit(open_server, admin, type="user.created")
               if e["subject"] == user["id"]]
    assert created and created[0]["actor"] == user["id"]


def test_registration_validates_input(open_server):
    taken = name("reg")
    r = requests.post(open_server.url("/v1/register"), timeout=10,
                      json={"username": taken, "password": PASSWORD})
    assert r.status_code == 201, r.text
    assert_problem(requests.post(open_server.url("/v1/register"), timeout=10,
                                 json={"username": taken.upper(), "password": OTHER_PASSWORD}),
                   409)
    for body in ({"username": name("reg"), "password": "short"},
                 {"username": "bad name!", "password": PASSWORD},
                 {"username": name("reg"), "password": PASSWORD, "email": "not-an-email"},
                 {"password": PASSWORD}):
        assert_problem(requests.post(open_server.url("/v1/register"), json=body, timeout=10), 400)


def test_registration_is_closed_by_default(server, adm):
    username = name("reg")
    r = requests.post(server.url("/v1/register"), timeout=10,
                      json={"username": username, "password": PASSWORD})
    assert_problem(r, 403)
    assert list_all_users(server, adm["token"], username=username) == []


def test_admin_writes_reject_unknown_fields(server, adm):
    username = name("mass")
    r = call(server, "POST", "/v1/users", adm["token"],
             json={"username": username, "password": PASSWORD, "is_admin": True})
    assert_problem(r, 400)
    assert list_all_users(server, adm["token"], username=username) == []

    user = create_user(server, adm["token"])
    r = call(server, "PATCH", f"/v1/users/{user['id']}", adm["token"], json={"roles": ["admin"]})
    assert_problem(r, 400)
    r = call(server, "PATCH", f"/v1/users/{user['id']}", adm["token"],
             json={"email": "ok@example.com", "roles": ["admin"]})
    assert_problem(r, 400)
    r = call(server, "PUT", f"/v1/users/{user['id']}/roles", adm["token"],
             json={"roles": ["user"], "user_id": adm["id"]})
    assert_problem(r, 400)
    stored = get_user(server, adm["token"], user["id"])
    assert stored["roles"] == ["user"] and stored["email"] is None

    role_name = name("mass")
    r = call(server, "POST", "/v1/roles", adm["token"],
             json={"name": role_name, "permissions": [], "holders": [user["id"]]})
    assert_problem(r, 400)
    assert_problem(call(server, "GET", f"/v1/roles/{role_name}", adm["token"]), 404)


def test_role_input_validation(server, adm):
    tok = adm["token"]
    for body in ({"name": "Bad Name", "permissions": []},
                 {"name": "-leading", "permissions": []},
                 {"name": name("r"), "permissions": ["NOT VALID"]},
                 {"name": name("r"), "permissions": ["art*:read"]},
                 {"name": name("r"), "permissions": "users:read"}):
        assert_problem(call(server, "POST", "/v1/roles", tok, json=body), 400)
    role = create_role(server, tok, permissions=["articles:read"])
    assert_problem(call(server, "POST", "/v1/roles", tok,
                        json={"name": role["name"], "permissions": []}), 409)
    assert_problem(call(server, "PATCH", f"/v1/roles/{role['name']}", tok, json={}), 400)
    missing = name("missing")
    assert_problem(call(server, "GET", f"/v1/roles/{missing}", tok), 404)
    assert_problem(call(server, "PATCH", f"/v1/roles/{missing}", tok,
                        json={"description": "x"}), 404)
    assert_problem(call(server, "DELETE", f"/v1/roles/{missing}", tok), 404)
    user = create_user(server, tok)
    assert_problem(set_roles(server, tok, user["id"], ["user", missing]), 400)
    r = call(server, "POST", "/v1/users", tok,
             json={"username": name("u"), "password": PASSWORD, "roles": [missing]})
    assert_problem(r, 400)
    listed = call(server, "GET", "/v1/roles", tok).json()
    names = {x["name"] for x in listed["items"]}
    assert {"admin", "user", role["name"]} <= names
    assert set(listed["items"][0]) >= {"name", "description", "permissions", "created_at"}


# ---------------------------------------------------------------- narrowed scopes

def test_scopes_narrow_tokens_and_me_reflects_them(server, adm):
    articles = create_role(server, adm["token"], name("articles"), ["articles:*"])
    user = create_user(server, adm["token"], roles=["user", articles["name"]])

    full = token_of(server, user["username"])
    assert full["scope"] == "articles:*"
    assert me(server, full["access_token"]).json()["permissions"] == ["articles:*"]

    narrow = token_of(server, user["username"], scope="articles:read")
    assert narrow["scope"] == "articles:read"
    claims = jwt.decode(narrow["access_token"], options={"verify_signature": False})
    assert claims["scope"] == "articles:read"
    assert me(server, narrow["access_token"]).json()["permissions"] == ["articles:read"]

    r = login(server, username=user["username"], password=PASSWORD, scope="users:write")
    assert r.status_code == 400 and r.json()["error"] == "invalid_scope", r.text
    r = login(server, username=user["username"], password=PASSWORD,
              scope="articles:read users:write")
    assert r.status_code == 400 and r.json()["error"] == "invalid_scope", r.text

    two = token_of(server, user["username"], scope="articles:read articles:write")
    assert set(two["scope"].split()) == {"articles:read", "articles:write"}
    r = requests.post(server.url("/oauth2/token"), timeout=10, data={
        "grant_type": "refresh_token", "refresh_token": two["refresh_token"],
        "scope": "articles:read"})
    assert r.status_code == 200, r.text
    assert r.json()["scope"] == "articles:read"
    assert me(server, r.json()["access_token"]).json()["permissions"] == ["articles:read"]
    wider = requests.post(server.url("/oauth2/token"), timeout=10, data={
        "grant_type": "refresh_token", "refresh_token": r.json()["refresh_token"],
        "scope": "articles:read articles:write"})
    assert wider.status_code == 400 and wider.json()["error"] == "invalid_scope"


# ---------------------------------------------------------------- invalidation

def test_removing_a_role_invalidates_older_tokens(server, adm):
    editor = create_role(server, adm["token"], name("editor"), ["articles:*", "users:read"])
    user = create_user(server, adm["token"], roles=["user", editor["name"]])
    t1 = token_of(server, user["username"])["access_token"]
    assert me(server, t1).status_code == 200
    assert call(server, "GET", "/v1/users", t1).status_code == 200

    r = set_roles(server, adm["token"], user["id"], ["user"])
    assert r.status_code == 200, r.text
    assert r.json()["roles"] == ["user"]
    assert me(server, t1).status_code == 401
    assert call(server, "GET", "/v1/users", t1).status_code == 401

    t2 = token_of(server, user["username"])["access_token"]
    claims = jwt.decode(t2, options={"verify_signature": False})
    assert claims["roles"] == ["user"]
    assert me(server, t2).json()["roles"] == ["user"]
    assert call(server, "GET", "/v1/users", t2).status_code == 403


def test_removing_a_permission_from_a_role_invalidates_holders_tokens(server, adm):
    role = create_role(server, adm["token"], name("writer"), ["articles:read", "articles:write"])
    holder = create_user(server, adm["token"], roles=["user", role["name"]])
    bystander = create_user(server, adm["token"])
    t1 = token_of(server, holder["username"])["access_token"]
    tb = token_of(server, bystander["username"])["access_token"]

    r = call(server, "PATCH", f"/v1/roles/{role['name']}", adm["token"],
             json={"permissions": ["articles:read"]})
    assert r.status_code == 200, r.text
    assert r.json()["permissions"] == ["articles:read"]
    assert me(server, t1).status_code == 401
    assert me(server, tb).status_code == 200  # not a holder: untouched

    t2 = token_of(server, holder["username"])
    assert t2["scope"] == "articles:read"
    assert me(server, t2["access_token"]).json()["permissions"] == ["articles:read"]


def test_deleting_a_role_invalidates_holders_tokens(server, adm):
    role = create_role(server, adm["token"], name("doomed"), ["articles:read"])
    holder = create_user(server, adm["token"], roles=["user", role["name"]])
    t1 = token_of(server, holder["username"])["access_token"]
    assert me(server, t1).status_code == 200

    r = call(server, "DELETE", f"/v1/roles/{role['name']}", adm["token"])
    assert r.status_code == 204, r.text
    assert me(server, t1).status_code == 401
    assert_problem(call(server, "GET", f"/v1/roles/{role['name']}", adm["token"]), 404)
    assert get_user(server, adm["token"], holder["id"])["roles"] == ["user"]
    t2 = token_of(server, holder["username"])["access_token"]
    assert me(server, t2).json()["roles"] == ["user"]


def test_adding_a_role_or_a_permission_keeps_older_tokens_valid(server, adm):
    extra = create_role(server, adm["token"], name("extra"), ["articles:read"])
    user = create_user(server, adm["token"])
    t1 = token_of(server, user["username"])["access_token"]

    r = set_roles(server, adm["token"], user["id"], ["user", extra["name"]])
    assert r.status_code == 200, r.text
    assert me(server, t1).status_code == 200
    assert me(server, t1).json()["roles"] == ["user"]  # the token keeps what it was issued with

    r = call(server, "PATCH", f"/v1/roles/{extra['name']}", adm["token"],
             json={"permissions": ["articles:read", "articles:write"]})
    assert r.status_code == 200, r.text
    r = call(server, "PATCH", f"/v1/roles/{extra['name']}", adm["token"],
             json={"description": "only the description changes"})
    assert r.status_code == 200, r.text
    assert me(server, t1).status_code == 200
    fresh = token_of(server, user["username"])
    assert set(fresh["scope"].split()) == {"articles:read", "articles:write"}


# ---------------------------------------------------------------- access review

REVIEW_USER_FIELDS = {"id", "username", "email", "roles", "permissions", "disabled",
                      "locked_until", "created_at", "last_login_at", "last_permission_use",
                      "unused_roles", "unused_permissions"}


def review(server, token, **params):
    r = call(server, "GET", "/v1/access-review", token, params=params)
    assert r.status_code == 200, r.text
    return r.json()


def test_access_review_lists_users_roles_and_unused_grants(server, adm):
    tok = adm["token"]
    reader = create_role(server, tok, name("reader"), ["users:read"])
    idle = create_role(server, tok, name("idle"), ["roles:read"])
    lonely = create_role(server, tok, name("lonely"), ["articles:read"])
    p = create_user(server, tok, roles=["user", reader["name"], idle["name"]],
                    email="p@example.com")
    pt = token_of(server, p["username"])["access_token"]
    assert call(server, "GET", "/v1/users", pt).status_code == 200  # uses users:read

    off = create_user(server, tok)
    assert call(server, "PATCH", f"/v1/users/{off['id']}", tok,
                json={"disabled": True}).status_code == 200
    locked = create_user(server, tok)
    for _ in range(5):
        assert login(server, username=locked["username"],
                     password="wrong-guess-for-review").status_code == 400
    assert login(server, username=locked["username"]).status_code == 429

    body = review(server, tok, unused_days=3650)
    assert set(body) >= {"generated_at", "unused_days", "users", "roles",
                         "roles_without_holders"}
    assert body["unused_days"] == 3650
    users = {u["username"]: u for u in body["users"]}
    listed = {u["id"] for u in list_all_users(server, tok)}
    assert {u["id"] for u in body["users"]} == listed  # every user

    entry = users[p["username"]]
    assert set(entry) >= REVIEW_USER_FIELDS
    assert entry["id"] == p["id"] and entry["email"] == "p@example.com"
    assert sorted(entry["roles"]) == sorted(["user", reader["name"], idle["name"]])
    assert sorted(entry["permissions"]) == ["roles:read", "users:read"]
    assert entry["last_login_at"] is not None
    assert entry["last_permission_use"] is not None
    assert entry["disabled"] is False and entry["locked_until"] is None
    assert "users:read" not in entry["unused_permissions"]
    assert "roles:read" in entry["unused_permissions"]
    assert reader["name"] not in entry["unused_roles"]
    assert idle["name"] in entry["unused_roles"]

    assert users[off["username"]]["disabled"] is True
    assert users[off["username"]]["last_login_at"] is None
    assert users[locked["username"]]["locked_until"] is not None

    role_names = {r["name"] for r in body["roles"]}
    assert {"admin", "user", reader["name"], idle["name"], lonely["name"]} <= role_names
    assert set(body["roles"][0]) >= {"name", "description", "permissions", "holders"}
    assert lonely["name"] in body["roles_without_holders"]
    assert reader["name"] not in body["roles_without_holders"]
    assert "admin" not in body["roles_without_holders"]

    zero = review(server, tok, unused_days=0)
    assert zero["unused_days"] == 0
    entry0 = {u["username"]: u for u in zero["users"]}[p["username"]]
    assert idle["name"] in entry0["unused_roles"]
    assert "roles:read" in entry0["unused_permissions"]

    # the CLI reads the same database while the server runs
    cli = run_cli("access-review", "--json", data_dir=server.data_dir)
    assert cli.returncode == 0, cli.stderr
    out = json.loads(cli.stdout)
    cli_users = out["users"] if isinstance(out, dict) else out
    assert {u["username"] for u in cli_users} == set(users)
    cli_p = {u["username"]: u for u in cli_users}[p["username"]]
    assert sorted(cli_p["roles"]) == sorted(entry["roles"])
    assert sorted(cli_p["permissions"]) == ["roles:read", "users:read"]
    if isinstance(out, dict):
        assert lonely["name"] in out["roles_without_holders"]
    text = run_cli("access-review", data_dir=server.data_dir)
    assert text.returncode == 0 and p["username"] in text.stdout


def test_access_review_default_window_and_bad_parameter(server, adm):
    body = review(server, adm["token"])
    assert body["unused_days"] == 90
    for bad in ("-1", "abc"):
        r = call(server, "GET", "/v1/access-review", adm["token"], params={"unused_days": bad})
        assert_problem(r, 400)


# ---------------------------------------------------------------- audit

def events_about(server, token, kind, subject):
    return [e for e in audit(server, token, type=kind) if e["subject"] == subject]


def test_every_user_and_role_change_is_audited_with_the_actor(server, adm):
    tok, actor = adm["token"], adm["id"]
    role = create_role(server, tok, name("audited"), ["articles:read"], description="v1")
    user = create_user(server, tok, email="before@example.com")

    r = call(server, "PATCH", f"/v1/users/{user['id']}", tok,
             json={"disabled": True, "email": "after@example.com"})
    assert r.status_code == 200, r.text
    assert r.json()["disabled"] is True and r.json()["email"] == "after@example.com"
    r = set_roles(server, tok, user["id"], ["user", role["name"]])
    assert r.status_code == 200, r.text
    r = call(server, "PATCH", f"/v1/roles/{role['name']}", tok,
             json={"description": "v2", "permissions": ["articles:read", "articles:write"]})
    assert r.status_code == 200, r.text
    assert r.json()["description"] == "v2"
    assert call(server, "DELETE", f"/v1/roles/{role['name']}", tok).status_code == 204
    assert call(server, "DELETE", f"/v1/users/{user['id']}", tok).status_code == 204

    created = events_about(server, tok, "user.created", user["id"])
    assert len(created) == 1 and created[0]["actor"] == actor

    updated = events_about(server, tok, "user.updated", user["id"])
    assert len(updated) == 1 and updated[0]["actor"] == actor
    d = updated[0]["details"]
    assert d["before"]["disabled"] is False and d["after"]["disabled"] is True
    assert d["before"]["email"] == "before@example.com"
    assert d["after"]["email"] == "after@example.com"

    changed = events_about(server, tok, "user.roles_changed", user["id"])
    assert len(changed) == 1 and changed[0]["actor"] == actor
    assert roles_in(changed[0]["details"]["before"]) == ["user"]
    assert roles_in(changed[0]["details"]["after"]) == sorted(["user", role["name"]])

    deleted = events_about(server, tok, "user.deleted", user["id"])
    assert len(deleted) == 1 and deleted[0]["actor"] == actor

    for kind in ("role.created", "role.updated", "role.deleted"):
        found = events_about(server, tok, kind, role["name"])
        assert len(found) == 1, (kind, found)
        assert found[0]["actor"] == actor
    upd = events_about(server, tok, "role.updated", role["name"])[0]["details"]
    assert "before" in upd and "after" in upd
    assert json.dumps(upd).count("articles:write") >= 1

    # every audited change: no secrets in the details
    text = json.dumps(audit(server, tok))
    assert PASSWORD not in text and tok not in text


# ---------------------------------------------------------------- users: list, e-mail, delete

def test_users_list_pages_with_a_cursor_and_filters(server, adm):
    tok = adm["token"]
    prefix = name("pg")
    marker = create_role(server, tok, name("pgrole"), [])
    a = create_user(server, tok, f"{prefix}-a")
    b = create_user(server, tok, f"{prefix}-b", roles=["user", marker["name"]])
    c = create_user(server, tok, f"{prefix}-c")
    assert call(server, "PATCH", f"/v1/users/{c['id']}", tok,
                json={"disabled": True}).status_code == 200

    walked = walk_users(server, tok, username=prefix)
    assert sorted(u["username"] for u in walked) == [a["username"], b["username"],
                                                     c["username"]]
    assert len({u["id"] for u in walked}) == 3
    # the whole list, page by page, equals one big page
    everyone = walk_users(server, tok)
    assert [u["id"] for u in everyone] == [u["id"] for u in list_all_users(server, tok)]
    first = call(server, "GET", "/v1/users", tok, params={"limit": 1}).json()
    assert len(first["items"]) == 1 and first["next_cursor"]
    assert set(first["items"][0]) >= {"id", "username", "email", "roles", "disabled",
                                      "locked_until", "created_at", "last_login_at"}

    by_role = list_all_users(server, tok, role=marker["name"])
    assert [u["id"] for u in by_role] == [b["id"]]
    off = list_all_users(server, tok, username=prefix, disabled="true")
    assert [u["id"] for u in off] == [c["id"]]
    on = list_all_users(server, tok, username=prefix, disabled="false")
    assert sorted(u["id"] for u in on) == sorted([a["id"], b["id"]])
    assert list_all_users(server, tok, username=name("nobody")) == []
    assert_problem(call(server, "GET", "/v1/users", tok, params={"disabled": "maybe"}), 400)
    capped = call(server, "GET", "/v1/users", tok, params={"limit": 100000})
    assert capped.status_code == 200


def test_user_email_get_patch_and_clear(server, adm):
    tok = adm["token"]
    user = create_user(server, tok, email="first@example.com")
    assert get_user(server, tok, user["id"])["email"] == "first@example.com"
    r = call(server, "PATCH", f"/v1/users/{user['id']}", tok, json={"email": "new@example.com"})
    assert r.status_code == 200, r.text
    assert r.json()["email"] == "new@example.com"
    assert get_user(server, tok, user["id"])["email"] == "new@example.com"
    for bad in ("not-an-email", "two@@example.com", "a b@example.com", 42):
        r = call(server, "PATCH", f"/v1/users/{user['id']}", tok, json={"email": bad})
        assert_problem(r, 400)
    assert get_user(server, tok, user["id"])["email"] == "new@example.com"
    r = call(server, "PATCH", f"/v1/users/{user['id']}", tok, json={"email": None})
    assert r.status_code == 200, r.text
    assert r.json()["email"] is None
    assert get_user(server, tok, user["id"])["email"] is None
    r = call(server, "POST", "/v1/users", tok,
             json={"username": name("u"), "password": PASSWORD, "email": "nope"})
    assert_problem(r, 400)
    assert_problem(call(server, "GET", f"/v1/users/{uuid.uuid4()}", tok), 404)
    assert_problem(call(server, "PATCH", f"/v1/users/{uuid.uuid4()}", tok,
                        json={"disabled": True}), 404)


def test_admin_cannot_disable_themselves(server, adm):
    r = call(server, "PATCH", f"/v1/users/{adm['id']}", adm["token"], json={"disabled": True})
    assert_problem(r, 403)
    assert get_user(server, adm["token"], adm["id"])["disabled"] is False


def test_user_creation_errors(server, adm):
    tok = adm["token"]
    user = create_user(server, tok)
    r = call(server, "POST", "/v1/users", tok,
             json={"username": user["username"].upper(), "password": PASSWORD})
    assert_problem(r, 409)
    for body in ({"username": "bad name", "password": PASSWORD},
                 {"username": name("u"), "password": "short"},
                 {"username": name("u")},
                 {"username": name("u"), "password": PASSWORD, "roles": "user"}):
        assert_problem(call(server, "POST", "/v1/users", tok, json=body), 400)


def test_deleted_user_loses_their_token_and_disappears(server, adm):
    tok = adm["token"]
    user = create_user(server, tok)
    ut = token_of(server, user["username"])
    assert me(server, ut["access_token"]).status_code == 200
    r = call(server, "DELETE", f"/v1/users/{user['id']}", tok)
    assert r.status_code == 204, r.text
    assert me(server, ut["access_token"]).status_code == 401
    r = requests.post(server.url("/oauth2/token"), timeout=10,
                      data={"grant_type": "refresh_token", "refresh_token": ut["refresh_token"]})
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"
    assert_problem(call(server, "GET", f"/v1/users/{user['id']}", tok), 404)
    assert_problem(call(server, "DELETE", f"/v1/users/{user['id']}", tok), 404)
    assert login(server, username=user["username"], password=PASSWORD).status_code == 400
    # the name is free again
    again = create_user(server, tok, user["username"])
    assert again["id"] != user["id"]


def test_admin_role_always_keeps_a_holder():
    """Own server: this test demotes the bootstrap admin."""
    s = start_server()
    try:
        a1 = token_of(s, "admin", password=ADMIN_PASSWORD)["access_token"]
        a1_id = me(s, a1).json()["id"]
        mgr = create_role(s, a1, name("mgr"), ["users:read", "users:write"])
        a2 = create_user(s, a1, name("admin2"), roles=["admin"])
        m = create_user(s, a1, name("manager"), roles=[mgr["name"]])

        assert_problem(call(s, "DELETE", f"/v1/users/{a1_id}", a1), 403)  # yourself

        a2t = token_of(s, a2["username"])["access_token"]
        r = set_roles(s, a2t, a1_id, ["user"])  # a2 still holds admin: fine
        assert r.status_code == 200, r.text
        assert me(s, a1).status_code == 401  # a1 lost a role

        mt = token_of(s, m["username"])["access_token"]
        assert_problem(call(s, "DELETE", f"/v1/users/{a2['id']}", mt), 409)
        assert_problem(set_roles(s, mt, a2["id"], ["user"]), 409)
        assert_problem(call(s, "DELETE", f"/v1/users/{a2['id']}", a2t), 403)  # yourself
        assert_problem(set_roles(s, a2t, a2["id"], ["user"]), 403)  # your own roles
        assert get_user(s, a2t, a2["id"])["roles"] == ["admin"]
        assert me(s, a2t).status_code == 200

        # with a second holder again, removing an admin is fine
        assert set_roles(s, a2t, a1_id, ["admin"]).status_code == 200
        r = call(s, "DELETE", f"/v1/users/{a1_id}", a2t)
        assert r.status_code == 204, r.text
        holders = list_all_users(s, a2t, role="admin")
        assert [u["id"] for u in holders] == [a2["id"]]
    finally:
        s.stop()


# ---------------------------------------------------------------- built-in roles

def test_builtin_roles_cannot_be_deleted_but_can_be_edited(server, adm):
    tok = adm["token"]
    for builtin in ("admin", "user"):
        assert_problem(call(server, "DELETE", f"/v1/roles/{builtin}", tok), 409)
        assert call(server, "GET", f"/v1/roles/{builtin}", tok).status_code == 200
    text = f"everyone who signs up ({suffix()})"
    r = call(server, "PATCH", "/v1/roles/user", tok, json={"description": text})
    assert r.status_code == 200, r.text
    assert r.json()["description"] == text
    role = call(server, "GET", "/v1/roles/user", tok).json()
    assert role["description"] == text and role["permissions"] == []
    assert call(server, "GET", "/v1/roles/admin", tok).json()["permissions"] == ["*"]
    assert me(server, tok).status_code == 200


# ---------------------------------------------------------------- CLI

def cli(server, *args):
    p = run_cli(*args, data_dir=server.data_dir)
    assert p.returncode == 0, (args, p.stdout, p.stderr)
    return p


def test_cli_roles_and_users_reach_the_running_server(server, adm):
    tok = adm["token"]
    role_name, username = name("cli"), name("cliuser")
    cli(server, "role", "add", role_name, "--permission", "articles:read", "--permission",
        "articles:write", "--description", "made by the CLI")
    role = call(server, "GET", f"/v1/roles/{role_name}", tok).json()
    assert sorted(role["permissions"]) == ["articles:read", "articles:write"]
    assert role["description"] == "made by the CLI"
    listed = items_in(json.loads(cli(server, "role", "list", "--json").stdout))
    assert role_name in {r["name"] for r in listed}
    assert role_name in cli(server, "role", "list").stdout
    cli(server, "role", "grant", role_name, "articles:delete", "articles:publish")
    role = call(server, "GET", f"/v1/roles/{role_name}", tok).json()
    assert sorted(role["permissions"]) == ["articles:delete", "articles:publish",
                                           "articles:read", "articles:write"]
    assert run_cli("role", "add", role_name, "--permission", "x:y",
                   data_dir=server.data_dir).returncode != 0  # exists
    assert run_cli("role", "add", name("bad"), "--permission", "NOT VALID",
                   data_dir=server.data_dir).returncode != 0

    user = create_user(server, tok, username, roles=["user", role_name])
    shown = json.loads(cli(server, "user", "show", username, "--json").stdout)
    assert shown["id"] == user["id"] and shown["username"] == username
    assert sorted(shown["roles"]) == sorted(["user", role_name])
    assert "articles:read" in shown["permissions"]
    assert username in cli(server, "user", "show", username).stdout
    assert roles_in(json.loads(cli(server, "user", "roles", username, "--json").stdout)) == \
        sorted(["user", role_name])
    assert run_cli("user", "show", name("ghost"), data_dir=server.data_dir).returncode != 0

    # revoking a permission: the holder's token stops working on the running server
    t1 = token_of(server, username)["access_token"]
    cli(server, "role", "revoke", role_name, "articles:publish")
    assert wait_for(lambda: me(server, t1).status_code == 401), "revoke did not reach the server"
    role = call(server, "GET", f"/v1/roles/{role_name}", tok).json()
    assert "articles:publish" not in role["permissions"]

    # replacing the roles (removing one) does the same
    t2 = token_of(server, username)["access_token"]
    cli(server, "user", "roles", username, "user")
    assert get_user(server, tok, user["id"])["roles"] == ["user"]
    assert wait_for(lambda: me(server, t2).status_code == 401), "roles did not reach the server"
    assert run_cli("user", "roles", username, name("nosuchrole"),
                   data_dir=server.data_dir).returncode != 0
    assert get_user(server, tok, user["id"])["roles"] == ["user"]

    # disable / enable
    t3 = token_of(server, username)["access_token"]
    cli(server, "user", "disable", username)
    assert get_user(server, tok, user["id"])["disabled"] is True
    assert wait_for(lambda: me(server, t3).status_code == 401), "disable did not reach the server"
    cli(server, "user", "enable", username)
    assert get_user(server, tok, user["id"])["disabled"] is False
    # the store is the source of truth for logins: enabled again at once
    r = login(server, username=username, password=PASSWORD)
    assert r.status_code == 200, r.text

    # delete the role; built-ins stay
    cli(server, "role", "delete", role_name)
    assert_problem(call(server, "GET", f"/v1/roles/{role_name}", tok), 404)
    for builtin in ("admin", "user"):
        assert run_cli("role", "delete", builtin, data_dir=server.data_dir).returncode != 0
    assert run_cli("role", "delete", role_name, data_dir=server.data_dir).returncode != 0

    # audited with actor "cli"
    for kind, subject in (("role.created", role_name), ("role.updated", role_name),
                          ("role.deleted", role_name), ("user.roles_changed", user["id"]),
                          ("user.updated", user["id"])):
        found = events_about(server, tok, kind, subject)
        assert found and all(e["actor"] == "cli" for e in found), (kind, found)
