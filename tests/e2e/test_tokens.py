"""Token lifecycle (issue #3): refresh rotation and reuse detection, OAuth2 clients and
client_credentials, introspection, revocation, logout, password change, key rotation, audit."""
import base64
import concurrent.futures
import hashlib
import json
import signal
import threading
import time

import jwt
import pytest
import requests

from conftest import ADMIN_PASSWORD, login, query_database, run_cli, start_server


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def me(server, token):
    return requests.get(server.url("/v1/me"), headers=bearer(token), timeout=5)


def refresh(server, refresh_token, **extra):
    form = {"grant_type": "refresh_token", "refresh_token": refresh_token}
    form.update(extra)
    return requests.post(server.url("/oauth2/token"), data=form, timeout=10)


def admin(server):
    r = login(server)
    assert r.status_code == 200, r.text
    return r.json()


def create_client(server, token, **body):
    body.setdefault("name", "orders-service")
    body.setdefault("grant_types", ["client_credentials"])
    body.setdefault("scopes", ["users:read"])
    r = requests.post(server.url("/v1/clients"), json=body, headers=bearer(token), timeout=5)
    assert r.status_code == 201, r.text
    return r.json()


def basic(client_id, secret):
    raw = f"{client_id}:{secret}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


def audit(server, token, **params):
    r = requests.get(server.url("/v1/audit"), params=params, headers=bearer(token), timeout=5)
    assert r.status_code == 200, r.text
    return r.json()["items"]


# ---------------------------------------------------------------- refresh tokens

def test_password_grant_returns_an_opaque_refresh_token(server):
    body = admin(server)
    assert len(body["refresh_token"]) >= 43
    assert body["refresh_token"].count(".") == 0  # opaque, not a JWT


def test_refresh_rotates_and_reuse_revokes_the_whole_family(server):
    first = admin(server)["refresh_token"]
    r = refresh(server, first)
    assert r.status_code == 200, r.text
    second = r.json()["refresh_token"]
    assert second != first
    assert r.headers["Cache-Control"] == "no-store"
    assert me(server, r.json()["access_token"]).status_code == 200

    replay = refresh(server, first)
    assert replay.status_code == 400
    assert replay.json()["error"] == "invalid_grant"
    # the newest token of the family is revoked too
    assert refresh(server, second).json()["error"] == "invalid_grant"

    token = admin(server)["access_token"]
    kinds = [e["type"] for e in audit(server, token, type="token.refresh_reuse_detected")]
    assert kinds and set(kinds) == {"token.refresh_reuse_detected"}


def test_concurrent_refresh_with_one_token_has_exactly_one_winner(server):
    rt = admin(server)["refresh_token"]
    with concurrent.futures.ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(lambda _: refresh(server, rt).status_code, range(16)))
    assert results.count(200) == 1, results
    assert all(code == 400 for code in results if code != 200)


def test_refresh_can_narrow_but_not_widen_the_scope(server):
    r = login(server, scope="users:read roles:read")
    rt = r.json()["refresh_token"]
    narrowed = refresh(server, rt, scope="users:read")
    assert narrowed.status_code == 200, narrowed.text
    assert narrowed.json()["scope"] == "users:read"
    wider = refresh(server, narrowed.json()["refresh_token"], scope="users:read users:write")
    assert wider.status_code == 400
    assert wider.json()["error"] == "invalid_scope"


def test_garbage_refresh_token_is_invalid_grant(server):
    for bad in ("nope", "x" * 43, "a" * 600):
        r = refresh(server, bad)
        assert r.status_code == 400 and r.json()["error"] == "invalid_grant"


def test_refresh_token_is_bound_to_its_client(server):
    token = admin(server)["access_token"]
    client = create_client(server, token, grant_types=["password", "refresh_token"], scopes=[])
    rt = admin(server)["refresh_token"]  # issued to the public client "default"
    r = requests.post(server.url("/oauth2/token"),
                      data={"grant_type": "refresh_token", "refresh_token": rt},
                      headers=basic(client["client_id"], client["client_secret"]), timeout=5)
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"
    assert refresh(server, rt).status_code == 200  # unchanged by the failed attempt


# ---------------------------------------------------------------- clients

