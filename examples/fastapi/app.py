"""A FastAPI resource server that trusts Portcullis-issued access tokens.

Two ways to protect an API with Portcullis, both shown here:

1. Local verification (no call to Portcullis per request) with the Portcullis SDK
   (`portcullis.fastapi`, over the native `portcullis_verifier` module: the server's own C++
   checks): one line per route, `Depends(auth.require("articles:read"))`. The verifier fetches
   Portcullis's public keys once from its JWKS (`/.well-known/jwks.json`, cached, refetched when
   an unknown `kid` shows up) and checks each token itself: signature with the key named by
   `kid` and that key's algorithm only, `typ` = `at+jwt` (RFC 9068), `iss`, `aud`, `exp`, `iat`,
   `nbf`, a DPoP proof for DPoP-bound tokens, then the permission in the `scope` claim. See
   `GET /articles` and `GET /me-local`. What local verification cannot see: a token revoked
   before it expires (logout, password change, role removal). Access tokens live at most
   `tokens.access_ttl_s` (15 min by default); if that window is too long for an endpoint, ask
   `/oauth2/introspect` or use forward auth.

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
  DOCS_CLIENT_ID        client_id of a public Portcullis client with the redirect URI
                        <this app>/docs/oauth2-redirect: the "Authorize" button of /docs then
                        signs in with the authorization code flow + PKCE

3. Browser sign-in (GET /web/): the page signs in with the authorization code flow + PKCE (S256)
   in the browser, then calls GET /me-local with the access token. Portcullis does not answer
   CORS on /oauth2/token, so the page hands the code and its verifier to POST /auth/callback,
   which exchanges them server-side as the same public client (client_id alone, no secret).

Run:  PORTCULLIS_URL=http://127.0.0.1:8443 python3 -m uvicorn --app-dir examples/fastapi app:app
"""
import json
import os
import ssl
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional
from urllib.parse import urlencode

from fastapi import Body, Depends, FastAPI, HTTPException, Request, status
from fastapi.responses import FileResponse, JSONResponse

from portcullis.fastapi import PortcullisAuth

# Token exchanges with Portcullis (POST /auth/callback) are bounded.
TOKEN_TIMEOUT_S = 5.0

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
    docs_client_id: Optional[str] = None

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
            docs_client_id=env.get("DOCS_CLIENT_ID") or None,
        )


def scopes_of(claims: Mapping[str, Any]) -> List[str]:
    scope = claims.get("scope", "")
    return scope.split() if isinstance(scope, str) else []


def proxied_identity(request: Request) -> Dict[str, Optional[str]]:
    """The identity headers nginx set (None for those absent)."""
    return {name: request.headers.get(name) for name in PROXY_IDENTITY_HEADERS}


def create_app(settings: Optional[Settings] = None) -> FastAPI:
    settings = settings or Settings.from_env()
    # Signature, alg, typ, iss, aud, exp/nbf/iat and DPoP are checked by the native verifier;
    # /docs signs in with the authorization code flow + PKCE at Portcullis (the browser's URL).
    auth = PortcullisAuth(issuer=settings.issuer, audience=settings.audience,
                          jwks_url=settings.jwks_url, ca_file=settings.ca_bundle,
                          authorization_url=settings.public_url + "/oauth2/authorize",
                          token_url=settings.public_url + "/oauth2/token")

    app = FastAPI(title="Portcullis FastAPI example",
                  swagger_ui_init_oauth=(PortcullisAuth.swagger_ui_init_oauth(
                      settings.docs_client_id) if settings.docs_client_id else None))

    @app.get("/public/hello")
    def public_hello(request: Request):
        """No authentication. Behind nginx, shows the identity headers it received (none)."""
        body: Dict[str, Any] = {"message": "hello"}
        if settings.trust_proxy_headers:
            body["proxied_identity"] = proxied_identity(request)
        return body

    @app.get("/me-local")
    def me_local(claims: Dict[str, Any] = Depends(auth.require())):
        """Any valid token: who the token says the caller is."""
        return {"sub": claims["sub"], "username": claims.get("username"),
                "client_id": claims.get("client_id"), "roles": claims.get("roles", []),
                "scopes": scopes_of(claims)}

    @app.get("/articles")
    def articles(claims: Dict[str, Any] = Depends(auth.require(settings.required_permission))):
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
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, detail="Not authenticated",
                                headers={"WWW-Authenticate": 'Bearer realm="example"'})
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
            with urllib.request.urlopen(request, timeout=TOKEN_TIMEOUT_S,
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
