"""Helpers for the browser sign-in tests (DESIGN.md §8): a relying party's side of the
authorization code flow with PKCE, driven with `requests` the way a browser would follow it."""
import base64
import hashlib
import secrets
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlencode, urlsplit

import requests

from conftest import ADMIN_PASSWORD, admin_token


def pkce_pair():
    verifier = secrets.token_urlsafe(48)[:64]
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    return verifier, challenge.rstrip(b"=").decode()


class FormParser(HTMLParser):
    """The first <form>: its action, method and every <input>'s name -> value."""

    def __init__(self):
        super().__init__()
        self.action = None
        self.method = None
        self.inputs = {}
        self.labels = []
        self._in_form = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form" and self.action is None:
            self.action, self.method, self._in_form = a.get("action"), a.get("method"), True
        elif tag == "input" and self._in_form and a.get("name"):
            self.inputs[a["name"]] = a.get("value", "")
        elif tag == "label":
            self.labels.append(a.get("for"))

    def handle_endtag(self, tag):
        if tag == "form":
            self._in_form = False


def parse_form(html):
    p = FormParser()
    p.feed(html)
    return p


def create_client(server, public=True, redirect_uris=("http://127.0.0.1:9/cb",), **extra):
    body = {
        "name": "web app",
        "grant_types": ["authorization_code", "refresh_token"],
        "redirect_uris": list(redirect_uris),
        "post_logout_redirect_uris": ["http://127.0.0.1:9/bye"],
        "scopes": [],
    }
    if public:
        body["token_endpoint_auth_method"] = "none"
    body.update(extra)
    r = requests.post(server.url("/v1/clients"), json=body,
                      headers={"Authorization": f"Bearer {admin_token(server)}"}, timeout=5)
    assert r.status_code == 201, r.text
    return r.json()


def query_of(location):
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


class RelyingParty:
    """One browser (a requests.Session holding cookies) signing in to one client."""

    def __init__(self, server, client, redirect_uri=None):
        self.server = server
        self.client = client
        self.redirect_uri = redirect_uri or client["redirect_uris"][0]
        self.browser = requests.Session()
        self.verifier, self.challenge = pkce_pair()
        self.state = secrets.token_urlsafe(12)
        self.nonce = secrets.token_urlsafe(12)

    def authorize_params(self, **overrides):
        p = {"response_type": "code", "client_id": self.client["client_id"],
             "redirect_uri": self.redirect_uri, "scope": "openid profile email",
             "state": self.state, "nonce": self.nonce, "code_challenge": self.challenge,
             "code_challenge_method": "S256"}
        p.update(overrides)
        return {k: v for k, v in p.items() if v is not None}

    def authorize(self, **overrides):
        return self.browser.get(self.server.url("/oauth2/authorize?" +
                                                urlencode(self.authorize_params(**overrides))),
                                allow_redirects=False, timeout=10)

    def submit(self, page, **fields):
        form = parse_form(page.text)
        data = dict(form.inputs)
        data.update(fields)
        return self.browser.post(self.server.url(form.action), data=data,
                                 allow_redirects=False, timeout=10)

    def sign_in(self, username="admin", password=ADMIN_PASSWORD, **overrides):
        """Authorize, fill in the login page, return the redirect's query (code, state, iss)."""
        page = self.authorize(**overrides)
        assert page.status_code == 200, page.text
        r = self.submit(page, username=username, password=password)
        assert r.status_code == 303, r.text
        assert r.headers["Location"].startswith(self.redirect_uri)
        return query_of(r.headers["Location"])

    def exchange(self, code, verifier=None, redirect_uri=None, auth=None, **extra):
        form = {"grant_type": "authorization_code", "code": code,
                "redirect_uri": redirect_uri or self.redirect_uri,
                "code_verifier": verifier or self.verifier}
        if auth is None and self.client.get("token_endpoint_auth_method") == "none":
            form["client_id"] = self.client["client_id"]
        form.update(extra)
        return requests.post(self.server.url("/oauth2/token"), data=form, auth=auth, timeout=10)
