"""Viewer sessions: short-lived tokens that let a browser post one user's events, no more.

The web feed page must not hold the admin ``X-API-Key``. ``POST /v1/sessions`` hands it a token
``v1.<user_id>.<expires unix s>.<signature>`` instead, sent as ``Authorization: Bearer ...``;
``POST /v1/events`` accepts it in place of the key and only for events of that user. The
signature is HMAC-SHA256 under a key derived from ``FYP_API_KEY``, so every API worker checks a
token without shared state, and changing the API key revokes every session. Pure functions: the
guard checks tokens from the headers before a body is read.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from dataclasses import dataclass

PREFIX = "v1"
#: How long a token is good for; the page asks for a new one when it nears the end.
TTL_S = 3600
#: Longest token accepted (anything longer is not one of ours; checked before any work).
TOKEN_MAX = 128


@dataclass(frozen=True)
class Session:
    user_id: int
    expires_at: int  # unix seconds


def _key(api_key: str) -> bytes:
    """The signing key: derived, so a token never reveals anything usable as the API key."""
    return hmac.new(api_key.encode(), b"fyplake viewer session v1", hashlib.sha256).digest()


def _signature(api_key: str, body: str) -> str:
    mac = hmac.new(_key(api_key), body.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def issue(user_id: int, now: float | None = None, ttl_s: int = TTL_S) -> Session:
    now = time.time() if now is None else now
    return Session(user_id=int(user_id), expires_at=int(now) + int(ttl_s))


def encode(api_key: str, session: Session) -> str:
    body = f"{PREFIX}.{session.user_id}.{session.expires_at}"
    return f"{body}.{_signature(api_key, body)}"


def decode(api_key: str, token: str | None, now: float | None = None) -> Session | None:
    """The session a token proves, or None: malformed, forged, or expired."""
    if not token or len(token) > TOKEN_MAX:
        return None
    parts = token.split(".")
    if len(parts) != 4 or parts[0] != PREFIX:
        return None
    _, user, expires, sig = parts
    if not (user.isascii() and user.isdigit() and expires.isascii() and expires.isdigit()):
        return None
    if not hmac.compare_digest(sig, _signature(api_key, f"{PREFIX}.{user}.{expires}")):
        return None
    now = time.time() if now is None else now
    if int(expires) <= now:
        return None
    return Session(user_id=int(user), expires_at=int(expires))


def bearer(authorization: bytes | str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header value, or None."""
    if not authorization:
        return None
    if isinstance(authorization, bytes):
        try:
            authorization = authorization.decode("ascii")
        except UnicodeDecodeError:
            return None
    scheme, _, token = authorization.strip().partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None
