#!/usr/bin/python3
"""HTTP load driver: Portcullis and the FastAPI reference peer, same workloads, one run.

  /usr/bin/python3 bench/http/bench.py --bin build/bench/src/cli/portcullis [--duration 10s]
      [--workloads me,login] [--peers fastapi|oidc|none] [--conns 32] [--repeats 1]
      [--database sqlite|postgres] [--instances N] [--nginx-front] [--no-split-cores]
      [--set KEY=VALUE ...]

Portcullis side (--database, --instances):
  sqlite      (default) one instance on <data_dir>/portcullis.db.
  postgres    a throwaway PostgreSQL 15 cluster (tests/e2e/pgcluster.py: initdb in /tmp, a free
              loopback port, fsync and synchronous_commit on), one database, a generated
              PORTCULLIS_MASTER_KEY; every instance gets the same URL and key (one deployment).
  --instances N (postgres only) N portcullis processes on that database behind an nginx
              round-robin upstream (keepalive to the instances, 1 worker); wrk targets nginx.
              With N > 1 each instance gets server.threads = password.hash_workers = cores / N
              (at least 1), so the deployment runs as many network and hash threads as one
              default instance; --no-split-cores keeps every instance at its defaults.
  --nginx-front  the same nginx in front of a single instance (what nginx alone costs).
  --set KEY=VALUE  passed to every instance (`portcullis serve --set`), e.g. database.pool_size=2.
  Server CPU µs/req sums the portcullis processes only; PostgreSQL (postmaster and backends) and
  nginx are metered separately and printed in their own columns.

Workloads (wrk -t2 -cCONNS --latency, keep-alive HTTP/1.1 over loopback, plain HTTP on both sides):
  me          GET /v1/me with a Bearer access token     (fastapi-ref: GET /users/me, W1)
  login       password grant, Argon2id m=19456 t=2 p=1  (fastapi-ref: POST /token, W2)
  refresh     refresh_token grant with rotation         (fastapi-ref: POST /refresh, W4)
  cc          client_credentials, client_secret_basic   (fastapi-ref: API key -> JWT, W3;
                                                         oidc-provider: client_credentials, W3)
  introspect  RFC 7662 introspection of an access token  (oidc-provider: opaque token, W1b)
  apikey      GET /v1/me with X-API-Key (cached verification; no peer has an API-key GET)
  basic       GET /v1/me with HTTP Basic (cached verification)
  fwd         GET /v1/forward-auth with a Bearer token and X-Forwarded-* headers
  fwd-nginx   the same decision through nginx auth_request in front of a static upstream,
              next to that nginx without auth_request (the ceiling); needs /usr/sbin/nginx
For each cell it prints req/s, p50/p99 latency, non-2xx count, and server CPU microseconds per
request (utime+stime of the server process tree / requests), then the ratios Portcullis/peer.
Memory, per cell: idle RSS (VmRSS of the server process tree after the warm-up, once idle, just
before the measured run) and peak RSS (VmRSS of the tree sampled every 100 ms during the run, and
VmHWM when the server is one process); a tree's RSS is the sum over its processes (nginx master
+ workers, uvicorn + workers), so pages they share count once per process. Above the table:
Portcullis' RSS once ready, before any request, and its VmHWM over the whole run.
Needs: wrk, and for the peer ../shared/peers/install-deps.sh (Debian python3-fastapi, uvicorn...);
postgresql-15 for --database postgres, /usr/sbin/nginx for --instances > 1 and fwd-nginx.
Every load run is bounded by --duration and wrapped in a timeout; all traffic is on 127.0.0.1.
Everything started here (servers, nginx, PostgreSQL, temporary directories) is stopped and removed
at exit, also after an error, Ctrl-C or SIGTERM.
"""
import argparse
import base64
import concurrent.futures
import ctypes
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
PEERS = os.path.normpath(os.path.join(ROOT, "..", "shared", "peers"))
PY = "/usr/bin/python3"
PASSWORD = "correct horse battery staple"
ADMIN_PASSWORD = "bench-admin-password-0123"
PEER_API_KEY = "pk_bench_0123456789abcdef0123456789abcdef"
OIDC_BASIC = "Basic " + __import__("base64").b64encode(
    b"bench:bench-secret-0123456789abcdef0123456789abcdef").decode()
CLK_TCK = os.sysconf("SC_CLK_TCK")
NGINX = "/usr/sbin/nginx"
PR_SET_PDEATHSIG = 1


def die_with_parent():
    """preexec_fn: the child gets SIGTERM when this process dies, even by SIGKILL."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tree_pids(root):
    pids, frontier = [root], [root]
    while frontier:
        out = subprocess.run(["ps", "-o", "pid=", "--ppid", ",".join(map(str, frontier))],
                             capture_output=True, text=True).stdout.split()
        frontier = [int(p) for p in out]
        pids += frontier
    return pids


def cpu_ticks(root):
    total = 0
    for p in tree_pids(root):
        try:
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except OSError:
            pass
    return total


def status_kb(pid, field):
    """A "VmRSS"/"VmHWM"-style field of /proc/<pid>/status in KiB; 0 for a process gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def tree_rss_kb(roots):
    """VmRSS summed over the process trees of `roots` (e.g. nginx master + workers). Pages shared
    between the processes (text, libraries, copy-on-write after fork) count once per process."""
    return sum(status_kb(p, "VmRSS") for root in roots for p in tree_pids(root))


