"""Password login with the form FastAPI sends, /v1/me, and every rejection around them."""
import base64
import json
import socket
import time

import jwt
import requests

from conftest import ADMIN_PASSWORD, admin_token, login


def test_password_grant_with_fastapi_form_returns_bearer_token(server):
    r = login(server)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 900
    assert body["scope"] == "*"
    assert r.headers["Cache-Control"] == "no-store"
    assert r.headers["Pragma"] == "no-cache"
    assert r.headers["Content-Type"].startswith("application/json")
    assert r.headers.get("X-Request-Id")


def test_access_token_header_and_claims_match_the_contract(server):
    token = admin_token(server)
    header = jwt.get_unverified_header(token)
    assert header["typ"] == "at+jwt"
    assert header["alg"] == "EdDSA"
    assert header["kid"]
    assert set(header) == {"alg", "kid", "typ"}
    claims = jwt.decode(token, options={"verify_signature": False})
    for name in ("iss", "sub", "aud", "exp", "iat", "nbf", "jti", "client_id", "scope", "roles",
                 "username", "uv"):
        assert name in claims, name
    assert claims["client_id"] == "default"
    assert claims["username"] == "admin"
    assert claims["roles"] == ["admin"]
    assert claims["exp"] - claims["iat"] == 900
    assert claims["iss"] == server.base


def test_token_verifies_independently_with_pyjwt_and_our_jwks(server):
    token = admin_token(server)
    meta = requests.get(server.url("/.well-known/openid-configuration"), timeout=5).json()
    assert meta["jwks_uri"] == server.base + "/.well-known/jwks.json"
    jwks_client = jwt.PyJWKClient(meta["jwks_uri"])
    key = jwks_client.get_signing_key_from_jwt(token)
    claims = jwt.decode(token, key.key, algorithms=["EdDSA"], audience="portcullis",
                        issuer=meta["issuer"])
    assert claims["username"] == "admin"


def test_jwks_lists_public_keys_only(server):
    # One active key per algorithm (ID tokens are signed with the client's
    # id_token_signed_response_alg, DESIGN §8); the EdDSA one signs access tokens.
    r = requests.get(server.url("/.well-known/jwks.json"), timeout=5)
    assert r.status_code == 200
    keys = r.json()["keys"]
    kty = {"EdDSA": "OKP", "ES256": "EC", "RS256": "RSA"}
    assert {k["alg"] for k in keys} == set(kty)
    for k in keys:
        assert k["use"] == "sig" and k["kty"] == kty[k["alg"]] and k["kid"]
        for private in ("d", "p", "q", "dp", "dq", "qi"):
            assert private not in k  # never the private part
    token = admin_token(server)
    assert jwt.get_unverified_header(token)["kid"] in {k["kid"] for k in keys if k["alg"] == "EdDSA"}


def test_metadata_documents_agree(server):
    a = requests.get(server.url("/.well-known/openid-configuration"), timeout=5).json()
    b = requests.get(server.url("/.well-known/oauth-authorization-server"), timeout=5).json()
    assert a == b
    assert a["issuer"] == server.base
    assert a["token_endpoint"] == server.base + "/oauth2/token"
    assert {"password", "refresh_token", "client_credentials"} <= set(a["grant_types_supported"])
    assert a["introspection_endpoint"] == server.base + "/oauth2/introspect"
    assert a["revocation_endpoint"] == server.base + "/oauth2/revoke"
    assert "client_secret_basic" in a["token_endpoint_auth_methods_supported"]


def test_me_returns_the_caller(server):
    token = admin_token(server)
    r = requests.get(server.url("/v1/me"), headers={"Authorization": f"Bearer {token}"}, timeout=5)
    assert r.status_code == 200, r.text
    me = r.json()
    assert me["kind"] == "user"
    assert me["username"] == "admin"
    assert me["roles"] == ["admin"]
    assert me["permissions"] == ["*"]
    assert me["auth_method"] == "bearer"
    assert me["id"] == jwt.decode(token, options={"verify_signature": False})["sub"]


def test_me_without_credentials_is_401_with_bearer_challenge(server):
    r = requests.get(server.url("/v1/me"), timeout=5)
    assert r.status_code == 401
    assert r.headers["WWW-Authenticate"].startswith("Bearer")
    assert "error=" not in r.headers["WWW-Authenticate"]
    assert r.headers["Content-Type"].startswith("application/problem+json")
    body = r.json()
    assert body["status"] == 401 and body["title"] and body["detail"]


