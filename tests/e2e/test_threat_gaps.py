"""Controls of docs/threat-model.md that existed without a test (findings F4, F5, F6, F9), proved
end to end against the real binary. Limits are lowered with --set so that a lock trips after a
few attempts (Argon2id costs tens of milliseconds each); every lock is reached by counting
failures, never by waiting. Sources are presented through X-Forwarded-For with loopback as a
trusted proxy, one source per test, so that tests do not share a lock."""
import secrets

import pytest
import requests

from browser_flow import RelyingParty, create_client, parse_form, query_of
from conftest import ADMIN_PASSWORD, admin_token, login, start_server
from test_lockout import TRUST_LOOPBACK, attempt
from test_tokens import basic, me, refresh
from test_tokens import create_client as create_service_client
from test_totp import PASSWORD, enrol, new_user, totp

MAX_FAILURES = 3


@pytest.fixture(scope="module")
def locked_down():
    s = start_server(args=TRUST_LOOPBACK + ["--set", f"lockout.max_failures={MAX_FAILURES}"])
    yield s
    s.stop()


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def wrong_totp(secret):
    """A six-digit code that is none of the codes the server accepts right now (steps -1..+1)."""
    valid = {totp(secret, o) for o in (-2, -1, 0, 1, 2)}
    return next(c for c in ("000000", "111111", "222222", "333333", "444444", "555555")
                if c not in valid)


def assert_locked(r):
    assert r.status_code == 429, (r.status_code, r.text[:300])
    assert int(r.headers["Retry-After"]) >= 1


# ---------------------------------------------------------------- F4 (P8)

def test_wrong_totp_codes_count_toward_the_lockout(locked_down):
    name = new_user(locked_down)
    secret, _ = enrol(locked_down, name)
    src = "203.0.113.11"
    wrong = wrong_totp(secret)
    for _ in range(MAX_FAILURES):  # the right password, a wrong second factor
        r = attempt(locked_down, name, PASSWORD, src, totp=wrong)
        assert r.status_code == 400 and r.json()["error"] == "invalid_grant", r.text
    r = attempt(locked_down, name, PASSWORD, src, totp=totp(secret, 0))
    assert_locked(r)
    assert r.json()["error"] == "temporarily_unavailable"
    # The lock is the pair's: the owner elsewhere still signs in with the code.
    assert attempt(locked_down, name, PASSWORD, "198.51.100.11",
                   totp=totp(secret, 1)).status_code == 200


# ---------------------------------------------------------------- F5 (B6)

def browser_at(server, src):
    rp = RelyingParty(server, create_client(server))
    rp.browser.headers["X-Forwarded-For"] = src
    return rp


def test_login_form_answers_429_once_locked(locked_down):
    name = new_user(locked_down)
    rp = browser_at(locked_down, "203.0.113.21")
    page = rp.authorize()
    assert page.status_code == 200, page.text
    for _ in range(MAX_FAILURES):
        r = rp.submit(page, username=name, password="not-the-password-1")
        assert r.status_code == 200 and "Location" not in r.headers
        assert "Invalid username or password." in r.text
    r = rp.submit(page, username=name, password=PASSWORD)  # even the right password
    assert_locked(r)
    assert "Location" not in r.headers
    assert "__Host-portcullis_session" not in r.headers.get("Set-Cookie", "")
    # The password grant sees the same lock.
    assert_locked(attempt(locked_down, name, PASSWORD, "203.0.113.21"))


def test_login_form_and_password_grant_failures_add_up(locked_down):
    name = new_user(locked_down)
    src = "203.0.113.22"
    rp = browser_at(locked_down, src)
    page = rp.authorize()
    for _ in range(MAX_FAILURES - 1):
        assert rp.submit(page, username=name, password="not-the-password-2").status_code == 200
    # One more failure, through the grant: the pair is now at the limit.
    r = attempt(locked_down, name, "not-the-password-2", src)
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"
    assert_locked(rp.submit(page, username=name, password=PASSWORD))
    assert_locked(attempt(locked_down, name, PASSWORD, src))


# ---------------------------------------------------------------- F6 (I4)

def test_revoke_by_another_client_changes_nothing(server):
    a = login(server).json()  # issued to the public client "default"
    assert a["access_token"] and a["refresh_token"]
    b = create_service_client(server, a["access_token"])
    b_auth = basic(b["client_id"], b["client_secret"])
    for token, hint in ((a["access_token"], "access_token"), (a["refresh_token"], "refresh_token"),
                        (a["access_token"], None), (a["refresh_token"], None)):
        data = {"token": token}
        if hint:
            data["token_type_hint"] = hint
        r = requests.post(server.url("/oauth2/revoke"), data=data, headers=b_auth, timeout=5)
        assert r.status_code == 200, r.text  # RFC 7009: no hint whose token it was
    assert me(server, a["access_token"]).status_code == 200
    rotated = refresh(server, a["refresh_token"])
    assert rotated.status_code == 200, rotated.text
    # The owner (client "default") can revoke both.
    new = rotated.json()
    r = requests.post(server.url("/oauth2/revoke"), data={"token": a["access_token"]}, timeout=5)
    assert r.status_code == 200
    assert me(server, a["access_token"]).status_code == 401
    r = requests.post(server.url("/oauth2/revoke"),
                      data={"token": new["refresh_token"], "token_type_hint": "refresh_token"},
                      timeout=5)
    assert r.status_code == 200
    assert refresh(server, new["refresh_token"]).json()["error"] == "invalid_grant"


