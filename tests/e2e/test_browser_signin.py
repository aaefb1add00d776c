"""Browser sign-in against the real binary (issue #12, DESIGN.md §8): /oauth2/authorize with PKCE,
the login page, authorization codes, ID tokens, userinfo, sessions (SSO, prompt, max_age),
RP-initiated logout and /v1/me/sessions — driven with `requests` as a browser would."""
import secrets
import time

import jwt
import requests

from browser_flow import RelyingParty, create_client, parse_form, query_of
from conftest import ADMIN_PASSWORD, admin_token, login, query_database


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def jwks_key(server, kid):
    keys = requests.get(server.url("/.well-known/jwks.json"), timeout=5).json()["keys"]
    for k in keys:
        if k["kid"] == kid:
            return jwt.PyJWK(k)
    raise AssertionError(f"kid {kid} not in the JWKS")


def verify_id_token(server, rp, id_token):
    header = jwt.get_unverified_header(id_token)
    assert header["typ"] == "JWT"
    key = jwks_key(server, header["kid"])
    return jwt.decode(id_token, key.key, algorithms=[header["alg"]],
                      audience=rp.client["client_id"], issuer=server.url(""))


def test_discovery_lists_the_code_flow(server):
    m = requests.get(server.url("/.well-known/openid-configuration"), timeout=5).json()
    assert m["authorization_endpoint"] == server.url("/oauth2/authorize")
    assert m["userinfo_endpoint"] == server.url("/oauth2/userinfo")
    assert m["end_session_endpoint"] == server.url("/oauth2/logout")
    assert m["response_types_supported"] == ["code"]
    assert m["code_challenge_methods_supported"] == ["S256"]
    assert m["subject_types_supported"] == ["public"]
    assert "RS256" in m["id_token_signing_alg_values_supported"]
    assert "authorization_code" in m["grant_types_supported"]
    assert "openid" in m["scopes_supported"]
    for claim in ("sub", "iss", "aud", "nonce", "auth_time", "amr", "preferred_username"):
        assert claim in m["claims_supported"]
    assert m["authorization_response_iss_parameter_supported"] is True


def test_login_page_is_strict_html(server):
    rp = RelyingParty(server, create_client(server))
    page = rp.authorize()
    assert page.status_code == 200
    assert page.headers["Content-Type"].startswith("text/html")
    csp = page.headers["Content-Security-Policy"]
    assert "script-src" not in csp and "unsafe-inline" not in csp and "default-src 'none'" in csp
    assert "frame-ancestors 'none'" in csp
    assert page.headers["X-Frame-Options"] == "DENY"
    assert page.headers["Cache-Control"] == "no-store"
    assert "<script" not in page.text.lower()
    form = parse_form(page.text)
    assert form.method == "post" and form.action == "/oauth2/authorize"
    assert set(form.inputs) >= {"csrf_token", "username", "password", "client_id",
                                "redirect_uri", "code_challenge", "state"}
    assert len(form.inputs["csrf_token"]) >= 32
    assert "username" in form.labels and "password" in form.labels  # every field labelled
    cookie = page.headers["Set-Cookie"]
    assert cookie.startswith("__Host-portcullis_csrf=") and "HttpOnly" in cookie
    assert "Path=/" in cookie
    css = requests.get(server.url("/assets/portcullis.css"), timeout=5)
    assert css.status_code == 200 and css.headers["Content-Type"].startswith("text/css")