def test_client_credentials_with_basic_and_post(server):
    token = admin(server)["access_token"]
    client = create_client(server, token)
    assert set(client) >= {"client_id", "client_secret", "name", "grant_types", "scopes"}
    cid, secret = client["client_id"], client["client_secret"]

    r = requests.post(server.url("/oauth2/token"), data={"grant_type": "client_credentials"},
                      headers=basic(cid, secret), timeout=5)
    assert r.status_code == 200, r.text
    body = r.json()
    assert "refresh_token" not in body
    assert body["scope"] == "users:read"
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert claims["sub"] == cid and claims["client_id"] == cid and "username" not in claims
    who = me(server, body["access_token"]).json()
    assert who["kind"] == "client" and who["id"] == cid

    r = requests.post(server.url("/oauth2/token"), data={
        "grant_type": "client_credentials", "client_id": cid, "client_secret": secret}, timeout=5)
    assert r.status_code == 200, r.text

    listed = requests.get(server.url("/v1/clients"), headers=bearer(token), timeout=5).json()
    ids = [c["client_id"] for c in listed["items"]]
    assert cid in ids
    assert all("client_secret" not in c and "secret_hash" not in c for c in listed["items"])


def test_client_authentication_failures(server):
    token = admin(server)["access_token"]
    client = create_client(server, token)
    cid, secret = client["client_id"], client["client_secret"]
    cases = [
        ({}, basic(cid, secret + "x")),                       # wrong secret (Basic)
        ({"client_id": cid, "client_secret": "wrong"}, {}),     # wrong secret (post)
        ({}, basic("no-such-client", secret)),                 # unknown client
        ({"client_id": cid}, {}),                               # no secret
        ({}, {}),                                               # public client
        ({}, {"Authorization": "Basic !!!notbase64"}),         # malformed
    ]
    for form, headers in cases:
        data = {"grant_type": "client_credentials", **form}
        r = requests.post(server.url("/oauth2/token"), data=data, headers=headers, timeout=5)
        assert r.status_code == 401, (form, headers, r.text)
        assert r.json()["error"] == "invalid_client"
        assert r.headers["WWW-Authenticate"].startswith("Basic")
    both = requests.post(server.url("/oauth2/token"),
                         data={"grant_type": "client_credentials", "client_id": cid,
                               "client_secret": secret},
                         headers=basic(cid, secret), timeout=5)
    assert both.status_code == 400 and both.json()["error"] == "invalid_request"


def test_client_scope_and_grant_limits(server):
    token = admin(server)["access_token"]
    client = create_client(server, token, scopes=["users:read"])
    r = requests.post(server.url("/oauth2/token"),
                      data={"grant_type": "client_credentials", "scope": "users:write"},
                      headers=basic(client["client_id"], client["client_secret"]), timeout=5)
    assert r.status_code == 400 and r.json()["error"] == "invalid_scope"
    pw_only = create_client(server, token, grant_types=["password"], scopes=[])
    r = requests.post(server.url("/oauth2/token"), data={"grant_type": "client_credentials"},
                      headers=basic(pw_only["client_id"], pw_only["client_secret"]), timeout=5)
    assert r.status_code == 400 and r.json()["error"] == "unauthorized_client"


def test_deleted_client_can_no_longer_authenticate(server):
    token = admin(server)["access_token"]
    client = create_client(server, token)
    r = requests.delete(server.url(f"/v1/clients/{client['client_id']}"), headers=bearer(token),
                        timeout=5)
    assert r.status_code == 204
    r = requests.post(server.url("/oauth2/token"), data={"grant_type": "client_credentials"},
                      headers=basic(client["client_id"], client["client_secret"]), timeout=5)
    assert r.status_code == 401
    r = requests.delete(server.url(f"/v1/clients/{client['client_id']}"), headers=bearer(token),
                        timeout=5)
    assert r.status_code == 404


def test_client_creation_validates_input(server):
    token = admin(server)["access_token"]
    for body in ({"name": "x", "extra": 1}, {"name": ""}, {"name": "x", "grant_types": ["magic"]},
                 {"name": "x", "scopes": ["Not Valid"]}, {"name": "x", "scopes": "users:read"}):
        r = requests.post(server.url("/v1/clients"), json=body, headers=bearer(token), timeout=5)
        assert r.status_code == 400, body
        assert r.headers["Content-Type"].startswith("application/problem+json")
    r = requests.post(server.url("/v1/clients"), data='{"name":"a","name":"b"}',
                      headers={**bearer(token), "Content-Type": "application/json"}, timeout=5)
    assert r.status_code == 400


