"""TOTP against the real binary (issue #12, DESIGN.md §8): enrolment (secret, otpauth URI, SVG QR
code), confirmation with ten recovery codes, the password grant's `totp` field, Basic refused,
the login page's second step, recovery codes, removal, audit, and mfa.required_roles.

Codes are computed here (RFC 6238 with hmac/hashlib) for the current time step and its
neighbours; each user's codes are used with increasing offsets (-1, 0, +1), so the server's
"each code once" rule is met without waiting for time to pass."""
import base64
import hashlib
import hmac
import os
import secrets
import sqlite3
import struct
import time
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
import requests

from browser_flow import RelyingParty, create_client, parse_form, query_of
from conftest import admin_token, login, query_database, start_server

PASSWORD = "violet-harbor-lantern-73"


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def totp(secret_b32, offset=0):
    key = base64.b32decode(secret_b32 + "=" * (-len(secret_b32) % 8))
    counter = int(time.time()) // 30 + offset
    mac = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    o = mac[-1] & 0x0F
    value = (struct.unpack(">I", mac[o:o + 4])[0] & 0x7FFFFFFF) % 1_000_000
    return f"{value:06d}"


def new_user(server, roles=("user",)):
    name = "totp-" + secrets.token_hex(4)
    r = requests.post(server.url("/v1/users"), headers=bearer(admin_token(server)),
                      json={"username": name, "password": PASSWORD, "roles": list(roles)},
                      timeout=10)
    assert r.status_code == 201, r.text
    return name


def enrol(server, username):
    """Enrols TOTP for `username` (confirmed with the code of step -1); returns (secret, codes)."""
    token = login(server, username, PASSWORD).json()["access_token"]
    r = requests.post(server.url("/v1/me/mfa/totp"), headers=bearer(token), timeout=10)
    assert r.status_code == 201, r.text
    body = r.json()
    secret = body["secret"]
    r = requests.post(server.url("/v1/me/mfa/totp/confirm"), headers=bearer(token),
                      json={"code": totp(secret, -1)}, timeout=10)
    assert r.status_code == 200, r.text
    return secret, r.json()["recovery_codes"]


def grant(server, username, **extra):
    return login(server, username, PASSWORD, **extra)


def audit_types(server, user_id=None):
    rows = query_database(server, "SELECT type, subject FROM audit_events")
    return [t for t, s in rows if user_id is None or s == user_id]


def test_enrolment_shows_secret_uri_and_qr_code(server):
    name = new_user(server)
    token = login(server, name, PASSWORD).json()["access_token"]
    r = requests.post(server.url("/v1/me/mfa/totp"), headers=bearer(token), timeout=10)
    assert r.status_code == 201, r.text
    assert r.headers["Cache-Control"] == "no-store"
    body = r.json()
    assert len(base64.b32decode(body["secret"] + "=" * (-len(body["secret"]) % 8))) == 20
    uri = urlsplit(body["otpauth_uri"])
    assert uri.scheme == "otpauth" and uri.netloc == "totp"
    assert uri.path.endswith(":" + name)
    q = parse_qs(uri.query)
    assert q["secret"] == [body["secret"]] and q["digits"] == ["6"] and q["period"] == ["30"]
    assert body["qr_svg"].startswith("<svg") and "<path" in body["qr_svg"]
    # The secret is stored sealed, never as given.
    sealed = query_database(server, "SELECT sealed_secret FROM totp_enrollments")
    assert all(body["secret"] not in str(row[0]) for row in sealed)
    # Unconfirmed, it changes nothing: the password alone still signs in.
    assert grant(server, name).status_code == 200
    # A wrong code does not confirm.
    wrong = "000000" if totp(body["secret"]) != "000000" else "111111"
    r = requests.post(server.url("/v1/me/mfa/totp/confirm"), headers=bearer(token),
                      json={"code": wrong}, timeout=10)
    assert r.status_code == 400
    for bad in ({}, {"code": 123456}, {"code": ""}, {"code": "1" * 100}, {"code": "1", "x": 1}):
        r = requests.post(server.url("/v1/me/mfa/totp/confirm"), headers=bearer(token),
                          json=bad, timeout=10)
        assert r.status_code == 400, bad