# ---------------------------------------------------------------- F9

def test_wrong_current_password_counts_toward_the_lockout(locked_down):  # M1
    name = new_user(locked_down)
    src = {"X-Forwarded-For": "203.0.113.31"}
    token = login(locked_down, name, PASSWORD).json()["access_token"]
    for i in range(MAX_FAILURES):
        r = requests.post(locked_down.url("/v1/me/password"), headers={**bearer(token), **src},
                          json={"current_password": f"wrong-current-{i}",
                                "new_password": "a-brand-new-passphrase-9"}, timeout=10)
        assert r.status_code in (400, 401, 403), (r.status_code, r.text)
    r = requests.post(locked_down.url("/v1/me/password"), headers={**bearer(token), **src},
                      json={"current_password": PASSWORD,
                            "new_password": "a-brand-new-passphrase-9"}, timeout=10)
    assert_locked(r)
    # Unchanged: the old password still signs in elsewhere.
    assert attempt(locked_down, name, PASSWORD, "198.51.100.31").status_code == 200


def test_deleting_another_users_session_is_404_and_changes_nothing(server):  # M6
    victim = new_user(server)
    rp = RelyingParty(server, create_client(server))
    rp.sign_in(victim, PASSWORD)
    victim_token = login(server, victim, PASSWORD).json()["access_token"]
    items = requests.get(server.url("/v1/me/sessions"), headers=bearer(victim_token),
                         timeout=5).json()["items"]
    assert len(items) == 1
    sid = items[0]["id"]
    attacker = new_user(server)
    attacker_token = login(server, attacker, PASSWORD).json()["access_token"]
    r = requests.delete(server.url(f"/v1/me/sessions/{sid}"), headers=bearer(attacker_token),
                        timeout=5)
    assert r.status_code == 404, r.text
    assert "code" in query_of(rp.authorize(prompt="none").headers["Location"])
    items = requests.get(server.url("/v1/me/sessions"), headers=bearer(victim_token),
                         timeout=5).json()["items"]
    assert [i["id"] for i in items] == [sid]


def test_a_tampered_totp_ticket_is_refused(server):  # B8
    name = new_user(server)
    secret, _ = enrol(server, name)
    rp = RelyingParty(server, create_client(server))
    step2 = rp.submit(rp.authorize(), username=name, password=PASSWORD)
    assert step2.status_code == 200, step2.text
    ticket = parse_form(step2.text).inputs["mfa_ticket"]
    assert len(ticket) > 20
    mid = len(ticket) // 2
    flipped = ticket[:mid] + ("A" if ticket[mid] != "A" else "B") + ticket[mid + 1:]
    for bad in (flipped, ticket[:-1], ticket + "A", ticket[: len(ticket) // 2]):
        r = rp.submit(step2, code=totp(secret, 0), mfa_ticket=bad)
        assert r.status_code == 400 and "Location" not in r.headers, (bad, r.status_code)
    # The genuine ticket still works (the refusals consumed nothing).
    done = rp.submit(step2, code=totp(secret, 0))
    assert done.status_code == 303, done.text
    assert "code" in query_of(done.headers["Location"])


def test_code_flow_refuses_a_permission_the_user_does_not_hold(server):  # B12
    client = create_client(server, scopes=["users:write"])
    name = new_user(server)  # role "user": no users:write
    rp = RelyingParty(server, client)
    q = rp.sign_in(name, PASSWORD, scope="openid users:write")
    r = rp.exchange(q["code"])
    assert r.status_code == 400 and r.json()["error"] == "invalid_scope", r.text
    # The admin holds it, so the same request is granted.
    rp = RelyingParty(server, client)
    r = rp.exchange(rp.sign_in("admin", ADMIN_PASSWORD, scope="openid users:write")["code"])
    assert r.status_code == 200, r.text
    assert "users:write" in r.json()["scope"].split()


def test_api_key_failures_count_toward_the_source_limit():  # K-1
    s = start_server(args=TRUST_LOOPBACK + ["--set", "lockout.ip_max_failures=4"])
    try:
        src = "203.0.113.41"
        keys = ["pcs_garbage", "pcs_" + "0" * 12 + "_" + "A" * 43,
                "not-a-key-at-all", "pcs_" + "1" * 12 + "_" + "B" * 43]
        for key in keys:
            r = requests.get(s.url("/v1/me"), headers={"X-API-Key": key, "X-Forwarded-For": src},
                             timeout=10)
            assert r.status_code == 401, r.text
        assert_locked(attempt(s, "admin", ADMIN_PASSWORD, src))
        assert attempt(s, "admin", ADMIN_PASSWORD, "203.0.113.42").status_code == 200
    finally:
        s.stop()
