"""A FastAPI resource server that trusts Portcullis-issued access tokens.

Two ways to protect an API with Portcullis, both shown here:

1. Local verification (no call to Portcullis per request): the app fetches Portcullis's public
   keys once from its JWKS (`/.well-known/jwks.json`, cached, refreshed when an unknown `kid`
   shows up) and checks each Bearer token itself with PyJWT: signature with the key named by
   `kid` and that key's algorithm only, `typ` = `at+jwt` (RFC 9068), `iss`, `aud`, `exp`, `iat`,
   `nbf`, then the permission in the `scope` claim. See `GET /articles` and `GET /me-local`.
   What local verification cannot see: a token revoked before it expires (logout, password
   change, role removal). Access tokens live at most `tokens.access_ttl_s` (15 min by default);
   if that window is too long for an endpoint, ask `/oauth2/introspect` or use forward auth.

2. Behind nginx with forward auth (examples/nginx): nginx asks Portcullis `GET /v1/forward-auth`
   on every request and passes the verified identity in `X-Auth-User`, `X-Auth-User-Id`,
   `X-Auth-Roles`, `X-Auth-Scopes` (nginx overwrites whatever the client sent). See
   `GET /whoami-proxied`. Only trust those headers when the app cannot be reached except
   through that nginx (bind it to loopback or a private network); the endpoint is off unless
   `TRUST_PROXY_HEADERS=1`.

Settings (environment):
  PORTCULLIS_URL        base URL of Portcullis (default https://127.0.0.1:8443)
  PORTCULLIS_ISSUER     expected `iss` (default: PORTCULLIS_URL; Portcullis's `tokens.issuer`)
  PORTCULLIS_JWKS_URL   default: PORTCULLIS_URL + /.well-known/jwks.json
  PORTCULLIS_CA_BUNDLE  PEM file of CAs to trust for an https PORTCULLIS_URL (e.g. Portcullis's
                        self-signed data/tls/cert.pem); default: the system CAs
  PORTCULLIS_AUDIENCE   expected audience (default "portcullis"; Portcullis's `tokens.audience`)
  REQUIRED_PERMISSION   permission GET /articles needs (default "articles:read")
  TRUST_PROXY_HEADERS   "1" to enable GET /whoami-proxied (only behind the nginx example)
  WEB_CLIENT_ID         client_id of a public Portcullis client (token_endpoint_auth_method
                        "none", redirect URI http://127.0.0.1:<port>/web/) for the browser
                        sign-in page at GET /web/ (static/index.html + static/app.js); unset:
                        /auth/config and /auth/callback answer 404
  PORTCULLIS_PUBLIC_URL the Portcullis URL the *browser* uses (default: PORTCULLIS_URL)

3. Browser sign-in (GET /web/): the page signs in with the authorization code flow + PKCE (S256)
   in the browser, then calls GET /me-local with the access token. Portcullis does not answer
   CORS on /oauth2/token, so the page hands the code and its verifier to POST /auth/callback,
   which exchanges them server-side as the same public client (client_id alone, no secret).

Run:  PORTCULLIS_URL=http://127.0.0.1:8443 python3 -m uvicorn --app-dir examples/fastapi app:app
"""
import json
import os
import ssl
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional
from urllib.parse import urlencode

import jwt
from fastapi import Body, Depends, FastAPI, HTTPException, Request, status
from fastapi.responses import FileResponse, JSONResponse
from fastapi.security import OAuth2PasswordBearer

# The algorithms Portcullis signs with (tokens.signing_alg). Never HMAC or "none".
ALLOWED_ALGORITHMS = ("EdDSA", "ES256", "RS256")
# Portcullis's default tokens.leeway_s.
LEEWAY_S = 30
# JWKS fetches: bounded, and an unknown `kid` refetches at most this often (so a flood of
# made-up `kid`s cannot turn into a flood of requests to Portcullis).
JWKS_TIMEOUT_S = 5.0
JWKS_MIN_REFRESH_S = 30.0
JWKS_LIFESPAN_S = 300