# ---------------------------------------------------------------- introspection and revocation

def introspect(server, token, auth):
    return requests.post(server.url("/oauth2/introspect"), data={"token": token}, headers=auth,
                         timeout=5)


def test_introspection_of_valid_revoked_foreign_and_garbage_tokens(server):
    token = admin(server)["access_token"]
    client = create_client(server, token)
    auth = basic(client["client_id"], client["client_secret"])

    fresh = admin(server)
    r = introspect(server, fresh["access_token"], auth)
    assert r.status_code == 200
    body = r.json()
    assert body["active"] is True and body["username"] == "admin" and body["client_id"] == "default"
    assert introspect(server, fresh["refresh_token"], auth).json()["active"] is True

    other = start_server()
    try:
        foreign = login(other).json()["access_token"]
    finally:
        other.stop()
    for t in (foreign, "garbage", fresh["access_token"] + "x", "a.b.c"):
        assert introspect(server, t, auth).json() == {"active": False}

    requests.post(server.url("/oauth2/revoke"), data={"token": fresh["access_token"]}, timeout=5)
    assert introspect(server, fresh["access_token"], auth).json() == {"active": False}


def test_introspection_needs_a_confidential_client_or_permission(server):
    token = admin(server)["access_token"]
    assert introspect(server, token, {}).status_code == 401
    # a Bearer token holding tokens:introspect (admin has *)
    assert introspect(server, token, bearer(token)).json()["active"] is True


def test_revoked_access_token_stops_working(server):
    token = admin(server)["access_token"]
    assert me(server, token).status_code == 200
    r = requests.post(server.url("/oauth2/revoke"), data={"token": token}, timeout=5)
    assert r.status_code == 200
    assert me(server, token).status_code == 401


def test_revoking_a_refresh_token_revokes_its_family(server):
    body = admin(server)
    rotated = refresh(server, body["refresh_token"]).json()["refresh_token"]
    r = requests.post(server.url("/oauth2/revoke"),
                      data={"token": body["refresh_token"], "token_type_hint": "refresh_token"},
                      timeout=5)
    assert r.status_code == 200
    assert refresh(server, rotated).json()["error"] == "invalid_grant"


def test_revoke_of_unknown_token_is_200_and_duplicates_are_rejected(server):
    assert requests.post(server.url("/oauth2/revoke"), data={"token": "unknown"},
                         timeout=5).status_code == 200
    r = requests.post(server.url("/oauth2/revoke"), data="token=a&token=b",
                      headers={"Content-Type": "application/x-www-form-urlencoded"}, timeout=5)
    assert r.status_code == 400 and r.json()["error"] == "invalid_request"


# ---------------------------------------------------------------- logout and password change

def test_logout_revokes_the_token_and_refresh_family(server):
    body = admin(server)
    r = requests.post(server.url("/v1/logout"), json={"refresh_token": body["refresh_token"]},
                      headers=bearer(body["access_token"]), timeout=5)
    assert r.status_code == 204, r.text
    assert me(server, body["access_token"]).status_code == 401
    assert refresh(server, body["refresh_token"]).json()["error"] == "invalid_grant"


def test_logout_all_invalidates_every_earlier_token():
    s = start_server()
    try:
        a, b = login(s).json(), login(s).json()
        r = requests.post(s.url("/v1/logout"), json={"all": True}, headers=bearer(a["access_token"]),
                          timeout=5)
        assert r.status_code == 204
        assert me(s, b["access_token"]).status_code == 401
        assert refresh(s, b["refresh_token"]).status_code == 400
        assert me(s, login(s).json()["access_token"]).status_code == 200
    finally:
        s.stop()


def test_password_change_invalidates_earlier_tokens():
    s = start_server()
    try:
        old = login(s).json()
        bad = requests.post(s.url("/v1/me/password"),
                            json={"current_password": "wrong-password-123", "new_password": "x" * 20},
                            headers=bearer(old["access_token"]), timeout=10)
        assert bad.status_code == 400
        weak = requests.post(s.url("/v1/me/password"),
                             json={"current_password": ADMIN_PASSWORD, "new_password": "short"},
                             headers=bearer(old["access_token"]), timeout=10)
        assert weak.status_code == 400
        r = requests.post(s.url("/v1/me/password"),
                          json={"current_password": ADMIN_PASSWORD,
                                "new_password": "a-brand-new-passphrase"},
                          headers=bearer(old["access_token"]), timeout=10)
        assert r.status_code == 204, r.text
        assert me(s, old["access_token"]).status_code == 401
        assert refresh(s, old["refresh_token"]).status_code == 400
        assert login(s).status_code == 400
        assert login(s, password="a-brand-new-passphrase").status_code == 200
    finally:
        s.stop()