class RssSampler:
    """Peak VmRSS of a group of process trees while a load runs: a background thread sums VmRSS
    of every process in the trees every `interval` seconds (the tree is re-read once a second,
    the rest is one /proc read per process). For a group that is one process, VmHWM (the
    kernel's exact high-water mark) also counts when it rose during the run, so a spike between
    two samples is not missed."""

    def __init__(self, roots, interval=0.1):
        self.roots = list(roots)
        self.interval = interval
        self.peak_kb = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._single = None

    def __enter__(self):
        pids = [p for r in self.roots for p in tree_pids(r)]
        if len(pids) == 1:
            self._single = (pids[0], status_kb(pids[0], "VmHWM"))
        self._thread.start()
        return self

    def _run(self):
        pids, listed = [], 0.0
        while True:
            now = time.monotonic()
            if now - listed >= 1.0:
                pids, listed = [p for r in self.roots for p in tree_pids(r)], now
            self.peak_kb = max(self.peak_kb, sum(status_kb(p, "VmRSS") for p in pids))
            if self._stop.wait(self.interval):
                return

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        if self._single is not None:
            pid, hwm_before = self._single
            hwm = status_kb(pid, "VmHWM")
            if hwm > hwm_before:
                self.peak_kb = max(self.peak_kb, hwm)
        return False


def as_meters(target):
    """What to meter during a run: {"server": [root pids], "postgres": [...], "nginx": [...]}.
    A bare pid (the peers) is the server alone."""
    return target if isinstance(target, dict) else {"server": [target]}


def group_ticks(meters):
    return {name: sum(cpu_ticks(p) for p in roots) for name, roots in meters.items()}


