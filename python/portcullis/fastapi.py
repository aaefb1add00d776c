"""FastAPI integration of the Portcullis verifier (DESIGN §11).

    from fastapi import Depends, FastAPI
    from portcullis.fastapi import PortcullisAuth

    auth = PortcullisAuth(issuer="https://auth.example", audience="articles-api")
    app = FastAPI(swagger_ui_init_oauth=auth.swagger_ui_init_oauth("docs-client-id"))

    @app.get("/articles")
    def list_articles(claims: dict = Depends(auth.require("articles:read"))):
        return {"user": claims["sub"]}

Every check is the native `portcullis_verifier` module's, i.e. the C++ code the server itself runs:
signature under the issuer's JWKS (cached; refetched on an unknown `kid` at most once per
`jwks_min_refresh`), `alg`, `typ: at+jwt`, `iss`, `aud`, `exp`/`nbf`/`iat`, and for DPoP-bound
tokens (`cnf.jkt`) the request's `DPoP` proof (RFC 9449). Answers:

- no credentials: 401, `WWW-Authenticate: Bearer realm="portcullis"`;
- an invalid or expired token: 401, `Bearer realm=..., error="invalid_token"` (the reason is
  logged at INFO, never the token);
- a DPoP-bound token sent as Bearer, or a bad proof: 401, `WWW-Authenticate: DPoP algs="ES256
  EdDSA", error="invalid_token"` (or `error="invalid_dpop_proof"`);
- no JWKS fetched yet (the issuer unreachable since start-up): 503 + `Retry-After`;
- a valid token without every required permission: 403, `error="insufficient_scope",
  scope="<the permissions>"`.

`auth.scheme` is an `OAuth2AuthorizationCodeBearer` on Portcullis' authorize and token endpoints,
so the "Authorize" button of `/docs` signs in with the authorization code flow + PKCE;
`auth.password_scheme` is the `OAuth2PasswordBearer` alternative (the legacy password grant).
DPoP proofs are accepted once each, per process. Not checked here (it needs the server's
state): revocation before expiry — see docs/resource-servers.md.
"""
import logging
from typing import Dict, Iterable, List, Optional, Sequence, Union

from fastapi import HTTPException, Request, Security, status
from fastapi.security import OAuth2AuthorizationCodeBearer, OAuth2PasswordBearer

import portcullis_verifier

__all__ = ["PortcullisAuth"]

log = logging.getLogger("portcullis.fastapi")

DPOP_ALGS = "ES256 EdDSA"
# Reasons that concern the DPoP proof rather than the token (RFC 9449 §7.1).
PROOF_REASONS = {"invalid_dpop_proof", "dpop_key_mismatch"}


