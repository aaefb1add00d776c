"""Browser sign-in (DESIGN.md §8) in a real headless Chromium driven by selenium.

Portcullis serves TLS (a self-signed development certificate, tls=auto) because the cookies are
`__Host-` prefixed and browsers keep those only when Secure. A public client redirects to a tiny
HTTP callback server run here in a thread (http://127.0.0.1:<port>/cb). The browser signs in with
the keyboard, lands on the callback; the code is exchanged with requests and the ID token checked
with PyJWT against the JWKS. Also: the TOTP second step and single sign-on.

PORTCULLIS_SAVE_SCREENSHOTS=1 writes docs/images/login-page.png and docs/images/totp-step.png."""
import base64
import hashlib
import hmac
import os
import secrets
import shutil
import struct
import subprocess
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
import pytest
import requests
import urllib3

from browser_flow import pkce_pair
from conftest import ADMIN_PASSWORD, PY_SDK_PATH, free_port, login, start_server

selenium = pytest.importorskip("selenium")  # installed by scripts/install-deps.sh (tests)
from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support import expected_conditions as EC  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CHROMEDRIVER = "/usr/bin/chromedriver"
PASSWORD = "amber-falcon-meadow-58"
WAIT_S = 20
SAVE_SCREENSHOTS = os.environ.get("PORTCULLIS_SAVE_SCREENSHOTS") == "1"


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def totp(secret_b32, offset=0):
    key = base64.b32decode(secret_b32 + "=" * (-len(secret_b32) % 8))
    counter = int(time.time()) // 30 + offset
    mac = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    o = mac[-1] & 0x0F
    value = (struct.unpack(">I", mac[o:o + 4])[0] & 0x7FFFFFFF) % 1_000_000
    return f"{value:06d}"


# ------------------------------------------------------------------ the relying party's callback

class Callback:
    """http://127.0.0.1:<port>/cb in a thread: records each query, answers a small page."""

    def __init__(self):
        self.queries = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                parts = urlsplit(self.path)
                if parts.path == "/cb":
                    outer.queries.append({k: v[0] for k, v in parse_qs(parts.query).items()})
                body = b"<!doctype html><title>callback</title><h1 id=done>signed in</h1>"
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.port = free_port()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.port}/cb"

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


# ------------------------------------------------------------------------------------ fixtures

@pytest.fixture(scope="module")
def tls_server():
    s = start_server(tls="auto")
    yield s
    s.stop()


@pytest.fixture(scope="module")
def callback():
    cb = Callback()
    yield cb
    cb.stop()


@pytest.fixture(scope="module")
def client(tls_server, callback):
    r = requests.post(tls_server.url("/v1/clients"), verify=False, timeout=10,
                      headers=bearer(admin_token_tls(tls_server)),
                      json={"name": "chromium test", "token_endpoint_auth_method": "none",
                            "grant_types": ["authorization_code", "refresh_token"],
                            "redirect_uris": [callback.url], "scopes": []})
    assert r.status_code == 201, r.text
    return r.json()


def new_chrome():
    assert os.path.exists(CHROMEDRIVER), "install chromium-driver (scripts/install-deps.sh)"
    profile = tempfile.mkdtemp(prefix="portcullis-chromium-")
    opts = webdriver.ChromeOptions()
    for a in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
              "--ignore-certificate-errors", f"--user-data-dir={profile}",
              "--window-size=1000,800", "--disable-gpu", "--no-first-run"):
        opts.add_argument(a)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    driver.set_page_load_timeout(WAIT_S)
    driver.set_script_timeout(WAIT_S)
    return driver, profile


@pytest.fixture
def browser():
    driver, profile = new_chrome()
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def admin_token_tls(server):
    r = login(server)
    assert r.status_code == 200, r.text
    return r.json()["access_token"]


# ------------------------------------------------------------------------------------- helpers

class Flow:
    def __init__(self, server, client, callback):
        self.server, self.client, self.callback = server, client, callback
        self.verifier, self.challenge = pkce_pair()
        self.state = secrets.token_urlsafe(12)
        self.nonce = secrets.token_urlsafe(12)

    def authorize_url(self):
        return self.server.url("/oauth2/authorize?" + urlencode({
            "response_type": "code", "client_id": self.client["client_id"],
            "redirect_uri": self.callback.url, "scope": "openid profile email",
            "state": self.state, "nonce": self.nonce, "code_challenge": self.challenge,
            "code_challenge_method": "S256"}))

    def exchange(self, code):
        r = requests.post(self.server.url("/oauth2/token"), verify=False, timeout=10, data={
            "grant_type": "authorization_code", "code": code, "redirect_uri": self.callback.url,
            "code_verifier": self.verifier, "client_id": self.client["client_id"]})
        assert r.status_code == 200, r.text
        return r.json()

    def verify_id_token(self, id_token):
        header = jwt.get_unverified_header(id_token)
        assert header["alg"] == "RS256"
        keys = requests.get(self.server.url("/.well-known/jwks.json"), verify=False,
                            timeout=5).json()["keys"]
        jwk = next(k for k in keys if k["kid"] == header["kid"])
        claims = jwt.decode(id_token, jwt.PyJWK(jwk).key, algorithms=["RS256"],
                            audience=self.client["client_id"], issuer=self.server.url(""))
        assert claims["nonce"] == self.nonce
        return claims


