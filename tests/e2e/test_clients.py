"""OAuth client metadata for browser sign-in (issue #12, DESIGN.md §8): redirect URIs,
token_endpoint_auth_method (public clients), post-logout redirect URIs, the ID-token algorithm —
created, listed and refused over HTTP and with the CLI, against the real binary."""
import base64
import json

import requests

from conftest import admin_token, query_database, run_cli


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def basic(client_id, secret):
    raw = f"{client_id}:{secret}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


def post_client(server, token, body):
    return requests.post(server.url("/v1/clients"), json=body, headers=bearer(token), timeout=5)


def listed(server, token):
    r = requests.get(server.url("/v1/clients?limit=500"), headers=bearer(token), timeout=5)
    assert r.status_code == 200, r.text
    return {c["client_id"]: c for c in r.json()["items"]}


def count_clients(server):
    return query_database(server, "SELECT COUNT(*) FROM clients")[0][0]


SPA = {
    "name": "spa",
    "token_endpoint_auth_method": "none",
    "grant_types": ["authorization_code", "refresh_token"],
    "redirect_uris": ["https://app.example/cb", "http://127.0.0.1:8080/cb?x=%2F"],
    "post_logout_redirect_uris": ["https://app.example/bye"],
    "id_token_signed_response_alg": "EdDSA",
    "scopes": [],
}


def test_public_client_is_created_without_a_secret_and_listed_verbatim(server):
    token = admin_token(server)
    r = post_client(server, token, SPA)
    assert r.status_code == 201, r.text
    created = r.json()
    assert "client_secret" not in created
    for field in ("token_endpoint_auth_method", "grant_types", "redirect_uris",
                  "post_logout_redirect_uris", "id_token_signed_response_alg"):
        assert created[field] == SPA[field], field
    item = listed(server, token)[created["client_id"]]
    assert "client_secret" not in item and "secret_hash" not in item
    assert item["redirect_uris"] == SPA["redirect_uris"]  # verbatim, in order
    assert item["token_endpoint_auth_method"] == "none"
    # No secret stored (length, not the value: psql -At prints an empty string as nothing).
    rows = query_database(server, "SELECT length(secret_hash) FROM clients WHERE client_id = ?",
                          (created["client_id"],))
    assert rows == [(0,)]

    # A public client never authenticates with a secret, and never gets client_credentials.
    for headers, form in ((basic(created["client_id"], "x"), {}),
                          ({}, {"client_id": created["client_id"], "client_secret": "x"}),
                          ({}, {"client_id": created["client_id"]})):
        r = requests.post(server.url("/oauth2/token"),
                          data={"grant_type": "client_credentials", **form}, headers=headers,
                          timeout=5)
        assert r.status_code == 401 and r.json()["error"] == "invalid_client", r.text


def test_confidential_client_gets_the_defaults(server):
    token = admin_token(server)
    r = post_client(server, token, {"name": "svc", "scopes": ["users:read"]})
    assert r.status_code == 201, r.text
    c = r.json()
    assert c["client_secret"]
    assert c["token_endpoint_auth_method"] == "client_secret_basic"
    assert c["grant_types"] == ["client_credentials"]
    assert c["redirect_uris"] == [] and c["post_logout_redirect_uris"] == []
    assert c["id_token_signed_response_alg"] == "RS256"


def test_confidential_clients_may_use_basic_or_post_whichever_they_registered(server):
    # DESIGN §4: client_credentials takes client auth "by Basic or client_secret_post"; the
    # registered method is what the client is told to use, not the only one it may use.
    token = admin_token(server)
    basic_client = post_client(server, token, {"name": "b", "scopes": ["users:read"]}).json()
    post = post_client(server, token, {"name": "p", "scopes": ["users:read"],
                                       "token_endpoint_auth_method": "client_secret_post"}).json()
    url = server.url("/oauth2/token")
    cc = {"grant_type": "client_credentials"}
    for client in (basic_client, post):
        ok = requests.post(url, data=cc, headers=basic(client["client_id"],
                                                       client["client_secret"]), timeout=5)
        assert ok.status_code == 200, ok.text
        ok = requests.post(url, data={**cc, "client_id": client["client_id"],
                                      "client_secret": client["client_secret"]}, timeout=5)
        assert ok.status_code == 200, ok.text
        wrong = requests.post(url, data={**cc, "client_id": client["client_id"],
                                         "client_secret": client["client_secret"] + "x"},
                              timeout=5)
        assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"


