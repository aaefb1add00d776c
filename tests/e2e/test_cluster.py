"""Several instances on one PostgreSQL database (DESIGN §6): what one instance changes reaches the
others within a second; bootstrap, refresh rotation and the brute-force budget hold across
instances; acknowledged writes survive kill -9 of an instance; a stopped database costs writes
(503 + Retry-After), not Bearer validation.

One module fixture: a fresh database on the session PgCluster (`pg`), one master key, one issuer,
three instances A, B, C (each with its own data dir, --tls off, loopback) and nginx balancing
round robin over them. Every process is stopped in teardown, whatever happened. Propagation delays
are printed (run with -s to see them)."""
import base64
import concurrent.futures
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import urllib.parse
import uuid

import jwt
import pytest
import requests

from conftest import ADMIN_PASSWORD, free_port, login, start_server

NGINX = "/usr/sbin/nginx"
ISSUER = "https://auth.cluster.test"
PASSWORD = "violet-harbour-lantern-73"
NEW_PASSWORD = "copper-meadow-sprocket-19"
PROPAGATION_LIMIT_S = 1.0  # DESIGN §6: "reaches every instance within 1 s"
POLL_S = 0.01
# Lockout: a budget of 5 per (user, source); the per-IP limit is raised so that the module's
# own failures (all from 127.0.0.1) never trip them and mask the per-pair budget under test.
SERVER_ARGS = ("--set", "lockout.max_failures=5", "--set", "lockout.ip_max_failures=10000",
               "--set", f"tokens.issuer={ISSUER}")

NGINX_CONF = """worker_processes 1;
error_log {prefix}logs/error.log warn;
pid {prefix}nginx.pid;
events {{ worker_connections 512; }}
http {{
    access_log {prefix}logs/access.log;
    client_body_temp_path {prefix}tmp/client_body;
    proxy_temp_path {prefix}tmp/proxy;
    fastcgi_temp_path {prefix}tmp/fastcgi;
    uwsgi_temp_path {prefix}tmp/uwsgi;
    scgi_temp_path {prefix}tmp/scgi;
    upstream portcullis {{
{servers}
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://portcullis;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
        }}
    }}
}}
"""

# Every measured propagation delay, printed again at teardown.
DELAYS = []


# ---------------------------------------------------------------- helpers

def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def me(server, token=None, headers=None):
    return requests.get(server.url("/v1/me"), headers=headers or bearer(token), timeout=5)


def refresh(server, refresh_token):
    return requests.post(server.url("/oauth2/token"),
                         data={"grant_type": "refresh_token", "refresh_token": refresh_token},
                         timeout=10)


def tokens(server, username="admin", password=ADMIN_PASSWORD):
    r = login(server, username=username, password=password)
    assert r.status_code == 200, r.text
    return r.json()


def metric(server, name):
    text = requests.get(server.url("/metrics"), timeout=5).text
    m = re.search(rf"^{name} (\d+(?:\.\d+)?)", text, re.M)
    assert m, f"{name} missing from {server.base}/metrics"
    return float(m.group(1))


def wait_for(what, check, limit_s, poll_s=POLL_S):
    """Polls check() (True when done) from now; returns the seconds it took, or fails once
    `limit_s` has passed. The measured delay is printed and kept for the summary."""
    t0 = time.monotonic()
    while True:
        if check():
            delay = time.monotonic() - t0
            DELAYS.append((what, delay))
            print(f"\n  propagation: {what}: {delay * 1000:.0f} ms")
            return delay
        if time.monotonic() - t0 > limit_s:
            pytest.fail(f"{what}: not within {limit_s} s")
        time.sleep(poll_s)


def refused(server, token=None, headers=None):
    return lambda: me(server, token, headers).status_code == 401


