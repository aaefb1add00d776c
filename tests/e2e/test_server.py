"""Start-up, TLS, shutdown, configuration errors and the CLI, against the real binary."""
import base64
import json
import os
import re
import signal
import stat
import subprocess
import tempfile
import time
import urllib.parse

import requests
import urllib3

from conftest import (ADMIN_PASSWORD, BIN, database_env, dump_database, login,
                      query_database, run_cli, start_server)

urllib3.disable_warnings()


def test_tls_auto_generates_a_private_certificate_and_sends_hsts():
    s = start_server(tls="auto")
    try:
        cert = os.path.join(s.data_dir, "tls", "cert.pem")
        key = os.path.join(s.data_dir, "tls", "key.pem")
        assert os.path.exists(cert)
        assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
        # The generated certificate names 127.0.0.1, so it verifies as a CA pin.
        r = requests.get(s.url("/healthz"), verify=cert, timeout=5)
        assert r.status_code == 200
        assert r.headers["Strict-Transport-Security"].startswith("max-age=31536000")
        r = login(s)
        assert r.status_code == 200, r.text
        assert r.json()["access_token"]
        warnings = [e for e in s.log_events() if e.get("event") == "tls.self_signed"]
        assert warnings and warnings[0]["level"] == "warn"
    finally:
        assert s.stop() == 0


def test_tls_rejects_tls_1_1():
    import ssl
    import socket
    s = start_server(tls="auto")
    try:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        try:
            ctx.minimum_version = ssl.TLSVersion.TLSv1_1
            ctx.maximum_version = ssl.TLSVersion.TLSv1_1
        except (ValueError, ssl.SSLError):
            return  # the local OpenSSL can't even offer TLS 1.1
        with socket.create_connection(("127.0.0.1", s.port), timeout=5) as raw:
            try:
                with ctx.wrap_socket(raw) as tls:
                    tls.do_handshake()
                    raise AssertionError("TLS 1.1 handshake succeeded")
            except (ssl.SSLError, ConnectionResetError):
                pass
    finally:
        s.stop()


def test_plain_http_response_has_no_hsts(server):
    r = requests.get(server.url("/healthz"), timeout=5)
    assert "Strict-Transport-Security" not in r.headers


def test_libpq_is_mapped_only_by_a_postgresql_store(server):
    """libpq is loaded with dlopen when a PostgreSQL store opens (store/postgres/libpq_loader.h):
    a SQLite server maps neither it nor its dependency chain (GnuTLS, Kerberos, LDAP, SASL)."""
    with open(f"/proc/{server.proc.pid}/maps") as f:
        libraries = {os.path.basename(line.split()[-1]) for line in f if ".so" in line}
    chain = [lib for lib in libraries
             if lib.startswith(("libpq.", "libgnutls", "libkrb5", "libldap", "libsasl2"))]
    if server.database_url:
        assert any(lib.startswith("libpq.so") for lib in libraries), sorted(libraries)
    else:
        assert chain == [], chain


def test_master_key_file_and_database_are_private(server):
    # On PostgreSQL the key file is the operator's (conftest writes it: such a deployment never
    # generates its key), and there is no database file to protect; but none may appear either
    # (no silent fall-back to SQLite).
    key = os.path.join(server.data_dir, "master.key")
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
    db = os.path.join(server.data_dir, "portcullis.db")
    if server.database_url:
        assert not os.path.exists(db)
        return
    assert stat.S_IMODE(os.stat(db).st_mode) & 0o077 == 0


def test_bootstrap_admin_gets_a_random_password_printed_once():
    s = start_server(admin_password=None)
    try:
        text = s.log_text()
        m = re.search(r"created administrator 'admin' with password: (\S+)", text)
        assert m, text
        password = m.group(1)
        assert len(password) >= 20
        assert login(s, password=password).status_code == 200
        # printed once, never inside a structured log line
        for e in s.log_events():
            assert password not in json.dumps(e)
    finally:
        s.stop()
    # A restart on the same data dir does not create or print it again.
    s2 = start_server(data_dir=s.data_dir, admin_password=None)
    try:
        assert s2.log_text().count("created administrator") == 1
        assert login(s2, password=password).status_code == 200
    finally:
        s2.stop()


