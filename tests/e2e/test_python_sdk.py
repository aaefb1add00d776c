"""The Python SDK (issue #14, DESIGN §11) against a real Portcullis: the native module
`portcullis_verifier` (pybind11 over the C++ verifier) and `portcullis.fastapi`, driven through
FastAPI's TestClient. Tokens come from the running server; DPoP proofs are built with
cryptography + PyJWT (tests/e2e/test_dpop.py's Key)."""
import base64
import json
import os
import uuid

import jwt
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import ed25519

from conftest import ADMIN_PASSWORD, PY_SDK_PATH, admin_token, login, start_server

if not PY_SDK_PATH and "address" in os.environ.get("PORTCULLIS_SANITIZE", ""):
    pytest.skip("sanitizer builds do not build the Python binding", allow_module_level=True)

import portcullis_verifier as pv  # noqa: E402
from fastapi import Depends, FastAPI  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402

from portcullis.fastapi import PortcullisAuth  # noqa: E402
from test_dpop import Key  # noqa: E402

PASSWORD = "correct horse battery staple 42"


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unverified(token):
    return jwt.decode(token, options={"verify_signature": False})


@pytest.fixture(scope="module")
def server():
    s = start_server()
    admin = {"Authorization": "Bearer " + admin_token(s)}
    r = requests.post(s.url("/v1/roles"), headers=admin, timeout=10,
                      json={"name": "reader", "permissions": ["articles:*"]})
    assert r.status_code == 201, r.text
    for username, roles in (("reader", ["reader"]), ("nobody", [])):
        r = requests.post(s.url("/v1/users"), headers=admin, timeout=10,
                          json={"username": username, "password": PASSWORD, "roles": roles})
        assert r.status_code == 201, r.text
    s.admin = admin
    s.issuer = requests.get(s.url("/.well-known/openid-configuration"), timeout=5).json()["issuer"]
    s.jwks_url = s.url("/.well-known/jwks.json")
    yield s
    s.stop()


def token_of(server, username, password=PASSWORD, headers=None):
    r = requests.post(server.url("/oauth2/token"), timeout=30, headers=headers or {},
                      data={"grant_type": "password", "username": username, "password": password})
    assert r.status_code == 200, r.text
    return r.json()["access_token"]


def verifier(server, **overrides):
    options = dict(issuer=server.issuer, audience=audience(server), jwks_url=server.jwks_url)
    options.update(overrides)
    return pv.Verifier(**options)


def audience(server):
    if not hasattr(server, "audience"):
        aud = unverified(token_of(server, "nobody"))["aud"]
        server.audience = aud if isinstance(aud, str) else aud[0]
    return server.audience


def reason(v, token):
    with pytest.raises(pv.InvalidToken) as e:
        v.verify(token)
    return e.value.reason


def dpop_token(server, key, username="reader"):
    url = server.url("/oauth2/token")
    r = requests.post(url, timeout=30, headers={"DPoP": key.proof("POST", url)},
                      data={"grant_type": "password", "username": username, "password": PASSWORD})
    assert r.status_code == 200 and r.json()["token_type"] == "DPoP", r.text
    return r.json()["access_token"]


# ---------------------------------------------------------------- portcullis_verifier

def test_verify_returns_the_claims_the_server_issued(server):
    token = token_of(server, "reader")
    claims = verifier(server).verify(token)
    raw = unverified(token)
    assert claims["iss"] == server.issuer == raw["iss"]
    assert claims["sub"] == raw["sub"] and claims["jti"] == raw["jti"]
    assert claims["exp"] == raw["exp"] and claims["iat"] == raw["iat"]
    assert claims["username"] == "reader"
    assert claims["roles"] == ["reader"]
    assert claims["scope"] == raw["scope"] and claims["scopes"] == raw["scope"].split()
    assert audience(server) in claims["aud"]
    assert "cnf" not in claims