# Identity headers set by nginx from the forward-auth answer (examples/nginx/nginx.conf).
PROXY_IDENTITY_HEADERS = ("X-Auth-User", "X-Auth-User-Id", "X-Auth-Client-Id", "X-Auth-Roles",
                          "X-Auth-Scopes")


@dataclass(frozen=True)
class Settings:
    portcullis_url: str
    issuer: str
    jwks_url: str
    audience: str
    required_permission: str
    ca_bundle: Optional[str]
    trust_proxy_headers: bool
    web_client_id: Optional[str] = None
    public_url: Optional[str] = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> "Settings":
        url = env.get("PORTCULLIS_URL", "https://127.0.0.1:8443").rstrip("/")
        return cls(
            portcullis_url=url,
            issuer=env.get("PORTCULLIS_ISSUER", url),
            jwks_url=env.get("PORTCULLIS_JWKS_URL", url + "/.well-known/jwks.json"),
            audience=env.get("PORTCULLIS_AUDIENCE", "portcullis"),
            required_permission=env.get("REQUIRED_PERMISSION", "articles:read"),
            ca_bundle=env.get("PORTCULLIS_CA_BUNDLE") or None,
            trust_proxy_headers=env.get("TRUST_PROXY_HEADERS", "") == "1",
            web_client_id=env.get("WEB_CLIENT_ID") or None,
            public_url=(env.get("PORTCULLIS_PUBLIC_URL") or url).rstrip("/"),
        )


class JwksUnavailable(Exception):
    """Portcullis's JWKS could not be fetched (a 503, not the client's fault)."""


class JwksClient(jwt.PyJWKClient):
    """PyJWKClient with a timeout, a CA bundle for https, and a bounded refresh rate.

    PyJWT 2.6 (Debian 12) fetches without a timeout or TLS settings, so fetch_data is replaced.
    """

    def __init__(self, uri: str, ca_bundle: Optional[str]):
        super().__init__(uri, cache_keys=False, cache_jwk_set=True, lifespan=JWKS_LIFESPAN_S)
        self._ssl_context = ssl.create_default_context(cafile=ca_bundle)
        self._lock = threading.Lock()
        self._last_fetch = float("-inf")

    def fetch_data(self) -> Any:
        with self._lock:
            self._last_fetch = time.monotonic()
            try:
                with urllib.request.urlopen(self.uri, timeout=JWKS_TIMEOUT_S,
                                            context=self._ssl_context) as response:
                    data = json.load(response)
            except (urllib.error.URLError, OSError, ValueError) as e:
                raise JwksUnavailable(f"fetching {self.uri} failed: {e}") from e
            if not isinstance(data, dict) or not isinstance(data.get("keys"), list):
                raise JwksUnavailable(f"{self.uri} is not a JWK set")
            if self.jwk_set_cache is not None:
                self.jwk_set_cache.put(data)
            return data

    def get_signing_key(self, kid: str) -> jwt.PyJWK:
        key = self.match_kid(self.get_signing_keys(), kid)
        if key is None and time.monotonic() - self._last_fetch >= JWKS_MIN_REFRESH_S:
            # Maybe Portcullis rotated its signing key: fetch the set again, at most this often.
            key = self.match_kid(self.get_signing_keys(refresh=True), kid)
        if key is None:
            raise jwt.InvalidTokenError("unknown kid")
        return key


def key_algorithm(key: jwt.PyJWK) -> Optional[str]:
    """The JWK's own `alg` (Portcullis always publishes it); PyJWT >= 2.7 names it
    algorithm_name, 2.6 (Debian 12) keeps only the raw JWK."""
    name = getattr(key, "algorithm_name", None)
    if name is None:
        name = getattr(key, "_jwk_data", {}).get("alg")
    return name if isinstance(name, str) else None