def test_the_whole_code_flow_with_a_public_client(server):
    rp = RelyingParty(server, create_client(server))
    before = time.time()
    q = rp.sign_in()
    assert q["state"] == rp.state and q["iss"] == server.url("")
    cookie = rp.browser.cookies.get("__Host-portcullis_session")
    assert cookie and len(cookie) == 43

    r = rp.exchange(q["code"])
    assert r.status_code == 200, r.text
    assert r.headers["Cache-Control"] == "no-store"
    t = r.json()
    assert t["token_type"] == "Bearer" and t["refresh_token"] and t["id_token"]
    assert set(t["scope"].split()) >= {"openid", "profile", "email"}

    claims = verify_id_token(server, rp, t["id_token"])
    assert jwt.get_unverified_header(t["id_token"])["alg"] == "RS256"  # the default
    assert claims["sub"] == query_database(
        server, "SELECT id FROM users WHERE username_normalized = 'admin'")[0][0]
    assert claims["nonce"] == rp.nonce and claims["azp"] == rp.client["client_id"]
    assert claims["amr"] == ["pwd"] and claims["preferred_username"] == "admin"
    assert before - 2 <= claims["auth_time"] <= time.time() + 2

    # The access token works on the API and at userinfo; the ID token is no access token.
    me = requests.get(server.url("/v1/me"), headers=bearer(t["access_token"]), timeout=5)
    assert me.status_code == 200 and me.json()["username"] == "admin"
    assert requests.get(server.url("/v1/me"), headers=bearer(t["id_token"]),
                        timeout=5).status_code == 401
    info = requests.get(server.url("/oauth2/userinfo"), headers=bearer(t["access_token"]),
                        timeout=5)
    assert info.status_code == 200, info.text
    assert info.json()["sub"] == claims["sub"] and info.json()["preferred_username"] == "admin"
    assert requests.post(server.url("/oauth2/userinfo"), headers=bearer(t["access_token"]),
                         timeout=5).status_code == 200
    no = requests.get(server.url("/oauth2/userinfo"), timeout=5)
    assert no.status_code == 401 and no.headers["WWW-Authenticate"].startswith("Bearer")

    # The refresh token rotates for the public client (client_id alone) and keeps openid.
    r = requests.post(server.url("/oauth2/token"),
                      data={"grant_type": "refresh_token", "refresh_token": t["refresh_token"],
                            "client_id": rp.client["client_id"]}, timeout=5)
    assert r.status_code == 200, r.text
    assert "openid" in r.json()["scope"].split()


def test_a_confidential_client_authenticates_and_gets_its_algorithm(server):
    client = create_client(server, public=False, id_token_signed_response_alg="ES256")
    rp = RelyingParty(server, client)
    q = rp.sign_in()
    # Without its secret the confidential client is refused.
    assert rp.exchange(q["code"], client_id=client["client_id"]).status_code == 401
    r = rp.exchange(q["code"], auth=(client["client_id"], client["client_secret"]))
    # The failed attempt did not authenticate, so the code is still unspent.
    assert r.status_code == 200, r.text
    assert jwt.get_unverified_header(r.json()["id_token"])["alg"] == "ES256"
    verify_id_token(server, rp, r.json()["id_token"])


def test_a_replayed_code_is_refused_and_revokes_what_it_issued(server):
    rp = RelyingParty(server, create_client(server))
    q = rp.sign_in()
    first = rp.exchange(q["code"])
    assert first.status_code == 200
    again = rp.exchange(q["code"])
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
    t = first.json()
    assert requests.get(server.url("/v1/me"), headers=bearer(t["access_token"]),
                        timeout=5).status_code == 401
    r = requests.post(server.url("/oauth2/token"),
                      data={"grant_type": "refresh_token", "refresh_token": t["refresh_token"],
                            "client_id": rp.client["client_id"]}, timeout=5)
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"
    types = [row[0] for row in query_database(server, "SELECT type FROM audit_events")]
    assert "code.reuse_detected" in types


def test_the_code_is_bound_to_verifier_redirect_and_client(server):
    client = create_client(server, redirect_uris=["http://127.0.0.1:9/cb", "http://127.0.0.1:9/b"])
    other = create_client(server)
    rp = RelyingParty(server, client)
    for kwargs in ({"verifier": rp.verifier[:-1] + ("A" if rp.verifier[-1] != "A" else "B")},
                   {"redirect_uri": "http://127.0.0.1:9/b"},
                   {"client_id": other["client_id"]}):
        q = rp.sign_in(prompt="login")
        r = rp.exchange(q["code"], **kwargs)
        assert r.status_code == 400 and r.json()["error"] == "invalid_grant", (kwargs, r.text)
        # A failed redemption spends the code.
        assert rp.exchange(q["code"]).status_code == 400
    for missing in ("code_verifier", "redirect_uri", "code"):
        q = rp.sign_in(prompt="login")
        form = {"grant_type": "authorization_code", "code": q["code"],
                "redirect_uri": rp.redirect_uri, "code_verifier": rp.verifier,
                "client_id": client["client_id"]}
        del form[missing]
        r = requests.post(server.url("/oauth2/token"), data=form, timeout=5)
        assert r.status_code == 400 and r.json()["error"] == "invalid_request", missing
    r = rp.exchange("not-a-code")
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"


