"""Portcullis resource-server SDK for Python (DESIGN §11).

- `portcullis_verifier` (native, C++): `Verifier(issuer=..., audience=..., jwks_url=...)`,
  `.verify(token) -> dict`, `.verify_dpop(token, proof, method, url) -> dict`,
  `InvalidToken(.reason)`, `has_permission(claims, permission)`.
- `portcullis.fastapi`: `PortcullisAuth` — `Depends(auth.require("articles:read"))`.

See docs/resource-servers.md.
"""
from portcullis_verifier import InvalidToken, Verifier, has_permission

__all__ = ["InvalidToken", "Verifier", "has_permission"]
