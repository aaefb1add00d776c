"""`portcullis user import` (issue #6): users migrated from a FastAPI app with the hashes that
passlib, argon2-cffi and bcrypt write (made here by Debian's python3-passlib, python3-bcrypt and
python3-argon2), from CSV and JSONL, with bad rows rejected by line and reason and never echoed;
then each imported user logs in with the password grant, bcrypt and Argon2i hashes become Argon2id
at that first login, and the upgrade is audited as "password.rehashed"."""
import csv
import json
import os
import uuid

import argon2
import bcrypt
import pytest
import requests
from argon2.low_level import Type, hash_secret
from passlib.hash import argon2 as passlib_argon2
from passlib.hash import bcrypt as passlib_bcrypt
from passlib.hash import md5_crypt

from conftest import login, query_database, run_cli, start_server

SUFFIX = uuid.uuid4().hex[:6]


def uname(prefix):
    return f"{prefix}-{SUFFIX}"


def make_users():
    """username -> (password, hash, scheme the server rehashes from, or None)."""
    users = {}

    def add(prefix, password, hashed, scheme):
        users[uname(prefix)] = (password, hashed, scheme)

    # What a FastAPI app with passlib's CryptContext(schemes=["bcrypt"]) stores ($2b$, cost 12).
    add("pl-bcrypt", "passlib-bcrypt-pw-1", passlib_bcrypt.using(rounds=12).hash("passlib-bcrypt-pw-1"),
        "bcrypt")
    # The bcrypt module; $2a$ and $2y$ by swapping the prefix (same algorithm in libxcrypt).
    b = bcrypt.hashpw(b"bcrypt-module-pw-2", bcrypt.gensalt(rounds=5)).decode()
    assert b.startswith("$2b$")
    add("bc-2b", "bcrypt-module-pw-2", b, "bcrypt")
    b = bcrypt.hashpw(b"bcrypt-module-pw-3", bcrypt.gensalt(rounds=5)).decode()
    add("bc-2a", "bcrypt-module-pw-3", "$2a$" + b[4:], "bcrypt")
    b = bcrypt.hashpw(b"bcrypt-module-pw-4", bcrypt.gensalt(rounds=5)).decode()
    add("bc-2y", "bcrypt-module-pw-4", "$2y$" + b[4:], "bcrypt")
    # passlib's argon2 (argon2id, m=102400, t=2, p=8) and argon2-cffi's defaults (m=65536, t=3,
    # p=4): argon2id with other parameters, rehashed as "argon2id".
    add("pl-argon2", "passlib-argon2-pw-5", passlib_argon2.hash("passlib-argon2-pw-5"), "argon2id")
    add("cffi-a2id", "cffi-argon2id-pw-6", argon2.PasswordHasher().hash("cffi-argon2id-pw-6"),
        "argon2id")
    a2i = hash_secret(b"cffi-argon2i-pw-7", os.urandom(16), time_cost=3, memory_cost=4096,
                      parallelism=1, hash_len=32, type=Type.I).decode()
    assert a2i.startswith("$argon2i$v=19$")
    add("cffi-a2i", "cffi-argon2i-pw-7", a2i, "argon2i")
    return users


USERS = make_users()
MD5 = md5_crypt.hash("md5-crypt-pw")
ALL_HASHES = [h for (_, h, _) in USERS.values()] + [MD5]


def write_csv(path, rows):
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)  # QUOTE_MINIMAL: quotes Argon2 hashes (they contain commas)
        for row in rows:
            w.writerow(row)


def report_lines(text):
    """{line number: reason} from "line N: reason" lines."""
    out = {}
    for line in text.splitlines():
        if line.startswith("line "):
            head, _, reason = line.partition(": ")
            out[int(head[len("line "):])] = reason
    return out


def assert_no_hash(*texts):
    for text in texts:
        for h in ALL_HASHES:
            assert h not in text
            # not even the salt and hash part of it
            assert h[-22:] not in text


def summary(result):
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    assert lines, (result.stdout, result.stderr)
    return json.loads(lines[-1])


def stored_hash(server, username):
    rows = query_database(server, "SELECT password_hash FROM users WHERE username = ?",
                          (username,))
    assert rows, username
    return rows[0][0]


def user_count(server):
    return query_database(server, "SELECT COUNT(*) FROM users")[0][0]


def audit_events(server, kind):
    r = run_cli("audit", "--json", "--type", kind, "--limit", "1000", data_dir=server.data_dir)
    assert r.returncode == 0, r.stderr
    events = json.loads(r.stdout)
    for e in events:
        if isinstance(e.get("details"), str):
            e["details"] = json.loads(e["details"])
    return events


@pytest.fixture(scope="module")
def server():
    s = start_server()
    yield s
    s.stop()


CSV_NAMES = [uname(p) for p in ("pl-bcrypt", "bc-2b", "pl-argon2", "cffi-a2i")]
JSONL_NAMES = [uname(p) for p in ("bc-2a", "bc-2y", "cffi-a2id")]