class PortcullisAuth:
    """One per issuer; share it across routes. Thread-safe."""

    def __init__(self, *, issuer: str, audience: Union[str, Sequence[str]],
                 jwks_url: Optional[str] = None, ca_file: Optional[str] = None,
                 leeway: int = 30, allowed_algorithms: Optional[List[str]] = None,
                 jwks_min_refresh: int = 30, authorization_url: Optional[str] = None,
                 token_url: Optional[str] = None, scopes: Optional[Dict[str, str]] = None,
                 public_base_url: Optional[str] = None, realm: str = "portcullis",
                 verifier=None):
        """`issuer`: Portcullis' `tokens.issuer` (its public base URL). `jwks_url`, the
        authorization and token URLs default to the issuer's standard paths. `ca_file`: a PEM
        bundle to trust for an https issuer with a private CA. `public_base_url`: the scheme and
        host clients use to reach *this* app (e.g. "https://api.example"), for DPoP's `htu`
        behind a proxy; default: the URL of the request as the app sees it. `verifier`: an
        existing `portcullis_verifier.Verifier` (then issuer/audience/jwks_url/ca_file/leeway
        are only used for the OpenAPI URLs)."""
        base = issuer.rstrip("/")
        self.issuer = issuer
        self.realm = realm
        self.public_base_url = public_base_url.rstrip("/") if public_base_url else None
        self.verifier = verifier or portcullis_verifier.Verifier(
            issuer=issuer, audience=audience if isinstance(audience, str) else list(audience),
            jwks_url=jwks_url or base + "/.well-known/jwks.json", ca_file=ca_file,
            leeway=leeway, allowed_algorithms=allowed_algorithms,
            jwks_min_refresh=jwks_min_refresh)
        self.token_url = token_url or base + "/oauth2/token"
        self.authorization_url = authorization_url or base + "/oauth2/authorize"
        # auto_error=False: this class answers 401 itself (with the RFC 6750/9449 challenges,
        # and for the DPoP scheme too); the schemes are there for OpenAPI and /docs.
        self.scheme = OAuth2AuthorizationCodeBearer(
            authorizationUrl=self.authorization_url, tokenUrl=self.token_url,
            scopes=scopes or {}, scheme_name="Portcullis", auto_error=False)
        self.password_scheme = OAuth2PasswordBearer(
            tokenUrl=self.token_url, scopes=scopes or {}, scheme_name="PortcullisPassword",
            auto_error=False)

    @staticmethod
    def swagger_ui_init_oauth(client_id: str, scopes: Iterable[str] = ()) -> dict:
        """`FastAPI(swagger_ui_init_oauth=...)` for a public Portcullis client registered with
        the redirect URI `<app>/docs/oauth2-redirect`: /docs then signs in with PKCE."""
        return {"clientId": client_id, "usePkceWithAuthorizationCodeGrant": True,
                "scopes": " ".join(scopes)}

    def require(self, *permissions: str, password_flow: bool = False):
        """A dependency: `Depends(auth.require("articles:read", ...))` returns the caller's
        claims (a dict) when the token is valid and grants every listed permission (wildcards
        as on the server: "articles:*" grants "articles:read"). With `password_flow=True` the
        route documents the password grant instead of the authorization code flow."""
        needed = tuple(permissions)
        scheme = self.password_scheme if password_flow else self.scheme

        # A plain function: FastAPI runs it in its threadpool, so a JWKS refetch (an unknown
        # kid, at most once per jwks_min_refresh, bounded by fetch_timeout) never blocks the
        # event loop; the native verifier releases the GIL.
        def dependency(request: Request,
                       _documented: Optional[str] = Security(scheme, scopes=list(needed))):
            return self.authorize(request, needed)

        return dependency

    def authenticate(self, request: Request) -> dict:
        """The claims of the request's valid access token (Bearer, or DPoP with its proof);
        raises HTTPException(401) otherwise."""
        header = request.headers.get("authorization")
        if not header:
            raise self._unauthorized("Bearer", None, "authentication is required")
        scheme, _, token = header.partition(" ")
        token = token.strip()
        scheme = scheme.lower()
        if scheme not in ("bearer", "dpop") or not token:
            raise self._unauthorized("Bearer", "invalid_request",
                                     "send 'Authorization: Bearer <token>' or 'DPoP <token>'")
        try:
            if scheme == "bearer":
                return self.verifier.verify(token)
            proofs = request.headers.getlist("dpop")
            if len(proofs) != 1:
                raise self._unauthorized("DPoP", "invalid_dpop_proof",
                                         "exactly one DPoP proof header is required")
            return self.verifier.verify_dpop(token, proofs[0], request.method,
                                             self._request_url(request))
        except portcullis_verifier.InvalidToken as e:
            if e.reason == "jwks_unavailable":
                # No key set was ever fetched: the authorization server's problem, not the
                # client's (a cached set keeps serving through later outages).
                log.warning("token not checked: the issuer's JWKS is unreachable")
                raise HTTPException(status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
                                    detail="authorization server unreachable",
                                    headers={"Retry-After": "5"}) from None
            log.info("token refused: %s%s", e.reason,
                     f" ({e.dpop_error})" if e.dpop_error else "")
            if scheme == "dpop" and e.reason in PROOF_REASONS:
                raise self._unauthorized("DPoP", "invalid_dpop_proof",
                                         "the DPoP proof is invalid") from None
            if scheme == "dpop" or e.reason == "dpop_bound_as_bearer":
                # A bound token is valid only with its proof (RFC 9449 §7.1).
                raise self._unauthorized("DPoP", "invalid_token",
                                         "the access token is invalid or expired") from None
            raise self._unauthorized("Bearer", "invalid_token",
                                     "the access token is invalid or expired") from None

    def authorize(self, request: Request, permissions: Sequence[str]) -> dict:
        """authenticate, then 403 unless the claims grant every one of `permissions`."""
        claims = self.authenticate(request)
        missing = [p for p in permissions if not portcullis_verifier.has_permission(claims, p)]
        if missing:
            scheme = "DPoP" if "cnf" in claims else "Bearer"
            raise HTTPException(
                status_code=status.HTTP_403_FORBIDDEN,
                detail="this operation requires the permission " + " ".join(missing),
                headers={"WWW-Authenticate": self._challenge(
                    scheme, "insufficient_scope", None, scope=" ".join(permissions))})
        return claims

    def _request_url(self, request: Request) -> str:
        if self.public_base_url:
            return self.public_base_url + request.url.path
        return str(request.url.replace(query="", fragment=""))

    def _challenge(self, scheme: str, error: Optional[str], description: Optional[str],
                   scope: Optional[str] = None) -> str:
        parts = [f'realm="{self.realm}"'] if scheme == "Bearer" else [f'algs="{DPOP_ALGS}"']
        if error:
            parts.append(f'error="{error}"')
        if description:
            parts.append(f'error_description="{description}"')
        if scope:
            parts.append(f'scope="{scope}"')
        return scheme + " " + ", ".join(parts)

    def _unauthorized(self, scheme: str, error: Optional[str], description: str):
        return HTTPException(
            status_code=status.HTTP_401_UNAUTHORIZED, detail=description,
            headers={"WWW-Authenticate": self._challenge(
                scheme, error, description if error else None)})