def tamper(token):
    header, payload, sig = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["roles"] = ["admin", "superuser"]
    payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{header}.{payload}.{sig}"


def test_tampered_token_is_rejected(server):
    token = admin_token(server)
    for bad in (tamper(token), token[:-2] + ("AA" if token[-2:] != "AA" else "BB"),
                token + "x", "not.a.jwt", "a.b", ""):
        r = requests.get(server.url("/v1/me"), headers={"Authorization": f"Bearer {bad}"},
                         timeout=5)
        assert r.status_code == 401, bad
        if bad:
            assert 'error="invalid_token"' in r.headers["WWW-Authenticate"]


def test_alg_none_token_is_rejected(server):
    token = admin_token(server)
    _, payload, _ = token.split(".")
    header = base64.urlsafe_b64encode(b'{"alg":"none","typ":"at+jwt"}').rstrip(b"=").decode()
    r = requests.get(server.url("/v1/me"), headers={"Authorization": f"Bearer {header}.{payload}."},
                     timeout=5)
    assert r.status_code == 401


def test_wrong_password_and_unknown_user_are_indistinguishable(server):
    wrong = login(server, password="definitely-not-the-password")
    unknown = login(server, username="nobody-here", password="definitely-not-the-password")
    assert wrong.status_code == unknown.status_code == 400
    assert wrong.json() == unknown.json() == {"error": "invalid_grant",
                                              "error_description": "invalid username or password"}
    assert wrong.headers["Cache-Control"] == unknown.headers["Cache-Control"] == "no-store"


def test_username_is_case_insensitive(server):
    assert login(server, username="ADMIN").status_code == 200


def test_missing_parameters_are_invalid_request(server):
    for form in ({"username": "admin", "password": ADMIN_PASSWORD},
                 {"grant_type": "password", "password": ADMIN_PASSWORD},
                 {"grant_type": "password", "username": "admin"}):
        r = requests.post(server.url("/oauth2/token"), data=form, timeout=5)
        assert r.status_code == 400
        assert r.json()["error"] == "invalid_request"


def test_unsupported_grant_type(server):
    r = requests.post(server.url("/oauth2/token"), data={"grant_type": "magic"}, timeout=5)
    assert r.status_code == 400
    assert r.json()["error"] == "unsupported_grant_type"


def test_duplicate_form_parameters_are_rejected(server):
    body = f"grant_type=password&username=admin&username=admin&password={ADMIN_PASSWORD}"
    r = requests.post(server.url("/oauth2/token"), data=body,
                      headers={"Content-Type": "application/x-www-form-urlencoded"}, timeout=5)
    assert r.status_code == 400
    assert r.json()["error"] == "invalid_request"


def test_malformed_form_and_wrong_content_type_are_rejected(server):
    for body, ctype in (("grant_type=password&username=%zz", "application/x-www-form-urlencoded"),
                        ("grant_type=password&username=%ff%fe", "application/x-www-form-urlencoded"),
                        ('{"grant_type":"password"}', "application/json"),
                        ("grant_type=password", "text/plain")):
        r = requests.post(server.url("/oauth2/token"), data=body.encode(),
                          headers={"Content-Type": ctype}, timeout=5)
        assert r.status_code == 400, (body, ctype, r.text)
        assert r.json()["error"] == "invalid_request"


def test_requested_scope_narrows_the_token(server):
    r = login(server, scope="users:read")
    assert r.status_code == 200, r.text
    assert r.json()["scope"] == "users:read"


def test_invalid_scope_syntax_is_rejected(server):
    r = login(server, scope="Not A Scope!")
    assert r.status_code == 400
    assert r.json()["error"] == "invalid_scope"


def test_unknown_client_is_invalid_client(server):
    r = login(server, client_id="no-such-client", client_secret="x")
    assert r.status_code == 401
    assert r.json()["error"] == "invalid_client"
    assert r.headers["WWW-Authenticate"].startswith("Basic")


def test_oversize_body_is_413(server):
    r = requests.post(server.url("/oauth2/token"), data="a=" + "x" * 70000,
                      headers={"Content-Type": "application/x-www-form-urlencoded"}, timeout=5)
    assert r.status_code == 413


