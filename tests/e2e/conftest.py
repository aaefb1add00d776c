"""Shared fixtures: start the real `portcullis` binary on a free loopback port.

Each test module gets its own server and data directory. Tests talk HTTP to it with requests.

PORTCULLIS_E2E_DATABASE=postgres runs the same tests on PostgreSQL (ctest's e2e_pg.* entries):
every data directory a test starts a server or runs the CLI on then gets its own fresh database on
the session's PgCluster (started on first use), passed as PORTCULLIS_DATABASE_URL, and a master
key file (PostgreSQL deployments never generate one), unless the test brings its own database.url.
The same data directory keeps its database, so restarts and CLI calls see what the server wrote.
`Server.database_url` is the server's PostgreSQL URL (None on SQLite). Tests that run the binary
themselves take the same environment from database_env(data_dir).
"""
import base64
import itertools
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid

import pytest
import requests

BIN = os.environ.get("PORTCULLIS_BIN", "")
# The Python SDK as built by this build (ctest sets it: the native module's directory and
# python/), ahead of any installed copy. Unset in sanitizer builds, which do not build it.
PY_SDK_PATH = [p for p in os.environ.get("PORTCULLIS_PY_SDK", "").split(":") if p]
sys.path[:0] = PY_SDK_PATH
ADMIN_PASSWORD = "correct-horse-battery-staple-42"
E2E_DATABASE = os.environ.get("PORTCULLIS_E2E_DATABASE", "sqlite")
assert E2E_DATABASE in ("sqlite", "postgres"), \
    f"PORTCULLIS_E2E_DATABASE must be sqlite or postgres, not {E2E_DATABASE!r}"
ON_POSTGRES = E2E_DATABASE == "postgres"

_pg_cluster = None
_databases = {}  # realpath(data dir) -> its PostgreSQL database URL
_database_numbers = itertools.count(1)


def shared_pg():
    """The session's PgCluster, started on first use (closed by the session fixture below, or
    by pgcluster's atexit handler)."""
    global _pg_cluster
    if _pg_cluster is None:
        from pgcluster import PgCluster

        _pg_cluster = PgCluster().start()
    return _pg_cluster


def database_for(data_dir):
    """On PostgreSQL: the database URL of `data_dir`, created on first use. None on SQLite."""
    if not ON_POSTGRES or not data_dir:
        return None
    key = os.path.realpath(data_dir)
    if key not in _databases:
        name = f"e2e_{next(_database_numbers)}_{uuid.uuid4().hex[:8]}"
        _databases[key] = shared_pg().create_database(name)
    return _databases[key]


def _brings_own_database(args, env):
    return ("PORTCULLIS_DATABASE_URL" in (env or {})
            or any(str(a).startswith("database.") for a in args))