def permission_grants(held: str, required: str) -> bool:
    """Portcullis's matcher (src/authz/permission.h): `*` alone grants everything; otherwise
    segments separated by ':' compare exactly, a held `*` segment matching any one segment."""
    if held == "*":
        return True
    held_parts, required_parts = held.split(":"), required.split(":")
    if len(held_parts) != len(required_parts):
        return False
    return all(h == "*" or h == r for h, r in zip(held_parts, required_parts))


def unauthorized(error: Optional[str] = "invalid_token") -> HTTPException:
    """401 with an RFC 6750 challenge; the body stays generic."""
    challenge = 'Bearer realm="example"' + (f', error="{error}"' if error else "")
    return HTTPException(status.HTTP_401_UNAUTHORIZED, detail="Not authenticated",
                         headers={"WWW-Authenticate": challenge})


class TokenVerifier:
    """Verifies Portcullis access tokens locally against the JWKS."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.jwks = JwksClient(settings.jwks_url, settings.ca_bundle)

    def verify(self, token: str) -> Dict[str, Any]:
        """The token's claims, or HTTPException 401 (bad token) / 503 (JWKS unreachable)."""
        try:
            header = jwt.get_unverified_header(token)
            typ = header.get("typ")
            if not isinstance(typ, str) or typ.lower() not in ("at+jwt", "application/at+jwt"):
                raise jwt.InvalidTokenError("typ is not at+jwt")
            if "crit" in header:
                raise jwt.InvalidTokenError("crit header")
            kid = header.get("kid")
            if not isinstance(kid, str) or not kid:
                raise jwt.InvalidTokenError("no kid")
            key = self.jwks.get_signing_key(kid)
            # Pin the algorithm to the key's own: the header's `alg` must equal it.
            algorithm = key_algorithm(key)
            if algorithm not in ALLOWED_ALGORITHMS:
                raise jwt.InvalidTokenError("key algorithm not allowed")
            return jwt.decode(
                token, key.key, algorithms=[algorithm], audience=self.settings.audience,
                issuer=self.settings.issuer, leeway=LEEWAY_S,
                options={"require": ["exp", "iat", "sub", "iss", "aud"]})
        except JwksUnavailable:
            raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE,
                                detail="authorization server unreachable")
        except jwt.PyJWTError:  # bad token, unknown kid, unusable key
            raise unauthorized()


def scopes_of(claims: Mapping[str, Any]) -> List[str]:
    scope = claims.get("scope", "")
    return scope.split() if isinstance(scope, str) else []


def proxied_identity(request: Request) -> Dict[str, Optional[str]]:
    """The identity headers nginx set (None for those absent)."""
    return {name: request.headers.get(name) for name in PROXY_IDENTITY_HEADERS}


