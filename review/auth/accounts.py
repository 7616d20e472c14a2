"""Reviewer, analyst and admin accounts.

Deactivating an account or resetting its password ends its login sessions and forgets its
known devices, so reactivating it later revives none of them.

Example::

    add_reviewer(session=session, name="ana", role="reviewer", password="s3cret")
    authenticate(session=session, name="ana", password="s3cret")  # -> Reviewer
    set_active(session=session, name="ana", active=False)         # signed out everywhere
    reset_password(session=session, name="ana")                   # -> a new random password
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from review.core.errors import ReviewError
from review.core.models import NAME_LENGTH, ROLES, Reviewer, Study, StudyReviewer
from review.auth.devices import forget_devices
from review.auth.passwords import dummy_hash, hash_password, verify_password
from review.auth.sessions import end_login_sessions


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


def _login_account(session: Session, name: str) -> Reviewer:
    """The account called ``name`` that people sign in to (not a model judge)."""
    name = (name or "").strip()
    reviewer = session.scalar(select(Reviewer).where(Reviewer.name == name))
    if reviewer is None:
        raise ReviewError(f"no reviewer named {name!r}")
    if reviewer.kind != "human":
        raise ReviewError(f"{name!r} is a model judge: it has no login")
    return reviewer


def _sign_out_everywhere(session: Session, reviewer: Reviewer) -> None:
    end_login_sessions(session=session, account=reviewer.name)
    forget_devices(session=session, reviewer_id=reviewer.id)


def set_active(*, session: Session, name: str, active: bool) -> Reviewer:
    """Activate or deactivate the account ``name``.

    Deactivating ends its login sessions and forgets its known devices at once, so that
    reactivating it later revives none of them: it signs in afresh. Raises
    :class:`~review.core.errors.ReviewError` for an unknown name or a model judge.

    Example::

        set_active(session=session, name="ana", active=False)
    """
    reviewer = _login_account(session, name)
    reviewer.active = active
    if not active:
        _sign_out_everywhere(session, reviewer)
    session.flush()
    return reviewer


def reset_password(*, session: Session, name: str, password: str | None = None) -> str | None:
    """Give the account ``name`` a new password; returns it when it was generated (``password``
    None: a random one, shown once), else None.

    Ends the account's login sessions and forgets its known devices, so whoever knew the old
    password is signed out everywhere. Whether the account is active does not change.

    Example::

        reset_password(session=session, name="ana")                     # -> 'x3Zk...'
        reset_password(session=session, name="ana", password="n3w-pass")  # -> None
    """
    if password is not None and not password:
        raise ReviewError("password must not be empty")
    reviewer = _login_account(session, name)
    generated = None if password else generate_password()
    reviewer.password_hash = hash_password(password or generated)
    _sign_out_everywhere(session, reviewer)
    session.flush()
    return generated


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