def test_authorize_errors_never_redirect_to_unregistered_places(server):
    rp = RelyingParty(server, create_client(server))
    for overrides in ({"client_id": "no-such-client"}, {"client_id": None},
                      {"redirect_uri": "http://127.0.0.1:9/evil"}, {"redirect_uri": None},
                      {"redirect_uri": "http://127.0.0.1:9/evil", "response_type": "token"}):
        r = rp.authorize(**overrides)
        assert r.status_code == 400, overrides
        assert "Location" not in r.headers
        assert r.headers["Content-Type"].startswith("text/html")
    # A parameter given twice is malformed: also a page, no redirect.
    r = rp.browser.get(server.url("/oauth2/authorize?client_id=a&client_id=b"),
                       allow_redirects=False, timeout=5)
    assert r.status_code == 400 and "Location" not in r.headers


def test_authorize_errors_redirect_with_state_and_iss(server):
    rp = RelyingParty(server, create_client(server))
    cases = [({"code_challenge": None}, "invalid_request"),
             ({"code_challenge_method": "plain"}, "invalid_request"),
             ({"code_challenge_method": None}, "invalid_request"),
             ({"response_type": "token"}, "unsupported_response_type"),
             ({"scope": "openid bogus/scope"}, "invalid_scope"),
             ({"prompt": "sideways"}, "invalid_request"),
             ({"prompt": "none"}, "login_required")]
    for overrides, error in cases:
        r = rp.authorize(**overrides)
        assert r.status_code == 302, (overrides, r.status_code, r.text)
        q = query_of(r.headers["Location"])
        assert r.headers["Location"].startswith(rp.redirect_uri)
        assert q["error"] == error and q["state"] == rp.state, overrides
        assert q["iss"] == server.url("")
        assert "code" not in q


def test_single_sign_on_prompt_and_max_age(server):
    rp = RelyingParty(server, create_client(server))
    rp.sign_in()
    # Signed in: the next authorization answers at once, also with prompt=none.
    for overrides in ({}, {"prompt": "none"}, {"max_age": "3600"}):
        r = rp.authorize(**overrides)
        assert r.status_code == 302, overrides
        q = query_of(r.headers["Location"])
        assert "code" in q and q["state"] == rp.state
    # prompt=login and max_age=0 ask for the password again.
    for overrides in ({"prompt": "login"}, {"max_age": "0"}):
        r = rp.authorize(**overrides)
        assert r.status_code == 200 and "password" in parse_form(r.text).inputs, overrides
    # Another client signs in through the same session too (SSO).
    rp2 = RelyingParty(server, create_client(server))
    rp2.browser = rp.browser
    r = rp2.authorize()
    assert r.status_code == 302 and "code" in query_of(r.headers["Location"])
    assert rp2.exchange(query_of(r.headers["Location"])["code"]).status_code == 200


def test_login_failures_share_one_message_and_csrf_is_enforced(server):
    rp = RelyingParty(server, create_client(server))
    page = rp.authorize()
    bad = rp.submit(page, username="admin", password="wrong password 1")
    unknown = rp.submit(page, username="nobody-here", password="wrong password 1")
    for r in (bad, unknown):
        assert r.status_code == 200 and "Location" not in r.headers
        assert "Invalid username or password." in r.text
        assert "__Host-portcullis_session" not in r.headers.get("Set-Cookie", "")
    # Without the CSRF cookie (another browser) or with a wrong token: no sign-in.
    stranger = requests.post(server.url("/oauth2/authorize"),
                             data={**parse_form(page.text).inputs, "username": "admin",
                                   "password": ADMIN_PASSWORD}, allow_redirects=False, timeout=10)
    assert stranger.status_code == 400 and "Location" not in stranger.headers
    forged = rp.submit(page, username="admin", password=ADMIN_PASSWORD, csrf_token="x" * 43)
    assert forged.status_code == 400 and "Location" not in forged.headers
    assert rp.submit(page, username="admin", password=ADMIN_PASSWORD).status_code == 303


