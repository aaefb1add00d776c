"""Shared fixtures: start the real `portcullis` binary on a free loopback port.

Each test module gets its own server and data directory. Tests talk HTTP to it with requests.
"""
import json
import os
import signal
import socket
import subprocess
import tempfile
import time

import pytest
import requests

BIN = os.environ.get("PORTCULLIS_BIN", "")
ADMIN_PASSWORD = "correct-horse-battery-staple-42"


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A running `portcullis serve` process."""

    def __init__(self, data_dir, port, proc, scheme, log_path):
        self.data_dir = data_dir
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
                 wait=True):
    assert BIN and os.path.exists(BIN), "set PORTCULLIS_BIN to the portcullis binary"
    data_dir = data_dir or tempfile.mkdtemp(prefix="portcullis-e2e-")
    port = free_port()
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("PORTCULLIS_")}
    # Keep Argon2id at the defaults of DESIGN §3: tests measure the real thing.
    if admin_password is not None:
        full_env["PORTCULLIS_ADMIN_PASSWORD"] = admin_password
    if env:
        full_env.update(env)
    log_path = os.path.join(data_dir, "server.log")
    log = open(log_path, "ab")
    cmd = [BIN, "serve", "--data-dir", data_dir, "--listen", f"127.0.0.1:{port}", "--tls", tls,
           *args]
    proc = subprocess.Popen(cmd, env=full_env, stdout=log, stderr=subprocess.STDOUT)
    scheme = "http" if tls == "off" else "https"
    server = Server(data_dir, port, proc, scheme, log_path)
    if wait:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                raise RuntimeError("server exited early:\n" + server.log_text())
            try:
                r = requests.get(server.url("/healthz"), timeout=1, verify=False)
                if r.status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                server.stop(signal.SIGKILL)
                raise RuntimeError("server did not become healthy:\n" + server.log_text())
            time.sleep(0.05)
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
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("PORTCULLIS_")}
    if env:
        full_env.update(env)
    return subprocess.run([BIN, *args, "--data-dir", data_dir] if data_dir else [BIN, *args],
                          input=stdin, capture_output=True, text=True, env=full_env, timeout=60)


@pytest.fixture(scope="session")
def pg():
    """A throwaway PostgreSQL 15 cluster (tests/e2e/pgcluster.py) shared by the whole session,
    started on first use. Give each test or module its own database:
    `url = pg.create_database("name")`. Fault tests that stop or kill the server should start their
    own PgCluster instead, so they do not disturb the others."""
    from pgcluster import PgCluster

    cluster = PgCluster().start()
    yield cluster
    cluster.close()
