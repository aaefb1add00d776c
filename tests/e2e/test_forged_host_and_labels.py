"""Two controls of docs/threat-model.md that had no test (finding F9, rows J2 and O2):

- J2: no URL the server advertises or redirects to is built from the request's `Host` or
  `X-Forwarded-*` headers — every one comes from the configured issuer, so a forged `Host`
  (host-header injection, cache poisoning of the discovery documents) changes nothing. Checked
  with the peer untrusted and with loopback as a trusted proxy, whose forwarded headers do count
  elsewhere (client IP, DPoP `htu`).
- O2: metric labels come from fixed route names and enums, never from the request, so a flood of
  distinct paths, methods, hosts and query strings cannot grow `/metrics` without bound.
"""
import secrets
from urllib.parse import urlencode

import pytest
import requests

from browser_flow import RelyingParty, create_client
from conftest import admin_token, start_server
from test_lockout import TRUST_LOOPBACK

EVIL = "evil.example"
FORGED = {"Host": EVIL, "X-Forwarded-Host": EVIL, "X-Forwarded-Proto": "https",
          "X-Forwarded-Port": "4443", "Forwarded": f"host={EVIL};proto=https"}


@pytest.fixture(scope="module", params=["untrusted_peer", "trusted_proxy"])
def host_server(request):
    s = start_server(args=TRUST_LOOPBACK if request.param == "trusted_proxy" else [])
    yield s
    s.stop()


def urls_in(value):
    """Every string in a JSON document that looks like a URL."""
    if isinstance(value, dict):
        for v in value.values():
            yield from urls_in(v)
    elif isinstance(value, list):
        for v in value:
            yield from urls_in(v)
    elif isinstance(value, str) and "://" in value:
        yield value


@pytest.mark.parametrize("path", ["/.well-known/openid-configuration",
                                  "/.well-known/oauth-authorization-server",
                                  "/openapi.json", "/.well-known/jwks.json"])
def test_documents_ignore_a_forged_host(host_server, path):
    honest = requests.get(host_server.url(path), timeout=5)
    forged = requests.get(host_server.url(path), headers=FORGED, timeout=5)
    assert honest.status_code == forged.status_code == 200, forged.text[:300]
    assert forged.json() == honest.json()
    assert EVIL not in forged.text
    for url in urls_in(forged.json()):
        assert url.startswith(host_server.base), url
    for name, value in forged.headers.items():
        assert EVIL not in value, (name, value)


def test_discovery_lists_only_the_configured_issuer(host_server):
    doc = requests.get(host_server.url("/.well-known/openid-configuration"), headers=FORGED,
                       timeout=5).json()
    assert doc["issuer"] == host_server.base
    urls = list(urls_in(doc))
    assert len(urls) >= 5  # token, jwks, authorize, introspect, revoke, userinfo ...
    assert all(u.startswith(host_server.base + "/") for u in urls if u != doc["issuer"])


def test_challenges_and_the_login_page_ignore_a_forged_host(host_server):
    r = requests.get(host_server.url("/v1/me"), headers={**FORGED, "Authorization": "Bearer x"},
                     timeout=5)
    assert r.status_code == 401
    assert EVIL not in r.headers["WWW-Authenticate"] and EVIL not in r.text

    rp = RelyingParty(host_server, create_client(host_server))
    rp.browser.headers.update(FORGED)
    page = rp.authorize()
    assert page.status_code == 200, page.text[:300]
    assert EVIL not in page.text
    assert all(EVIL not in v for v in page.headers.values())
    query = rp.sign_in()
    # RFC 9207: the authorization response names the configured issuer, not the request's host.
    assert query["iss"] == host_server.base
    assert query["state"] == rp.state


# ---------------------------------------------------------------- O2

def series(server):
    """The metric series (name + labels) that /metrics exposes right now."""
    text = requests.get(server.url("/metrics"), timeout=5).text
    return {line.rsplit(" ", 1)[0] for line in text.splitlines() if line and line[0] != "#"}


def test_metric_series_do_not_grow_with_request_variety(server):
    token = admin_token(server)
    methods = ["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"]

    def flood(n, tag):
        with requests.Session() as s:
            for i in range(n):
                junk = f"{tag}{i}-{secrets.token_hex(4)}"
                method = methods[i % len(methods)]
                s.request(method, server.url(f"/{junk}/x?{urlencode({junk: junk})}"),
                          headers={"Host": f"{junk}.example"}, timeout=5)
                s.request(method, server.url(f"/v1/users/{junk}"),
                          headers={"Authorization": f"Bearer {token}"}, timeout=5)
                s.get(server.url(f"/oauth2/{junk}"), timeout=5)
                s.get(server.url("/v1/forward-auth"),
                      headers={"X-Forwarded-Host": f"{junk}.example",
                               "X-Forwarded-Uri": f"/{junk}", "X-Forwarded-Method": "GET",
                               "Authorization": f"Bearer {junk}"}, timeout=5)

    # Warm up: every kind of request once, so that every fixed series exists.
    flood(len(methods) * 2, "warm")
    # /metrics itself is a route with its own series, recorded once its answer is written:
    # a scrape can come back before the previous scrape's own series exist, so scrape until
    # they do (a bounded number of times) before taking the reference set.
    before = series(server)
    for _ in range(100):
        if any('route="/metrics"' in s for s in before):
            break
        before = series(server)
    assert any('route="/metrics"' in s for s in before)
    flood(150, "flood")
    after = series(server)
    assert len(before) > 20  # the exposition is really parsed
    assert after == before, sorted(after - before)[:20]
    assert not any("flood" in s or "warm" in s for s in after)