def test_weak_admin_password_from_environment_stops_startup():
    data_dir = tempfile.mkdtemp(prefix="portcullis-e2e-")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTCULLIS_")}
    env["PORTCULLIS_ADMIN_PASSWORD"] = "password"
    env.update(database_env(data_dir))
    p = subprocess.run([BIN, "serve", "--data-dir", data_dir, "--listen", "127.0.0.1:0",
                        "--tls", "off"], env=env, capture_output=True, text=True, timeout=30)
    assert p.returncode != 0
    assert "PORTCULLIS_ADMIN_PASSWORD" in p.stderr


def test_sigterm_drains_and_exits_zero():
    s = start_server()
    assert requests.get(s.url("/healthz"), timeout=5).status_code == 200
    assert s.stop(signal.SIGTERM) == 0
    s = start_server()
    assert s.stop(signal.SIGINT) == 0


def test_signing_key_survives_restart():
    # A fixed issuer: the restarted server listens on another free port.
    issuer = ["--set", "tokens.issuer=https://auth.example.test"]
    s = start_server(args=issuer)
    token = login(s).json()["access_token"]
    s.stop()
    s2 = start_server(data_dir=s.data_dir, args=issuer)
    try:
        r = requests.get(s2.url("/v1/me"), headers={"Authorization": f"Bearer {token}"}, timeout=5)
        assert r.status_code == 200
    finally:
        s2.stop()


def test_wrong_master_key_stops_startup():
    s = start_server()
    s.stop()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTCULLIS_")}
    env["PORTCULLIS_MASTER_KEY"] = "A" * 43 + "="
    if s.database_url:
        env["PORTCULLIS_DATABASE_URL"] = s.database_url
    p = subprocess.run([BIN, "serve", "--data-dir", s.data_dir, "--listen", "127.0.0.1:0",
                        "--tls", "off"], env=env, capture_output=True, text=True, timeout=30)
    assert p.returncode != 0
    assert "decrypt" in p.stderr


def test_master_key_rotation_reseals_the_signing_keys():
    # docs/deployment.md "Rotating the master key": re-seal under a new key with the old one as
    # PORTCULLIS_PREVIOUS_MASTER_KEY; the signing keys (and every token they signed) stay.
    issuer = ["--set", "tokens.issuer=https://auth.example.test"]
    s = start_server(args=issuer)
    token = login(s).json()["access_token"]
    s.stop()
    with open(os.path.join(s.data_dir, "master.key"), encoding="ascii") as f:
        old_key = f.read().strip()
    new_key = base64.b64encode(os.urandom(32)).decode()

    p = run_cli("keys", "reseal", data_dir=s.data_dir, env={"PORTCULLIS_MASTER_KEY": new_key})
    assert p.returncode != 0 and "decrypt" in p.stderr  # the new key alone opens nothing
    p = run_cli("keys", "reseal", data_dir=s.data_dir,
                env={"PORTCULLIS_MASTER_KEY": new_key, "PORTCULLIS_PREVIOUS_MASTER_KEY": old_key})
    assert p.returncode == 0, p.stderr
    assert "resealed 3 signing keys" in p.stdout  # one per algorithm: EdDSA, ES256, RS256
    assert old_key not in p.stdout + p.stderr and new_key not in p.stdout + p.stderr

    # The old key (still in master.key) no longer opens the signing keys.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTCULLIS_")}
    if s.database_url:
        env["PORTCULLIS_DATABASE_URL"] = s.database_url
    p = subprocess.run([BIN, "serve", "--data-dir", s.data_dir, "--listen", "127.0.0.1:0",
                        "--tls", "off", *issuer], env=env, capture_output=True, text=True,
                       timeout=30)
    assert p.returncode != 0 and "decrypt" in p.stderr

    s2 = start_server(data_dir=s.data_dir, args=issuer, env={"PORTCULLIS_MASTER_KEY": new_key})
    try:
        r = requests.get(s2.url("/v1/me"), headers={"Authorization": f"Bearer {token}"}, timeout=5)
        assert r.status_code == 200, r.text  # signed before the rotation, same key
        assert login(s2).status_code == 200
    finally:
        s2.stop()
    p = run_cli("audit", "--json", "--type", "key.resealed", data_dir=s.data_dir,
                env={"PORTCULLIS_MASTER_KEY": new_key})
    assert p.returncode == 0, p.stderr
    events = json.loads(p.stdout)
    assert len(events) == 1 and events[0]["details"]["keys"] == 3
    with open(s2.log_path, encoding="utf-8", errors="replace") as f:
        log = f.read()
    assert old_key not in log and new_key not in log


