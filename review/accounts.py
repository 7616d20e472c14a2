"""Reviewer, analyst and admin accounts.

Example::

    add_reviewer(session=session, name="ana", role="reviewer", password="s3cret")
    authenticate(session=session, name="ana", password="s3cret")  # -> Reviewer
"""

from __future__ import annotations

import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from review.errors import ReviewError
from review.models import ROLES, Reviewer
from review.security import hash_password, verify_password

MAX_NAME_LENGTH = 200


def generate_password() -> str:
    return secrets.token_urlsafe(12)


def add_reviewer(*, session: Session, name: str, role: str = "reviewer",
                 password: str | None = None) -> Reviewer:
    """Create an account; the password is stored only as a salted scrypt hash."""
    name = name.strip()
    if not name or len(name) > MAX_NAME_LENGTH:
        raise ReviewError(f"reviewer name must be 1 to {MAX_NAME_LENGTH} characters")
    if any(ch.isspace() for ch in name) or not name.isprintable():
        raise ReviewError(f"reviewer name {name!r} must not contain spaces or control characters")
    if role not in ROLES:
        raise ReviewError(f"unknown role {role!r}: expected one of {', '.join(ROLES)}")
    if password is not None and not password:
        raise ReviewError("password must not be empty")
    if session.scalar(select(Reviewer.id).where(Reviewer.name == name)) is not None:
        raise ReviewError(f"reviewer {name!r} already exists")
    reviewer = Reviewer(name=name, role=role,
                        password_hash=hash_password(password) if password else None)
    session.add(reviewer)
    session.flush()
    return reviewer


def authenticate(*, session: Session, name: str, password: str) -> Reviewer | None:
    """The active account with this name and password, or None."""
    reviewer = session.scalar(select(Reviewer).where(Reviewer.name == name))
    if reviewer is None or not reviewer.active:
        # Spend the same time as a real check so that names cannot be probed by timing.
        verify_password(password, _DUMMY_HASH)
        return None
    return reviewer if verify_password(password, reviewer.password_hash) else None


_DUMMY_HASH = "scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
