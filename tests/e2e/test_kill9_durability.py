"""Durability under SIGKILL (issue #13, DESIGN §6: "A write that was acknowledged to a client
survives kill -9 of the server"; refresh rotation and reuse: DESIGN §4, docs/tokens.md).

Several client threads rotate refresh tokens and create users while the server is killed with
SIGKILL after a random number of acknowledged operations (a count, not a timer). The server is
restarted on the same data directory (on PostgreSQL: the same database) and every acknowledged
write is checked:
- every user whose creation was answered 201 exists, with its username;
- every client's newest acknowledged refresh token is still in the store, and the request that was
  in flight at the kill (only its presented token is known) is judged by what the store holds: if
  the rotation was never committed, the presented token still rotates (200); if it was committed
  but its answer never arrived, presenting it again is reuse — 400 invalid_grant and the whole
  family revoked, the undelivered successor included (tokens.refresh_reuse_grace_s = 0, the
  default);
- a client with no request in flight rotates its newest token once more (200).
Three kills per run. Two deterministic tests hold a rotation's answer back (its request is sent on
a raw socket that is never read), wait until the store shows the rotation committed, kill the
server, and check the designed answer to the retry: reuse by default, and with
tokens.refresh_reuse_grace_s > 0 a new pair (the undelivered successor revoked).
"""
import hashlib
import random
import signal
import socket
import threading
import time
import uuid

import pytest
import requests

from conftest import admin_token, login, query_database, start_server

ROTATORS = 4          # threads rotating their own refresh-token family
CREATORS = 2          # threads creating users
KILLS = 3             # SIGKILLs per run
USER_PASSWORD = "violet-harbour-lantern-93"
REQUEST_TIMEOUT_S = 20


def sha256_hex(text):
    return hashlib.sha256(text.encode("ascii")).hexdigest()


def refresh(server, session, token, **extra):
    return session.post(server.url("/oauth2/token"), timeout=REQUEST_TIMEOUT_S,
                        data={"grant_type": "refresh_token", "refresh_token": token, **extra})


def fresh_refresh_token(server):
    r = login(server)
    assert r.status_code == 200, r.text
    return r.json()["refresh_token"]


def token_row(server, token):
    """(family_id, used_at, revoked_at) of the stored refresh token, or None. NULL reads as None
    (SQLite) or "" (PostgreSQL through psql); both are falsy."""
    rows = query_database(server, "SELECT family_id, used_at, revoked_at FROM refresh_tokens "
                                  "WHERE token_hash = ?", (sha256_hex(token),))
    return rows[0] if rows else None


def live_tokens_of_family(server, family_id):
    return query_database(server, "SELECT COUNT(*) FROM refresh_tokens WHERE family_id = ? AND "
                                  "revoked_at IS NULL", (family_id,))[0][0]


def kill9(server):
    server.proc.send_signal(signal.SIGKILL)
    server.proc.wait(timeout=30)
    assert server.proc.returncode == -signal.SIGKILL


