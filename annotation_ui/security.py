"""API tokens: random, shown once, stored as an HMAC-SHA256 keyed by the server's secret.

Tokens carry 256 bits of randomness, so a keyed hash is enough (no password stretching needed);
the server holds no passwords at all.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets

TOKEN_PREFIX = "pv_"


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str, secret_key: str) -> str:
    return hmac.new(secret_key.encode(), token.encode(), hashlib.sha256).hexdigest()
