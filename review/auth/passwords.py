"""Password hashing with scrypt (standard library) and a per-user random salt.

Stored form: ``scrypt$n$r$p$<salt b64>$<hash b64>``, so parameters can be raised later
without invalidating existing hashes: a login with a hash made under older parameters stores
a new one (:func:`needs_rehash`).

Parameters: N = 2^14, r = 8, p = 5, one of the OWASP Password Storage Cheat Sheet's
equivalent scrypt settings (the same work as N = 2^17, r = 8, p = 1) at 16 MiB of memory per
check instead of 128 MiB, which matters when many reviewers sign in at once.

Example::

    stored = hash_password("correct horse")
    verify_password("correct horse", stored)  # True
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import secrets

_N, _R, _P = 2**14, 8, 5
_DKLEN = 32


def hash_password(password: str) -> str:
    if not password:
        raise ValueError("password must not be empty")
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=_DKLEN)
    b64 = lambda raw: base64.b64encode(raw).decode()  # noqa: E731
    return f"scrypt${_N}${_R}${_P}${b64(salt)}${b64(digest)}"


def needs_rehash(stored: str | None) -> bool:
    """Whether ``stored`` was made with other parameters than today's."""
    try:
        scheme, n, r, p, *_ = (stored or "").split("$")
        return scheme != "scrypt" or (int(n), int(r), int(p)) != (_N, _R, _P)
    except ValueError:
        return True


@functools.cache
def dummy_hash() -> str:
    """A hash of nothing anyone knows, at today's parameters: checked when there is no real
    one, so that every refusal costs the time of a real check."""
    return hash_password(secrets.token_urlsafe(16))


def verify_password(password: str, stored: str | None) -> bool:
    """True when ``password`` matches ``stored``; False for any malformed or missing hash."""
    if not stored or not password:
        return False
    try:
        scheme, n, r, p, salt_b64, digest_b64 = stored.split("$")
        if scheme != "scrypt":
            return False
        salt = base64.b64decode(salt_b64)
        expected = base64.b64decode(digest_b64)
        actual = hashlib.scrypt(password.encode(), salt=salt, n=int(n), r=int(r), p=int(p),
                                dklen=len(expected))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)
