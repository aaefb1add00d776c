"""`portcullis db copy --to postgresql://…` (DESIGN §6): a SQLite deployment with a user, a role,
an API key, a refresh token and audit events is stopped, copied into an empty PostgreSQL database
of the session cluster (`pg`), and served from there with the same master key file: the user logs
in, the API key and the old refresh token work, the JWKS has the same keys, the audit log has the
old events. A second copy, a copy from a PostgreSQL configuration and a wrong --to are refused
without writing anything or printing the password."""
import json
import os
import shutil
import tempfile
import uuid

import pytest
import requests

from conftest import login, run_cli, start_server

PASSWORD = "quartz-lagoon-ember-58"
# The same public issuer for both deployments (the default is derived from the listen port).
ISSUER = ("--set", "tokens.issuer=https://auth.copy.test")


def on_sqlite(data_dir):
    """The source deployment's database, named explicitly: this module is about SQLite ->
    PostgreSQL whatever PORTCULLIS_E2E_DATABASE says (conftest.py leaves a test's own URL alone)."""
    return {"PORTCULLIS_DATABASE_URL": "sqlite:" + os.path.join(data_dir, "portcullis.db")}


def call(server, method, path, token=None, headers=None, **kwargs):
    h = {"Authorization": f"Bearer {token}"} if token else {}
    h.update(headers or {})
    return requests.request(method, server.url(path), headers=h, timeout=10, **kwargs)


def refresh(server, refresh_token):
    return requests.post(server.url("/oauth2/token"),
                         data={"grant_type": "refresh_token", "refresh_token": refresh_token},
                         timeout=10)


def jwks_kids(server):
    r = requests.get(server.url("/.well-known/jwks.json"), timeout=10)
    assert r.status_code == 200, r.text
    return sorted(k["kid"] for k in r.json()["keys"])


def audit_events(server, token):
    r = call(server, "GET", "/v1/audit", token, params={"limit": 500})
    assert r.status_code == 200, r.text
    return r.json()["items"]


def password_of(url):
    return url.split("://", 1)[1].split("@", 1)[0].split(":", 1)[1]


@pytest.fixture(scope="module")
def source():
    """A stopped SQLite deployment and what was made in it."""
    data_dir = tempfile.mkdtemp(prefix="portcullis-e2e-copy-")
    server = start_server(data_dir=data_dir, args=ISSUER, env=on_sqlite(data_dir))
    try:
        admin = login(server).json()["access_token"]
        role = "copied-" + uuid.uuid4().hex[:6]
        r = call(server, "POST", "/v1/roles", admin,
                 json={"name": role, "permissions": ["widgets:read", "widgets:write"]})
        assert r.status_code == 201, r.text
        username = "mover-" + uuid.uuid4().hex[:6]
        r = call(server, "POST", "/v1/users", admin,
                 json={"username": username, "password": PASSWORD, "roles": [role]})
        assert r.status_code == 201, r.text
        user = r.json()
        r = login(server, username=username, password=PASSWORD)
        assert r.status_code == 200, r.text
        first = r.json()
        # One rotation, so the family holds a used token and its unused successor.
        r = refresh(server, first["refresh_token"])
        assert r.status_code == 200, r.text
        tokens = r.json()
        r = call(server, "POST", "/v1/api-keys", tokens["access_token"],
                 json={"name": "ci", "scopes": ["widgets:read"]})
        assert r.status_code == 201, r.text
        api_key = r.json()
        assert call(server, "GET", "/v1/me",
                    headers={"X-API-Key": api_key["key"]}).status_code == 200
        state = {
            "data_dir": data_dir, "role": role, "username": username, "user": user,
            "used_refresh": first["refresh_token"], "refresh": tokens["refresh_token"],
            "access": tokens["access_token"], "api_key": api_key, "kids": jwks_kids(server),
            "audit": audit_events(server, admin),
        }
    finally:
        assert server.stop() == 0
    yield state
    shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture(scope="module")
def copied(source, pg):
    """The copy into a new database, then a server on it (its own data dir, the source's master
    key file)."""
    url = pg.create_database("db_copy_" + uuid.uuid4().hex[:8])
    r = run_cli("db", "copy", "--to", url, "--json", data_dir=source["data_dir"],
                env=on_sqlite(source["data_dir"]))
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    data_dir = tempfile.mkdtemp(prefix="portcullis-e2e-copied-")
    master_key = os.path.join(source["data_dir"], "master.key")
    server = start_server(data_dir=data_dir, admin_password=None,
                          args=(*ISSUER, "--set", f"master_key.file={master_key}"),
                          env={"PORTCULLIS_DATABASE_URL": url})
    yield {"url": url, "report": report, "stdout": r.stdout, "stderr": r.stderr,
           "server": server}
    server.stop()
    shutil.rmtree(data_dir, ignore_errors=True)