def database_env(data_dir, args=(), env=None):
    """On PostgreSQL (unless the caller brings its own database): PORTCULLIS_DATABASE_URL for
    `data_dir`. A PostgreSQL deployment never generates its master key (every instance needs the
    same one), so unless the caller brings a key, write one where the server looks by default,
    <data dir>/master.key (0600), as an operator would."""
    if not ON_POSTGRES or not data_dir or _brings_own_database(args, env):
        return {}
    brings_key = ("PORTCULLIS_MASTER_KEY" in (env or {})
                  or any(str(a).startswith("master_key.") for a in args))
    key_path = os.path.join(data_dir, "master.key")
    if not brings_key and not os.path.exists(key_path):
        os.makedirs(data_dir, exist_ok=True)
        fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as f:
            f.write(base64.b64encode(os.urandom(32)).decode() + "\n")
    return {"PORTCULLIS_DATABASE_URL": database_for(data_dir)}


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A running `portcullis serve` process."""

    def __init__(self, data_dir, port, proc, scheme, log_path, database_url=None):
        self.data_dir = data_dir
        self.database_url = database_url
        self.port = port
        self.proc = proc
        self.scheme = scheme
        self.log_path = log_path
        self.base = f"{scheme}://127.0.0.1:{port}"

    def url(self, path):
        return self.base + path

    def log_text(self):
        with open(self.log_path, "r", encoding="utf-8", errors="replace") as f:
            return f.read()

    def log_events(self):
        events = []
        for line in self.log_text().splitlines():
            line = line.strip()
            if line.startswith("{"):
                try:
                    events.append(json.loads(line))
                except ValueError:
                    pass
        return events

    def wait_healthy(self, timeout=30):
        """Polls /healthz until 200; kills the process and raises (with its log) otherwise."""
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError("server exited early:\n" + self.log_text())
            try:
                r = requests.get(self.url("/healthz"), timeout=1, verify=False)
                if r.status_code == 200:
                    return
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                self.stop(signal.SIGKILL)
                raise RuntimeError("server did not become healthy:\n" + self.log_text())
            time.sleep(0.05)

    def stop(self, sig=signal.SIGTERM, timeout=15):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


def start_server(data_dir=None, args=(), env=None, tls="off", admin_password=ADMIN_PASSWORD,
                 wait=True, port=None):
    """Starts `portcullis serve` on 127.0.0.1:`port` (default: a free one)."""
    assert BIN and os.path.exists(BIN), "set PORTCULLIS_BIN to the portcullis binary"
    data_dir = data_dir or tempfile.mkdtemp(prefix="portcullis-e2e-")
    port = port or free_port()
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("PORTCULLIS_")}
    # Keep Argon2id at the defaults of DESIGN §3: tests measure the real thing.
    if admin_password is not None:
        full_env["PORTCULLIS_ADMIN_PASSWORD"] = admin_password
    full_env.update(database_env(data_dir, args, env))
    if env:
        full_env.update(env)
    database_url = full_env.get("PORTCULLIS_DATABASE_URL")
    if not (database_url or "").startswith(("postgresql://", "postgres://")):
        database_url = None  # SQLite (the default, or a sqlite: URL)
    log_path = os.path.join(data_dir, "server.log")
    log = open(log_path, "ab")
    cmd = [BIN, "serve", "--data-dir", data_dir, "--listen", f"127.0.0.1:{port}", "--tls", tls,
           *args]
    proc = subprocess.Popen(cmd, env=full_env, stdout=log, stderr=subprocess.STDOUT)
    scheme = "http" if tls == "off" else "https"
    server = Server(data_dir, port, proc, scheme, log_path, database_url)
    if wait:
        server.wait_healthy()
    return server


@pytest.fixture(scope="module")
def server():
    s = start_server()
    yield s
    s.stop()


def login(server, username="admin", password=ADMIN_PASSWORD, **extra):
    """The exact form FastAPI's OAuth2PasswordRequestForm sends (empty optional fields)."""
    form = {"grant_type": "password", "username": username, "password": password, "scope": "",
            "client_id": "", "client_secret": ""}
    form.update(extra)
    return requests.post(server.url("/oauth2/token"), data=form, timeout=10, verify=False)


def admin_token(server):
    r = login(server)
    assert r.status_code == 200, r.text
    return r.json()["access_token"]


def run_cli(*args, data_dir, stdin=None, env=None):
    """Runs the CLI on `data_dir` (on PostgreSQL: on that data directory's database)."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("PORTCULLIS_")}
    full_env.update(database_env(data_dir, args, env))
    if env:
        full_env.update(env)
    return subprocess.run([BIN, *args, "--data-dir", data_dir] if data_dir else [BIN, *args],
                          input=stdin, capture_output=True, text=True, env=full_env, timeout=60)


@pytest.fixture(scope="session")
def pg():
    """A throwaway PostgreSQL 15 cluster (tests/e2e/pgcluster.py) shared by the whole session,
    started on first use. Give each test or module its own database:
    `url = pg.create_database("name")`. Fault tests that stop or kill the server must restart it
    before they return, failed or not (try/finally, as test_cluster.py does), or start their own
    PgCluster. Under PORTCULLIS_E2E_DATABASE=postgres it also holds the servers' databases."""
    return shared_pg()


@pytest.fixture(scope="session", autouse=True)
def _close_shared_pg():
    yield
    if _pg_cluster is not None:
        _pg_cluster.close()


def dump_database(server):
    """On PostgreSQL: a plain pg_dump (schema and data) of the server's database, as bytes.
    bytea values appear there as hex (\\x...): look for the hex of binary needles too. None on
    SQLite, whose database is the files in the data dir."""
    if server.database_url is None:
        return None
    return shared_pg().dump(server.database_url)


def _sql_literal(value):
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"


def _pg_value(text):
    return int(text) if text.lstrip("-").isdigit() else text


def query_database(server, sql, params=()):
    """Runs one statement with `?` placeholders on the server's database (SQLite file or
    PostgreSQL) and returns its rows as tuples. On PostgreSQL the values are sent as quoted
    literals and come back as text, digits-only ones as int, NULL as "" (psql -At)."""
    if server.database_url is None:
        db = sqlite3.connect(os.path.join(server.data_dir, "portcullis.db"))
        try:
            with db:
                return [tuple(row) for row in db.execute(sql, params).fetchall()]
        finally:
            db.close()
    pieces = sql.split("?")
    assert len(pieces) == len(params) + 1, (sql, params)
    text = pieces[0] + "".join(_sql_literal(v) + rest for v, rest in zip(params, pieces[1:]))
    out = shared_pg().sql(text, server.database_url)
    return [tuple(_pg_value(c) for c in line.split("|")) for line in out.splitlines()]