def test_every_refusal_names_its_reason(server):
    v = verifier(server)
    token = token_of(server, "reader")
    header, payload, _ = token.split(".")
    assert reason(v, header + "." + payload + "." + b64url(os.urandom(64))) == "bad_signature"
    assert reason(verifier(server, audience="another-api"), token) == "audience_mismatch"
    assert reason(verifier(server, audience=["x", "y"]), token) == "audience_mismatch"
    assert verifier(server, audience=["x", audience(server)]).verify(token)["sub"]
    assert reason(verifier(server, issuer="https://evil.example"), token) == "issuer_mismatch"
    assert reason(v, "abc") == "malformed"
    none = b64url(json.dumps({"alg": "none", "typ": "at+jwt", "kid": "k"}).encode())
    assert reason(v, none + "." + payload + ".") == "malformed"  # empty signature segment
    assert reason(v, none + "." + payload + "." + b64url(b"x")) == "alg_none"
    hs = jwt.encode(unverified(token), "secret", algorithm="HS256",
                    headers={"typ": "at+jwt", "kid": unverified_header(token)["kid"]})
    assert reason(v, hs) == "alg_not_allowed"
    # Signed by a key the issuer never published: unknown kid, or a known kid with a wrong key.
    foreign = ed25519.Ed25519PrivateKey.generate()
    forged_kid = jwt.encode(unverified(token), foreign, algorithm="EdDSA",
                            headers={"typ": "at+jwt", "kid": "not-a-portcullis-key"})
    assert reason(v, forged_kid) == "key_not_found"
    if unverified_header(token)["alg"] == "EdDSA":
        forged = jwt.encode(unverified(token), foreign, algorithm="EdDSA",
                            headers={"typ": "at+jwt", "kid": unverified_header(token)["kid"]})
        assert reason(v, forged) == "bad_signature"
    assert reason(v, "x" * 9000) == "too_large"


def unverified_header(token):
    return jwt.get_unverified_header(token)


def test_an_unreachable_issuer_is_not_fatal_and_bad_options_are_value_errors(server):
    down = pv.Verifier(issuer=server.issuer, audience="x", fetch_timeout=1,
                       jwks_url="http://127.0.0.1:9/.well-known/jwks.json")
    with pytest.raises(pv.InvalidToken) as e:
        down.verify(token_of(server, "reader"))
    assert e.value.reason == "jwks_unavailable"
    assert down.refresh() is False
    for bad in (dict(issuer=""), dict(audience=[]), dict(jwks_url="ftp://x/jwks"),
                dict(jwks_url="http://auth.example/jwks"),  # plain http off loopback
                dict(allowed_algorithms=["HS256"]), dict(leeway=-1),
                dict(ca_file="/nonexistent/ca.pem"), dict(cache_max_entries=-1),
                dict(dpop_replay_entries=-1)):
        with pytest.raises(ValueError):
            verifier(server, **bad)


def test_has_permission_uses_the_servers_wildcards(server):
    claims = verifier(server).verify(token_of(server, "reader"))
    assert pv.has_permission(claims, "articles:read")
    assert pv.has_permission(claims, "articles:delete")
    assert not pv.has_permission(claims, "users:read")
    assert pv.Verifier.has_permission({"scope": "orders:* users:read"}, "orders:refund")
    assert not pv.has_permission({"scope": ""}, "orders:refund")
    assert not pv.has_permission({}, "orders:refund")


def test_a_token_under_a_rotated_key_is_accepted_after_one_refetch(server):
    eager = verifier(server, jwks_min_refresh=0)
    patient = verifier(server)  # default: at most one refetch per 30 s, just spent at creation
    before = token_of(server, "reader")
    r = requests.post(server.url("/v1/keys/rotate"), headers=server.admin, timeout=30)
    assert r.status_code in (200, 201), r.text
    after = token_of(server, "reader")
    assert unverified_header(after)["kid"] != unverified_header(before)["kid"]
    assert eager.verify(after)["sub"]  # unknown kid: refetched at once
    assert eager.verify(before)["sub"]  # the old key is still published
    assert reason(patient, after) == "key_not_found"  # no refetch within jwks_min_refresh
    assert patient.refresh() is True
    assert patient.verify(after)["sub"]


def test_dpop_bound_tokens_need_their_proof(server):
    key = Key("ES256")
    token = dpop_token(server, key)
    v = verifier(server)
    assert reason(v, token) == "dpop_bound_as_bearer"
    url = "https://api.example/articles"
    claims = v.verify_dpop(token, key.proof("GET", url, token=token), "GET", url)
    assert claims["cnf"] == {"jkt": key.jkt}
    with pytest.raises(pv.InvalidToken) as e:
        v.verify_dpop(token, key.proof("GET", "https://api.example/other", token=token), "GET",
                      url)
    assert e.value.reason == "invalid_dpop_proof" and e.value.dpop_error == "htu_mismatch"
    proof = key.proof("GET", url, token=token)
    assert v.verify_dpop(token, proof, "GET", url)["sub"]
    with pytest.raises(pv.InvalidToken) as e:
        v.verify_dpop(token, proof, "GET", url)
    assert e.value.reason == "invalid_dpop_proof" and e.value.dpop_error == "replayed"
    other = Key("EdDSA")
    with pytest.raises(pv.InvalidToken) as e:
        v.verify_dpop(token, other.proof("GET", url, token=token), "GET", url)
    assert e.value.reason == "dpop_key_mismatch"
    bearer = token_of(server, "reader")
    with pytest.raises(pv.InvalidToken) as e:
        v.verify_dpop(bearer, key.proof("GET", url, token=bearer), "GET", url)
    assert e.value.reason == "not_dpop_bound"