def test_oversize_header_is_431(server):
    r = requests.get(server.url("/healthz"), headers={"X-Big": "x" * 9000}, timeout=5)
    assert r.status_code == 431


def test_method_not_allowed_lists_allowed_methods(server):
    r = requests.post(server.url("/v1/me"), timeout=5)
    assert r.status_code == 405
    assert "GET" in r.headers["Allow"]


def test_unknown_route_is_404_problem_json(server):
    r = requests.get(server.url("/v1/nothing-here"), timeout=5)
    assert r.status_code == 404
    assert r.headers["Content-Type"].startswith("application/problem+json")


def test_request_id_is_echoed_when_sane_and_generated_otherwise(server):
    r = requests.get(server.url("/healthz"), headers={"X-Request-Id": "abc-123"}, timeout=5)
    assert r.headers["X-Request-Id"] == "abc-123"
    r = requests.get(server.url("/healthz"), headers={"X-Request-Id": "bad id\t<script>"},
                     timeout=5)
    assert r.headers["X-Request-Id"] != "bad id\t<script>"
    assert len(r.headers["X-Request-Id"]) >= 16


def test_slow_client_is_cut_off_by_the_header_timeout():
    from conftest import start_server
    s = start_server(args=["--set", "server.header_timeout_ms=500"])
    try:
        sock = socket.create_connection(("127.0.0.1", s.port), timeout=5)
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        start = time.monotonic()
        closed = False
        # Keep dribbling header bytes: the deadline covers the whole header, not each read.
        while time.monotonic() - start < 5:
            try:
                sock.sendall(b"X-Slow: y\r\n")
                data = sock.recv(4096)
                if data == b"" or b"408" in data or b"HTTP/1.1" in data:
                    closed = True
                    break
            except (BrokenPipeError, ConnectionResetError):
                closed = True
                break
            except socket.timeout:
                pass
        assert closed, "server kept a slow client's connection open"
        assert time.monotonic() - start < 4
        sock.close()
        # and the server still serves others
        assert requests.get(s.url("/healthz"), timeout=5).status_code == 200
    finally:
        s.stop()


def test_health_ready_and_metrics(server):
    assert requests.get(server.url("/healthz"), timeout=5).json()["status"] == "ok"
    r = requests.get(server.url("/readyz"), timeout=5)
    assert r.status_code == 200 and r.json()["status"] == "ready"
    login(server, password="wrong-password-for-metrics")
    text = requests.get(server.url("/metrics"), timeout=5).text
    assert "portcullis_password_verifications_total" in text
    assert "portcullis_login_attempts_total" in text
    assert "portcullis_http_requests_total" in text
    assert "portcullis_hash_queue_depth" in text


def test_access_log_has_one_line_per_request_and_no_secrets(server):
    rid = "log-check-12345"
    requests.get(server.url("/healthz?token=should-not-appear"), headers={"X-Request-Id": rid},
                 timeout=5)
    token = admin_token(server)
    requests.get(server.url("/v1/me"), headers={"Authorization": f"Bearer {token}"}, timeout=5)
    lines = [e for e in server.log_events() if e.get("event") == "http.request"]
    mine = [e for e in lines if e.get("request_id") == rid]
    assert len(mine) == 1
    for field in ("method", "route", "status", "latency_ms", "client_ip"):
        assert field in mine[0], field
    text = server.log_text()
    assert ADMIN_PASSWORD not in text
    assert token not in text
    assert token.split(".")[2] not in text
    assert "should-not-appear" not in text


def test_openapi_document_lists_the_routes(server):
    r = requests.get(server.url("/openapi.json"), timeout=5)
    assert r.status_code == 200
    doc = r.json()
    assert doc["openapi"].startswith("3.1")
    assert "get" in doc["paths"]["/v1/me"]
    assert doc["paths"]["/v1/me"]["get"]["security"]
    assert "post" in doc["paths"]["/oauth2/token"]
    flows = doc["components"]["securitySchemes"]["oauth2"]["flows"]
    assert flows["password"]["tokenUrl"] == server.base + "/oauth2/token"


def test_head_is_served_where_get_is(server):
    r = requests.head(server.url("/healthz"), timeout=5)
    assert r.status_code == 200
    assert r.text == ""