class Nginx:
    def __init__(self, tmp, ports):
        self.prefix = os.path.join(tmp, "nginx") + "/"
        for sub in ("logs", "tmp"):
            os.makedirs(self.prefix + sub, exist_ok=True)
        # As root, nginx's workers run as nobody: they must reach the prefix.
        for path in (tmp, self.prefix, self.prefix + "tmp"):
            os.chmod(path, 0o755)
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        servers = "\n".join(f"        server 127.0.0.1:{p};" for p in ports)
        conf = self.prefix + "nginx.conf"
        with open(conf, "w", encoding="utf-8") as f:
            f.write(NGINX_CONF.format(prefix=self.prefix, servers=servers, port=self.port))
        cmd = [NGINX, "-p", self.prefix, "-e", self.prefix + "logs/error.log", "-c", conf,
               "-g", "daemon off;"]
        check = subprocess.run([*cmd, "-t"], capture_output=True, text=True, timeout=30)
        assert check.returncode == 0, check.stderr
        self.log = open(self.prefix + "logs/stdout.log", "ab")
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 15
            while True:
                assert self.proc.poll() is None, "nginx exited early"
                try:
                    requests.get(self.base + "/healthz", timeout=1)
                    return
                except requests.RequestException:
                    assert time.monotonic() < deadline, "nginx is not listening"
                    time.sleep(0.05)
        except BaseException:
            self.stop()
            raise

    def url(self, path):
        return self.base + path

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)  # graceful
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


class Cluster:
    """Three instances on one database, and nginx in front of them."""

    def __init__(self, pg, tmp, name):
        self.pg = pg
        self.tmp = tmp
        self.db_url = pg.create_database(name)
        self.env = {"PORTCULLIS_DATABASE_URL": self.db_url,
                    "PORTCULLIS_MASTER_KEY": base64.b64encode(os.urandom(32)).decode()}
        self.instances = {}
        self.nginx = None

    def start(self, names):
        """Starts the named instances at the same moment and waits until all are healthy. An
        instance started before comes back on its port and data dir."""
        started = {}
        for n in names:
            data_dir = os.path.join(self.tmp, n)
            os.makedirs(data_dir, exist_ok=True)
            port = self.instances[n].port if n in self.instances else None
            started[n] = start_server(data_dir=data_dir, args=SERVER_ARGS, env=self.env,
                                      wait=False, port=port)
            self.instances[n] = started[n]
        for s in started.values():
            s.wait_healthy()
        return started

    def __getitem__(self, name):
        return self.instances[name]

    def stop(self):
        if self.nginx is not None:
            self.nginx.stop()
        for s in self.instances.values():
            s.stop()


@pytest.fixture(scope="module")
def cluster(pg):
    tmp = tempfile.mkdtemp(prefix="portcullis-cluster-")
    c = Cluster(pg, tmp, "cluster_" + uuid.uuid4().hex[:12])
    try:
        c.start("ABC")
        if os.path.exists(NGINX):
            c.nginx = Nginx(tmp, [c[n].port for n in "ABC"])
        yield c
    finally:
        c.stop()
        if DELAYS:
            print("\n  propagation delays (limit 1 s): " +
                  ", ".join(f"{what} {d * 1000:.0f} ms" for what, d in DELAYS))
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture(scope="module")
def admin(cluster):
    return tokens(cluster["A"])["access_token"]


def create_user(cluster, admin, prefix, roles=("user",)):
    name = f"{prefix}-{uuid.uuid4().hex[:8]}"
    r = requests.post(cluster["A"].url("/v1/users"), headers=bearer(admin), timeout=10,
                      json={"username": name, "password": PASSWORD, "roles": list(roles)})
    assert r.status_code == 201, r.text
    return r.json()


@pytest.fixture
def front(cluster):
    """nginx if installed (CI installs it: a missing nginx there is a failure), else A."""
    if cluster.nginx is None:
        assert not os.environ.get("CI"), f"{NGINX} is missing in CI (scripts/install-deps.sh)"
        return cluster["A"]
    return cluster.nginx


# ---------------------------------------------------------------- propagation

def test_nginx_balances_over_all_three_instances(cluster, front):
    if cluster.nginx is None:
        pytest.skip(f"{NGINX} is not installed")
    before = {n: metric(cluster[n], 'portcullis_http_requests_total{route="/healthz",status="200"}')
              for n in "ABC"}
    for _ in range(6):
        assert requests.get(front.url("/healthz"), timeout=5).status_code == 200
    # A request is counted once its answer is written: scrape again (bounded) until it is.
    for _ in range(100):
        after = {n: metric(cluster[n],
                           'portcullis_http_requests_total{route="/healthz",status="200"}')
                 for n in "ABC"}
        if all(after[n] > before[n] for n in "ABC"):
            break
    assert all(after[n] > before[n] for n in "ABC"), (before, after)


