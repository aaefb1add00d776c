"""Every list pages alike (DESIGN §4 "Lists", issue #13): `{"items":[...],"next_cursor":
string|null}`, `?limit=` (default 50, capped at 500), `?cursor=` opaque, a cursor that was never
handed out → 400 problem+json. Each list is walked with limit=2: no page holds more than two,
no item is seen twice, none is missing, the last page's next_cursor is null. (The defect: GET
/v1/roles?limit=2 returned every role and next_cursor null; /v1/keys and /v1/me/sessions too.)"""
import pytest
import requests

from browser_flow import RelyingParty, create_client
from conftest import admin_token, login

PASSWORD = "cobalt-meadow-ferry-41"


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def walk(server, token, path, key, limit=2):
    """All items of `path`, page by page; checks the page shapes on the way."""
    seen = []
    cursor = None
    sep = "&" if "?" in path else "?"
    for _ in range(1000):
        url = f"{path}{sep}limit={limit}" + (f"&cursor={requests.utils.quote(cursor)}"
                                              if cursor else "")
        r = requests.get(server.url(url), headers=bearer(token), timeout=10)
        assert r.status_code == 200, (url, r.text)
        body = r.json()
        assert set(body) >= {"items", "next_cursor"}, body
        assert len(body["items"]) <= limit, (url, body)
        seen.extend(item[key] for item in body["items"])
        cursor = body["next_cursor"]
        if cursor is None:
            break
        assert isinstance(cursor, str) and cursor, body
        assert len(body["items"]) == limit, "only the last page may be short"
    else:
        pytest.fail(f"{path}: no last page")
    assert len(seen) == len(set(seen)), f"{path}: an item on two pages: {seen}"
    return seen


def everything(server, token, path, key):
    r = requests.get(server.url(path + ("&" if "?" in path else "?") + "limit=500"),
                     headers=bearer(token), timeout=10)
    assert r.status_code == 200, r.text
    assert r.json()["next_cursor"] is None
    return [item[key] for item in r.json()["items"]]


def assert_bad_cursor(server, token, path, cursor):
    sep = "&" if "?" in path else "?"
    r = requests.get(server.url(f"{path}{sep}cursor={requests.utils.quote(cursor)}"),
                     headers=bearer(token), timeout=10)
    assert r.status_code == 400, (path, r.status_code, r.text)
    assert r.headers["Content-Type"] == "application/problem+json"
    assert r.json()["status"] == 400


@pytest.fixture(scope="module")
def token(server):
    return admin_token(server)


@pytest.fixture(scope="module")
def populated(server, token):
    """Five more of everything (users, roles, API keys, clients, signing keys, audit events)."""
    for i in range(5):
        r = requests.post(server.url("/v1/users"), headers=bearer(token),
                          json={"username": f"pager-{i}", "password": PASSWORD}, timeout=10)
        assert r.status_code == 201, r.text
        r = requests.post(server.url("/v1/roles"), headers=bearer(token),
                          json={"name": f"pager-role-{i}", "permissions": ["users:read",
                                                                           "audit:read"]},
                          timeout=10)
        assert r.status_code == 201, r.text
        r = requests.post(server.url("/v1/api-keys"), headers=bearer(token),
                          json={"name": f"pager-key-{i}", "scopes": []}, timeout=10)
        assert r.status_code == 201, r.text
        r = requests.post(server.url("/v1/clients"), headers=bearer(token),
                          json={"name": f"pager-client-{i}", "grant_types": ["client_credentials"],
                                "scopes": []}, timeout=10)
        assert r.status_code == 201, r.text
    for _ in range(2):
        r = requests.post(server.url("/v1/keys/rotate"), headers=bearer(token), timeout=30)
        assert r.status_code in (200, 201), r.text
    return True


@pytest.mark.parametrize("path,key,at_least", [
    ("/v1/users", "id", 6),
    ("/v1/roles", "name", 7),
    ("/v1/api-keys", "id", 5),
    ("/v1/api-keys?all=true", "id", 5),
    ("/v1/clients", "client_id", 5),
    ("/v1/keys", "kid", 5),
    ("/v1/audit", "id", 20),
])
def test_list_walked_two_at_a_time_is_the_whole_list(server, token, populated, path, key,
                                                     at_least):
    walked = walk(server, token, path, key)
    assert len(walked) >= at_least, walked
    assert walked == everything(server, token, path, key)


def test_roles_page_two_at_a_time_with_their_permissions(server, token, populated):
    r = requests.get(server.url("/v1/roles?limit=2"), headers=bearer(token), timeout=10)
    assert r.status_code == 200, r.text
    body = r.json()
    assert [role["name"] for role in body["items"]] == ["admin", "pager-role-0"]
    assert body["next_cursor"] is not None
    r = requests.get(server.url("/v1/roles?limit=2&cursor=" + body["next_cursor"]),
                     headers=bearer(token), timeout=10)
    assert [role["name"] for role in r.json()["items"]] == ["pager-role-1", "pager-role-2"]
    assert all(role["permissions"] == ["audit:read", "users:read"] for role in r.json()["items"])


@pytest.mark.parametrize("path,cursor", [
    ("/v1/roles", "Not A Role"),
    ("/v1/roles", "x" * 300),
    ("/v1/users", "UPPER"),
    ("/v1/api-keys", "not-a-key-id"),
    ("/v1/keys", "no-such-kid"),
    ("/v1/audit", "abc"),
    ("/v1/me/sessions", "garbage"),
])
def test_a_cursor_never_handed_out_is_400(server, token, path, cursor):
    assert_bad_cursor(server, token, path, cursor)


@pytest.mark.parametrize("path", ["/v1/roles", "/v1/users", "/v1/keys", "/v1/api-keys",
                                  "/v1/clients", "/v1/audit", "/v1/me/sessions"])
def test_limit_is_validated_and_capped(server, token, path):
    for bad in ("0", "-1", "x"):
        r = requests.get(server.url(f"{path}?limit={bad}"), headers=bearer(token), timeout=10)
        assert r.status_code == 400, (path, bad, r.text)
    r = requests.get(server.url(f"{path}?limit=100000"), headers=bearer(token), timeout=10)
    assert r.status_code == 200, r.text  # capped at 500, not refused


def test_me_sessions_page_newest_first(server, token):
    name = "pager-sessions"
    r = requests.post(server.url("/v1/users"), headers=bearer(token),
                      json={"username": name, "password": PASSWORD}, timeout=10)
    assert r.status_code == 201, r.text
    client = create_client(server)
    for _ in range(5):
        RelyingParty(server, client).sign_in(name, PASSWORD)  # a new browser each time
    user_token = login(server, name, PASSWORD).json()["access_token"]
    walked = walk(server, user_token, "/v1/me/sessions", "id")
    assert len(walked) == 5
    r = requests.get(server.url("/v1/me/sessions?limit=500"), headers=bearer(user_token),
                     timeout=10)
    items = r.json()["items"]
    assert [i["id"] for i in items] == walked
    assert [i["created_at"] for i in items] == sorted((i["created_at"] for i in items),
                                                      reverse=True)