def config_error(*args, env=None):
    data_dir = tempfile.mkdtemp(prefix="portcullis-e2e-")
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("PORTCULLIS_")}
    full_env.update(env or {})
    p = subprocess.run([BIN, "serve", "--data-dir", data_dir, *args], env=full_env,
                       capture_output=True, text=True, timeout=30)
    assert p.returncode != 0
    return p.stderr


def test_unknown_config_key_names_the_key():
    assert "server.listn" in config_error("--set", "server.listn=1")


def test_invalid_config_value_names_the_key():
    assert "lockout.max_failures" in config_error("--set", "lockout.max_failures=abc")


def test_unknown_key_in_config_file_names_the_key():
    d = tempfile.mkdtemp()
    path = os.path.join(d, "portcullis.toml")
    with open(path, "w") as f:
        f.write('[tokens]\naccess_ttl_s = 600\nmystery = true\n')
    assert "tokens.mystery" in config_error("--config", path)


def test_tls_off_refused_on_public_address():
    assert "tls" in config_error("--listen", "0.0.0.0:8443", "--tls", "off").lower()


def test_cli_user_add_reads_password_from_stdin_and_user_can_log_in():
    s = start_server()
    try:
        p = run_cli("user", "add", "carol", "--email", "carol@example.com",
                    data_dir=s.data_dir, stdin="a-long-enough-passphrase\n")
        assert p.returncode == 0, p.stderr
        assert "a-long-enough-passphrase" not in p.stdout + p.stderr
        r = login(s, username="carol", password="a-long-enough-passphrase")
        assert r.status_code == 200, r.text
        me = requests.get(s.url("/v1/me"),
                          headers={"Authorization": "Bearer " + r.json()["access_token"]},
                          timeout=5).json()
        assert me["roles"] == ["user"] and me["permissions"] == []

        p = run_cli("user", "add", "CAROL", data_dir=s.data_dir, stdin="another-long-passphrase\n")
        assert p.returncode != 0 and "exists" in p.stderr
        p = run_cli("user", "add", "dave", data_dir=s.data_dir, stdin="short\n")
        assert p.returncode != 0 and "12" in p.stderr
        p = run_cli("user", "add", "erin", data_dir=s.data_dir, stdin="dave\n")
        assert p.returncode != 0
        p = run_cli("user", "add", "frank", data_dir=s.data_dir, stdin="passwordpassword\n")
        assert p.returncode != 0 and "common" in p.stderr
        p = run_cli("user", "add", "bad name", data_dir=s.data_dir, stdin="a-long-enough-passphrase\n")
        assert p.returncode != 0

        p = run_cli("user", "list", "--json", data_dir=s.data_dir)
        assert p.returncode == 0, p.stderr
        users = {u["username"]: u for u in json.loads(p.stdout)}
        assert set(users) == {"admin", "carol"}
        assert users["carol"]["email"] == "carol@example.com"
        assert users["carol"]["roles"] == ["user"]
        assert users["carol"]["last_login_at"] is not None
        assert set(users["admin"]) == {"id", "username", "email", "roles", "disabled",
                                       "locked_until", "created_at", "last_login_at"}
        p = run_cli("user", "list", data_dir=s.data_dir)
        assert p.returncode == 0 and "carol" in p.stdout
        # Created through the same Directory as POST /v1/users: audited with actor "cli".
        admin_token = login(s).json()["access_token"]
        events = requests.get(s.url("/v1/audit?type=user.created&limit=50"), timeout=5,
                              headers={"Authorization": "Bearer " + admin_token}).json()["items"]
        assert any(e["subject"] == users["carol"]["id"] and e["actor"] == "cli" for e in events)
    finally:
        s.stop()