def test_password_grant_requires_the_code_once_and_basic_is_refused(server):
    name = new_user(server)
    secret, codes = enrol(server, name)
    assert len(codes) == 10 and len(set(codes)) == 10
    r = grant(server, name)
    assert r.status_code == 400 and r.json()["error"] == "mfa_required", r.text
    wrong = "000000" if totp(secret) != "000000" else "111111"
    r = grant(server, name, totp=wrong)
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"
    code = totp(secret, 0)
    r = grant(server, name, totp=code)
    assert r.status_code == 200, r.text
    # The same code twice: refused.
    r = grant(server, name, totp=code)
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"
    # HTTP Basic cannot carry the code: refused, right password or not.
    r = requests.get(server.url("/v1/me"), auth=(name, PASSWORD), timeout=10)
    assert r.status_code == 401
    # A recovery code works once, in any case and with or without the dash.
    r = grant(server, name, totp=codes[0].upper().replace("-", ""))
    assert r.status_code == 200, r.text
    r = grant(server, name, totp=codes[0])
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"
    user_id = query_database(server, "SELECT id FROM users WHERE username = ?", (name,))[0][0]
    types = audit_types(server, user_id)
    assert "mfa.enabled" in types and "mfa.failed" in types


def stored_recovery_codes(server, username):
    """The stored values of the user's unused recovery codes, read from the database (on SQLite
    through a read-only connection of our own, as an attacker with a copy of the file would)."""
    sql = ("SELECT r.code_hash FROM totp_recovery_codes r JOIN users u ON u.id = r.user_id "
           "WHERE u.username = ? ORDER BY r.code_hash")
    if server.database_url is not None:
        return [row[0] for row in query_database(server, sql, (username,))]
    path = os.path.join(server.data_dir, "portcullis.db")
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return [row[0] for row in db.execute(sql, (username,)).fetchall()]
    finally:
        db.close()


def sha256_hex(text):
    return hashlib.sha256(text.encode()).hexdigest()


def keyed_recovery_code(secret_b32, code):
    """What the server stores for `code` (docs/threat-model.md F7): "k1:" + hex HMAC-SHA-256 of
    the hex SHA-256 of the normalized code, under HMAC-SHA-256(TOTP secret, label)."""
    secret = base64.b32decode(secret_b32 + "=" * (-len(secret_b32) % 8))
    key = hmac.new(secret, b"portcullis recovery-code v1", hashlib.sha256).digest()
    normalized = code.replace("-", "").replace(" ", "").lower()
    return "k1:" + hmac.new(key, sha256_hex(normalized).encode(), hashlib.sha256).hexdigest()


def test_recovery_codes_are_stored_keyed_not_as_sha256_f7(server):
    """Threat model F7: a reader of the database cannot test recovery-code guesses offline; the
    stored values are keyed by the user's sealed TOTP secret, not the SHA-256 of a code."""
    name = new_user(server)
    secret, codes = enrol(server, name)
    stored = stored_recovery_codes(server, name)
    assert len(stored) == 10
    unkeyed = set()
    for code in codes:
        for form in (code, code.replace("-", ""), code.upper(), code.upper().replace("-", "")):
            unkeyed.add(sha256_hex(form))
    for value in stored:
        assert value.startswith("k1:") and len(value) == 67, value
        assert value not in unkeyed and value[3:] not in unkeyed, value
    # Only the TOTP secret (sealed with the master key in the database) gives the key.
    assert sorted(keyed_recovery_code(secret, c) for c in codes) == stored
    # A shown code still signs in, once.
    r = grant(server, name, totp=codes[3])
    assert r.status_code == 200, r.text
    r = grant(server, name, totp=codes[3])
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"
    assert len(stored_recovery_codes(server, name)) == 9


def test_legacy_sha256_recovery_codes_still_sign_in_once_f7(server):
    """Codes issued before F7 was fixed are stored as unkeyed SHA-256; they keep working (once)
    so nobody is locked out, next to keyed ones."""
    name = new_user(server)
    secret, codes = enrol(server, name)
    user_id = query_database(server, "SELECT id FROM users WHERE username = ?", (name,))[0][0]
    # Turn two of the rows into what the server stored before the fix.
    for code in codes[:2]:
        query_database(server, "DELETE FROM totp_recovery_codes WHERE user_id = ? AND code_hash = ?",
                       (user_id, keyed_recovery_code(secret, code)))
        query_database(server, "INSERT INTO totp_recovery_codes (user_id, code_hash) VALUES (?, ?)",
                       (user_id, sha256_hex(code.replace("-", ""))))
    assert len(stored_recovery_codes(server, name)) == 10
    r = grant(server, name, totp=codes[0])
    assert r.status_code == 200, r.text
    r = grant(server, name, totp=codes[0])
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"
    r = grant(server, name, totp=codes[1].upper())
    assert r.status_code == 200, r.text
    r = grant(server, name, totp=codes[2])  # a keyed one, next to them
    assert r.status_code == 200, r.text
    r = grant(server, name, totp="zzzzz-zzzzz")
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"
    assert len(stored_recovery_codes(server, name)) == 7