class Load:
    """Client threads and what the server acknowledged to them."""

    def __init__(self, server, admin, tokens, kill_after):
        self.server = server
        self.admin = admin
        self.kill_after = kill_after
        self.lock = threading.Lock()
        self.acknowledged = 0
        self.kill_now = threading.Event()
        self.latest = list(tokens)          # per rotator: newest acknowledged refresh token
        self.in_flight = [None] * len(tokens)  # per rotator: the token presented when it stopped
        self.rotations = 0
        self.users = {}                     # acknowledged user id -> username
        self.pending_users = []             # usernames whose creation was in flight
        self.unexpected = []                # answers that are neither success nor a dead server

    def ack(self):
        with self.lock:
            self.acknowledged += 1
            if self.acknowledged >= self.kill_after:
                self.kill_now.set()

    def rotate(self, i):
        with requests.Session() as session:
            while True:
                token = self.latest[i]
                self.in_flight[i] = token
                try:
                    r = refresh(self.server, session, token)
                except requests.RequestException:
                    return  # the server is gone: the answer never arrived
                if r.status_code != 200:
                    self.unexpected.append(f"rotator {i}: {r.status_code} {r.text}")
                    self.in_flight[i] = None
                    return
                self.latest[i] = r.json()["refresh_token"]
                self.in_flight[i] = None
                with self.lock:
                    self.rotations += 1
                self.ack()

    def create_users(self, i):
        with requests.Session() as session:
            session.headers["Authorization"] = f"Bearer {self.admin}"
            while True:
                name = f"durable-{i}-{uuid.uuid4().hex[:12]}"
                try:
                    r = session.post(self.server.url("/v1/users"), timeout=REQUEST_TIMEOUT_S,
                                     json={"username": name, "password": USER_PASSWORD})
                except requests.RequestException:
                    self.pending_users.append(name)
                    return
                if r.status_code != 201:
                    self.unexpected.append(f"creator {i}: {r.status_code} {r.text}")
                    return
                with self.lock:
                    self.users[r.json()["id"]] = name
                self.ack()

    def run_until_killed(self):
        threads = [threading.Thread(target=self.rotate, args=(i,)) for i in range(ROTATORS)]
        threads += [threading.Thread(target=self.create_users, args=(i,)) for i in range(CREATORS)]
        for t in threads:
            t.start()
        try:
            killed = self.kill_now.wait(timeout=120)
        finally:
            kill9(self.server)  # also on failure: no thread may be left waiting on the server
            for t in threads:
                t.join(timeout=REQUEST_TIMEOUT_S + 10)
        assert killed, f"only {self.acknowledged} operations acknowledged in 120 s"
        assert not any(t.is_alive() for t in threads)
        assert not self.unexpected, self.unexpected


def test_acknowledged_writes_survive_sigkill_mid_load(tmp_path):
    data_dir = str(tmp_path)
    seed = random.randrange(1 << 32)
    rng = random.Random(seed)
    print(f"random seed {seed}")
    server = start_server(data_dir=data_dir)
    admin = admin_token(server)
    tokens = [fresh_refresh_token(server) for _ in range(ROTATORS)]
    all_users = {}
    try:
        for kill in range(KILLS):
            load = Load(server, admin, tokens, kill_after=rng.randrange(20, 80))
            load.run_until_killed()
            all_users.update(load.users)
            print(f"kill {kill + 1}: after {load.acknowledged} acknowledged operations "
                  f"({load.rotations} rotations, {len(load.users)} users); in flight: "
                  f"{sum(t is not None for t in load.in_flight)} rotations, "
                  f"{len(load.pending_users)} user creations")

            # While the server is down, read what the store holds for every rotator.
            verdicts = []
            for latest, in_flight in zip(load.latest, load.in_flight):
                row = token_row(server, latest)
                assert row is not None, "an acknowledged refresh token was lost"
                family_id, used_at, revoked_at = row
                assert not revoked_at
                if in_flight is None:
                    assert not used_at, "a token never presented again is marked spent"
                else:
                    assert in_flight == latest
                verdicts.append((family_id, bool(used_at)))

            print(f"  in-flight rotations committed but undelivered: "
                  f"{sum(committed for _, committed in verdicts)}")
            # The same port: the issuer (and so every access token's iss) names it.
            server = start_server(data_dir=data_dir, port=server.port)
            with requests.Session() as session:
                # Every acknowledged user, from this and earlier rounds, is there.
                session.headers["Authorization"] = f"Bearer {admin}"
                for user_id, name in all_users.items():
                    r = session.get(server.url(f"/v1/users/{user_id}"), timeout=REQUEST_TIMEOUT_S)
                    assert r.status_code == 200, (user_id, r.status_code, r.text)
                    assert r.json()["username"] == name
                # A creation in flight either happened completely or not at all.
                for name in load.pending_users:
                    rows = query_database(server, "SELECT COUNT(*) FROM users WHERE username = ?",
                                          (name,))
                    assert rows[0][0] in (0, 1)

            next_tokens = []
            with requests.Session() as session:
                for latest, (family_id, committed) in zip(load.latest, verdicts):
                    r = refresh(server, session, latest)
                    if committed:
                        # Committed, never delivered: presenting the parent again is reuse.
                        assert r.status_code == 400, r.text
                        assert r.json()["error"] == "invalid_grant"
                        assert live_tokens_of_family(server, family_id) == 0
                        next_tokens.append(fresh_refresh_token(server))
                    else:
                        assert r.status_code == 200, r.text
                        next_tokens.append(r.json()["refresh_token"])
            tokens = next_tokens
    finally:
        server.stop(signal.SIGKILL)