def test_cli_migrate_and_version():
    d = tempfile.mkdtemp(prefix="portcullis-e2e-")
    p = run_cli("migrate", data_dir=d)
    assert p.returncode == 0, p.stderr
    assert "schema version" in p.stdout
    p = run_cli("migrate", data_dir=d)
    assert p.returncode == 0 and "applied 0" in p.stdout
    p = run_cli("version", "--json", data_dir=None)
    assert p.returncode == 0
    v = json.loads(p.stdout)
    assert v["openssl"].startswith("3.") and v["libsodium"] and v["sqlite"] and v["boost"]
    assert v["portcullis"]


def test_no_plaintext_secrets_in_database_or_logs():
    s = start_server()
    try:
        r = login(s)
        token = r.json()["access_token"]
        login(s, password="wrong-secret-attempt-xyz")
        run_cli("user", "add", "grace", data_dir=s.data_dir, stdin="graces-secret-passphrase\n")
        login(s, username="grace", password="graces-secret-passphrase")
    finally:
        s.stop()
    blobs = []
    for name in os.listdir(s.data_dir):
        path = os.path.join(s.data_dir, name)
        if os.path.isfile(path):
            with open(path, "rb") as f:
                blobs.append((name, f.read()))
    dump = dump_database(s)  # PostgreSQL: the database is not in the data dir
    if dump is not None:
        # The dump does hold the users (so the search below looks at real rows), and bytea
        # appears in it as hex: look for the hex of every secret too.
        assert b"grace" in dump and b"$argon2id$" in dump
        blobs.append(("pg_dump", dump))
        blobs.append(("pg_dump (bytea as bytes)", bytes.fromhex("".join(
            re.findall(r"\\x([0-9a-f]+)", dump.decode("latin-1"))))))
    master = open(os.path.join(s.data_dir, "master.key"), "rb").read().strip()
    for name, data in blobs:
        for secret in (ADMIN_PASSWORD, "wrong-secret-attempt-xyz", "graces-secret-passphrase",
                       token, token.split(".")[2]):
            assert secret.encode() not in data, (name, secret[:8])
        if name != "master.key":
            assert master not in data, name
        if s.database_url:
            # The database password never reaches a log or any other file.
            password = urllib.parse.urlsplit(s.database_url).password
            assert password.encode() not in data, name
    # The signing key is stored sealed: no PKCS#8 Ed25519 prefix in the database.
    pkcs8_ed25519 = b"\x30\x2e\x02\x01\x00\x30\x05\x06\x03\x2b\x65\x70"
    column = ("encode(sealed_private_key, 'hex')" if s.database_url
              else "hex(sealed_private_key)")
    sealed = query_database(s, f"SELECT {column} FROM signing_keys")
    assert sealed
    for (hex_blob,) in sealed:
        assert pkcs8_ed25519 not in bytes.fromhex(str(hex_blob))


def test_sighup_reloads_the_tls_certificate():
    import hashlib
    import ssl
    s = start_server(tls="auto")
    try:
        tls_dir = os.path.join(s.data_dir, "tls")

        def fingerprint():
            pem = ssl.get_server_certificate(("127.0.0.1", s.port))
            return hashlib.sha256(ssl.PEM_cert_to_DER_cert(pem)).hexdigest()

        before = fingerprint()
        new_cert, new_key = os.path.join(tls_dir, "new.pem"), os.path.join(tls_dir, "new.key")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-nodes", "-keyout", new_key, "-out", new_cert,
                        "-days", "1", "-subj", "/CN=localhost",
                        "-addext", "subjectAltName=IP:127.0.0.1"],
                       check=True, capture_output=True)
        os.replace(new_key, os.path.join(tls_dir, "key.pem"))
        os.replace(new_cert, os.path.join(tls_dir, "cert.pem"))
        s.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        while fingerprint() == before:  # waits for the signal to be handled, not for time
            assert time.monotonic() < deadline, "certificate not reloaded"
            time.sleep(0.05)
        assert s.proc.poll() is None  # still serving
        r = requests.get(s.url("/healthz"), verify=os.path.join(tls_dir, "cert.pem"), timeout=5)
        assert r.status_code == 200
        assert any(e.get("event") == "http.tls.reloaded" for e in s.log_events())
    finally:
        assert s.stop() == 0