def test_copy_reports_every_table_with_counts_and_never_the_password(copied, pg):
    report, url = copied["report"], copied["url"]
    assert report["target"] == url.replace(password_of(url), "***")
    tables = report["tables"]
    for table in ("users", "roles", "role_permissions", "user_roles", "signing_keys",
                  "audit_events", "refresh_tokens", "api_keys", "user_changes", "change_events"):
        assert tables[table] >= 1, table
    assert tables["users"] == 2  # admin and the user
    assert tables["refresh_tokens"] >= 3  # the admin's, the used one and its successor
    assert report["total_rows"] == sum(tables.values())
    for table, rows in tables.items():
        assert pg.sql(f"SELECT count(*) FROM {table}", url) == str(rows), table
    assert password_of(url) not in copied["stdout"] + copied["stderr"]
    # One log line on stderr says what was copied.
    logged = [json.loads(line) for line in copied["stderr"].splitlines() if line.startswith("{")]
    assert [e["rows"] for e in logged if e["event"] == "db.copied"] == [report["total_rows"]]


def test_the_user_logs_in_on_postgres_and_keeps_roles(copied, source, pg):
    server = copied["server"]
    r = login(server, username=source["username"], password=PASSWORD)
    assert r.status_code == 200, r.text
    me = call(server, "GET", "/v1/me", r.json()["access_token"])
    assert me.status_code == 200, me.text
    assert me.json()["id"] == source["user"]["id"]
    assert source["role"] in me.json()["roles"]
    assert r.json()["scope"].split() == ["widgets:read", "widgets:write"]
    # No bootstrap on a copied database: the copied admin (same password) is the only one.
    assert login(server).status_code == 200
    assert pg.sql("SELECT count(*) FROM users", copied["url"]) == "2"


def test_the_api_key_works_on_postgres(copied, source):
    r = call(copied["server"], "GET", "/v1/me", headers={"X-API-Key": source["api_key"]["key"]})
    assert r.status_code == 200, r.text
    assert r.json()["id"] == source["user"]["id"]


def test_the_jwks_has_the_same_keys_and_old_access_tokens_verify(copied, source):
    server = copied["server"]
    assert jwks_kids(server) == source["kids"]
    r = call(server, "GET", "/v1/me", source["access"])
    assert r.status_code == 200, r.text


def test_the_audit_log_has_the_old_events_with_their_ids(copied, source):
    server = copied["server"]
    admin = login(server).json()["access_token"]
    events = {e["id"]: e for e in audit_events(server, admin)}
    for old in source["audit"]:
        assert events.get(old["id"]) == old
    newest_old = max(e["id"] for e in source["audit"])
    # The login just made was audited after the copied events.
    assert max(events) > newest_old
    assert any(e["type"] == "user.created" and e["subject"] == source["user"]["id"]
               for e in events.values())


def test_the_old_refresh_token_refreshes_and_replaying_the_used_one_is_detected(copied, source):
    server = copied["server"]
    r = refresh(server, source["refresh"])
    assert r.status_code == 200, r.text
    assert r.json()["refresh_token"] != source["refresh"]
    # The token spent on SQLite is still spent: replaying it revokes the family (DESIGN §4).
    replay = refresh(server, source["used_refresh"])
    assert replay.status_code == 400, replay.text
    assert refresh(server, r.json()["refresh_token"]).status_code == 400


def test_a_second_copy_is_refused_and_writes_nothing(copied, source, pg):
    url = copied["url"]
    users = pg.sql("SELECT count(*) FROM users", url)
    audit = pg.sql("SELECT max(id) FROM audit_events", url)
    r = run_cli("db", "copy", "--to", url, data_dir=source["data_dir"],
                env=on_sqlite(source["data_dir"]))
    assert r.returncode == 1, r.stdout + r.stderr
    assert "portcullis: db copy: " in r.stderr
    assert "not empty" in r.stderr
    assert password_of(url) not in r.stdout + r.stderr
    assert pg.sql("SELECT count(*) FROM users", url) == users
    assert pg.sql("SELECT max(id) FROM audit_events", url) == audit


def test_a_postgres_configuration_or_a_non_postgres_target_is_refused(source, pg):
    url = pg.create_database("db_copy_refused_" + uuid.uuid4().hex[:8])
    r = run_cli("db", "copy", "--to", url, data_dir=source["data_dir"],
                env={"PORTCULLIS_DATABASE_URL": url})
    assert r.returncode == 1
    assert "portcullis: db copy: the configured database is not SQLite" in r.stderr
    assert password_of(url) not in r.stdout + r.stderr
    r = run_cli("db", "copy", "--to", "sqlite:/tmp/elsewhere.db", data_dir=source["data_dir"],
                env=on_sqlite(source["data_dir"]))
    assert r.returncode == 1
    assert "postgresql://" in r.stderr
    # Nothing was created in the database.
    assert pg.sql("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'", url) == "0"


def test_an_unreachable_target_fails_without_the_password(source):
    url = "postgresql://portcullis:NotTheRealSecret42@127.0.0.1:1/nowhere?connect_timeout=2"
    r = run_cli("db", "copy", "--to", url, data_dir=source["data_dir"],
                env=on_sqlite(source["data_dir"]))
    assert r.returncode == 1
    assert "portcullis: db copy: " in r.stderr
    assert "NotTheRealSecret42" not in r.stdout + r.stderr
    assert "postgresql://portcullis:***@127.0.0.1:1/nowhere" in r.stderr
