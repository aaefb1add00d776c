#!/usr/bin/python3
"""User-space instructions per request, counted by valgrind's callgrind: a measure of the server's
per-request work that the host's noise does not move (this VM exposes no hardware counters, and
req/s between two runs of bench.py differ by 10-20 %). Use it to compare two builds; use bench.py
for throughput.

  bench/http/instructions.py [--bin build/bench/src/cli/portcullis] [--requests 2000]
      [--workloads me,me10k,fwd,apikey,introspect,cc,login] [--top 15] [--keep DIR]

The server runs under `valgrind --tool=callgrind --instr-atstart=no` (so start-up is not
counted); for each workload one keep-alive connection sends 200 warm-up requests (me10k: one
per token, so that all 10,000 are in the verified-token cache as under wrk), then
instrumentation is switched on (`callgrind_control -i on`), N requests are sent, it is switched
off and the counts are dumped. Every request must answer 2xx. Counted: every thread of the server
(network threads, worker pools, the access-log writer), user space only — kernel work (the socket
calls) is not in it. `--top K` prints the K functions with the most instructions of their own;
`--keep DIR` keeps the callgrind files for callgrind_annotate.

Valgrind serializes the server's threads and runs it ~50x slower: never a throughput figure.
"""
import argparse
import base64
import glob
import http.client
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import bench  # noqa: E402

WORKLOADS = ("me", "me10k", "fwd", "apikey", "introspect", "cc", "login")
# A login is one Argon2id hash (~19 MiB, two passes): far fewer of them.
LOGIN_REQUESTS = 40


def wrapper_script(real_bin, out_dir):
    """A stand-in for the binary: `serve` runs under callgrind, every other command as is."""
    path = os.path.join(out_dir, "portcullis-under-callgrind")
    with open(path, "w") as f:
        f.write("#!/bin/sh\n"
                'if [ "$1" = serve ]; then\n'
                f"  exec valgrind -q --tool=callgrind --instr-atstart=no "
                f"--callgrind-out-file={out_dir}/callgrind.out.%p {real_bin} \"$@\"\n"
                "fi\n"
                f'exec {real_bin} "$@"\n')
    os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR)
    return path


def requests_for(workload, dep, tok, scratch):
    """(method, path, headers, body) of each request of a workload, cycled."""
    base = dep.base
    if workload == "me":
        return [("GET", "/v1/me", {"Authorization": f"Bearer {tok}"}, None)]
    if workload == "me10k":
        path = os.path.join(scratch, "tokens.txt")
        bench.mint_access_tokens(base, path, 10_000)
        with open(path) as f:
            return [("GET", "/v1/me", {"Authorization": f"Bearer {t.strip()}"}, None)
                    for t in f if t.strip()]
    if workload == "fwd":
        return [("GET", "/v1/forward-auth",
                 {"Authorization": f"Bearer {tok}", "X-Forwarded-Method": "GET",
                  "X-Forwarded-Uri": "/api/orders/42?x=1",
                  "X-Forwarded-Host": "api.example.com"}, None)]
    if workload == "apikey":
        key = bench.create_api_key(base, tok)
        return [("GET", "/v1/me", {"X-API-Key": key}, None)]
    if workload == "login":
        form = urllib.parse.urlencode({"grant_type": "password", "username": "alice",
                                       "password": bench.PASSWORD})
        return [("POST", "/oauth2/token",
                 {"Content-Type": "application/x-www-form-urlencoded"}, form)]
    admin = bench.token_from(base + "/oauth2/token", {
        "grant_type": "password", "username": "admin", "password": bench.ADMIN_PASSWORD})
    client = bench.create_client(base, admin)
    auth = "Basic " + base64.b64encode(
        f"{client['client_id']}:{client['client_secret']}".encode()).decode()
    form = {"Authorization": auth, "Content-Type": "application/x-www-form-urlencoded"}
    if workload == "introspect":
        return [("POST", "/oauth2/introspect", form, urllib.parse.urlencode({"token": tok}))]
    return [("POST", "/oauth2/token", form, "grant_type=client_credentials")]