def test_login_refresh_revoke_on_three_instances_reaches_a_within_a_second(cluster, front):
    A, B, C = cluster["A"], cluster["B"], cluster["C"]
    first = tokens(front)
    r = refresh(B, first["refresh_token"])
    assert r.status_code == 200, r.text
    second = r.json()
    for s in (A, B, C):  # valid everywhere, and now in A's verified-token cache
        assert me(s, second["access_token"]).status_code == 200

    r = requests.post(C.url("/oauth2/revoke"), data={"token": second["access_token"]}, timeout=5)
    assert r.status_code == 200, r.text
    assert me(C, second["access_token"]).status_code == 401
    assert wait_for("access token revoked on C -> refused on A",
                    refused(A, second["access_token"]), 5) < PROPAGATION_LIMIT_S
    # Each instance follows the feed on its own: B within the same limit, measured from now.
    assert wait_for("access token revoked on C -> refused on B",
                    refused(B, second["access_token"]), 5) < PROPAGATION_LIMIT_S

    # /v1/logout on C: the presented token and the refresh family.
    assert me(A, first["access_token"]).status_code == 200
    r = requests.post(C.url("/v1/logout"), json={"refresh_token": second["refresh_token"]},
                      headers=bearer(first["access_token"]), timeout=5)
    assert r.status_code == 204, r.text
    assert wait_for("logout on C -> access token refused on A",
                    refused(A, first["access_token"]), 5) < PROPAGATION_LIMIT_S
    r = refresh(A, second["refresh_token"])
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant", r.text


def test_refresh_token_replayed_on_another_instance_revokes_the_family(cluster):
    A, B, C = cluster["A"], cluster["B"], cluster["C"]
    first = tokens(A)
    r = refresh(A, first["refresh_token"])
    assert r.status_code == 200, r.text
    successor = r.json()["refresh_token"]
    replay = refresh(B, first["refresh_token"])
    assert replay.status_code == 400, replay.text
    assert replay.json()["error"] == "invalid_grant"
    r = refresh(C, successor)
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant", r.text
    # The reuse is audited, whichever instance saw it.
    admin = tokens(C)["access_token"]
    r = requests.get(A.url("/v1/audit"), params={"type": "token.refresh_reuse_detected"},
                     headers=bearer(admin), timeout=5)
    assert r.status_code == 200 and r.json()["items"], r.text


def test_a_dpop_proof_used_on_one_instance_is_a_replay_on_another(cluster):
    # DESIGN §9: the jti replay cache is shared by the instances through the store. Behind one
    # front, every instance sees the same URL (here: the same Host header).
    from test_dpop import Key

    A, B, C = cluster["A"], cluster["B"], cluster["C"]
    key = Key()
    front_token = "http://front.example/oauth2/token"
    r = requests.post(A.url("/oauth2/token"), timeout=10, headers={
        "Host": "front.example", "DPoP": key.proof("POST", front_token)},
        data={"grant_type": "password", "username": "admin", "password": ADMIN_PASSWORD})
    assert r.status_code == 200, r.text
    token = r.json()["access_token"]
    proof = key.proof("GET", "http://front.example/v1/me", token=token)
    headers = {"Host": "front.example", "Authorization": f"DPoP {token}", "DPoP": proof}
    ok = requests.get(B.url("/v1/me"), headers=headers, timeout=5)
    assert ok.status_code == 200, ok.text
    replay = requests.get(C.url("/v1/me"), headers=headers, timeout=5)
    assert replay.status_code == 401, replay.text
    assert 'error="invalid_dpop_proof"' in replay.headers["WWW-Authenticate"]
    fresh = dict(headers, DPoP=key.proof("GET", "http://front.example/v1/me", token=token))
    assert requests.get(C.url("/v1/me"), headers=fresh, timeout=5).status_code == 200


