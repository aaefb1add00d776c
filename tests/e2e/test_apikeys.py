"""API keys (issue #6, DESIGN §4): creation through the API and the CLI, use with both header
forms, strict format, wrong secrets, revocation (API: at once; CLI: within a few seconds), owners
and apikeys:* permissions, scopes bounded by the owner's and the caller's permissions, effective
permissions following the owner's roles, a disabled owner, conflicting credentials, audit, and no
key in the database file or the log.

Expiry is covered by the unit tests of authn/api_key and the cache with a fake clock (there is no
clock injection in e2e); here only keys that have not expired are used."""
import os
import time
import uuid

import requests

from conftest import dump_database, login, query_database, run_cli, start_server

PASSWORD = "plum-harbor-lantern-93"


# ---------------------------------------------------------------- helpers

def name(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def call(server, method, path, token=None, headers=None, **kwargs):
    h = {"Authorization": f"Bearer {token}"} if token else {}
    h.update(headers or {})
    return requests.request(method, server.url(path), headers=h, timeout=10, **kwargs)


def with_key(server, method, path, key, form="x-api-key", **kwargs):
    headers = {"X-API-Key": key} if form == "x-api-key" else {"Authorization": f"{form} {key}"}
    headers.update(kwargs.pop("headers", {}))
    return requests.request(method, server.url(path), headers=headers, timeout=10, **kwargs)


def assert_problem(r, status):
    assert r.status_code == status, (r.status_code, r.text)
    assert r.headers["Content-Type"].startswith("application/problem+json"), r.headers
    assert r.json()["status"] == status, r.text


def assert_unauthorized(r):
    assert_problem(r, 401)
    assert r.headers["WWW-Authenticate"].startswith('Bearer realm="portcullis"'), r.headers


def admin_token(server):
    r = login(server)
    assert r.status_code == 200, r.text
    return r.json()["access_token"]


def make_role(server, admin, permissions):
    role = name("r")
    r = call(server, "POST", "/v1/roles", admin, json={"name": role, "permissions": permissions})
    assert r.status_code == 201, r.text
    return role


def make_user(server, admin, roles):
    username = name("u")
    r = call(server, "POST", "/v1/users", admin,
             json={"username": username, "password": PASSWORD, "roles": roles})
    assert r.status_code == 201, r.text
    user = r.json()
    r = login(server, username=username, password=PASSWORD)
    assert r.status_code == 200, r.text
    user["token"] = r.json()["access_token"]
    return user


def create_key(server, token, scopes, key_name="ci", **extra):
    r = call(server, "POST", "/v1/api-keys", token, json={"name": key_name, "scopes": scopes,
                                                         **extra})
    assert r.status_code == 201, r.text
    return r.json()


def poll(predicate, timeout=6.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return predicate()


# ---------------------------------------------------------------- creation and use

def test_created_key_authenticates_with_both_header_forms(server):
    admin = admin_token(server)
    role = make_role(server, admin, ["articles:read", "articles:write"])
    user = make_user(server, admin, [role])
    created = create_key(server, user["token"], ["articles:read"], key_name="reader",
                         expires_in_days=30)
    assert set(created) == {"id", "key", "name", "scopes", "expires_at", "created_at", "user_id"}
    assert created["key"].startswith("pcs_" + created["id"] + "_")
    assert len(created["key"]) == 60
    assert created["user_id"] == user["id"]
    assert created["scopes"] == ["articles:read"]
    assert created["expires_at"] is not None

    for form in ("x-api-key", "ApiKey", "apikey", "APIKEY"):
        r = with_key(server, "GET", "/v1/me", created["key"], form=form)
        assert r.status_code == 200, (form, r.text)
        body = r.json()
        assert body["kind"] == "user"
        assert body["id"] == user["id"]
        assert body["username"] == user["username"]
        assert body["auth_method"] == "api_key"
        assert body["roles"] == [role]
        assert body["permissions"] == ["articles:read"]  # the scopes, not all the owner holds


def test_create_response_is_not_cacheable_and_audited_without_the_key(server):
    admin = admin_token(server)
    r = call(server, "POST", "/v1/api-keys", admin, json={"name": "audited", "scopes": []})
    assert r.status_code == 201, r.text
    assert r.headers["Cache-Control"] == "no-store"
    key = r.json()
    r = call(server, "GET", "/v1/audit?type=apikey.created&limit=50", admin)
    assert r.status_code == 200, r.text
    events = [e for e in r.json()["items"] if e["subject"] == key["id"]]
    assert len(events) == 1, r.text
    assert key["key"] not in r.text
    assert key["key"].split("_")[2] not in r.text


def test_malformed_keys_are_401(server):
    admin = admin_token(server)
    key = create_key(server, admin, [])["key"]
    secret = key.split("_", 2)[2]
    key_id = key.split("_")[1]
    bad = [
        "",
        "pcs_",
        key[:-1],                                  # short secret
        key + "A",                                 # long secret
        "pcx_" + key[4:],                          # wrong prefix
        "PCS_" + key[4:],
        "pcs_" + key_id.upper() + "_" + secret,    # id is lower-case only
        "pcs_" + key_id + "-" + secret,            # wrong separator
        "pcs_" + key_id + "_" + secret[:-1] + "+",  # charset
        "pcs_" + key_id[:-1] + "_" + secret + "A",
    ]
    for value in bad:
        r = with_key(server, "GET", "/v1/me", value, form="ApiKey")
        assert_unauthorized(r)
        if value:
            r = with_key(server, "GET", "/v1/me", value)
            assert_unauthorized(r)


def test_wrong_secret_and_unknown_id_are_401(server):
    admin = admin_token(server)
    key = create_key(server, admin, [])["key"]
    assert with_key(server, "GET", "/v1/me", key).status_code == 200  # now cached
    flipped = key[:-1] + ("a" if key[-1] != "a" else "b")
    assert_unauthorized(with_key(server, "GET", "/v1/me", flipped))
    unknown = "pcs_" + "0" * 12 + key[16:]
    assert_unauthorized(with_key(server, "GET", "/v1/me", unknown))
    assert with_key(server, "GET", "/v1/me", key).status_code == 200


def test_two_credentials_at_once_are_400(server):
    admin = admin_token(server)
    key = create_key(server, admin, [])["key"]
    r = requests.get(server.url("/v1/me"), timeout=10,
                     headers={"X-API-Key": key, "Authorization": f"Bearer {admin}"})
    assert_problem(r, 400)
    assert r.json()["detail"] == "send exactly one credential"
    # Two X-API-Key headers (raw, so requests doesn't merge them).
    import http.client
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    conn.putrequest("GET", "/v1/me")
    conn.putheader("X-API-Key", key)
    conn.putheader("X-API-Key", key)
    conn.endheaders()
    resp = conn.getresponse()
    assert resp.status == 400
    conn.close()


def test_logout_with_an_api_key_is_400(server):
    admin = admin_token(server)
    key = create_key(server, admin, [])["key"]
    assert_problem(with_key(server, "POST", "/v1/logout", key), 400)


# ---------------------------------------------------------------- scopes and owners

def test_scopes_beyond_the_owner_or_the_caller_are_403(server):
    admin = admin_token(server)
    role = make_role(server, admin, ["articles:read"])
    user = make_user(server, admin, [role])
    r = call(server, "POST", "/v1/api-keys", user["token"],
             json={"name": "x", "scopes": ["articles:write"]})
    assert_problem(r, 403)
    # The admin holds everything, but the owner does not.
    r = call(server, "POST", "/v1/api-keys", admin,
             json={"name": "x", "scopes": ["articles:write"], "user_id": user["id"]})
    assert_problem(r, 403)
    assert "owner does not hold" in r.json()["detail"]
    r = call(server, "POST", "/v1/api-keys", admin,
             json={"name": "x", "scopes": ["articles:read"], "user_id": user["id"]})
    assert r.status_code == 201, r.text
    assert r.json()["user_id"] == user["id"]
    # A user can't create keys for someone else.
    other = make_user(server, admin, [role])
    r = call(server, "POST", "/v1/api-keys", user["token"],
             json={"name": "x", "scopes": [], "user_id": other["id"]})
    assert_problem(r, 403)


def test_invalid_create_bodies_are_400(server):
    admin = admin_token(server)
    for body in ({"name": "", "scopes": []},
                 {"name": "x" * 129, "scopes": []},
                 {"name": "x"},
                 {"name": "x", "scopes": "users:read"},
                 {"name": "x", "scopes": ["Not A Permission"]},
                 {"name": "x", "scopes": [f"p{i}:read" for i in range(65)]},
                 {"name": "x", "scopes": [], "expires_in_days": 0},
                 {"name": "x", "scopes": [], "expires_in_days": 3651},
                 {"name": "x", "scopes": [], "expires_in_days": "7"},
                 {"name": "x", "scopes": [], "admin": True}):
        assert_problem(call(server, "POST", "/v1/api-keys", admin, json=body), 400)


def test_owners_see_and_delete_only_their_keys_admins_all(server):
    admin = admin_token(server)
    role = make_role(server, admin, ["articles:read"])
    alice = make_user(server, admin, [role])
    bob = make_user(server, admin, [role])
    a_key = create_key(server, alice["token"], ["articles:read"])
    b_key = create_key(server, bob["token"], [])

    r = call(server, "GET", "/v1/api-keys", alice["token"])
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    assert [k["id"] for k in items] == [a_key["id"]]
    assert set(items[0]) == {"id", "name", "user_id", "scopes", "expires_at", "created_at",
                             "last_used_at"}
    assert a_key["key"] not in r.text
    assert_problem(call(server, "GET", f"/v1/api-keys?user_id={bob['id']}", alice["token"]), 403)
    assert_problem(call(server, "GET", "/v1/api-keys?all=true", alice["token"]), 403)
    # Someone else's key looks like an unknown one.
    assert_problem(call(server, "DELETE", f"/v1/api-keys/{b_key['id']}", alice["token"]), 404)
    assert with_key(server, "GET", "/v1/me", b_key["key"]).status_code == 200

    r = call(server, "GET", f"/v1/api-keys?user_id={bob['id']}", admin)
    assert r.status_code == 200, r.text
    assert [k["id"] for k in r.json()["items"]] == [b_key["id"]]
    r = call(server, "GET", "/v1/api-keys?all=true&limit=500", admin)
    ids = [k["id"] for k in r.json()["items"]]
    assert a_key["id"] in ids and b_key["id"] in ids
    assert call(server, "DELETE", f"/v1/api-keys/{b_key['id']}", admin).status_code == 204
    assert_unauthorized(with_key(server, "GET", "/v1/me", b_key["key"]))
    assert_problem(call(server, "DELETE", f"/v1/api-keys/{b_key['id']}", admin), 404)


def test_a_key_can_list_its_owners_keys(server):
    admin = admin_token(server)
    user = make_user(server, admin, [])
    key = create_key(server, user["token"], [])
    r = with_key(server, "GET", "/v1/api-keys", key["key"])
    assert r.status_code == 200, r.text
    assert [k["id"] for k in r.json()["items"]] == [key["id"]]


def test_revoked_key_is_refused_at_once_and_audited(server):
    admin = admin_token(server)
    user = make_user(server, admin, [])
    key = create_key(server, user["token"], [])
    assert with_key(server, "GET", "/v1/me", key["key"]).status_code == 200  # cached
    assert call(server, "DELETE", f"/v1/api-keys/{key['id']}", user["token"]).status_code == 204
    assert_unauthorized(with_key(server, "GET", "/v1/me", key["key"]))
    r = call(server, "GET", "/v1/audit?type=apikey.revoked&limit=50", admin)
    assert any(e["subject"] == key["id"] for e in r.json()["items"]), r.text


def test_expired_key_is_401(server):
    # No clock injection in a running server: the test moves the key's expiry into the past in
    # the database (the key was never used, so no verification of it is cached).
    admin = admin_token(server)
    user = make_user(server, admin, [])
    key = create_key(server, user["token"], [], expires_in_days=1)
    now = ("EXTRACT(EPOCH FROM now())::BIGINT" if server.database_url
           else "CAST(strftime('%s','now') AS INTEGER)")
    query_database(server, f"UPDATE api_keys SET expires_at = {now} - 5 WHERE id = ?",
                   (key["id"],))
    assert_unauthorized(with_key(server, "GET", "/v1/me", key["key"]))
    other = create_key(server, user["token"], [])
    assert with_key(server, "GET", "/v1/me", other["key"]).status_code == 200


def test_owner_losing_a_role_loses_the_keys_permissions(server):
    admin = admin_token(server)
    keep = make_role(server, admin, ["articles:read"])
    lose = make_role(server, admin, ["articles:write"])
    user = make_user(server, admin, [keep, lose])
    key = create_key(server, user["token"], ["articles:read", "articles:write"])
    r = with_key(server, "GET", "/v1/me", key["key"])
    assert r.json()["permissions"] == ["articles:read", "articles:write"]
    r = call(server, "PUT", f"/v1/users/{user['id']}/roles", admin, json={"roles": [keep]})
    assert r.status_code == 200, r.text
    r = with_key(server, "GET", "/v1/me", key["key"])
    assert r.status_code == 200, r.text
    assert r.json()["permissions"] == ["articles:read"]
    assert r.json()["roles"] == [keep]


def test_key_of_a_disabled_owner_is_401(server):
    admin = admin_token(server)
    user = make_user(server, admin, [])
    key = create_key(server, user["token"], [])
    assert with_key(server, "GET", "/v1/me", key["key"]).status_code == 200
    r = call(server, "PATCH", f"/v1/users/{user['id']}", admin, json={"disabled": True})
    assert r.status_code == 200, r.text
    assert_unauthorized(with_key(server, "GET", "/v1/me", key["key"]))
    r = call(server, "PATCH", f"/v1/users/{user['id']}", admin, json={"disabled": False})
    assert r.status_code == 200, r.text
    assert with_key(server, "GET", "/v1/me", key["key"]).status_code == 200


def test_key_with_admin_scopes_works_on_admin_routes(server):
    admin = admin_token(server)
    key = create_key(server, admin, ["users:read"])
    assert with_key(server, "GET", "/v1/users?limit=1", key["key"]).status_code == 200
    assert_problem(with_key(server, "GET", "/v1/roles", key["key"]), 403)


def test_access_review_lists_keys(server):
    admin = admin_token(server)
    user = make_user(server, admin, [])
    key = create_key(server, user["token"], [], key_name="reviewed")
    r = call(server, "GET", "/v1/access-review", admin)
    assert r.status_code == 200, r.text
    entry = next(u for u in r.json()["users"] if u["id"] == user["id"])
    assert entry["api_keys"] == [{"id": key["id"], "name": "reviewed", "scopes": [],
                                  "expires_at": None, "last_used_at": None}]


# ---------------------------------------------------------------- last use (issue #13)

def seconds_ago(rfc3339):
    """How long ago an RFC 3339 UTC time ("2026-12-04T21:50:00Z") was, in seconds."""
    from datetime import datetime, timezone
    at = datetime.fromisoformat(rfc3339.replace("Z", "+00:00"))
    return (datetime.now(timezone.utc) - at).total_seconds()


def test_last_use_is_listed_at_once_not_after_the_next_flush(server):
    """The use is batched in memory and written once a minute; the listing and the access
    review merge the batch in, so the use shows immediately."""
    admin = admin_token(server)
    user = make_user(server, admin, [])
    key = create_key(server, user["token"], [], key_name="used-now")
    assert with_key(server, "GET", "/v1/me", key["key"]).status_code == 200

    r = call(server, "GET", "/v1/api-keys", user["token"])
    assert r.status_code == 200, r.text
    listed = next(k for k in r.json()["items"] if k["id"] == key["id"])
    assert listed["last_used_at"] is not None, listed
    assert -5 <= seconds_ago(listed["last_used_at"]) <= 120, listed

    r = call(server, "GET", f"/v1/api-keys?user_id={user['id']}", admin)
    assert next(k for k in r.json()["items"] if k["id"] == key["id"])["last_used_at"] is not None

    r = call(server, "GET", "/v1/access-review", admin)
    assert r.status_code == 200, r.text
    entry = next(u for u in r.json()["users"] if u["id"] == user["id"])
    assert entry["api_keys"][0]["last_used_at"] == listed["last_used_at"]


def test_graceful_stop_writes_the_pending_last_use():
    """SIGTERM flushes the batch: after a restart (nothing in memory) the store has the use."""
    first = start_server()
    try:
        admin = admin_token(first)
        key = create_key(first, admin, [], key_name="used-before-stop")
        assert with_key(first, "GET", "/v1/me", key["key"]).status_code == 200
    finally:
        assert first.stop() == 0
    second = start_server(data_dir=first.data_dir)
    try:
        r = call(second, "GET", "/v1/api-keys", admin_token(second))
        assert r.status_code == 200, r.text
        listed = next(k for k in r.json()["items"] if k["id"] == key["id"])
        assert listed["last_used_at"] is not None, listed
        assert -5 <= seconds_ago(listed["last_used_at"]) <= 120, listed
    finally:
        second.stop()


# ---------------------------------------------------------------- CLI

def test_cli_create_list_and_revoke_against_a_running_server(server):
    admin = admin_token(server)
    role = make_role(server, admin, ["articles:read"])
    user = make_user(server, admin, [role])
    r = run_cli("apikey", "create", "--user", user["username"], "--name", "from-cli",
                "--scope", "articles:read", "--expires-in-days", "7", "--json",
                data_dir=server.data_dir)
    assert r.returncode == 0, r.stderr
    import json
    created = json.loads(r.stdout)
    key = created["key"]
    assert created["user_id"] == user["id"]
    me = with_key(server, "GET", "/v1/me", key)
    assert me.status_code == 200, me.text
    assert me.json()["permissions"] == ["articles:read"]

    r = run_cli("apikey", "list", "--user", user["username"], "--json", data_dir=server.data_dir)
    assert r.returncode == 0, r.stderr
    assert [k["id"] for k in json.loads(r.stdout)] == [created["id"]]
    assert key not in r.stdout

    r = run_cli("apikey", "create", "--user", user["username"], "--name", "x",
                "--scope", "articles:write", data_dir=server.data_dir)
    assert r.returncode == 1
    assert "owner does not hold" in r.stderr

    r = run_cli("apikey", "revoke", created["id"], data_dir=server.data_dir)
    assert r.returncode == 0, r.stderr
    assert poll(lambda: with_key(server, "GET", "/v1/me", key).status_code == 401)
    r = run_cli("apikey", "revoke", created["id"], data_dir=server.data_dir)
    assert r.returncode == 1


# ---------------------------------------------------------------- no key at rest or in logs

def test_keys_never_reach_the_database_or_the_log(server):
    admin = admin_token(server)
    user = make_user(server, admin, [])
    keys = [create_key(server, user["token"], [])["key"] for _ in range(3)]
    for key in keys:
        assert with_key(server, "GET", "/v1/me", key).status_code == 200
        with_key(server, "GET", "/v1/me", key[:-1] + "Z")  # failures are logged too
    needles = [k.encode() for k in keys] + [k.split("_")[2].encode() for k in keys]
    blobs = []
    for root, _, files in os.walk(server.data_dir):
        for f in files:
            with open(os.path.join(root, f), "rb") as fh:
                blobs.append((f, fh.read()))
    dump = dump_database(server)  # PostgreSQL: the database is not in the data dir
    if dump is not None:
        # The dump holds the keys' rows (ids and SHA-256 hashes), just not the secrets.
        assert all(k.split("_")[1].encode() in dump for k in keys)
        blobs.append(("pg_dump", dump))
    for name, data in blobs:
        for needle in needles:
            assert needle not in data, name
