"""Reviewer, analyst and admin accounts.

Example::

    add_reviewer(session=session, name="ana", role="reviewer", password="s3cret")
    authenticate(session=session, name="ana", password="s3cret")  # -> Reviewer
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from review.core.errors import ReviewError
from review.core.models import NAME_LENGTH, ROLES, Reviewer, Study, StudyReviewer
from review.auth.passwords import dummy_hash, hash_password, verify_password



@dataclass(frozen=True)
class AccountSummary:
    """An account as the admin pages list it (never its password hash)."""

    name: str
    role: str
    active: bool
    studies: tuple[str, ...]


@dataclass(frozen=True)
class NewAccount:
    """A created account; ``generated_password`` is set when none was given (shown once)."""

    name: str
    role: str
    generated_password: str | None


def generate_password() -> str:
    return secrets.token_urlsafe(12)


def add_reviewer(*, session: Session, name: str, role: str = "reviewer",
                 password: str | None = None) -> Reviewer:
    """Create an account; the password is stored only as a salted scrypt hash."""
    name = name.strip()
    if not name or len(name) > NAME_LENGTH:
        raise ReviewError(f"reviewer name must be 1 to {NAME_LENGTH} characters")
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
    if reviewer is None or not reviewer.active or reviewer.kind != "human" \
            or not reviewer.password_hash:
        # Spend the same time as a real check so that names (and accounts that cannot log in,
        # such as password-less imported raters) cannot be told apart by timing.
        verify_password(password or "-", dummy_hash())
        return None
    return reviewer if verify_password(password, reviewer.password_hash) else None




def list_accounts(*, session: Session) -> list[AccountSummary]:
    """Every account with its role, whether it is active and the studies it is on, by name."""
    memberships: dict[int, list[str]] = {}
    for reviewer_id, study_name in session.execute(
            select(StudyReviewer.reviewer_id, Study.name)
            .join(Study, Study.id == StudyReviewer.study_id).order_by(Study.id)):
        memberships.setdefault(reviewer_id, []).append(study_name)
    return [AccountSummary(name=r.name, role=r.role, active=r.active,
                           studies=tuple(memberships.get(r.id, ())))
            for r in session.scalars(select(Reviewer).order_by(Reviewer.name))]


def create_account(*, session: Session, name: str, role: str = "reviewer",
                   password: str | None = None) -> NewAccount:
    """Create an account (see :func:`add_reviewer`).

    Without a password (None or empty) a random one is generated and returned once in
    :attr:`NewAccount.generated_password`, as ``review reviewers add`` does.

    Example::

        create_account(session=session, name="ana", role="reviewer", password="s3cret")
    """
    generated = None if password else generate_password()
    reviewer = add_reviewer(session=session, name=name or "", role=role,
                            password=password or generated)
    return NewAccount(name=reviewer.name, role=reviewer.role, generated_password=generated)