def create_app(settings: Optional[Settings] = None) -> FastAPI:
    settings = settings or Settings.from_env()
    verifier = TokenVerifier(settings)
    # tokenUrl lets the OpenAPI page's "Authorize" button log in at Portcullis directly.
    oauth2_scheme = OAuth2PasswordBearer(tokenUrl=settings.portcullis_url + "/oauth2/token")

    def current_claims(token: str = Depends(oauth2_scheme)) -> Dict[str, Any]:
        return verifier.verify(token)

    def require_permission(permission: str):
        def check(claims: Dict[str, Any] = Depends(current_claims)) -> Dict[str, Any]:
            if not any(permission_grants(p, permission) for p in scopes_of(claims)):
                raise HTTPException(
                    status.HTTP_403_FORBIDDEN, detail="Forbidden",
                    headers={"WWW-Authenticate":
                             f'Bearer realm="example", error="insufficient_scope", '
                             f'scope="{permission}"'})
            return claims

        return check

    app = FastAPI(title="Portcullis FastAPI example")

    @app.get("/public/hello")
    def public_hello(request: Request):
        """No authentication. Behind nginx, shows the identity headers it received (none)."""
        body: Dict[str, Any] = {"message": "hello"}
        if settings.trust_proxy_headers:
            body["proxied_identity"] = proxied_identity(request)
        return body

    @app.get("/me-local")
    def me_local(claims: Dict[str, Any] = Depends(current_claims)):
        """Any valid token: who the token says the caller is."""
        return {"sub": claims["sub"], "username": claims.get("username"),
                "client_id": claims.get("client_id"), "roles": claims.get("roles", []),
                "scopes": scopes_of(claims)}

    @app.get("/articles")
    def articles(claims: Dict[str, Any] = Depends(require_permission(
            settings.required_permission))):
        """Needs REQUIRED_PERMISSION (articles:read) in the token's scope."""
        return {"items": [{"id": 1, "title": "Hello, Portcullis"},
                          {"id": 2, "title": "Tokens, verified locally"}],
                "reader": claims.get("username") or claims["sub"]}

    @app.get("/whoami-proxied")
    def whoami_proxied(request: Request):
        """Behind the nginx example only: the identity nginx got from forward auth."""
        if not settings.trust_proxy_headers:
            raise HTTPException(status.HTTP_404_NOT_FOUND, detail="Not Found")
        identity = proxied_identity(request)
        if not identity["X-Auth-User-Id"] and not identity["X-Auth-Client-Id"]:
            # nginx should never let such a request through here; refuse rather than guess.
            raise unauthorized(None)
        return identity

    # ------------------------------------------------------------ browser sign-in (GET /web/)
    static_dir = os.path.join(os.path.dirname(os.path.abspath(__file__)), "static")
    token_context = ssl.create_default_context(cafile=settings.ca_bundle)

    @app.get("/web/", include_in_schema=False)
    def web_index():
        return FileResponse(os.path.join(static_dir, "index.html"),
                            headers={"Cache-Control": "no-store"})

    @app.get("/web/app.js", include_in_schema=False)
    def web_script():
        return FileResponse(os.path.join(static_dir, "app.js"),
                            media_type="text/javascript")

    def web_client_id() -> str:
        if not settings.web_client_id:
            raise HTTPException(status.HTTP_404_NOT_FOUND, detail="Not Found")
        return settings.web_client_id

    @app.get("/auth/config")
    def auth_config(client_id: str = Depends(web_client_id)):
        """What the sign-in page needs to start the code flow."""
        return {"authorization_endpoint": (settings.public_url or settings.portcullis_url)
                + "/oauth2/authorize", "client_id": client_id}

    @app.post("/auth/callback")
    def auth_callback(body: Dict[str, str] = Body(...),
                      client_id: str = Depends(web_client_id)):
        """Exchanges the page's code and PKCE verifier at Portcullis's token endpoint, as the
        public client (no secret: the verifier is the proof). Answers Portcullis's JSON."""
        code, verifier, redirect_uri = (body.get("code"), body.get("code_verifier"),
                                        body.get("redirect_uri"))
        if not all(isinstance(v, str) and v for v in (code, verifier, redirect_uri)):
            raise HTTPException(status.HTTP_400_BAD_REQUEST,
                                detail="code, code_verifier and redirect_uri are required")
        if body.get("iss") not in (None, settings.issuer):  # RFC 9207 mix-up defence
            raise HTTPException(status.HTTP_400_BAD_REQUEST, detail="unexpected iss")
        form = urlencode({"grant_type": "authorization_code", "code": code,
                          "redirect_uri": redirect_uri, "code_verifier": verifier,
                          "client_id": client_id}).encode()
        request = urllib.request.Request(
            settings.portcullis_url + "/oauth2/token", data=form, method="POST",
            headers={"Content-Type": "application/x-www-form-urlencoded"})
        try:
            with urllib.request.urlopen(request, timeout=JWKS_TIMEOUT_S,
                                        context=token_context) as response:
                answer = json.load(response)
                code_status = response.status
        except urllib.error.HTTPError as e:
            try:
                answer, code_status = json.load(e), e.code
            except ValueError:
                answer, code_status = {"error": "server_error"}, 502
        except (urllib.error.URLError, OSError, ValueError):
            raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE,
                                detail="authorization server unreachable")
        return JSONResponse(answer, status_code=code_status,
                            headers={"Cache-Control": "no-store"})

    return app


app = create_app()