@pytest.fixture(scope="module")
def imported(server, tmp_path_factory):
    """Imports the CSV then the JSONL file into the running server's database."""
    d = tmp_path_factory.mktemp("import")
    users = USERS
    csv_path = str(d / "users.csv")
    rows = [["username", "email", "password_hash", "roles"]]
    for i, n in enumerate(CSV_NAMES):
        rows.append([n, f"{n}@example.com", users[n][1], "user;admin" if i == 0 else ""])
    # line 6..11: bad rows
    bc = users[uname("bc-2b")][1]
    rows += [
        ["-bad-" + SUFFIX, "", bc, "user"],                 # 6 bad username
        [uname("norole"), "", bc, "user nosuchrole"],       # 7 unknown role (store)
        [uname("junk"), "", "not-a-hash-at-all", "user"],   # 8 junk hash
        [uname("md5"), "", MD5, "user"],                    # 9 md5-crypt
        [uname("short"), "", bc],                           # 10 missing column
        [CSV_NAMES[1].upper(), "", bc, "user"],             # 11 duplicate username
    ]
    write_csv(csv_path, rows)
    report_path = str(d / "csv-report.txt")
    r_csv = run_cli("user", "import", csv_path, "--json", "--report", report_path,
                    data_dir=server.data_dir)
    with open(report_path, encoding="utf-8") as f:
        csv_report = f.read()

    jsonl_path = str(d / "users.jsonl")
    objects = [{"username": n, "email": None, "password_hash": users[n][1],
                **({"roles": ["user"]} if i == 0 else {})} for i, n in enumerate(JSONL_NAMES)]
    lines = [json.dumps(o) for o in objects]                                        # 1-3
    lines += [
        json.dumps({"username": "bad name", "password_hash": bc}),                  # 4
        json.dumps({"username": uname("jrole"), "password_hash": bc, "roles": ["nosuchrole"]}),  # 5
        json.dumps({"username": uname("jjunk"), "password_hash": "$2b$12$tooshort"}),  # 6
        json.dumps({"username": uname("jmd5"), "password_hash": MD5}),              # 7
        json.dumps({"username": uname("jmissing")}),                                # 8
        json.dumps({"username": JSONL_NAMES[0], "password_hash": bc}),              # 9 duplicate
        json.dumps({"username": CSV_NAMES[0], "password_hash": bc}),                # 10 exists
        "",                                                                         # 11 blank
        "{not json",                                                                # 12
    ]
    with open(jsonl_path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    # Batches of 2: several transactions and several audit events.
    r_jsonl = run_cli("user", "import", jsonl_path, "--json", "--batch-size", "2",
                      data_dir=server.data_dir)
    return {"csv": r_csv, "csv_report": csv_report, "jsonl": r_jsonl, "dir": d,
            "csv_path": csv_path}


def test_csv_import_summary_and_report(imported):
    r = imported["csv"]
    assert r.returncode == 3, (r.stdout, r.stderr)  # 3: some rows rejected
    s = summary(r)
    assert s["file"] == "users.csv" and s["dry_run"] is False and s["completed"] is True
    assert (s["rows"], s["imported"], s["rejected"], s["skipped_existing"]) == (10, 4, 6, 0), s
    rep = report_lines(imported["csv_report"])
    assert set(rep) == {6, 7, 8, 9, 10, 11}, imported["csv_report"]
    assert rep[6].startswith("invalid username")
    assert rep[7] == "unknown role: nosuchrole"
    assert rep[8] == "malformed password hash"
    assert rep[9].startswith("unsupported password hash scheme $1$")
    assert rep[10] == "expected 4 fields, found 3"
    assert rep[11] == "duplicate username (first used at line 3)"
    assert_no_hash(r.stdout, r.stderr, imported["csv_report"])


def test_jsonl_import_reports_on_stderr_and_skips_existing(imported):
    r = imported["jsonl"]
    assert r.returncode == 3, (r.stdout, r.stderr)
    s = summary(r)
    assert (s["rows"], s["imported"], s["rejected"], s["skipped_existing"]) == (11, 3, 7, 1), s
    rep = report_lines(r.stderr)
    assert set(rep) == {4, 5, 6, 7, 8, 9, 10, 12}, r.stderr
    assert rep[4].startswith("invalid username")
    assert rep[5] == "unknown role: nosuchrole"
    assert rep[6] == "malformed password hash"
    assert rep[7].startswith("unsupported password hash scheme $1$")
    assert rep[8] == 'missing "password_hash"'
    assert rep[9] == "duplicate username (first used at line 1)"
    assert rep[10] == "skipped: a user with this username already exists"
    assert rep[12].startswith("invalid JSON")
    assert_no_hash(r.stdout, r.stderr)


def test_hashes_are_stored_as_given_and_roles_split(server, imported):
    for n in CSV_NAMES + JSONL_NAMES:
        assert stored_hash(server, n) == USERS[n][1]
    r = run_cli("user", "show", CSV_NAMES[0], "--json", data_dir=server.data_dir)
    assert r.returncode == 0, r.stderr
    shown = json.loads(r.stdout)
    assert sorted(shown["roles"]) == ["admin", "user"]
    assert shown["email"] == f"{CSV_NAMES[0]}@example.com"
    r = run_cli("user", "show", CSV_NAMES[1], "--json", data_dir=server.data_dir)
    assert json.loads(r.stdout)["roles"] == ["user"]  # empty roles field: the default


def test_each_batch_is_audited_once(server, imported):
    events = [e for e in audit_events(server, "user.created") if e["details"].get("import")]
    by_file = {}
    for e in events:
        assert e["actor"] == "cli"
        by_file.setdefault(e["details"]["file"], []).append(e["details"]["count"])
    assert sum(by_file["users.csv"]) == 4 and len(by_file["users.csv"]) == 1
    # JSONL: 5 rows pass the reader (lines 1, 2, 3, 5, 10) -> batches of 2 import 2, 1 and 0
    # users; a batch that imported nobody is not audited.
    assert sorted(by_file["users.jsonl"]) == [1, 2], by_file


def test_reimport_skips_existing_users(server, imported):
    before = user_count(server)
    r = run_cli("user", "import", imported["csv_path"], "--json", "--report",
                str(imported["dir"] / "again.txt"), data_dir=server.data_dir)
    s = summary(r)
    assert (s["imported"], s["rejected"], s["skipped_existing"]) == (0, 6, 4), s
    assert user_count(server) == before


def test_dry_run_writes_nothing(server, imported, tmp_path):
    path = str(tmp_path / "dry.csv")
    write_csv(path, [["username", "password_hash"],
                     [uname("dry1"), USERS[uname("bc-2b")][1]],
                     [CSV_NAMES[0], USERS[uname("bc-2b")][1]]])
    before = user_count(server)
    r = run_cli("user", "import", path, "--dry-run", data_dir=server.data_dir)
    assert r.returncode == 0, (r.stdout, r.stderr)
    assert r.stdout.startswith("dry run: would import 1 user(s), rejected 0, skipped 1 existing")
    assert user_count(server) == before


def test_bad_header_or_format_imports_nothing(server, tmp_path):
    before = user_count(server)
    path = str(tmp_path / "bad.csv")
    write_csv(path, [["username", "password", "roles"], ["x", "y", "z"]])
    r = run_cli("user", "import", path, data_dir=server.data_dir)
    assert r.returncode == 1
    assert "line 1: unknown column \"password\"" in r.stderr
    txt = str(tmp_path / "users.txt")
    with open(txt, "w") as f:
        f.write("username,password_hash\n")
    r = run_cli("user", "import", txt, data_dir=server.data_dir)
    assert r.returncode == 1 and "--format" in r.stderr
    assert user_count(server) == before


def test_imported_users_log_in_and_get_argon2id(server, imported):
    # A wrong password changes nothing.
    n = uname("bc-2b")
    assert login(server, username=n, password="wrong-password-0").status_code in (400, 401)
    assert stored_hash(server, n) == USERS[n][1]

    for n in CSV_NAMES + JSONL_NAMES:
        password, _, scheme = USERS[n]
        r = login(server, username=n, password=password)
        assert r.status_code == 200, (n, r.text)
        new_hash = stored_hash(server, n)
        assert new_hash.startswith("$argon2id$v=19$m=19456,t=2,p=1$"), (n, new_hash)
        # and the new hash verifies the same password
        assert login(server, username=n, password=password).status_code == 200

    events = audit_events(server, "password.rehashed")
    by_subject = {e["subject"]: e for e in events}
    ids = dict(query_database(server, "SELECT username, id FROM users"))
    for n in CSV_NAMES + JSONL_NAMES:
        e = by_subject.get(ids[n])
        assert e is not None, n
        assert e["details"] == {"from": USERS[n][2]}, (n, e)
        assert e["actor"] == ids[n]
    # exactly one rehash per user: the second login found a current hash
    assert sum(1 for e in events if e["subject"] in {ids[n] for n in CSV_NAMES + JSONL_NAMES}) \
        == len(CSV_NAMES + JSONL_NAMES)


def test_http_basic_login_also_rehashes_and_audits(server, tmp_path):
    # [basic] is enabled by default: the first Basic request verifies the imported bcrypt hash,
    # stores Argon2id and audits it with "method": "basic".
    name, password = uname("basic-bc"), "basic-bcrypt-pass-7"
    path = str(tmp_path / "basic.csv")
    write_csv(path, [["username", "password_hash"],
                     [name, bcrypt.hashpw(password.encode(), bcrypt.gensalt(4)).decode()]])
    r = run_cli("user", "import", path, "--json", data_dir=server.data_dir)
    assert r.returncode == 0, r.stderr
    assert stored_hash(server, name).startswith("$2b$")
    r = requests.get(server.url("/v1/me"), auth=(name, password), timeout=10)
    assert r.status_code == 200, r.text
    assert r.json()["auth_method"] == "basic"
    assert stored_hash(server, name).startswith("$argon2id$")
    user_id = query_database(server, "SELECT id FROM users WHERE username = ?", (name,))[0][0]
    events = [e for e in audit_events(server, "password.rehashed") if e["subject"] == user_id]
    assert len(events) == 1, events
    assert events[0]["details"] == {"from": "bcrypt", "method": "basic"}