def send(conn, reqs, n, start=0):
    for i in range(n):
        method, path, headers, body = reqs[(start + i) % len(reqs)]
        conn.request(method, path, body=body, headers=headers)
        res = conn.getresponse()
        res.read()
        if res.status // 100 != 2:
            raise RuntimeError(f"{method} {path}: {res.status}")


def callgrind(*argv):
    subprocess.run(["callgrind_control", *argv], check=True, capture_output=True, timeout=120)


def dump_total(out_dir, pid, name):
    """Ir of the dump triggered as `name` (callgrind_control -d name)."""
    for _ in range(100):
        for path in glob.glob(os.path.join(out_dir, f"callgrind.out.{pid}.*")):
            with open(path, errors="replace") as f:
                head = f.read(4096)
            if f"desc: Trigger: dump {name}\n" not in head:
                continue
            with open(path, errors="replace") as f:
                for line in f:
                    if line.startswith("totals:"):
                        return int(line.split()[1]), path
        time.sleep(0.1)
    raise RuntimeError(f"no callgrind dump for {name}")


def top_functions(path, k):
    out = subprocess.run(["callgrind_annotate", "--threshold=100", path], capture_output=True,
                         text=True, timeout=120).stdout.splitlines()
    rows = [line for line in out if "%)" in line and "PROGRAM TOTALS" not in line]
    return rows[:k]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", default=os.path.join(bench.ROOT, "build/bench/src/cli/portcullis"))
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--workloads", default="me,me10k,fwd,apikey,introspect,cc")
    ap.add_argument("--top", type=int, default=0)
    ap.add_argument("--keep", help="copy the callgrind files here")
    args = ap.parse_args()
    workloads = [w for w in args.workloads.split(",") if w]
    unknown = set(workloads) - set(WORKLOADS)
    if unknown:
        ap.error(f"unknown workload(s): {','.join(sorted(unknown))}")
    if shutil.which("valgrind") is None:
        sys.exit("valgrind is not installed (Debian: apt-get install valgrind)")

    scratch = tempfile.mkdtemp(prefix="portcullis-instructions-")
    dep_args = argparse.Namespace(
        bin=wrapper_script(os.path.abspath(args.bin), scratch), duration="1s", conns=1,
        repeats=1, workloads=",".join(workloads), peers="", database="sqlite", instances=1,
        nginx_front=False, split_cores=True, server_sets=[])
    dep = bench.Deployment(dep_args)
    rows = []
    try:
        dep.start()
        pid = dep.procs[0].pid
        tok = bench.token_from(dep.base + "/oauth2/token", {
            "grant_type": "password", "username": "alice", "password": bench.PASSWORD})
        host, port = urllib.parse.urlsplit(dep.base).netloc.split(":")
        for w in workloads:
            reqs = requests_for(w, dep, tok, scratch)
            conn = http.client.HTTPConnection(host, int(port), timeout=120)
            n = min(args.requests, LOGIN_REQUESTS) if w == "login" else args.requests
            warm = 5 if w == "login" else max(200, len(reqs))  # me10k: every token, all cached
            send(conn, reqs, warm)
            callgrind("-z", str(pid))
            callgrind("-i", "on", str(pid))
            send(conn, reqs, n, start=warm)
            callgrind("-i", "off", str(pid))
            callgrind("-d", w, str(pid))
            conn.close()
            total, path = dump_total(scratch, pid, w)
            rows.append((w, total / n, path))
    finally:
        dep.close()
        print(f"\nuser-space instructions per request (callgrind, all server threads, "
              f"{args.requests} requests after the warm-up ({LOGIN_REQUESTS} for login), one "
              "keep-alive connection)\n")
        print("| workload | instructions per request |")
        print("|---|---|")
        for w, per, _ in rows:
            print(f"| {w} | {per:,.0f} |")
        for w, _, path in rows:
            if args.top:
                print(f"\n{w}: top {args.top} functions (self)")
                for line in top_functions(path, args.top):
                    print("  " + line.strip()[:160])
            if args.keep:
                os.makedirs(args.keep, exist_ok=True)
                shutil.copy(path, os.path.join(args.keep, f"callgrind.{w}"))
        for finding in dep.findings:
            print(f"log finding: {finding}", file=sys.stderr)
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