def test_every_bad_request_is_a_400_problem_and_stores_nothing(server):
    token = admin_token(server)
    before = count_clients(server)
    cases = [
        {**SPA, "redirect_uris": ["http://app.example/cb"]},        # http off loopback
        {**SPA, "redirect_uris": ["https://app.example/cb#f"]},     # fragment
        {**SPA, "redirect_uris": ["https://u:p@app.example/cb"]},   # userinfo
        {**SPA, "redirect_uris": ["/cb"]},                          # relative
        {**SPA, "redirect_uris": ["javascript:alert(1)"]},          # scheme
        {**SPA, "redirect_uris": ["https://app.example/" + "a" * 2100]},  # too long
        {**SPA, "redirect_uris": [f"https://app.example/{i}" for i in range(21)]},  # too many
        {**SPA, "redirect_uris": ["https://app.example/cb"] * 2},   # duplicate
        {**SPA, "redirect_uris": []},                               # code grant without URI
        {**SPA, "redirect_uris": "https://app.example/cb"},         # not an array
        {**SPA, "redirect_uris": [1]},                              # not strings
        {**SPA, "post_logout_redirect_uris": ["http://evil.example/"]},
        {**SPA, "token_endpoint_auth_method": "private_key_jwt"},
        {**SPA, "token_endpoint_auth_method": 1},
        {**SPA, "id_token_signed_response_alg": "none"},
        {**SPA, "id_token_signed_response_alg": "HS256"},
        {**SPA, "grant_types": ["authorization_code", "client_credentials"]},  # public + cc
        {**SPA, "grant_types": ["authorization_code", "password"]},            # public + password
        {**SPA, "grant_types": ["refresh_token"]},                   # public without code
        {**SPA, "grant_types": ["implicit"]},
        {**SPA, "grant_types": []},
        {**SPA, "redirect_uri": ["https://app.example/cb"]},        # unknown field
    ]
    for body in cases:
        r = post_client(server, token, body)
        assert r.status_code == 400, (body, r.text)
        assert r.headers["Content-Type"].startswith("application/problem+json")
        problem = r.json()
        assert problem["status"] == 400 and problem["detail"], problem
    assert count_clients(server) == before


def test_discovery_lists_none_for_the_public_client(server):
    meta = requests.get(server.url("/.well-known/oauth-authorization-server"), timeout=5).json()
    assert set(meta["token_endpoint_auth_methods_supported"]) == {
        "client_secret_basic", "client_secret_post", "none"}


def test_cli_creates_lists_and_refuses_clients(server):
    r = run_cli("client", "create", "--name", "cli-spa", "--public",
                "--redirect-uri", "https://cli.example/cb",
                "--redirect-uri", "http://localhost:9000/cb",
                "--post-logout-redirect-uri", "https://cli.example/bye",
                "--id-token-alg", "ES256", "--grant-type", "authorization_code",
                "--grant-type", "refresh_token", "--json", data_dir=server.data_dir)
    assert r.returncode == 0, r.stderr
    created = json.loads(r.stdout)
    assert "client_secret" not in created
    assert created["token_endpoint_auth_method"] == "none"
    assert created["redirect_uris"] == ["https://cli.example/cb", "http://localhost:9000/cb"]
    assert created["post_logout_redirect_uris"] == ["https://cli.example/bye"]
    assert created["id_token_signed_response_alg"] == "ES256"

    # Default grant for --public is authorization_code.
    r = run_cli("client", "create", "--name", "cli-spa2", "--public",
                "--redirect-uri", "https://cli.example/cb", "--json", data_dir=server.data_dir)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["grant_types"] == ["authorization_code"]

    r = run_cli("client", "list", "--json", data_dir=server.data_dir)
    assert r.returncode == 0, r.stderr
    items = {c["client_id"]: c for c in json.loads(r.stdout)}
    assert items[created["client_id"]]["redirect_uris"] == created["redirect_uris"]
    # The server sees it too.
    assert created["client_id"] in listed(server, admin_token(server))

    before = count_clients(server)
    for args in (["--public"],  # authorization_code without a redirect URI
                 ["--public", "--redirect-uri", "http://cli.example/cb"],
                 ["--redirect-uri", "https://cli.example/cb#x", "--grant-type",
                  "authorization_code"],
                 ["--id-token-alg", "HS256"],
                 ["--public", "--grant-type", "client_credentials", "--redirect-uri",
                  "https://cli.example/cb"],
                 ["--public", "--auth-method", "client_secret_post"],
                 ["--auth-method", "private_key_jwt"]):
        r = run_cli("client", "create", "--name", "bad", *args, data_dir=server.data_dir)
        assert r.returncode != 0, (args, r.stdout)
        assert r.stderr.startswith("portcullis: "), r.stderr
    assert count_clients(server) == before
