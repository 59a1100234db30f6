"""FPT's webhook signature: `X-SG-SIGNATURE: sha1=<hex HMAC-SHA1 of the raw body, keyed by the token>`."""

from __future__ import annotations

import hashlib
import hmac

PREFIX = "sha1="


def sign(body: bytes, token: str) -> str:
    """The header value FPT sends for `body` (the emulator and tests sign with this)."""
    return PREFIX + hmac.new(token.encode("utf-8"), body, hashlib.sha1).hexdigest()


def is_signed(body: bytes, header: str, token: str) -> bool:
    """Whether `header` is the signature of exactly these bytes with `token`.

    Constant-time, so the time taken says nothing about how much of a guess was right. The hex
    digest is compared in lower case (hex case carries no meaning); the `sha1=` prefix must be there.
    """
    if not token:
        raise ValueError("an empty token would accept anyone's signature")
    given = header.strip()
    if given[: len(PREFIX)].lower() != PREFIX:
        return False
    expected = sign(body, token)[len(PREFIX) :]
    return hmac.compare_digest(given[len(PREFIX) :].lower().encode("ascii", "replace"), expected.encode())
