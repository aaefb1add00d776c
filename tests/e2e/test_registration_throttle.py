"""Self-registration is throttled per source (threat-model F3, docs/lockout.md).

Each registration that gets as far as the Argon2id hash (201 created, 409 name taken) counts toward
a per-source budget with the limits of the ip dimension (lockout.ip_max_failures per
lockout.ip_window_s). Past it, POST /v1/register answers 429 + Retry-After before any hashing or
store work, and creates nothing. Rejected input (400) counts nothing. The budget is separate from
the login throttle: sign-ups never lock a source's logins.
"""
import uuid

import requests

from conftest import ADMIN_PASSWORD, login, start_server

PASSWORD = "correct horse battery staple 42"
LIMIT = 3
WINDOW_S = 300


def register(server, username, password=PASSWORD):
    return requests.post(server.url("/v1/register"), timeout=30,
                         json={"username": username, "password": password})


def name():
    return "reg" + uuid.uuid4().hex[:10]


def test_registrations_beyond_the_source_budget_get_429_and_create_nothing():
    server = start_server(args=["--set", "registration.open=true",
                                "--set", f"lockout.ip_max_failures={LIMIT}",
                                "--set", f"lockout.ip_window_s={WINDOW_S}"])
    try:
        r = login(server, password=ADMIN_PASSWORD)
        assert r.status_code == 200, r.text
        admin = {"Authorization": "Bearer " + r.json()["access_token"]}

        # Invalid input is refused before the hash and counts nothing.
        for _ in range(LIMIT + 2):
            assert register(server, "bad name!").status_code == 400
            assert register(server, name(), password="short").status_code == 400

        first = name()
        assert register(server, first).status_code == 201
        assert register(server, first.upper()).status_code == 409  # a probe counts too
        assert register(server, name()).status_code == 201  # the third counted attempt

        refused_name = name()
        r = register(server, refused_name)
        assert r.status_code == 429, r.text
        assert r.headers["Content-Type"].startswith("application/problem+json")
        assert 1 <= int(r.headers["Retry-After"]) <= WINDOW_S
        assert r.json()["status"] == 429
        # A taken name gets the same 429: the budget hides which names exist.
        assert register(server, first).status_code == 429

        users = requests.get(server.url("/v1/users"), params={"username": refused_name},
                             headers=admin, timeout=10)
        assert users.status_code == 200, users.text
        assert users.json()["items"] == []

        # Sign-ups do not lock logins from the same source.
        assert login(server, username=first, password=PASSWORD).status_code == 200

        events = requests.get(server.url("/v1/audit"), params={"type": "throttle.tripped"},
                              headers=admin, timeout=10)
        assert events.status_code == 200, events.text
        assert len(events.json()["items"]) == 1, events.text
    finally:
        server.stop()