# ---------------------------------------------------------------- keys

def active_keys_by_alg(server, token):
    items = requests.get(server.url("/v1/keys"), headers=bearer(token), timeout=5).json()["items"]
    active = [k for k in items if k["state"] == "active"]
    by_alg = {k["alg"]: k["kid"] for k in active}
    assert len(active) == len(by_alg) == 3, items  # exactly one active key per algorithm
    assert set(by_alg) == {"EdDSA", "ES256", "RS256"}
    return by_alg


def test_key_rotation_keeps_old_tokens_valid_and_signs_with_the_new_kid(server):
    old = admin(server)["access_token"]
    old_kid = jwt.get_unverified_header(old)["kid"]
    before = active_keys_by_alg(server, old)
    assert before["EdDSA"] == old_kid  # the EdDSA key signs access tokens
    r = requests.post(server.url("/v1/keys/rotate"), headers=bearer(old), timeout=30)
    assert r.status_code == 201, r.text
    body = r.json()
    new_kid = body["kid"]
    assert new_kid != old_kid
    assert body["alg"] == "EdDSA" and body["previous_kid"] == old_kid
    # Every algorithm's key was rotated.
    assert {k["alg"]: k["previous_kid"] for k in body["keys"]} == before
    assert me(server, old).status_code == 200
    new = admin(server)["access_token"]
    assert jwt.get_unverified_header(new)["kid"] == new_kid
    after = active_keys_by_alg(server, new)
    assert after == {k["alg"]: k["kid"] for k in body["keys"]} and after["EdDSA"] == new_kid
    kids = {k["kid"] for k in requests.get(server.url("/.well-known/jwks.json"), timeout=5).json()["keys"]}
    assert set(before.values()) | set(after.values()) <= kids
    states = {k["kid"]: k["state"] for k in
              requests.get(server.url("/v1/keys"), headers=bearer(new), timeout=5).json()["items"]}
    assert all(states[kid] == "verify_only" for kid in before.values()), states
    assert all(states[kid] == "active" for kid in after.values()), states


@pytest.mark.parametrize("alg", ["ES256", "RS256"])
def test_other_signing_algorithms_verify_with_pyjwt(alg):
    s = start_server(args=["--set", f"tokens.signing_alg={alg}"])
    try:
        token = login(s).json()["access_token"]
        assert jwt.get_unverified_header(token)["alg"] == alg
        key = jwt.PyJWKClient(s.url("/.well-known/jwks.json")).get_signing_key_from_jwt(token)
        claims = jwt.decode(token, key.key, algorithms=[alg], audience="portcullis", issuer=s.base)
        assert claims["username"] == "admin"
        assert me(s, token).status_code == 200
    finally:
        s.stop()


# ---------------------------------------------------------------- audit and permissions

def test_audit_log_records_events_without_secrets(server):
    body = admin(server)
    token = body["access_token"]
    login(server, password="an-audited-wrong-password")
    events = audit(server, token, limit=500)
    types = {e["type"] for e in events}
    assert {"login.succeeded", "login.failed"} <= types
    text = json.dumps(events)
    for secret in (ADMIN_PASSWORD, "an-audited-wrong-password", token, body["refresh_token"]):
        assert secret not in text
    e = events[0]
    assert set(e) >= {"id", "time", "type", "actor", "subject", "client_ip", "request_id"}
    page = requests.get(server.url("/v1/audit"), params={"limit": 1}, headers=bearer(token),
                        timeout=5).json()
    assert len(page["items"]) == 1 and page["next_cursor"]
    nxt = requests.get(server.url("/v1/audit"), params={"limit": 1, "cursor": page["next_cursor"]},
                       headers=bearer(token), timeout=5).json()
    assert nxt["items"][0]["id"] < page["items"][0]["id"]