# ---------------------------------------------------------------- portcullis.fastapi

@pytest.fixture(scope="module")
def app(server):
    auth = PortcullisAuth(issuer=server.issuer, audience=audience(server),
                          jwks_url=server.jwks_url)
    api = FastAPI()

    @api.get("/articles")
    def articles(claims: dict = Depends(auth.require("articles:read"))):
        return {"sub": claims["sub"], "username": claims.get("username")}

    @api.post("/admin/reindex")
    def reindex(claims: dict = Depends(auth.require("articles:write", "users:write"))):
        return {"ok": True}

    return TestClient(api)


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def test_fastapi_answers_200_with_the_claims(server, app):
    r = app.get("/articles", headers=bearer(token_of(server, "reader")))
    assert r.status_code == 200, r.text
    assert r.json()["username"] == "reader"


def test_fastapi_401_challenges(server, app):
    r = app.get("/articles")
    assert r.status_code == 401
    assert r.headers["WWW-Authenticate"] == 'Bearer realm="portcullis"'
    for headers in (bearer("garbage"), bearer(token_of(server, "reader")[:-4] + "AAAA"),
                    {"Authorization": "Basic dXNlcjpwYXNz"}, {"Authorization": "Bearer"}):
        r = app.get("/articles", headers=headers)
        assert r.status_code == 401, (headers, r.text)
        challenge = r.headers["WWW-Authenticate"]
        assert challenge.startswith('Bearer realm="portcullis", error="invalid_'), challenge
    assert 'error="invalid_token"' in app.get("/articles",
                                              headers=bearer("garbage")).headers["WWW-Authenticate"]


def test_fastapi_403_names_the_missing_scope(server, app):
    r = app.get("/articles", headers=bearer(token_of(server, "nobody")))
    assert r.status_code == 403, r.text
    assert r.headers["WWW-Authenticate"] == \
        'Bearer realm="portcullis", error="insufficient_scope", scope="articles:read"'
    # Every listed permission is required: articles:* is not users:write.
    r = app.post("/admin/reindex", headers=bearer(token_of(server, "reader")))
    assert r.status_code == 403 and "users:write" in r.json()["detail"]


def test_fastapi_is_dpop_aware(server, app):
    key = Key("EdDSA")
    token = dpop_token(server, key)
    url = "http://testserver/articles"
    proof = key.proof("GET", url, token=token)
    r = app.get("/articles", headers={"Authorization": f"DPoP {token}", "DPoP": proof})
    assert r.status_code == 200, r.text
    # The same proof again: a replay (RFC 9449 §11.1).
    r = app.get("/articles", headers={"Authorization": f"DPoP {token}", "DPoP": proof})
    assert r.status_code == 401
    assert r.headers["WWW-Authenticate"].startswith(
        'DPoP algs="ES256 EdDSA", error="invalid_dpop_proof"')
    # The bound token as Bearer: refused with a DPoP challenge (RFC 9449 §7.1).
    r = app.get("/articles", headers=bearer(token))
    assert r.status_code == 401
    assert r.headers["WWW-Authenticate"] == 'DPoP algs="ES256 EdDSA", error="invalid_token", ' \
        'error_description="the access token is invalid or expired"'
    for proof in (None, key.proof("POST", url, token=token), Key().proof("GET", url, token=token),
                  key.proof("GET", "http://testserver/other", token=token)):
        headers = {"Authorization": f"DPoP {token}"}
        if proof:
            headers["DPoP"] = proof
        r = app.get("/articles", headers=headers)
        assert r.status_code == 401, r.text
        assert r.headers["WWW-Authenticate"].startswith(
            'DPoP algs="ES256 EdDSA", error="invalid_dpop_proof"'), r.headers


def test_fastapi_docs_sign_in_against_portcullis(server, app):
    spec = app.get("/openapi.json").json()
    scheme = spec["components"]["securitySchemes"]["Portcullis"]
    assert scheme["type"] == "oauth2"
    flow = scheme["flows"]["authorizationCode"]
    assert flow["authorizationUrl"] == server.issuer + "/oauth2/authorize"
    assert flow["tokenUrl"] == server.issuer + "/oauth2/token"
    assert spec["paths"]["/articles"]["get"]["security"] == [{"Portcullis": ["articles:read"]}]
    init = PortcullisAuth.swagger_ui_init_oauth("docs", scopes=["articles:read"])
    assert init["usePkceWithAuthorizationCodeGrant"] is True