def test_password_change_and_logout_all_reach_the_other_instances(cluster, admin):
    A, B, C = cluster["A"], cluster["B"], cluster["C"]
    user = create_user(cluster, admin, "pwchange")
    on_b = tokens(B, user["username"], PASSWORD)
    on_c = tokens(C, user["username"], PASSWORD)
    on_a = tokens(A, user["username"], PASSWORD)
    assert me(B, on_b["access_token"]).status_code == 200
    assert me(C, on_c["access_token"]).status_code == 200

    r = requests.post(A.url("/v1/me/password"), headers=bearer(on_a["access_token"]), timeout=10,
                      json={"current_password": PASSWORD, "new_password": NEW_PASSWORD})
    assert r.status_code == 204, r.text
    assert wait_for("password change on A -> old token refused on B",
                    refused(B, on_b["access_token"]), 5) < PROPAGATION_LIMIT_S
    assert wait_for("password change on A -> old token refused on C",
                    refused(C, on_c["access_token"]), 5) < PROPAGATION_LIMIT_S
    assert refresh(C, on_c["refresh_token"]).status_code == 400

    # logout-all on B, with a token issued after the password change.
    t1 = tokens(A, user["username"], NEW_PASSWORD)
    t2 = tokens(C, user["username"], NEW_PASSWORD)
    assert me(A, t1["access_token"]).status_code == 200
    assert me(C, t2["access_token"]).status_code == 200
    r = requests.post(B.url("/v1/logout"), json={"all": True}, headers=bearer(t2["access_token"]),
                      timeout=5)
    assert r.status_code == 204, r.text
    assert wait_for("logout-all on B -> token refused on A", refused(A, t1["access_token"]),
                    5) < PROPAGATION_LIMIT_S
    assert wait_for("logout-all on B -> token refused on C", refused(C, t2["access_token"]),
                    5) < PROPAGATION_LIMIT_S


def test_disabling_a_user_on_a_reaches_b_within_a_second(cluster, admin):
    A, B = cluster["A"], cluster["B"]
    user = create_user(cluster, admin, "disabled")
    t = tokens(B, user["username"], PASSWORD)
    assert me(B, t["access_token"]).status_code == 200
    r = requests.patch(A.url(f"/v1/users/{user['id']}"), json={"disabled": True},
                       headers=bearer(admin), timeout=5)
    assert r.status_code == 200, r.text
    assert wait_for("user disabled on A -> token refused on B", refused(B, t["access_token"]),
                    5) < PROPAGATION_LIMIT_S
    assert refresh(B, t["refresh_token"]).status_code == 400


def test_role_removal_on_a_reaches_b_within_a_second(cluster, admin):
    A, B = cluster["A"], cluster["B"]
    role = f"cl-reader-{uuid.uuid4().hex[:6]}"
    r = requests.post(A.url("/v1/roles"), json={"name": role, "permissions": ["users:read"]},
                      headers=bearer(admin), timeout=5)
    assert r.status_code == 201, r.text
    user = create_user(cluster, admin, "demoted", roles=("user", role))
    t = tokens(B, user["username"], PASSWORD)
    r = requests.get(B.url("/v1/users"), headers=bearer(t["access_token"]), timeout=5)
    assert r.status_code == 200, r.text
    r = requests.put(A.url(f"/v1/users/{user['id']}/roles"), json={"roles": ["user"]},
                     headers=bearer(admin), timeout=5)
    assert r.status_code == 200, r.text
    assert wait_for("role removed on A -> token refused on B", refused(B, t["access_token"]),
                    5) < PROPAGATION_LIMIT_S