def send_without_reading(server, token):
    """Sends a refresh request on a raw socket and returns the socket unread: whatever the server
    answers is never delivered to this client."""
    body = f"grant_type=refresh_token&refresh_token={token}".encode("ascii")
    head = (f"POST /oauth2/token HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
            "Content-Type: application/x-www-form-urlencoded\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode("ascii")
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=REQUEST_TIMEOUT_S)
    sock.sendall(head + body)
    return sock


def commit_rotation_then_kill(server, token):
    """Presents `token` for rotation, waits (polling the store) until the rotation is committed,
    then SIGKILLs the server before the client reads the answer. Returns the family id."""
    sock = send_without_reading(server, token)
    try:
        deadline = time.monotonic() + 30
        while True:
            family_id, used_at, _ = token_row(server, token)
            if used_at:
                break
            assert time.monotonic() < deadline, "the rotation was never committed"
            time.sleep(0.01)
        kill9(server)
    finally:
        sock.close()
    return family_id


def successors(server, token):
    """(token_hash, revoked_at) of every stored token whose parent is `token`."""
    return query_database(server, "SELECT token_hash, revoked_at FROM refresh_tokens WHERE "
                                  "parent_hash = ?", (sha256_hex(token),))


def test_rotation_committed_but_never_delivered_is_reuse(tmp_path):
    data_dir = str(tmp_path)
    server = start_server(data_dir=data_dir)
    try:
        parent = fresh_refresh_token(server)
        family_id = commit_rotation_then_kill(server, parent)
        assert len(successors(server, parent)) == 1  # the undelivered successor

        server = start_server(data_dir=data_dir, port=server.port)
        with requests.Session() as session:
            r = refresh(server, session, parent)
        assert r.status_code == 400, r.text
        assert r.json()["error"] == "invalid_grant"
        assert live_tokens_of_family(server, family_id) == 0
        assert all(revoked_at for _, revoked_at in successors(server, parent))
        r = requests.get(server.url("/v1/audit"), params={"type": "token.refresh_reuse_detected"},
                         headers={"Authorization": f"Bearer {admin_token(server)}"},
                         timeout=REQUEST_TIMEOUT_S)
        assert r.status_code == 200, r.text
        assert len(r.json()["items"]) == 1
    finally:
        server.stop(signal.SIGKILL)


def test_rotation_committed_but_never_delivered_is_retried_within_the_grace_window(tmp_path):
    data_dir = str(tmp_path)
    grace = ["--set", "tokens.refresh_reuse_grace_s=300"]
    server = start_server(data_dir=data_dir, args=grace)
    try:
        parent = fresh_refresh_token(server)
        family_id = commit_rotation_then_kill(server, parent)
        [(undelivered, revoked_at)] = successors(server, parent)
        assert not revoked_at

        server = start_server(data_dir=data_dir, args=grace, port=server.port)
        with requests.Session() as session:
            r = refresh(server, session, parent)
            assert r.status_code == 200, r.text
            retried = r.json()["refresh_token"]
            # The successor that never arrived is revoked; the family lives on through the retry.
            revoked = dict(successors(server, parent))
            assert revoked[undelivered]
            assert token_row(server, retried)[0] == family_id
            r = refresh(server, session, retried)
            assert r.status_code == 200, r.text
    finally:
        server.stop(signal.SIGKILL)