def wait_http(url, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except Exception:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


def wait_idle(target):
    """Until the metered processes (all groups together) use < 10% of a core, at most 30 s."""
    meters = as_meters(target)
    for _ in range(60):
        a = sum(group_ticks(meters).values())
        time.sleep(0.5)
        if sum(group_ticks(meters).values()) - a < 5:
            return


def parse_wrk(text):
    def ms(v):
        m = re.match(r"([\d.]+)(us|ms|s|m)$", v.strip())
        x, u = float(m.group(1)), m.group(2)
        return {"us": x / 1000, "ms": x, "s": x * 1000, "m": x * 60000}[u]
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
    p50 = ms(re.search(r"^\s+50%\s+(\S+)", text, re.M).group(1))
    p99 = ms(re.search(r"^\s+99%\s+(\S+)", text, re.M).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    reqs = int(re.search(r"(\d+) requests in", text).group(1))
    return {"rps": rps, "p50": p50, "p99": p99, "non2xx": int(non2xx.group(1)) if non2xx else 0,
            "requests": reqs}


def run_wrk(args, target, url, extra, script_args=(), before_each=None):
    meters = as_meters(target)
    cmd = ["wrk", "-t2", f"-c{args.conns}", "-d", args.duration, "--timeout", "30s", "--latency",
           *extra, url]
    if script_args:
        cmd += ["--", *script_args]
    secs = int(args.duration.rstrip("s")) + 60
    if before_each:
        before_each()
    warm = ["wrk", "-t2", f"-c{args.conns}", "-d", "2s", "--timeout", "30s", *extra, url]
    if script_args:
        warm += ["--", *script_args]
    subprocess.run(warm, capture_output=True, timeout=secs)  # warm-up, not recorded
    wait_idle(meters)
    best = None
    for _ in range(args.repeats):
        if before_each:
            before_each()
        idle_kb = tree_rss_kb(meters["server"])
        c0 = group_ticks(meters)
        with RssSampler(meters["server"]) as rss:
            out = subprocess.run(cmd, capture_output=True, text=True, timeout=secs).stdout
        c1 = group_ticks(meters)
        r = parse_wrk(out)
        r["idle_rss_mb"] = idle_kb / 1024
        r["peak_rss_mb"] = rss.peak_kb / 1024
        for name in meters:
            key = "cpu_us" if name == "server" else f"{name}_cpu_us"
            r[key] = (c1[name] - c0[name]) / CLK_TCK * 1e6 / max(r["requests"], 1)
        wait_idle(meters)
        if best is None or r["rps"] > best["rps"]:
            best = r
    return best


def login_flood(args, target, base, tok, login_lua):
    """Bearer GET /v1/me (16 connections) while 64 connections flood the password grant, in the
    same run: the network threads never wait on the hash pool, so /v1/me latency should hold."""
    secs = int(args.duration.rstrip("s")) + 60
    me_cmd = ["wrk", "-t1", "-c16", "-d", args.duration, "--timeout", "30s", "--latency",
              "-H", f"Authorization: Bearer {tok}", base + "/v1/me"]
    flood_cmd = ["wrk", "-t1", "-c64", "-d", args.duration, "--timeout", "30s", "--latency",
                 "-s", login_lua, base + "/oauth2/token", "--", "alice", PASSWORD]
    alone = parse_wrk(subprocess.run(me_cmd, capture_output=True, text=True,
                                     timeout=secs).stdout)
    meters = as_meters(target)
    wait_idle(meters)
    c0 = group_ticks(meters)["server"]
    with subprocess.Popen(flood_cmd, stdout=subprocess.PIPE, text=True) as flood:
        try:
            during = parse_wrk(subprocess.run(me_cmd, capture_output=True, text=True,
                                              timeout=secs).stdout)
            flood_out = parse_wrk(flood.communicate(timeout=secs)[0])
        except BaseException:
            flood.kill()
            raise
    c1 = group_ticks(meters)["server"]
    wait_idle(meters)
    total = during["requests"] + flood_out["requests"]
    for r in (alone, during, flood_out):
        r["cpu_us"] = float("nan")
    during["cpu_us"] = (c1 - c0) / CLK_TCK * 1e6 / max(total, 1)
    return [("portcullis", "me alone (16 conns)", alone),
            ("portcullis", "me during login flood", during),
            ("portcullis", "login flood (64 conns)", flood_out)]


BALANCER_CONF = """
worker_processes 1;
error_log {dir}/error.log warn;
pid {dir}/nginx.pid;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  client_body_temp_path {dir}/tmp; proxy_temp_path {dir}/tmp; fastcgi_temp_path {dir}/tmp;
  uwsgi_temp_path {dir}/tmp; scgi_temp_path {dir}/tmp;
  upstream portcullis {{
{servers}
    keepalive 64;
    keepalive_timeout 50s;
  }}
  server {{  # round robin, HTTP/1.1 keep-alive to each (as deploy/nginx-upstream.conf)
    listen 127.0.0.1:{port};
    location / {{
      proxy_pass http://portcullis;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      proxy_next_upstream error timeout;
      proxy_read_timeout 30s;
    }}
  }}
}}
"""


class Deployment:
    """The Portcullis side of the run: its database (SQLite file or a throwaway PostgreSQL
    cluster), --instances server processes and, with several, nginx balancing over them.
    close() stops and removes everything start() made, also when start() failed half-way."""

    def __init__(self, args):
        self.args = args
        self.procs = []       # portcullis Popen objects
        self.dirs = []        # temporary directories to remove at close()
        self.data_dirs = []
        self.pg = None
        self.nginx = None
        self.nginx_dir = None
        self.base = None
        self.env = None
        self.sets = []
        self.findings = []    # warnings/errors found in the logs at close()
        self.startup_rss_kb = 0  # VmRSS of the instances once ready, before any request
        self.hwm_kb = 0          # their VmHWM (peak RSS since start) when stopped
        self.closed = False

    @property
    def front(self):
        return self.args.instances > 1 or self.args.nginx_front

    def describe(self):
        a = self.args
        what = f"database={a.database}, {a.instances} instance(s)"
        if self.front:
            what += " behind nginx (round robin, 1 worker, keepalive)"
        extra = [x for x in self.sets if not x.startswith(("log.", "tokens.issuer"))]
        if extra:
            what += " with " + ", ".join(extra) + " each"
        return what

    def meters(self):
        m = {"server": [p.pid for p in self.procs]}
        if self.pg is not None:
            with open(os.path.join(self.pg.dir, "data", "postmaster.pid")) as f:
                m["postgres"] = [int(f.readline())]
        if self.nginx is not None:
            m["nginx"] = [self.nginx.pid]
        return m

    def start(self):
        a = self.args
        env = {k: v for k, v in os.environ.items() if not k.startswith("PORTCULLIS_")}
        env["PORTCULLIS_ADMIN_PASSWORD"] = ADMIN_PASSWORD
        if a.database == "postgres":
            sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))
            from pgcluster import PgCluster
            self.pg = PgCluster()
            self.pg.start()
            env["PORTCULLIS_DATABASE_URL"] = self.pg.create_database("bench")
            env["PORTCULLIS_MASTER_KEY"] = base64.b64encode(os.urandom(32)).decode()
        self.env = env
        self.sets = ["log.level=warn"]
        front_port = free_port() if self.front else None
        if front_port:
            # One issuer for the deployment: a token from one instance is valid on the others.
            self.sets.append(f"tokens.issuer=http://127.0.0.1:{front_port}")
        if a.instances > 1 and a.split_cores:
            per = max(1, (os.cpu_count() or 1) // a.instances)
            self.sets += [f"server.threads={per}", f"password.hash_workers={per}"]
        self.sets += a.server_sets
        bases = []
        for _ in range(a.instances):  # one after the other: the first migrates and bootstraps
            bases.append(self._start_instance())
        # After the first start (which creates the bootstrap admin), add the benchmark user.
        subprocess.run([a.bin, "user", "add", "alice", "--data-dir", self.data_dirs[0]],
                       input=PASSWORD + "\n", text=True, check=True, env=env,
                       capture_output=True, timeout=120)
        if front_port:
            self._start_balancer(front_port, bases)
            self.base = f"http://127.0.0.1:{front_port}"
        else:
            self.base = bases[0]
        roots = [p.pid for p in self.procs]
        wait_idle({"server": roots})
        self.startup_rss_kb = tree_rss_kb(roots)
        return self

    def _start_instance(self):
        data = tempfile.mkdtemp(prefix="portcullis-bench-")
        self.dirs.append(data)
        self.data_dirs.append(data)
        port = free_port()
        config = os.path.join(data, "bench.toml")
        with open(config, "w") as f:
            f.write('[[forward_auth.rule]]\npath = "/**"\nrequire = "authenticated"\n')
        argv = [self.args.bin, "serve", "--config", config, "--data-dir", data, "--listen",
                f"127.0.0.1:{port}", "--tls", "off"]
        for kv in self.sets:
            argv += ["--set", kv]
        with open(os.path.join(data, "server.log"), "wb") as log:
            self.procs.append(subprocess.Popen(argv, env=self.env, stdout=log,
                                               stderr=subprocess.STDOUT,
                                               preexec_fn=die_with_parent))
        base = f"http://127.0.0.1:{port}"
        wait_http(base + "/readyz", timeout=90)
        return base

    def _start_balancer(self, port, bases):
        if not os.path.exists(NGINX):
            raise RuntimeError(f"{NGINX} not installed: needed for --instances > 1 / --nginx-front")
        d = tempfile.mkdtemp(prefix="bench-nginx-")
        self.dirs.append(d)
        self.nginx_dir = d
        os.makedirs(os.path.join(d, "tmp"))
        servers = "\n".join(f"    server {b.split('://')[1]} max_fails=0;" for b in bases)
        with open(os.path.join(d, "nginx.conf"), "w") as f:
            f.write(BALANCER_CONF.format(dir=d, port=port, servers=servers))
        self.nginx = subprocess.Popen([NGINX, "-p", d, "-c", os.path.join(d, "nginx.conf"),
                                       "-g", "daemon off;"], stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL, preexec_fn=die_with_parent)
        wait_http(f"http://127.0.0.1:{port}/readyz")

    def close(self):
        if self.closed:
            return
        self.closed = True
        self.hwm_kb = sum(status_kb(p.pid, "VmHWM") for p in self.procs)
        for proc in ([self.nginx] if self.nginx else []) + self.procs:
            try:
                stop(proc)
            except Exception as e:  # noqa: BLE001 - keep closing the rest
                print(f"stopping pid {proc.pid}: {e}", file=sys.stderr)
        self.nginx, self.procs = None, []
        self._collect_findings()
        if self.pg is not None:
            self.pg.close()
            self.pg = None
        for d in self.dirs:
            shutil.rmtree(d, ignore_errors=True)
        self.dirs = []

    def _collect_findings(self):
        """Counts warn/error lines of every instance log, nginx's error log and postgres.log."""
        counts = {}

        def add(where, what):
            counts[(where, what)] = counts.get((where, what), 0) + 1

        for i, d in enumerate(self.data_dirs):
            try:
                lines = open(os.path.join(d, "server.log"), errors="replace").read().splitlines()
            except OSError:
                continue
            for line in lines:
                try:
                    ev = json.loads(line)
                except ValueError:
                    add(f"instance {i + 1}", "non-JSON: " + line[:120])
                    continue
                if ev.get("level") in ("warn", "error") and ev.get("event") != "master_key.created":
                    add(f"instance {i + 1}", f"{ev.get('level')} {ev.get('event')}")
        if self.nginx_dir:
            try:
                for line in open(os.path.join(self.nginx_dir, "error.log"), errors="replace"):
                    m = re.search(
                        r"\[(warn|error|crit|alert|emerg)\] \d+#\d+: (?:\*\d+ )?(.{0,80})", line)
                    if m:
                        add("nginx", f"{m.group(1)} {m.group(2)}")
            except OSError:
                pass
        if self.pg is not None and self.pg.dir:
            try:
                for line in open(os.path.join(self.pg.dir, "postgres.log"), errors="replace"):
                    m = re.search(r"\b(WARNING|ERROR|FATAL|PANIC):\s+(.{0,80})", line)
                    if m:
                        add("postgres", f"{m.group(1)} {m.group(2)}")
            except OSError:
                pass
        self.findings = [(w, what, n) for (w, what), n in sorted(counts.items())]


def token_from(url, form):
    data = urllib.parse.urlencode(form).encode()
    with urllib.request.urlopen(urllib.request.Request(url, data=data), timeout=10) as r:
        import json
        return json.load(r)["access_token"]


def post_form(url, form, headers=None, busy_retries=20):
    """POST a form, answer's JSON. A 429/503 (the server shedding load: concurrent first
    verifications of one client on a slow sanitizer build) is retried after its Retry-After,
    capped at 1 s, as a well-behaved client would."""
    for attempt in range(busy_retries + 1):
        req = urllib.request.Request(url, data=urllib.parse.urlencode(form).encode(),
                                     headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return json.load(r)
        except urllib.error.HTTPError as e:
            if e.code not in (429, 503) or attempt == busy_retries:
                raise
            retry_after = e.headers.get("Retry-After", "1")
            time.sleep(min(1.0, float(retry_after) if retry_after.isdigit() else 1.0))


def mint_refresh_tokens(url, form, n, path):
    """n refresh tokens, each from its own password login (not timed)."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        tokens = list(pool.map(lambda _: post_form(url, form)["refresh_token"], range(n)))
    with open(path, "w") as f:
        f.write("\n".join(tokens) + "\n")


def create_client(base, admin_token):
    body = json.dumps({"name": "bench", "grant_types": ["client_credentials"],
                       "scopes": ["users:read"]}).encode()
    req = urllib.request.Request(base + "/v1/clients", data=body, headers={
        "Authorization": f"Bearer {admin_token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.load(r)


def create_api_key(base, token):
    body = json.dumps({"name": "bench", "scopes": []}).encode()
    req = urllib.request.Request(base + "/v1/api-keys", data=body, headers={
        "Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.load(r)["key"]


NGINX_CONF = """
worker_processes 1;
error_log {dir}/error.log warn;
pid {dir}/nginx.pid;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  client_body_temp_path {dir}/tmp; proxy_temp_path {dir}/tmp; fastcgi_temp_path {dir}/tmp;
  uwsgi_temp_path {dir}/tmp; scgi_temp_path {dir}/tmp;
  upstream portcullis {{ server {portcullis}; keepalive 32; }}
  upstream app {{ server 127.0.0.1:{app_port}; keepalive 32; }}
  server {{  # the static upstream
    listen 127.0.0.1:{app_port};
    location / {{ return 200 "ok\\n"; }}
  }}
  server {{  # nginx + auth_request -> /v1/forward-auth
    listen 127.0.0.1:{auth_port};
    location = /_auth {{
      internal;
      proxy_pass http://portcullis/v1/forward-auth;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_pass_request_body off;
      proxy_set_header Content-Length "";
      proxy_set_header X-Forwarded-Method $request_method;
      proxy_set_header X-Forwarded-Uri $request_uri;
      proxy_set_header X-Forwarded-Host $host;
    }}
    location / {{
      auth_request /_auth;
      auth_request_set $auth_user $upstream_http_x_auth_user;
      proxy_set_header X-Auth-User $auth_user;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_pass http://app;
    }}
  }}
  server {{  # the same proxy without auth_request (ceiling)
    listen 127.0.0.1:{plain_port};
    location / {{ proxy_http_version 1.1; proxy_set_header Connection ""; proxy_pass http://app; }}
  }}
}}
"""


def start_nginx(portcullis_base):
    d = tempfile.mkdtemp(prefix="bench-nginx-")
    os.makedirs(os.path.join(d, "tmp"))
    ports = {"app_port": free_port(), "auth_port": free_port(), "plain_port": free_port()}
    with open(os.path.join(d, "nginx.conf"), "w") as f:
        f.write(NGINX_CONF.format(dir=d, portcullis=portcullis_base.split("://")[1], **ports))
    proc = subprocess.Popen([NGINX, "-p", d, "-c", os.path.join(d, "nginx.conf"),
                             "-g", "daemon off;"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, preexec_fn=die_with_parent)
    proc.scratch_dir = d  # removed by stop()
    wait_http(f"http://127.0.0.1:{ports['plain_port']}/")
    return proc, ports


def _argon2id_worker(job):
    """Hashes, wall seconds and CPU seconds of Argon2id (m=19456 KiB, t=2, p=1: Portcullis'
    defaults) in this process for `secs` seconds, through libargon2 (what Portcullis uses) or
    libsodium's crypto_pwhash."""
    lib_name, secs = job
    out = ctypes.create_string_buffer(32)
    pw, salt = b"correct horse battery staple", b"0123456789abcdef"
    if lib_name == "libargon2":
        lib = ctypes.CDLL("libargon2.so.1")

        def one():
            return lib.argon2id_hash_raw(ctypes.c_uint32(2), ctypes.c_uint32(19456),
                                         ctypes.c_uint32(1), pw, ctypes.c_size_t(len(pw)), salt,
                                         ctypes.c_size_t(len(salt)), out, ctypes.c_size_t(32))
    else:
        lib = ctypes.CDLL("libsodium.so.23")
        lib.sodium_init()

        def one():  # 2 = crypto_pwhash_ALG_ARGON2ID13
            return lib.crypto_pwhash(out, ctypes.c_ulonglong(32), pw, ctypes.c_ulonglong(len(pw)),
                                     salt, ctypes.c_ulonglong(2), ctypes.c_size_t(19456 * 1024),
                                     ctypes.c_int(2))
    n, t0, c0 = 0, time.monotonic(), time.process_time()
    while time.monotonic() - t0 < secs:
        if one() != 0:
            raise RuntimeError(f"{lib_name} Argon2id failed")
        n += 1
    return n, time.monotonic() - t0, time.process_time() - c0


def raw_argon2id(args, lib_name):
    """The primitive under the password grant, on every core at once: the login ceiling."""
    import multiprocessing
    secs = float(args.duration.rstrip("s"))
    with multiprocessing.Pool(os.cpu_count()) as pool:
        results = pool.map(_argon2id_worker, [(lib_name, secs)] * os.cpu_count())
    hashes = sum(n for n, _, _ in results)
    wall = max(w for _, w, _ in results)
    cpu = sum(c for _, _, c in results)
    return {"rps": hashes / wall, "p50": 0.0, "p99": 0.0, "non2xx": 0, "requests": hashes,
            "cpu_us": cpu / max(hashes, 1) * 1e6}


def start_nginx_ceiling():
    d = tempfile.mkdtemp(prefix="bench-nginx-ceiling-")
    conf = os.path.join(PEERS, "nginx-ceiling", "nginx.conf")
    proc = subprocess.Popen([NGINX, "-p", d + "/", "-c", conf, "-g",
                             f"worker_processes 2; pid {d}/nginx.pid;"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            preexec_fn=die_with_parent)
    proc.scratch_dir = d  # removed by stop()
    base = "http://127.0.0.1:18080"
    wait_http(base + "/")
    return proc, base


def mint_access_tokens(base, path, count):
    """`count` distinct access tokens (client_credentials: no Argon2id), one per line."""
    admin_tok = token_from(base + "/oauth2/token", {
        "grant_type": "password", "username": "admin", "password": ADMIN_PASSWORD})
    client = create_client(base, admin_tok)
    auth = "Basic " + base64.b64encode(
        f"{client['client_id']}:{client['client_secret']}".encode()).decode()
    url = base + "/oauth2/token"

    def one(_):
        return post_form(url, {"grant_type": "client_credentials"},
                         {"Authorization": auth})["access_token"]

    first = one(0)  # the client is verified once and cached before the concurrent grants
    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        tokens = [first] + list(pool.map(one, range(count - 1)))
    assert len(set(tokens)) == count
    with open(path, "w") as f:
        f.write("\n".join(tokens) + "\n")


def start_oidc(fmt):
    port = free_port()
    env = dict(os.environ, PORT=str(port), TOKEN_FORMAT=fmt, SIGN_ALG="EdDSA",
               NODE_ENV="production")
    proc = subprocess.Popen(["node", "server.mjs"], cwd=os.path.join(PEERS, "oidc-provider"),
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    wait_http(base + "/.well-known/openid-configuration")
    return proc, base


def oidc_token(base):
    return post_form(base + "/token", {"grant_type": "client_credentials", "scope": "api:read"},
                     {"Authorization": OIDC_BASIC})["access_token"]


def start_fastapi(workers, alg):
    fa = os.path.join(PEERS, "fastapi-ref")
    scratch = tempfile.mkdtemp(prefix="fastapi-bench-")
    data = os.path.join(scratch, "data")
    subprocess.run([PY, "app.py", "init", data], cwd=fa, check=True, capture_output=True)
    port = free_port()
    env = dict(os.environ, DATA_DIR=data, JWT_ALG=alg)
    proc = subprocess.Popen([PY, "serve.py", "app:app", "--host", "127.0.0.1", "--port", str(port),
                             "--workers", str(workers), "--loop", "asyncio", "--http", "h11",
                             "--no-access-log", "--log-level", "warning"], cwd=fa, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    proc.scratch_dir = scratch  # removed by stop()
    base = f"http://127.0.0.1:{port}"
    wait_http(base + "/openapi.json")
    return proc, base


def stop(proc):
    for p in reversed(tree_pids(proc.pid)):
        try:
            os.kill(p, signal.SIGTERM)
        except OSError:
            pass
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
    if getattr(proc, "scratch_dir", None):
        shutil.rmtree(proc.scratch_dir, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=os.path.join(ROOT, "build/bench/src/cli/portcullis"))
    ap.add_argument("--duration", default="10s")
    ap.add_argument("--conns", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--workloads", default="me,login,refresh,cc,introspect")
    ap.add_argument("--peers", default="fastapi,oidc,nginx,argon2",
                    help="comma-separated: fastapi, oidc, nginx (the static ceiling, for me, "
                         "me10k and fwd), argon2 (raw Argon2id, libargon2 and libsodium, "
                         "same parameters, one process per core, for login); 'none' for Portcullis "
                         "alone")
    ap.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite",
                    help="postgres: start a throwaway PostgreSQL 15 cluster for Portcullis")
    ap.add_argument("--instances", type=int, default=1,
                    help="Portcullis processes on one PostgreSQL database behind nginx")
    ap.add_argument("--nginx-front", action="store_true",
                    help="put the nginx balancer in front even of a single instance")
    ap.add_argument("--split-cores", action=argparse.BooleanOptionalAction, default=True,
                    help="with N > 1 instances, server.threads = password.hash_workers = "
                         "cores / N each (default on)")
    ap.add_argument("--set", dest="server_sets", action="append", default=[],
                    metavar="KEY=VALUE", help="extra `portcullis serve --set` for every instance")
    ap.add_argument("--check", action="store_true",
                    help="exit 1 unless every Portcullis row served requests, all 2xx, and the "
                         "logs hold no warning or error (CI's one-second smoke run)")
    args = ap.parse_args()
    if args.instances < 1:
        ap.error("--instances must be at least 1")
    if args.instances > 1 and args.database != "postgres":
        ap.error("--instances > 1 needs --database postgres (instances share one database)")
    peers = set(args.peers.split(",")) - {"", "none"}
    known = {"fastapi", "oidc", "nginx", "argon2"}
    if peers - known:
        ap.error(f"unknown --peers value(s): {','.join(sorted(peers - known))}")
    args.peers = ",".join(sorted(peers))

    # SIGTERM/SIGHUP unwind like Ctrl-C, through the finally blocks that stop every server,
    # nginx and PostgreSQL (installed before PgCluster, which then leaves them to us). A signal
    # the caller ignores (nohup) stays ignored.
    def on_signal(signum, _frame):
        raise SystemExit(128 + signum)
    for signum in (signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(signum) != signal.SIG_IGN:
            signal.signal(signum, on_signal)

    scratch = tempfile.mkdtemp(prefix="bench-tokens-")
    dep = Deployment(args)
    try:
        rows = run_all(args, dep, os.path.join(scratch, "refresh.txt"))
    finally:
        dep.close()
        shutil.rmtree(scratch, ignore_errors=True)
    report(args, dep, rows)
    if args.check:
        problems = check(args, dep, rows)
        for problem in problems:
            print(f"check failed: {problem}", file=sys.stderr)
        if problems:
            sys.exit(1)


def check(args, dep, rows):
    """What makes a smoke run fail: a workload missing, one with no request or a non-2xx answer,
    or a warning or error in a log."""
    problems = []
    ours = {w: r for n, w, r in rows if n == "portcullis"}
    for w in args.workloads.split(","):
        if w not in ours:
            problems.append(f"workload {w}: no result")
        elif ours[w]["rps"] <= 0:
            problems.append(f"workload {w}: no request served")
        elif ours[w]["non2xx"]:
            problems.append(f"workload {w}: {ours[w]['non2xx']} non-2xx answers")
    for where, what, n in dep.findings:
        problems.append(f"{where}: {what} x{n}")
    return problems


def run_all(args, dep, tokens_file):
    tokens_path = os.path.join(os.path.dirname(tokens_file), "access-tokens.txt")
    workloads = args.workloads.split(",")
    login_lua = os.path.join(PEERS, "wrk", "login.lua")
    post_lua = os.path.join(PEERS, "wrk", "post.lua")
    rows = []

    dep.start()
    base = dep.base
    meters = dep.meters()
    try:
        tok = token_from(base + "/oauth2/token",
                         {"grant_type": "password", "username": "alice", "password": PASSWORD})
        if "me" in workloads:
            rows.append(("portcullis", "me", run_wrk(args, meters, base + "/v1/me",
                                                     ["-H", f"Authorization: Bearer {tok}"])))
        if "me10k" in workloads:
            mint_access_tokens(base, tokens_path, 10_000)
            rows.append(("portcullis", "me10k", run_wrk(
                args, meters, base + "/v1/me",
                ["-s", os.path.join(HERE, "tokens.lua")], (tokens_path,))))
        if "login" in workloads:
            rows.append(("portcullis", "login", run_wrk(args, meters, base + "/oauth2/token",
                                                        ["-s", login_lua], ("alice", PASSWORD))))
        if "refresh" in workloads:
            mint_refresh_tokens(base + "/oauth2/token", {"grant_type": "password",
                                "username": "alice", "password": PASSWORD}, args.conns * 2,
                                tokens_file)
            rows.append(("portcullis", "refresh", run_wrk(
                args, meters, base + "/oauth2/token",
                ["-s", os.path.join(HERE, "refresh_form.lua")], (tokens_file, "2"),
                before_each=lambda: mint_refresh_tokens(
                    base + "/oauth2/token", {"grant_type": "password", "username": "alice",
                                             "password": PASSWORD}, args.conns * 2, tokens_file))))
        if "flood" in workloads:
            rows.extend(login_flood(args, meters, base, tok, login_lua))
        if "apikey" in workloads:
            key = create_api_key(base, tok)
            rows.append(("portcullis", "apikey", run_wrk(args, meters, base + "/v1/me",
                                                         ["-H", f"X-API-Key: {key}"])))
        if "basic" in workloads:
            basic = base64.b64encode(f"alice:{PASSWORD}".encode()).decode()
            rows.append(("portcullis", "basic", run_wrk(args, meters, base + "/v1/me",
                                                        ["-H", f"Authorization: Basic {basic}"])))
        if "fwd" in workloads:
            rows.append(("portcullis", "fwd", run_wrk(
                args, meters, base + "/v1/forward-auth",
                ["-H", f"Authorization: Bearer {tok}", "-H", "X-Forwarded-Method: GET",
                 "-H", "X-Forwarded-Uri: /api/orders/42?x=1", "-H",
                 "X-Forwarded-Host: api.example.com"])))
        if "fwd-nginx" in workloads:
            if not os.path.exists(NGINX):
                print("nginx not installed; fwd-nginx skipped", file=sys.stderr)
            else:
                nproc, ports = start_nginx(base)
                try:
                    rows.append(("nginx + portcullis", "fwd-nginx", run_wrk(
                        args, nproc.pid, f"http://127.0.0.1:{ports['auth_port']}/api/orders/42",
                        ["-H", f"Authorization: Bearer {tok}"])))
                    rows.append(("nginx proxy alone (ceiling)", "fwd-nginx", run_wrk(
                        args, nproc.pid, f"http://127.0.0.1:{ports['plain_port']}/api/orders/42",
                        [])))
                finally:
                    stop(nproc)
        if "cc" in workloads or "introspect" in workloads:
            admin_tok = token_from(base + "/oauth2/token", {
                "grant_type": "password", "username": "admin", "password": ADMIN_PASSWORD})
            client = create_client(base, admin_tok)
            auth = "Basic " + base64.b64encode(
                f"{client['client_id']}:{client['client_secret']}".encode()).decode()
            if "cc" in workloads:
                rows.append(("portcullis", "cc", run_wrk(
                    args, meters, base + "/oauth2/token",
                    ["-H", f"Authorization: {auth}", "-s", post_lua],
                    ("grant_type=client_credentials",))))
            if "introspect" in workloads:
                rows.append(("portcullis", "introspect", run_wrk(
                    args, meters, base + "/oauth2/introspect",
                    ["-H", f"Authorization: {auth}", "-s", post_lua], (f"token={tok}",))))
    finally:
        dep.close()

    if "nginx" in args.peers.split(",") and os.path.exists(NGINX):
        # shared/peers/nginx-ceiling: `return 200` with 2 workers, the machine's HTTP ceiling.
        nproc, nbase = start_nginx_ceiling()
        try:
            for w in ("me", "me10k", "fwd"):
                if w not in workloads:
                    continue
                if w == "me10k" and os.path.exists(tokens_path):
                    # The same client as Portcullis' me10k row: wrk's Lua request() builds each
                    # request with another token, on the same two cores. Comparing against a
                    # static wrk run would charge the load generator's Lua to Portcullis.
                    rows.append(("nginx static (2 workers)", w, run_wrk(
                        args, nproc.pid, nbase + "/", ["-s", os.path.join(HERE, "tokens.lua")],
                        (tokens_path,))))
                    continue
                rows.append(("nginx static (2 workers)", w,
                             run_wrk(args, nproc.pid, nbase + "/", [])))
        finally:
            stop(nproc)

    if "argon2" in args.peers.split(",") and "login" in workloads:
        for lib_name in ("libargon2", "libsodium"):
            rows.append((f"raw {lib_name} Argon2id (1 process per core)", "login",
                         raw_argon2id(args, lib_name)))

    if "fastapi" in args.peers.split(","):
        for workers in (1, 2):
            name = f"fastapi-ref {workers}w HS256"
            fproc, fbase = start_fastapi(workers, "HS256")
            try:
                ftok = token_from(fbase + "/token", {"username": "alice", "password": PASSWORD})
                if "me" in workloads:
                    rows.append((name, "me", run_wrk(args, fproc.pid, fbase + "/users/me",
                                                     ["-H", f"Authorization: Bearer {ftok}"])))
                if "login" in workloads:
                    rows.append((name, "login", run_wrk(args, fproc.pid, fbase + "/token",
                                                        ["-s", login_lua], ("alice", PASSWORD))))
                if "refresh" in workloads:
                    mint = lambda: mint_refresh_tokens(  # noqa: E731
                        fbase + "/token", {"username": "alice", "password": PASSWORD},
                        args.conns * 2, tokens_file)
                    mint()
                    rows.append((name, "refresh", run_wrk(
                        args, fproc.pid, fbase + "/refresh",
                        ["-s", os.path.join(PEERS, "wrk", "refresh.lua")], (tokens_file, "2"),
                        before_each=mint)))
                if "cc" in workloads:
                    rows.append((name, "cc", run_wrk(
                        args, fproc.pid, fbase + "/apikey/token",
                        ["-H", f"X-API-Key: {PEER_API_KEY}", "-s", post_lua], ("",))))
            finally:
                stop(fproc)

    if "oidc" in args.peers.split(",") and ("cc" in workloads or "introspect" in workloads):
        if not os.path.isdir(os.path.join(PEERS, "oidc-provider", "node_modules", "oidc-provider")):
            print("oidc-provider peer not installed (../shared/peers/install-deps.sh); skipped",
                  file=sys.stderr)
        else:
            for fmt, work in (("jwt", "cc"), ("opaque", "introspect")):
                if work not in workloads:
                    continue
                oproc, obase = start_oidc(fmt)
                try:
                    if work == "cc":
                        rows.append((f"oidc-provider {fmt}-EdDSA", "cc", run_wrk(
                            args, oproc.pid, obase + "/token",
                            ["-H", f"Authorization: {OIDC_BASIC}", "-s", post_lua],
                            ("grant_type=client_credentials&scope=api:read",))))
                    else:
                        otok = oidc_token(obase)
                        rows.append((f"oidc-provider {fmt}-EdDSA", "introspect", run_wrk(
                            args, oproc.pid, obase + "/token/introspection",
                            ["-H", f"Authorization: {OIDC_BASIC}", "-s", post_lua],
                            (f"token={otok}&token_type_hint=access_token",))))
                finally:
                    stop(oproc)
    return rows


def report(args, dep, rows):
    print(f"\nwrk -t2 -c{args.conns} -d{args.duration} --latency (best of {args.repeats}), "
          f"loopback, {os.cpu_count()} cores shared by client and server\n")
    print(f"portcullis: {dep.describe()}")
    print(f"portcullis RSS: {dep.startup_rss_kb / 1024:.1f} MB once ready (before any request), "
          f"{dep.hwm_kb / 1024:.1f} MB peak over the whole run (VmHWM)\n")
    extra = [k for k in ("postgres_cpu_us", "nginx_cpu_us") if any(k in r for _, _, r in rows)]
    extra += ["idle_rss_mb", "peak_rss_mb"]
    titles = {"postgres_cpu_us": "PostgreSQL CPU µs/req", "nginx_cpu_us": "nginx CPU µs/req",
              "idle_rss_mb": "idle RSS MB", "peak_rss_mb": "peak RSS MB"}
    print("| server | workload | req/s | p50 ms | p99 ms | non-2xx | server CPU µs/req |"
          + "".join(f" {titles[k]} |" for k in extra))
    print("|---|---|---|---|---|---|---|" + "---|" * len(extra))
    for name, w, r in rows:
        cells = "".join(f" {r[k]:.1f} |" if k in r else " – |" for k in extra)
        print(f"| {name} | {w} | {r['rps']:,.0f} | {r['p50']:.2f} | {r['p99']:.2f} | "
              f"{r['non2xx']} | {r['cpu_us']:.1f} |{cells}")
    if dep.findings:
        print("\nwarnings and errors in the logs (count):")
        for where, what, n in dep.findings:
            print(f"  {where}: {what} x{n}")
    else:
        print("\nno warnings or errors in the portcullis, nginx or PostgreSQL logs")
    ours = {w: r for n, w, r in rows if n == "portcullis"}
    if not any(name != "portcullis" and w in ours for name, w, _ in rows):
        return
    print("\n| ratio portcullis / peer | workload | req/s | CPU per request (peer / ours) |")
    print("|---|---|---|---|")
    for name, w, r in rows:
        if name != "portcullis" and w in ours:
            print(f"| vs {name} | {w} | {ours[w]['rps'] / r['rps']:.1f}x | "
                  f"{r['cpu_us'] / max(ours[w]['cpu_us'], 1e-9):.1f}x |")


if __name__ == "__main__":
    import urllib.parse  # noqa: F401
    main()