def test_deleted_client_tokens_are_refused_everywhere_within_a_second(cluster, admin):
    A, B, C = cluster["A"], cluster["B"], cluster["C"]
    r = requests.post(A.url("/v1/clients"), headers=bearer(admin), timeout=5, json={
        "name": "cluster-svc", "grant_types": ["client_credentials"], "scopes": ["users:read"]})
    assert r.status_code == 201, r.text
    client = r.json()

    def grant(s):
        return requests.post(s.url("/oauth2/token"), data={"grant_type": "client_credentials"},
                             auth=(client["client_id"], client["client_secret"]), timeout=10)

    # Twice on each instance: the second grant is served from the instance's client cache.
    for s in (A, B, C, A, B, C):
        r = grant(s)
        assert r.status_code == 200, r.text
    token = r.json()["access_token"]
    for s in (A, B, C):
        assert me(s, token).status_code == 200, s.base
    r = requests.delete(B.url(f"/v1/clients/{client['client_id']}"), headers=bearer(admin),
                        timeout=5)
    assert r.status_code == 204, r.text
    assert me(B, token).status_code == 401
    assert grant(B).status_code == 401  # B's cached client is gone at once
    assert wait_for("client deleted on B -> its token refused on A", refused(A, token),
                    5) < PROPAGATION_LIMIT_S
    assert wait_for("client deleted on B -> its token refused on C", refused(C, token),
                    5) < PROPAGATION_LIMIT_S
    for s in (A, C):  # and their cached clients
        assert wait_for(f"client deleted on B -> its secret refused on {s.base}",
                        lambda s=s: grant(s).status_code == 401, 5) < PROPAGATION_LIMIT_S


def test_api_key_revoked_on_b_is_refused_by_a_within_a_second(cluster, admin):
    A, B = cluster["A"], cluster["B"]
    r = requests.post(A.url("/v1/api-keys"), json={"name": "cluster-key", "scopes": ["users:read"]},
                      headers=bearer(admin), timeout=5)
    assert r.status_code == 201, r.text
    key = r.json()
    headers = {"X-API-Key": key["key"]}
    for _ in range(2):  # the second use is answered from A's cache
        assert me(A, headers=headers).status_code == 200
    assert me(B, headers=headers).status_code == 200
    r = requests.delete(B.url(f"/v1/api-keys/{key['id']}"), headers=bearer(admin), timeout=5)
    assert r.status_code == 204, r.text
    assert me(B, headers=headers).status_code == 401
    assert wait_for("API key revoked on B -> refused on A", refused(A, headers=headers),
                    5) < PROPAGATION_LIMIT_S


def test_key_rotation_on_a_reaches_the_jwks_of_b_and_c(cluster, admin):
    A, B, C = cluster["A"], cluster["B"], cluster["C"]
    old_kid = jwt.get_unverified_header(admin)["kid"]
    r = requests.post(A.url("/v1/keys/rotate"), headers=bearer(admin), timeout=30)
    assert r.status_code == 201, r.text
    new_kid = r.json()["kid"]
    assert new_kid != old_kid

    def listed(server):
        def check():
            keys = requests.get(server.url("/.well-known/jwks.json"), timeout=5).json()["keys"]
            return new_kid in {k["kid"] for k in keys}
        return check

    assert wait_for("key rotated on A -> new kid in B's JWKS", listed(B), 5) < PROPAGATION_LIMIT_S
    assert wait_for("key rotated on A -> new kid in C's JWKS", listed(C), 5) < PROPAGATION_LIMIT_S
    fresh = tokens(A)["access_token"]
    assert jwt.get_unverified_header(fresh)["kid"] == new_kid
    for s in (A, B, C):
        assert me(s, fresh).status_code == 200, s.base
        assert me(s, admin).status_code == 200, s.base  # the old key still verifies
        states = {k["kid"]: k["state"] for k in
                  requests.get(s.url("/v1/keys"), headers=bearer(fresh), timeout=5).json()["items"]}
        assert states[new_kid] == "active" and states[old_kid] == "verify_only", (s.base, states)
        # every algorithm's key was rotated, and every instance lists them alike
        for k in r.json()["keys"]:
            assert states[k["kid"]] == "active" and states[k["previous_kid"]] == "verify_only", \
                (s.base, k["alg"], states)
    # B now signs with the new key too.
    assert jwt.get_unverified_header(tokens(B)["access_token"])["kid"] == new_kid


