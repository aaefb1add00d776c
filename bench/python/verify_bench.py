#!/usr/bin/env python3
"""Verifications per second of the Portcullis Python binding (portcullis_verifier, the C++
verifier) against PyJWT doing the same checks, on the same tokens (issue #14).

Starts a Portcullis binary on a free loopback port, mints --tokens access tokens with
client_credentials, then verifies them round-robin for --seconds with each contender, one
thread, in this process:
  - portcullis_verifier.Verifier.verify(token), with its verified-token cache (the default: a
    token seen before costs a lookup) and without it (cache_max_entries=0): signature (JWKS key by kid, alg pinned to the
    key's), typ at+jwt, crit and embedded keys refused, iss, aud, exp/nbf/iat with leeway;
  - PyJWT 2.x: the same checks as examples/fastapi used to do them by hand (header typ/crit/kid,
    the key's own alg, jwt.decode with audience, issuer, leeway and required claims).

Usage: bench/python/verify_bench.py --bin build/release/src/cli/portcullis \
           --module-dir build/release/src/python [--tokens 200] [--seconds 3]
"""
import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import requests

ADMIN_PASSWORD = "bench-admin-password-1234"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(binary):
    data = tempfile.mkdtemp(prefix="portcullis-verify-bench-")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTCULLIS_")}
    env["PORTCULLIS_ADMIN_PASSWORD"] = ADMIN_PASSWORD
    log = open(os.path.join(data, "server.log"), "ab")
    proc = subprocess.Popen([binary, "serve", "--data-dir", data, "--listen",
                             f"127.0.0.1:{port}", "--tls", "off"],
                            env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if requests.get(base + "/healthz", timeout=1).status_code == 200:
                return proc, base, data
        except requests.RequestException:
            pass
        if time.monotonic() > deadline or proc.poll() is not None:
            proc.kill()
            sys.exit("portcullis did not start; see " + data)
        time.sleep(0.05)


def mint(base, count):
    r = requests.post(base + "/oauth2/token", timeout=30,
                      data={"grant_type": "password", "username": "admin",
                            "password": ADMIN_PASSWORD})
    r.raise_for_status()
    admin = {"Authorization": "Bearer " + r.json()["access_token"]}
    r = requests.post(base + "/v1/clients", headers=admin, timeout=10,
                      json={"name": "verify-bench", "grant_types": ["client_credentials"],
                            "scopes": []})
    r.raise_for_status()
    auth = (r.json()["client_id"], r.json()["client_secret"])
    with requests.Session() as s:
        return [s.post(base + "/oauth2/token", auth=auth, timeout=10,
                       data={"grant_type": "client_credentials"}).json()["access_token"]
                for _ in range(count)]


def run(name, verify, tokens, seconds):
    for t in tokens:  # warm-up, and every token must pass
        verify(t)
    n, i, started = 0, 0, time.perf_counter()
    deadline = started + seconds
    while True:
        for _ in range(100):
            verify(tokens[i])
            i = (i + 1) % len(tokens)
        n += 100
        now = time.perf_counter()
        if now >= deadline:
            break
    rate = n / (now - started)
    print(f"{name:<24} {rate:>10,.0f} verifications/s  {1e6 / rate:>7.1f} µs each")
    return rate


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bin", required=True)
    parser.add_argument("--module-dir", required=True)
    parser.add_argument("--tokens", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    sys.path.insert(0, os.path.abspath(args.module_dir))
    import jwt
    import portcullis_verifier

    proc, base, data = start(args.bin)
    try:
        tokens = mint(base, args.tokens)
        meta = requests.get(base + "/.well-known/openid-configuration", timeout=5).json()
        issuer, jwks_url = meta["issuer"], meta["jwks_uri"]
        aud = jwt.decode(tokens[0], options={"verify_signature": False})["aud"]
        audience = aud if isinstance(aud, str) else aud[0]
        jwks = requests.get(jwks_url, timeout=5).json()
        # The JWKS is fetched once by each contender's set-up; the timed loops touch no network.
        native = portcullis_verifier.Verifier(issuer=issuer, audience=audience,
                                              jwks_url=jwks_url)
        uncached = portcullis_verifier.Verifier(issuer=issuer, audience=audience,
                                                jwks_url=jwks_url, cache_max_entries=0)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        shutil.rmtree(data, ignore_errors=True)

    keys = {k["kid"]: (jwt.PyJWK(k), k["alg"]) for k in jwks["keys"]
            if k.get("alg") in ("EdDSA", "ES256", "RS256")}
    if not keys:
        sys.exit("no usable key in the JWKS")

    def pyjwt_verify(token):
        header = jwt.get_unverified_header(token)
        typ = header.get("typ")
        if not isinstance(typ, str) or typ.lower() not in ("at+jwt", "application/at+jwt"):
            raise jwt.InvalidTokenError("typ")
        if "crit" in header or any(h in header for h in ("jwk", "jku", "x5u", "x5c")):
            raise jwt.InvalidTokenError("header")
        key, alg = keys[header["kid"]]
        return jwt.decode(token, key.key, algorithms=[alg], audience=audience, issuer=issuer,
                          leeway=30, options={"require": ["exp", "iat", "sub", "iss", "aud"]})

    alg = jwt.get_unverified_header(tokens[0])["alg"]
    print(f"{len(tokens)} distinct {alg} access tokens, {args.seconds:g} s each, one thread")
    ours = run("portcullis_verifier", native.verify, tokens, args.seconds)
    full = run("  (cache_max_entries=0)", uncached.verify, tokens, args.seconds)
    theirs = run("PyJWT " + jwt.__version__, pyjwt_verify, tokens, args.seconds)
    print(f"ratio: {ours / theirs:.1f} × PyJWT (tokens seen before: the verified-token cache); "
          f"{full / theirs:.1f} × with every signature checked")


if __name__ == "__main__":
    main()