def wait_for_callback(driver, callback, flow):
    WebDriverWait(driver, WAIT_S).until(EC.url_contains(callback.url))
    WebDriverWait(driver, WAIT_S).until(EC.presence_of_element_located((By.ID, "done")))
    q = {k: v[0] for k, v in parse_qs(urlsplit(driver.current_url).query).items()}
    assert q["state"] == flow.state and q["iss"] == flow.server.url("") and q["code"], q
    assert q in callback.queries
    return q


def field(driver, name):
    """The input named `name`, found through its <label for=…> as a user would."""
    el = driver.find_element(By.ID, name)
    label = driver.find_element(By.CSS_SELECTOR, f"label[for='{name}']")
    assert label.text.strip(), f"the label of {name} is empty"
    return el


def save_screenshot(driver, name):
    if SAVE_SCREENSHOTS:
        path = os.path.join(REPO, "docs", "images", name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        assert driver.save_screenshot(path), path


def new_user(server):
    name = "chrome-" + secrets.token_hex(4)
    r = requests.post(server.url("/v1/users"), headers=bearer(admin_token_tls(server)),
                      json={"username": name, "password": PASSWORD, "roles": ["user"]},
                      verify=False, timeout=10)
    assert r.status_code == 201, r.text
    return name


def enrol_totp(server, username):
    token = login(server, username, PASSWORD).json()["access_token"]
    r = requests.post(server.url("/v1/me/mfa/totp"), headers=bearer(token), verify=False,
                      timeout=10)
    assert r.status_code == 201, r.text
    secret = r.json()["secret"]
    r = requests.post(server.url("/v1/me/mfa/totp/confirm"), headers=bearer(token),
                      json={"code": totp(secret, -1)}, verify=False, timeout=10)
    assert r.status_code == 200, r.text
    return secret


# --------------------------------------------------------------------------------------- tests

def test_sign_in_with_the_keyboard_in_chromium(tls_server, client, callback, browser):
    flow = Flow(tls_server, client, callback)
    browser.get(flow.authorize_url())
    WebDriverWait(browser, WAIT_S).until(EC.presence_of_element_located((By.ID, "username")))
    username, password = field(browser, "username"), field(browser, "password")
    button = browser.find_element(By.CSS_SELECTOR, "form button, form input[type=submit]")
    save_screenshot(browser, "login-page.png")

    # Focus order from the start of the page: username, password, the button.
    # The username field has autofocus; a click on the page's top-left corner (no control
    # there) moves focus, and the sequential navigation starting point, to the page's start.
    assert browser.switch_to.active_element == username  # autofocus
    ActionChains(browser).move_by_offset(2, 2).click().perform()
    assert browser.switch_to.active_element.tag_name == "body"
    order = []
    for _ in range(3):
        ActionChains(browser).send_keys(Keys.TAB).perform()
        order.append(browser.switch_to.active_element)
    assert order[0] == username, order[0].get_attribute("outerHTML")
    assert order[1] == password, order[1].get_attribute("outerHTML")
    assert order[2] == button, order[2].get_attribute("outerHTML")

    username.click()
    username.send_keys("admin")
    password.send_keys(ADMIN_PASSWORD)
    password.send_keys(Keys.ENTER)
    q = wait_for_callback(browser, callback, flow)

    tokens = flow.exchange(q["code"])
    claims = flow.verify_id_token(tokens["id_token"])
    assert claims["preferred_username"] == "admin" and claims["amr"] == ["pwd"]
    # Cookies are per host, not per port: Chromium lists 127.0.0.1's session cookie here too.
    session = {c["name"]: c for c in browser.get_cookies()}["__Host-portcullis_session"]
    assert session["secure"] and session["httpOnly"] and session["sameSite"] == "Lax"
    assert session["path"] == "/" and "domain" not in session or \
        not session["domain"].startswith(".")


def test_totp_second_step_in_chromium(tls_server, client, callback, browser):
    name = new_user(tls_server)
    secret = enrol_totp(tls_server, name)
    flow = Flow(tls_server, client, callback)
    browser.get(flow.authorize_url())
    WebDriverWait(browser, WAIT_S).until(EC.presence_of_element_located((By.ID, "username")))
    field(browser, "username").send_keys(name)
    pw = field(browser, "password")
    pw.send_keys(PASSWORD)
    pw.send_keys(Keys.ENTER)
    code = WebDriverWait(browser, WAIT_S).until(
        EC.presence_of_element_located((By.CSS_SELECTOR, "input[name=code]")))
    assert not browser.find_elements(By.CSS_SELECTOR, "input[name=password]")
    save_screenshot(browser, "totp-step.png")
    code.send_keys(totp(secret, 0))  # step -1 was used by the enrolment's confirmation
    code.send_keys(Keys.ENTER)
    q = wait_for_callback(browser, callback, flow)
    claims = flow.verify_id_token(flow.exchange(q["code"])["id_token"])
    assert claims["amr"] == ["pwd", "otp"] and claims["preferred_username"] == name


def test_single_sign_on_in_the_same_browser(tls_server, client, callback, browser):
    first = Flow(tls_server, client, callback)
    browser.get(first.authorize_url())
    WebDriverWait(browser, WAIT_S).until(EC.presence_of_element_located((By.ID, "username")))
    field(browser, "username").send_keys("admin")
    pw = field(browser, "password")
    pw.send_keys(ADMIN_PASSWORD)
    pw.send_keys(Keys.ENTER)
    wait_for_callback(browser, callback, first)

    second = Flow(tls_server, client, callback)
    browser.get(second.authorize_url())  # no form: the session answers at once
    q = wait_for_callback(browser, callback, second)
    assert not browser.find_elements(By.ID, "password")
    claims = second.verify_id_token(second.exchange(q["code"])["id_token"])
    assert claims["preferred_username"] == "admin"


# ------------------------------------------------------- examples/fastapi: the browser front end

@pytest.fixture
def fastapi_front_end(tls_server):
    """examples/fastapi/app.py under uvicorn with WEB_CLIENT_ID: its page /web/ signs in."""
    port = free_port()
    web = f"http://127.0.0.1:{port}/web/"
    r = requests.post(tls_server.url("/v1/clients"), verify=False, timeout=10,
                      headers=bearer(admin_token_tls(tls_server)),
                      json={"name": "fastapi page", "token_endpoint_auth_method": "none",
                            "grant_types": ["authorization_code"], "redirect_uris": [web],
                            "scopes": []})
    assert r.status_code == 201, r.text
    tmp = tempfile.mkdtemp(prefix="portcullis-fastapi-web-")
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PORTCULLIS_URL": tls_server.base,
           "PORTCULLIS_CA_BUNDLE": os.path.join(tls_server.data_dir, "tls", "cert.pem"),
           "PORTCULLIS_AUDIENCE": "portcullis", "WEB_CLIENT_ID": r.json()["client_id"]}
    if PY_SDK_PATH:  # the app verifies tokens with the Python SDK as built here
        env["PYTHONPATH"] = os.pathsep.join(PY_SDK_PATH)
    log_path = os.path.join(tmp, "uvicorn.log")
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            ["/usr/bin/python3", "-m", "uvicorn", "--app-dir",
             os.path.join(REPO, "examples", "fastapi"), "app:app", "--host", "127.0.0.1",
             "--port", str(port), "--log-level", "warning"],
            env=env, cwd=tmp, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, open(log_path, errors="replace").read()
            try:
                if requests.get(web, timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                pass
            assert time.monotonic() < deadline, open(log_path, errors="replace").read()
            time.sleep(0.05)
        yield web
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        shutil.rmtree(tmp, ignore_errors=True)


def test_fastapi_example_page_signs_in_with_pkce(fastapi_front_end, browser):
    browser.get(fastapi_front_end)
    assert browser.execute_script("return window.isSecureContext") is True
    WebDriverWait(browser, WAIT_S).until(EC.element_to_be_clickable((By.ID, "sign-in"))).click()
    WebDriverWait(browser, WAIT_S).until(EC.presence_of_element_located((By.ID, "username")))
    field(browser, "username").send_keys("admin")
    pw = field(browser, "password")
    pw.send_keys(ADMIN_PASSWORD)
    pw.send_keys(Keys.ENTER)
    result = WebDriverWait(browser, WAIT_S).until(
        lambda d: d.find_element(By.ID, "result").get_attribute("data-status")
        or d.find_element(By.ID, "status").get_attribute("class") == "error" or None)
    status_text = browser.find_element(By.ID, "status").text
    body = browser.find_element(By.ID, "result").text
    assert result == "200", (status_text, body)
    assert '"username": "admin"' in body and status_text == "Signed in as admin."
    assert browser.current_url == fastapi_front_end  # the code is gone from the address bar