def test_a_lost_listen_connection_costs_no_change(cluster, pg):
    # Every instance's LISTEN connection is cut (as by a database fail-over or a proxy timeout);
    # a revocation right after must still reach A in time: the follower reconnects and polls
    # the feed instead of waiting for a notification that was never delivered.
    A, C = cluster["A"], cluster["C"]
    t = tokens(A)
    assert me(A, t["access_token"]).status_code == 200
    database = urllib.parse.urlsplit(cluster.db_url).path.lstrip("/")
    cut = pg.sql("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                 f"WHERE datname = '{database}' AND query LIKE 'LISTEN %'", pg.admin_url)
    assert int(cut) == 3, f"expected one LISTEN connection per instance, cut {cut}"
    r = requests.post(C.url("/oauth2/revoke"), data={"token": t["access_token"]}, timeout=5)
    assert r.status_code == 200, r.text
    assert wait_for("LISTEN connections cut, revoked on C -> refused on A",
                    refused(A, t["access_token"]), 5) < PROPAGATION_LIMIT_S
    # and notifications flow again afterwards
    t = tokens(A)
    assert me(A, t["access_token"]).status_code == 200
    r = requests.post(C.url("/oauth2/revoke"), data={"token": t["access_token"]}, timeout=5)
    assert r.status_code == 200, r.text
    assert wait_for("after the LISTEN reconnect, revoked on C -> refused on A",
                    refused(A, t["access_token"]), 5) < PROPAGATION_LIMIT_S


# ---------------------------------------------------------------- start-up

def test_simultaneous_first_start_makes_one_admin_and_one_key_set(pg):
    tmp = tempfile.mkdtemp(prefix="portcullis-cluster-start-")
    c = Cluster(pg, tmp, "simultaneous_" + uuid.uuid4().hex[:12])
    try:
        c.start("XYZ")
        token = tokens(c["X"])["access_token"]
        key_sets = []
        for n in "XYZ":
            s = c[n]
            assert requests.get(s.url("/readyz"), timeout=5).status_code == 200, n
            users = requests.get(s.url("/v1/users"), headers=bearer(token), timeout=5).json()
            assert [u["username"] for u in users["items"]] == ["admin"], (n, users)
            # One key set: exactly one active key per algorithm (ID tokens, DESIGN §8).
            keys = requests.get(s.url("/v1/keys"), headers=bearer(token), timeout=5).json()
            assert len(keys["items"]) == 3, (n, keys)
            assert all(k["state"] == "active" for k in keys["items"]), (n, keys)
            key_sets.append({k["alg"]: k["kid"] for k in keys["items"]})
            assert me(s, token).status_code == 200
        assert key_sets[0] == key_sets[1] == key_sets[2], key_sets
        assert set(key_sets[0]) == {"EdDSA", "ES256", "RS256"}
        assert jwt.get_unverified_header(token)["kid"] == key_sets[0]["EdDSA"]
        # The database agrees, and exactly one instance logged creating the administrator.
        assert c.pg.sql("SELECT count(*) FROM users", c.db_url) == "1"
        assert c.pg.sql("SELECT count(*) FROM signing_keys", c.db_url) == "3"
        bootstraps = [e for n in "XYZ" for e in c[n].log_events()
                      if e.get("event") == "user.created" and e.get("actor") == "bootstrap"]
        assert len(bootstraps) == 1, bootstraps
    finally:
        c.stop()
        shutil.rmtree(tmp, ignore_errors=True)


# ---------------------------------------------------------------- brute force across instances

def test_parallel_wrong_passwords_spread_over_three_instances_get_five_verifications(cluster,
                                                                                     admin):
    # DESIGN §5/§6: the check and the count are one atomic step in the shared database, so
    # three instances together allow max_failures verifications for one (user, source) pair.
    user = create_user(cluster, admin, "lockrace")
    servers = [cluster[n] for n in "ABC"]
    name = "portcullis_password_verifications_total"
    before = sum(metric(s, name) for s in servers)

    def attempt(i):
        s = servers[i % 3]
        return requests.post(s.url("/oauth2/token"), timeout=60, data={
            "grant_type": "password", "username": user["username"],
            "password": f"wrong-guess-{i:04d}-xyz"}).status_code

    with concurrent.futures.ThreadPoolExecutor(max_workers=30) as pool:
        codes = list(pool.map(attempt, range(30)))
    ran = sum(metric(s, name) for s in servers) - before
    print(f"\n  lockout race: {ran:.0f} verifications, statuses {sorted(codes)}")
    assert set(codes) <= {400, 429}, codes
    assert ran <= 5, f"{ran:.0f} password verifications for one (user, IP) pair; budget 5"
    assert codes.count(400) <= 5 and codes.count(429) >= 25, codes
    # Every instance shows the lock, including those that never saw a failed attempt for it
    # (the listing reads the deployment's throttle records).
    for s in servers:
        r = requests.get(s.url(f"/v1/users/{user['id']}"), headers=bearer(admin), timeout=5)
        assert r.status_code == 200 and r.json()["locked_until"] is not None, (s.base, r.text)
        r = requests.get(s.url("/v1/users"), params={"username": user["username"]},
                         headers=bearer(admin), timeout=5)
        listed = [u for u in r.json()["items"] if u["id"] == user["id"]]
        assert listed and listed[0]["locked_until"] is not None, (s.base, r.text)


# ---------------------------------------------------------------- faults

def test_acknowledged_writes_survive_kill_9_of_an_instance(cluster, admin):
    A, B, C = cluster["A"], cluster["B"], cluster["C"]
    servers = [A, B, C]
    prefix = "k9-" + uuid.uuid4().hex[:6]
    total = 200
    done = threading.Semaphore(0)
    acked, failed = [], []
    lock = threading.Lock()

    def write(i):
        s = servers[i % 3]
        name = f"{prefix}-{i:03d}"
        try:
            r = requests.post(s.url("/v1/roles"), headers=bearer(admin), timeout=15,
                              json={"name": name, "permissions": ["articles:read"]})
            with lock:
                (acked if 200 <= r.status_code < 300 else failed).append((name, r.status_code))
        except requests.RequestException as e:
            with lock:
                failed.append((name, type(e).__name__))
        finally:
            done.release()

    with concurrent.futures.ThreadPoolExecutor(max_workers=12) as pool:
        for i in range(total):
            pool.submit(write, i)
        for _ in range(total // 3):
            done.acquire()
        B.stop(signal.SIGKILL)
        with lock:
            killed_at = len(acked) + len(failed)
    print(f"\n  kill -9: B killed after {killed_at} of {total} answers; {len(acked)} "
          f"acknowledged, {len(failed)} failed")

    def on_b(name):
        return int(name.rsplit("-", 1)[1]) % 3 == 1

    # Every write to A and C succeeded; only B's failed, once it was gone.
    assert [n for n, _ in failed if not on_b(n)] == [], failed
    assert len(acked) >= total * 2 // 3
    assert any(on_b(n) for n, _ in acked), "B acknowledged nothing before it was killed"

    present = set()
    cursor = None
    while True:
        params = {"limit": 500, **({"cursor": cursor} if cursor else {})}
        r = requests.get(A.url("/v1/roles"), params=params, headers=bearer(admin), timeout=10)
        assert r.status_code == 200, r.text
        present |= {role["name"] for role in r.json()["items"]}
        cursor = r.json()["next_cursor"]
        if not cursor:
            break
    missing = [n for n, _ in acked if n not in present]
    assert missing == [], f"acknowledged but lost: {missing}"

    # B again, on the same port and data dir: it serves and sees what was written meanwhile.
    cluster.start("B")
    r = requests.get(cluster["B"].url(f"/v1/roles/{acked[-1][0]}"), headers=bearer(admin),
                     timeout=5)
    assert r.status_code == 200, r.text


def test_database_stopped_and_restarted_under_load(cluster, pg):
    A = cluster["A"]
    session = tokens(A)
    admin = session["access_token"]
    unseen = tokens(cluster["B"])["access_token"]  # A has never verified this one
    r = requests.post(A.url("/v1/api-keys"), json={"name": "outage-key", "scopes": []},
                      headers=bearer(admin), timeout=5)
    assert r.status_code == 201, r.text
    api_key = {"X-API-Key": r.json()["key"]}
    assert me(A, headers=api_key).status_code == 200  # now cached on A
    r = requests.post(A.url("/v1/api-keys"), json={"name": "unused-key", "scopes": []},
                      headers=bearer(admin), timeout=5)
    assert r.status_code == 201, r.text
    unused_key = {"X-API-Key": r.json()["key"]}  # its first check needs the database
    stop = threading.Event()
    statuses, errors = [], []

    def loop():
        with requests.Session() as session:
            while not stop.is_set():
                try:
                    statuses.append(session.get(A.url("/v1/me"), headers=bearer(admin),
                                                timeout=5).status_code)
                except requests.RequestException as e:
                    errors.append(repr(e))
                time.sleep(0.005)

    worker = threading.Thread(target=loop, daemon=True)
    worker.start()
    try:
        time.sleep(0.2)
        pg.stop()
        outage_from = len(statuses)
        try:
            r = login(A)
            assert r.status_code == 503, (r.status_code, r.text)
            assert int(r.headers["Retry-After"]) >= 1, r.headers
            r = requests.post(A.url("/v1/roles"), headers=bearer(admin), timeout=10,
                              json={"name": "during-outage", "permissions": []})
            assert r.status_code == 503, (r.status_code, r.text)
            assert int(r.headers["Retry-After"]) >= 1, r.headers
            r = refresh(A, session["refresh_token"])
            assert r.status_code == 503, (r.status_code, r.text)
            assert int(r.headers["Retry-After"]) >= 1, r.headers
            assert requests.get(A.url("/readyz"), timeout=5).status_code == 503
            # Validation needs no database: a token A never saw, and a cached API key.
            r = me(A, unseen)
            assert r.status_code == 200, (r.status_code, r.text)
            r = me(A, headers=api_key)
            assert r.status_code == 200, (r.status_code, r.text)
            # An API key A cannot check without the database: retry later, not "invalid".
            r = me(A, headers=unused_key)
            assert r.status_code == 503, (r.status_code, r.text)
            assert int(r.headers["Retry-After"]) >= 1, r.headers
            time.sleep(0.5)  # Bearer calls keep answering while the database is down
            during = statuses[outage_from:]
        finally:
            if not pg.running:
                pg.restart()
        t0 = time.monotonic()
        while True:
            ready = requests.get(A.url("/readyz"), timeout=5).status_code == 200
            if ready and login(A).status_code == 200:
                break
            assert time.monotonic() - t0 < 20, "not recovered 20 s after PostgreSQL restarted"
            time.sleep(0.1)
        print(f"\n  database restart: login and /readyz back after "
              f"{time.monotonic() - t0:.2f} s")
    finally:
        stop.set()
        worker.join(timeout=10)
        if not pg.running:
            pg.restart()
    assert errors == [], errors[:5]
    assert during and set(during) == {200}, sorted(set(during))
    assert set(statuses) == {200}
    # The refused write left nothing behind; the refresh token is still good.
    r = requests.get(A.url("/v1/roles/during-outage"), headers=bearer(admin), timeout=5)
    assert r.status_code == 404, r.text
    assert refresh(A, session["refresh_token"]).status_code == 200


def test_http_basic_during_a_database_outage_is_503_not_401(cluster, pg):
    # Correct credentials that cannot be checked (no database, nothing cached) must be "retry
    # later", as at the token endpoint — not "invalid credentials", which tells clients and
    # forward-auth proxies that the password is wrong.
    A = cluster["A"]
    user = create_user(cluster, tokens(A)["access_token"], "basic-outage")
    try:
        pg.stop()
        r = requests.get(A.url("/v1/me"), auth=(user["username"], PASSWORD), timeout=10)
        print(f"\n  Basic with the right password, database down: {r.status_code} "
              f"Retry-After={r.headers.get('Retry-After')} "
              f"WWW-Authenticate={r.headers.get('WWW-Authenticate')}")
        assert r.status_code == 503, (r.status_code, r.text)
        assert int(r.headers["Retry-After"]) >= 1, r.headers
    finally:
        if not pg.running:
            pg.restart()


def test_no_instance_ever_answered_500(cluster):
    # Last in the module: whatever the tests above did (including the database outage and the
    # kill), no instance answered a request with 500 (DESIGN §4: never a 500).
    for n, s in cluster.instances.items():
        bad = [e for e in s.log_events()
               if e.get("event") == "http.request" and e.get("status", 0) >= 500
               and e.get("status") != 503]
        assert bad == [], (n, bad[:5])