def test_logout_ends_the_session_and_redirects_only_where_registered(server):
    client = create_client(server)
    rp = RelyingParty(server, client)
    t = rp.exchange(rp.sign_in()["code"]).json()
    # An unregistered target: an error page, and the user stays signed in.
    r = rp.browser.get(server.url("/oauth2/logout"),
                       params={"id_token_hint": t["id_token"],
                               "post_logout_redirect_uri": "http://127.0.0.1:9/evil"},
                       allow_redirects=False, timeout=5)
    assert r.status_code == 400 and "Location" not in r.headers
    assert rp.authorize(prompt="none").status_code == 302
    assert "code" in query_of(rp.authorize(prompt="none").headers["Location"])
    # A forged hint is refused.
    r = rp.browser.get(server.url("/oauth2/logout"),
                       params={"id_token_hint": t["id_token"][:-4] + "AAAA"},
                       allow_redirects=False, timeout=5)
    assert r.status_code == 400
    r = rp.browser.get(server.url("/oauth2/logout"),
                       params={"id_token_hint": t["id_token"], "state": "s1",
                               "post_logout_redirect_uri": "http://127.0.0.1:9/bye"},
                       allow_redirects=False, timeout=5)
    assert r.status_code == 302 and r.headers["Location"] == "http://127.0.0.1:9/bye?state=s1"
    assert "Max-Age=0" in r.headers["Set-Cookie"]
    q = query_of(rp.authorize(prompt="none").headers["Location"])
    assert q["error"] == "login_required"
    types = [row[0] for row in query_database(server, "SELECT type FROM audit_events")]
    assert "session.started" in types and "session.ended" in types


def test_me_sessions_list_revoke_and_end_with_logout_all(server):
    # A user of its own, so that the only session listed is this browser's.
    name, password = "sessions-" + secrets.token_hex(4), "cobalt-meadow-ferry-41"
    r = requests.post(server.url("/v1/users"), headers=bearer(admin_token(server)),
                      json={"username": name, "password": password}, timeout=10)
    assert r.status_code == 201, r.text
    rp = RelyingParty(server, create_client(server))
    rp.sign_in(name, password)
    token = login(server, name, password).json()["access_token"]
    r = requests.get(server.url("/v1/me/sessions"), headers=bearer(token), timeout=5)
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    assert len(items) == 1 and all(set(i) >= {"id", "created_at", "expires_at", "amr"} for i in items)
    assert all("token_hash" not in i for i in items)
    newest = items[0]["id"]
    assert requests.delete(server.url(f"/v1/me/sessions/{newest}"), headers=bearer(token),
                           timeout=5).status_code == 204
    assert requests.delete(server.url(f"/v1/me/sessions/{newest}"), headers=bearer(token),
                           timeout=5).status_code == 404
    assert query_of(rp.authorize(prompt="none").headers["Location"])["error"] == "login_required"

    rp.sign_in(name, password)
    assert "code" in query_of(rp.authorize(prompt="none").headers["Location"])
    r = requests.post(server.url("/v1/logout"), json={"all": True}, headers=bearer(token),
                      timeout=5)
    assert r.status_code == 204, r.text
    assert query_of(rp.authorize(prompt="none").headers["Location"])["error"] == "login_required"
    fresh = login(server, name, password).json()["access_token"]
    r = requests.get(server.url("/v1/me/sessions"), headers=bearer(fresh), timeout=5)
    assert r.json()["items"] == []


def test_a_browser_client_may_read_the_token_answer_from_its_own_origin(server):
    client = create_client(server, redirect_uris=["http://127.0.0.1:9/cb"])
    rp = RelyingParty(server, client)
    q = rp.sign_in()
    # A form POST is a CORS "simple request": no preflight; the answer names the origin only
    # when it is the origin of a registered redirect URI.
    r = rp.exchange(q["code"])
    assert r.status_code == 200 and "Access-Control-Allow-Origin" not in r.headers
    q = rp.sign_in(prompt="login")
    form = {"grant_type": "authorization_code", "code": q["code"],
            "redirect_uri": rp.redirect_uri, "code_verifier": rp.verifier,
            "client_id": client["client_id"]}
    r = requests.post(server.url("/oauth2/token"), data=form,
                      headers={"Origin": "http://127.0.0.1:9"}, timeout=10)
    assert r.status_code == 200, r.text
    assert r.headers["Access-Control-Allow-Origin"] == "http://127.0.0.1:9"
    assert "Origin" in r.headers["Vary"]
    refresh = {"grant_type": "refresh_token", "refresh_token": r.json()["refresh_token"],
               "client_id": client["client_id"]}
    r = requests.post(server.url("/oauth2/token"), data=refresh,
                      headers={"Origin": "https://evil.example"}, timeout=10)
    assert r.status_code == 200 and "Access-Control-Allow-Origin" not in r.headers