def test_non_admin_is_forbidden_on_admin_routes(server):
    p = run_cli("user", "add", "plainuser", data_dir=server.data_dir,
                stdin="plain-user-passphrase\n")
    assert p.returncode == 0, p.stderr
    token = login(server, username="plainuser", password="plain-user-passphrase").json()["access_token"]
    for method, path in (("GET", "/v1/clients"), ("POST", "/v1/clients"),
                         ("DELETE", "/v1/clients/x"), ("GET", "/v1/keys"),
                         ("POST", "/v1/keys/rotate"), ("GET", "/v1/audit")):
        r = requests.request(method, server.url(path), headers=bearer(token), json={"name": "x"},
                             timeout=5)
        assert r.status_code == 403, (method, path, r.status_code)
    # and the introspection endpoint wants tokens:introspect
    r = introspect(server, token, bearer(token))
    assert r.status_code == 403


def test_cli_clients_keys_and_audit(server):
    p = run_cli("client", "create", "--name", "cli-client", "--scope", "users:read", "--json",
                data_dir=server.data_dir)
    assert p.returncode == 0, p.stderr
    created = json.loads(p.stdout)
    cid, secret = created["client_id"], created["client_secret"]
    r = requests.post(server.url("/oauth2/token"), data={"grant_type": "client_credentials"},
                      headers=basic(cid, secret), timeout=5)
    assert r.status_code == 200, r.text
    p = run_cli("client", "list", "--json", data_dir=server.data_dir)
    assert p.returncode == 0 and cid in [c["client_id"] for c in json.loads(p.stdout)]
    assert secret not in p.stdout
    p = run_cli("keys", "list", "--json", data_dir=server.data_dir)
    assert p.returncode == 0
    keys = json.loads(p.stdout)
    # exactly one active key per algorithm
    assert sorted(k["alg"] for k in keys if k["state"] == "active") == ["ES256", "EdDSA", "RS256"]
    assert all("sealed_private_key" not in k for k in keys)
    p = run_cli("audit", "--json", "--type", "client.created", data_dir=server.data_dir)
    assert p.returncode == 0
    events = json.loads(p.stdout)
    assert any(e["subject"] == cid and e["actor"] == "cli" for e in events)
    assert secret not in p.stdout
    p = run_cli("client", "delete", cid, data_dir=server.data_dir)
    assert p.returncode == 0
    # The CLI is another process: the server learns of the deletion from the change feed,
    # polled every second (DESIGN §6), and drops its cached client then.
    deadline = time.monotonic() + 5
    while True:
        r = requests.post(server.url("/oauth2/token"), data={"grant_type": "client_credentials"},
                          headers=basic(cid, secret), timeout=5)
        if r.status_code != 200 or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert r.status_code == 401
    p = run_cli("client", "delete", cid, data_dir=server.data_dir)
    assert p.returncode != 0


def test_cli_keys_rotate_on_a_stopped_server_keeps_tokens_valid():
    issuer = ["--set", "tokens.issuer=https://auth.example.test"]
    s = start_server(args=issuer)
    token = login(s).json()["access_token"]
    s.stop()
    p = run_cli("keys", "rotate", data_dir=s.data_dir)
    assert p.returncode == 0, p.stderr
    s2 = start_server(data_dir=s.data_dir, args=issuer)
    try:
        assert me(s2, token).status_code == 200
        new = login(s2).json()["access_token"]
        assert jwt.get_unverified_header(new)["kid"] != jwt.get_unverified_header(token)["kid"]
    finally:
        s2.stop()


def test_reuse_grace_window_allows_only_the_immediate_parent():
    s = start_server(args=["--set", "tokens.refresh_reuse_grace_s=60"])
    try:
        a = login(s).json()["refresh_token"]
        b = refresh(s, a).json()["refresh_token"]   # the client "never received" b
        retry = refresh(s, a)                        # a again, within the window, b unused
        assert retry.status_code == 200, retry.text
        c = retry.json()["refresh_token"]
        d = refresh(s, c).json()["refresh_token"]   # c used: a is now a grandparent of d
        replay = refresh(s, a)
        assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
        assert refresh(s, d).json()["error"] == "invalid_grant"  # the family is gone
        assert refresh(s, b).json()["error"] == "invalid_grant"  # the replaced successor too

        # A replaced successor that shows up later means someone else holds it: family revoked.
        a = login(s).json()["refresh_token"]
        b = refresh(s, a).json()["refresh_token"]
        c = refresh(s, a).json()["refresh_token"]   # grace: b replaced by c
        assert refresh(s, b).json()["error"] == "invalid_grant"
        assert refresh(s, c).json()["error"] == "invalid_grant"
    finally:
        s.stop()


