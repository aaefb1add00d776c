"""HTTP strictness (DESIGN §10, issue #13): requests whose framing two parsers could read
differently — obs-fold, Content-Length with Transfer-Encoding, differing (or repeated) Content-Length,
a repeated Host — are answered 400 with `Connection: close`, the connection is closed, and nothing
in them (nor anything smuggled behind them) is acted on. Sent over raw sockets, byte by byte,
exactly as written.

Then the same shapes through nginx `auth_request` in front of Portcullis forward auth
(examples/nginx/nginx.conf): whatever nginx does with them, the protected backend never sees a
request that Portcullis did not authenticate."""
import http.server
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

import pytest
import requests

from conftest import admin_token, free_port, start_server

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
NGINX = "/usr/sbin/nginx"
NGINX_TEMPLATE = os.path.join(REPO, "examples", "nginx", "nginx.conf")


# ---------------------------------------------------------------- raw sockets

def exchange(port, data, byte_by_byte=True, timeout=10):
    """Sends `data` (byte by byte: every read boundary the server could meet), then reads until
    the server closes. Returns (all bytes received, closed); `closed` is False when the
    connection was still open after `timeout` seconds."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    received = b""
    try:
        try:
            if byte_by_byte:
                for i in range(len(data)):
                    sock.sendall(data[i:i + 1])
            else:
                sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # answered and closed before the last byte: the answer is still to be read
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                chunk = sock.recv(65536)
            except socket.timeout:
                return received, False
            except ConnectionResetError:
                return received, True
            if not chunk:
                return received, True
            received += chunk
        return received, False
    finally:
        sock.close()


def responses_in(data):
    """The status codes of every HTTP response in `data`, and the first one's header lines."""
    codes = []
    first_headers = None
    rest = data
    while rest.startswith(b"HTTP/1."):
        head, _, rest = rest.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        codes.append(int(lines[0].split(" ")[1]))
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if first_headers is None:
            first_headers = headers
        rest = rest[int(headers.get("content-length", "0")):]
    return codes, first_headers