def test_legacy_recovery_codes_are_keyed_at_the_next_start_f7():
    """A server started on a database with legacy (unkeyed SHA-256) recovery codes keys them in
    place, without knowing the codes, and they still sign in once."""
    first = start_server()
    try:
        name = new_user(first)
        secret, codes = enrol(first, name)
        user_id = query_database(first, "SELECT id FROM users WHERE username = ?", (name,))[0][0]
        query_database(first, "DELETE FROM totp_recovery_codes WHERE user_id = ?", (user_id,))
        for code in codes:
            query_database(first,
                           "INSERT INTO totp_recovery_codes (user_id, code_hash) VALUES (?, ?)",
                           (user_id, sha256_hex(code.replace("-", ""))))
        assert all(len(v) == 64 for v in stored_recovery_codes(first, name))
    finally:
        assert first.stop() == 0
    second = start_server(data_dir=first.data_dir)
    try:
        assert stored_recovery_codes(second, name) == sorted(
            keyed_recovery_code(secret, c) for c in codes)
        upgraded = [e for e in second.log_events() if e.get("event") == "mfa.recovery_codes_upgraded"]
        assert upgraded and upgraded[-1].get("count") == 10, upgraded
        r = grant(second, name, totp=codes[0])
        assert r.status_code == 200, r.text
        r = grant(second, name, totp=codes[0])
        assert r.status_code == 400 and r.json()["error"] == "invalid_grant"
        assert all(code not in second.log_text() for code in codes)
    finally:
        second.stop()


def test_login_page_asks_for_the_code_and_amr_says_otp(server):
    name = new_user(server)
    secret, _ = enrol(server, name)
    rp = RelyingParty(server, create_client(server))
    page = rp.authorize()
    step2 = rp.submit(page, username=name, password=PASSWORD)
    assert step2.status_code == 200, step2.text
    form = parse_form(step2.text)
    assert "code" in form.inputs and "mfa_ticket" in form.inputs and "password" not in form.inputs
    assert "__Host-portcullis_session" not in step2.headers.get("Set-Cookie", "")
    wrong = "000000" if totp(secret) != "000000" else "111111"
    again = rp.submit(step2, code=wrong)
    assert again.status_code == 200 and "not valid" in again.text
    # A forged ticket is refused.
    forged = rp.submit(step2, code=totp(secret, 0), mfa_ticket="A" * 80)
    assert forged.status_code == 400 and "Location" not in forged.headers
    done = rp.submit(step2, code=totp(secret, 0))
    assert done.status_code == 303, done.text
    q = query_of(done.headers["Location"])
    t = rp.exchange(q["code"]).json()
    claims = jwt.decode(t["id_token"], options={"verify_signature": False})
    assert claims["amr"] == ["pwd", "otp"]


def test_removal_needs_a_code(server):
    name = new_user(server)
    secret, codes = enrol(server, name)
    token = grant(server, name, totp=totp(secret, 0)).json()["access_token"]
    r = requests.delete(server.url("/v1/me/mfa/totp"), headers=bearer(token),
                        json={"code": "000000" if totp(secret) != "000000" else "111111"},
                        timeout=10)
    assert r.status_code == 400
    r = requests.delete(server.url("/v1/me/mfa/totp"), headers=bearer(token),
                        json={"code": codes[1]}, timeout=10)
    assert r.status_code == 204, r.text
    assert grant(server, name).status_code == 200  # the password alone again
    r = requests.delete(server.url("/v1/me/mfa/totp"), headers=bearer(token),
                        json={"code": codes[2]}, timeout=10)
    assert r.status_code == 404
    user_id = query_database(server, "SELECT id FROM users WHERE username = ?", (name,))[0][0]
    assert "mfa.disabled" in audit_types(server, user_id)


@pytest.fixture(scope="module")
def strict_server():
    s = start_server(args=["--set", 'mfa.required_roles=["admin"]'])
    yield s
    s.stop()


def test_required_roles_get_only_the_enrolment_permission(strict_server):
    s = strict_server
    r = login(s)
    assert r.status_code == 200, r.text
    assert r.json()["scope"] == "mfa:enroll"
    token = r.json()["access_token"]
    assert requests.get(s.url("/v1/users"), headers=bearer(token), timeout=10).status_code == 403
    # They can enrol, and then get their permissions back.
    r = requests.post(s.url("/v1/me/mfa/totp"), headers=bearer(token), timeout=10)
    assert r.status_code == 201, r.text
    secret = r.json()["secret"]
    r = requests.post(s.url("/v1/me/mfa/totp/confirm"), headers=bearer(token),
                      json={"code": totp(secret, -1)}, timeout=10)
    assert r.status_code == 200, r.text
    r = login(s, totp=totp(secret, 0))
    assert r.status_code == 200 and r.json()["scope"] != "mfa:enroll", r.text
    assert requests.get(s.url("/v1/users"), headers=bearer(r.json()["access_token"]),
                        timeout=10).status_code == 200
