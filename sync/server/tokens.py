"""Tokens: random, shown once, stored only as sha256.

Tokens are 32 random bytes (URL-safe base64), so a plain sha256 is enough to store them: there is no
dictionary to try, unlike a PIN. A stolen database copy therefore lets nobody push, pull or administer.
"""

from __future__ import annotations

import hashlib
import secrets


def new_token() -> str:
    """32 random bytes, URL-safe, never starting with "-": a token is typed after ``--token`` on a command
    line, where a leading dash would be read as another option."""
    while True:
        token = secrets.token_urlsafe(32)
        if not token.startswith("-"):
            return token


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def bundle_key(device_token: str) -> str:
    """The key that signs a device's USB-stick bundles (``protocol.sign(bundle_key(token), body)``).

    The central record cannot recover a device token from its hash, so both sides derive this key from
    the token and the central record keeps the key (not the token) from enrolment on. It is a different
    value from the token's stored hash, so neither can stand in for the other.
    """
    return hashlib.sha256(("bundle:" + device_token).encode("utf-8")).hexdigest()