def test_disabling_a_user_invalidates_their_tokens_at_once(server):
    p = run_cli("user", "add", "frank", data_dir=server.data_dir, stdin="franks-long-passphrase\n")
    assert p.returncode == 0, p.stderr
    frank = login(server, username="frank", password="franks-long-passphrase").json()
    frank_id = me(server, frank["access_token"]).json()["id"]
    token = admin(server)["access_token"]
    r = requests.patch(server.url(f"/v1/users/{frank_id}"), json={"disabled": True},
                       headers=bearer(token), timeout=5)
    assert r.status_code == 200, r.text
    assert r.json()["disabled"] is True
    assert me(server, frank["access_token"]).status_code == 401
    assert refresh(server, frank["refresh_token"]).status_code == 400
    assert login(server, username="frank", password="franks-long-passphrase").status_code == 400
    for bad in ({"disabled": "yes"}, {"disabled": True, "role": "admin"}, {}):
        r = requests.patch(server.url(f"/v1/users/{frank_id}"), json=bad, headers=bearer(token),
                           timeout=5)
        assert r.status_code == 400, bad
    r = requests.patch(server.url(f"/v1/users/{frank_id}"), json={"disabled": False},
                       headers=bearer(token), timeout=5)
    assert r.status_code == 200 and r.json()["disabled"] is False
    assert login(server, username="frank", password="franks-long-passphrase").status_code == 200
    events = audit(server, token, type="user.updated")
    assert events[0]["subject"] == frank_id
    assert events[0]["details"]["before"]["disabled"] is True


def test_every_acknowledged_rotation_survives_kill_9():
    # DESIGN §6: a write acknowledged to a client survives kill -9. Rotations are group-committed
    # (store/sql/group_commit.h): many concurrent ones share one commit, and each response leaves
    # only after the commit holding its rotation. So after SIGKILL in the middle of a refresh
    # storm, every refresh token a client received is in the database, and so is its audit row.
    s = start_server()
    families = 8
    current = [login(s).json()["refresh_token"] for _ in range(families)]
    acknowledged = [0] * families
    stop = threading.Event()

    def storm(i):
        session = requests.Session()
        while not stop.is_set():
            try:
                r = session.post(s.url("/oauth2/token"), timeout=10,
                                 data={"grant_type": "refresh_token",
                                       "refresh_token": current[i]})
            except requests.RequestException:
                return  # the server is gone
            if r.status_code != 200:
                return
            current[i] = r.json()["refresh_token"]
            acknowledged[i] += 1

    threads = [threading.Thread(target=storm, args=(i,)) for i in range(families)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 30
    while sum(acknowledged) < 300 and time.monotonic() < deadline:
        time.sleep(0.01)
    s.proc.send_signal(signal.SIGKILL)  # in the middle of the storm
    s.proc.wait()
    stop.set()
    for t in threads:
        t.join()
    total = sum(acknowledged)
    assert total >= 100, acknowledged

    # Each family's last acknowledged token is stored (used or not: a rotation of it that was in
    # flight at the kill may have committed without its response arriving).
    for token in current:
        digest = hashlib.sha256(token.encode()).hexdigest()
        rows = query_database(s, "SELECT count(*) FROM refresh_tokens WHERE token_hash = ?",
                              (digest,))
        assert rows == [(1,)], "an acknowledged refresh token was lost"
    # ... and so is the audit row written with each acknowledged rotation.
    rows = query_database(s, "SELECT count(*) FROM audit_events WHERE type = 'token.refreshed'")
    assert rows[0][0] >= total

    # The server comes back on the same data, and every family goes on from its last token
    # unless an unacknowledged rotation of it committed (then that token was used, and presenting
    # it is reuse).
    s2 = start_server(data_dir=s.data_dir)
    try:
        for token in current:
            digest = hashlib.sha256(token.encode()).hexdigest()
            used = query_database(
                s2, "SELECT count(*) FROM refresh_tokens WHERE token_hash = ? AND used_at IS NULL",
                (digest,))[0][0]
            r = refresh(s2, token)
            assert r.status_code == (200 if used == 1 else 400), r.text
    finally:
        s2.stop()