def create_user_request(token, username, host="127.0.0.1"):
    """A well-formed POST /v1/users (what a smuggled request would try to do)."""
    body = ('{"username":"%s","password":"%s"}' % (username, "Smuggle-me-not-9431")).encode()
    return (f"POST /v1/users HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body


def malformed_cases(token):
    """(name, bytes): each would create user `<name>-front` if its head were honoured and
    `<name>-hidden` if the request smuggled behind it were."""
    auth = f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
    cases = []

    def body_for(name):
        return ('{"username":"%s-front","password":"Smuggle-me-not-9431"}' % name).encode()

    def hidden(name):
        return create_user_request(token, f"{name}-hidden")

    # obs-fold: a folded header line (SP and HTAB).
    for name, fold in (("obsfold-sp", b" "), ("obsfold-tab", b"\t")):
        b = body_for(name)
        cases.append((name, b"POST /v1/users HTTP/1.1\r\nHost: 127.0.0.1\r\n" + auth.encode() +
                      b"X-Note: first\r\n" + fold + b"second\r\n" +
                      f"Content-Length: {len(b)}\r\n\r\n".encode() + b))
    # A folded Content-Length value.
    b = body_for("obsfold-cl")
    cases.append(("obsfold-cl", b"POST /v1/users HTTP/1.1\r\nHost: 127.0.0.1\r\n" + auth.encode() +
                  b"Content-Length:\r\n " + str(len(b)).encode() + b"\r\n\r\n" + b))
    # CL.TE: Content-Length covers the smuggled request, chunked ends before it.
    for name, order in (("cl-te", ("cl", "te")), ("te-cl", ("te", "cl"))):
        chunk = body_for(name)
        chunked = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n0\r\n\r\n"
        smuggled = hidden(name)
        fields = {"cl": f"Content-Length: {len(chunked) + len(smuggled)}\r\n",
                  "te": "Transfer-Encoding: chunked\r\n"}
        cases.append((name, b"POST /v1/users HTTP/1.1\r\nHost: 127.0.0.1\r\n" + auth.encode() +
                      "".join(fields[o] for o in order).encode() + b"\r\n" + chunked + smuggled))
    # A Transfer-Encoding Beast would ignore, with a Content-Length.
    b = body_for("te-identity-cl")
    cases.append(("te-identity-cl", b"POST /v1/users HTTP/1.1\r\nHost: 127.0.0.1\r\n" +
                  auth.encode() + b"Transfer-Encoding: identity\r\n" +
                  f"Content-Length: {len(b)}\r\n\r\n".encode() + b))
    # Differing Content-Length: two fields, and one list.
    for name, make in (("cl-differ", lambda a, c: f"Content-Length: {a}\r\nContent-Length: {c}\r\n"),
                       ("cl-list", lambda a, c: f"Content-Length: {a}, {c}\r\n")):
        b = body_for(name)
        smuggled = hidden(name)
        cases.append((name, b"POST /v1/users HTTP/1.1\r\nHost: 127.0.0.1\r\n" + auth.encode() +
                      make(len(b), len(b) + len(smuggled)).encode() + b"\r\n" + b + smuggled))
    # Equal repeated Content-Length: refused too (RFC 9110 §8.6 allows either; see docs).
    for name, make in (("cl-equal", lambda a: f"Content-Length: {a}\r\nContent-Length: {a}\r\n"),
                       ("cl-equal-list", lambda a: f"Content-Length: {a}, {a}\r\n")):
        b = body_for(name)
        cases.append((name, b"POST /v1/users HTTP/1.1\r\nHost: 127.0.0.1\r\n" + auth.encode() +
                      make(len(b)).encode() + b"\r\n" + b))
    # Duplicate Host, equal and differing.
    for name, second in (("host-twice", "127.0.0.1"), ("host-differ", "evil.example")):
        b = body_for(name)
        cases.append((name, f"POST /v1/users HTTP/1.1\r\nHost: 127.0.0.1\r\nHost: {second}\r\n"
                      .encode() + auth.encode() + f"Content-Length: {len(b)}\r\n\r\n".encode() + b))
    return cases


CASE_NAMES = ["obsfold-sp", "obsfold-tab", "obsfold-cl", "cl-te", "te-cl", "te-identity-cl",
              "cl-differ", "cl-list", "cl-equal", "cl-equal-list", "host-twice", "host-differ"]


@pytest.fixture(scope="module")
def token(server):
    return admin_token(server)


def usernames(server, token):
    r = requests.get(server.url("/v1/users?limit=500"),
                     headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert r.status_code == 200, r.text
    return {u["username"] for u in r.json()["items"]}


def audit_count(server, token):
    r = requests.get(server.url("/v1/audit?limit=500"),
                     headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert r.status_code == 200, r.text
    return len(r.json()["items"])


@pytest.mark.parametrize("name", CASE_NAMES)
def test_malformed_framing_is_400_close_and_changes_nothing(server, token, name):
    data = dict(malformed_cases(token))[name]
    users_before = usernames(server, token)
    audit_before = audit_count(server, token)

    received, closed = exchange(server.port, data)

    codes, headers = responses_in(received)
    assert codes == [400], received[:300]  # one answer: nothing behind it was read as a request
    assert headers.get("connection", "").lower() == "close"
    assert headers.get("content-type") == "application/problem+json"
    assert closed, "the server must close the connection"
    assert usernames(server, token) == users_before
    assert not {f"{name}-front", f"{name}-hidden"} & usernames(server, token)
    assert audit_count(server, token) == audit_before
    assert server.proc.poll() is None


def test_well_formed_requests_sent_byte_by_byte_still_work(server, token):
    """The head is read whole before parsing: a slow client must not be refused or hang."""
    received, _ = exchange(server.port, create_user_request(token, "bytewise-ok") +
                           b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
    codes, _ = responses_in(received)
    assert codes == [201, 200], received[:300]
    assert "bytewise-ok" in usernames(server, token)


def test_chunked_body_without_content_length_is_accepted(server, token):
    body = b'{"username":"chunked-ok","password":"Smuggle-me-not-9431"}'
    data = (f"POST /v1/users HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
            "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
            "Connection: close\r\n\r\n").encode() + f"{len(body):x}\r\n".encode() + body + \
        b"\r\n0\r\n\r\n"
    received, closed = exchange(server.port, data, byte_by_byte=False)
    codes, _ = responses_in(received)
    assert codes == [201], received[:300]
    assert closed


def test_refusals_are_logged_with_their_reason(server, token):
    exchange(server.port, dict(malformed_cases(token))["host-differ"], byte_by_byte=False)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        reasons = {e.get("framing_error") for e in server.log_events()
                   if e.get("event") == "http.framing_refused"}
        if "repeated_host" in reasons:
            return
        time.sleep(0.1)
    pytest.fail("no http.framing_refused log line with framing_error=repeated_host")


# ---------------------------------------------------------------- through nginx auth_request

RULES = """
[server]
trusted_proxies = ["127.0.0.1/32"]

[[forward_auth.rule]]
path = "/public/**"
require = "public"

[[forward_auth.rule]]
path = "/admin/**"
require = ["users:write"]
"""

PUBLIC_BODY = b"public-ok"


class Backend:
    """The protected app: answers 200 to everything and records what nginx let through."""

    def __init__(self):
        self.seen = []  # (method, path, X-Auth-User-Id)
        self.lock = threading.Lock()
        backend = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _answer(self):
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                with backend.lock:
                    backend.seen.append((self.command, self.path,
                                         self.headers.get("X-Auth-User-Id", "")))
                self.send_response(200)
                self.send_header("Content-Length", str(len(PUBLIC_BODY)))
                self.end_headers()
                self.wfile.write(PUBLIC_BODY)

            do_GET = do_POST = do_PUT = do_DELETE = _answer

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def behind_nginx():
    if not os.path.exists(NGINX):
        # scripts/install-deps.sh installs nginx: a missing nginx in CI is a failure.
        if os.environ.get("CI"):
            pytest.fail(f"{NGINX} is not installed")
        pytest.skip(f"{NGINX} is not installed (apt-get install nginx)")
    tmp = tempfile.mkdtemp(prefix="portcullis-strict-nginx-")
    config = os.path.join(tmp, "portcullis.toml")
    with open(config, "w", encoding="utf-8") as f:
        f.write(RULES)
    os.makedirs(os.path.join(tmp, "data"))
    server = start_server(data_dir=os.path.join(tmp, "data"), args=["--config", config])
    backend = Backend()
    nginx = None
    try:
        prefix = os.path.join(tmp, "nginx")
        for sub in ("logs", "tmp"):
            os.makedirs(os.path.join(prefix, sub), exist_ok=True)
        for path in (tmp, prefix, os.path.join(prefix, "tmp")):
            os.chmod(path, 0o755)  # nginx's workers may run as nobody
        port = free_port()
        with open(NGINX_TEMPLATE, encoding="utf-8") as f:
            conf = (f.read().replace("{{LISTEN}}", f"127.0.0.1:{port}")
                    .replace("{{PORTCULLIS}}", f"127.0.0.1:{server.port}")
                    .replace("{{APP}}", f"127.0.0.1:{backend.port}"))
        conf_path = os.path.join(prefix, "nginx.conf")
        with open(conf_path, "w", encoding="utf-8") as f:
            f.write(conf)
        error_log = os.path.join(prefix, "logs", "error.log")
        cmd = [NGINX, "-p", prefix + "/", "-e", error_log, "-c", conf_path, "-g",
               f"daemon off; pid {os.path.join(prefix, 'nginx.pid')};"]
        with open(os.path.join(prefix, "logs", "stdout.log"), "ab") as log:
            nginx = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while True:
            assert nginx.poll() is None, "nginx exited early"
            try:
                if requests.get(f"http://127.0.0.1:{port}/public/up", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                pass
            assert time.monotonic() < deadline, "nginx did not come up"
            time.sleep(0.05)
        yield {"server": server, "backend": backend, "port": port}
    finally:
        if nginx is not None and nginx.poll() is None:
            nginx.send_signal(signal.SIGTERM)
            try:
                nginx.wait(timeout=10)
            except subprocess.TimeoutExpired:
                nginx.kill()
                nginx.wait()
        backend.stop()
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def smuggling_attempts():
    """(name, bytes): each tries to get GET /admin/secret to the backend without credentials,
    hidden behind a public request."""
    hidden = b"GET /admin/secret HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    chunked_end = b"0\r\n\r\n"
    front = b"POST /public/x HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    return [
        ("cl-te", front + f"Content-Length: {len(chunked_end) + len(hidden)}\r\n".encode() +
         b"Transfer-Encoding: chunked\r\n\r\n" + chunked_end + hidden),
        ("te-cl", front + b"Transfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n" +
         f"{len(hidden):x}\r\n".encode() + hidden + b"\r\n" + chunked_end),
        ("te-obsfold", front + b"Transfer-Encoding:\r\n chunked\r\n" +
         f"Content-Length: {len(chunked_end) + len(hidden)}\r\n\r\n".encode() + chunked_end + hidden),
        ("cl-differ", front + b"Content-Length: 0\r\n" +
         f"Content-Length: {len(hidden)}\r\n\r\n".encode() + hidden),
        ("host-twice", b"GET /admin/secret HTTP/1.1\r\nHost: 127.0.0.1\r\nHost: public.example\r\n"
         b"\r\n"),
        ("obsfold-uri", b"GET /public/x HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Original-URI: /public/x"
         b"\r\n /admin/secret\r\n\r\n" + hidden),
        ("pipelined", b"GET /public/x HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" + hidden),
    ]


@pytest.mark.parametrize("name", [n for n, _ in smuggling_attempts()])
def test_smuggling_through_nginx_never_reaches_the_protected_backend(behind_nginx, name):
    data = dict(smuggling_attempts())[name]
    backend = behind_nginx["backend"]
    with backend.lock:
        backend.seen.clear()
    received, _ = exchange(behind_nginx["port"], data, timeout=3)  # nginx keeps it open
    codes, _ = responses_in(received)
    # The backend saw no request for the protected path, nor any without an identity from
    # Portcullis outside the public one.
    time.sleep(0.2)
    with backend.lock:
        seen = list(backend.seen)
    unauthenticated = [s for s in seen if not s[1].startswith("/public/") and not s[2]]
    assert unauthenticated == [], (seen, codes)
    assert all(not s[1].startswith("/admin") for s in seen), (seen, codes)


def test_the_protected_location_works_with_credentials_behind_nginx(behind_nginx):
    """The control: the same setup lets an authenticated admin through, so the test above
    would see a leak if there were one."""
    server = behind_nginx["server"]
    token = admin_token(server)
    base = f"http://127.0.0.1:{behind_nginx['port']}"
    assert requests.get(base + "/admin/secret", timeout=5).status_code == 401
    r = requests.get(base + "/admin/secret", headers={"Authorization": f"Bearer {token}"},
                     timeout=5)
    assert r.status_code == 200
    with behind_nginx["backend"].lock:
        assert any(p == "/admin/secret" and uid for _, p, uid in behind_nginx["backend"].seen)


def test_legitimate_bodies_still_pass_through_nginx(behind_nginx):
    """The strict checks must not refuse what nginx sends on a client's behalf: a chunked and
    a Content-Length upload to the public location reach the backend (nginx asks forward auth
    with a body-less subrequest)."""
    base = f"http://127.0.0.1:{behind_nginx['port']}"

    def chunks():
        yield b"part one, "
        yield b"part two"

    r = requests.post(base + "/public/upload", data=chunks(), timeout=5)  # Transfer-Encoding
    assert r.status_code == 200, r.text
    r = requests.post(base + "/public/upload", data=b"x" * 100, timeout=5)  # Content-Length
    assert r.status_code == 200, r.text
    with behind_nginx["backend"].lock:
        assert [p for m, p, _ in behind_nginx["backend"].seen if m == "POST"][-2:] == \
            ["/public/upload", "/public/upload"]
