"""Login sessions in the database: any server process accepts a session any other issued.

A session is a random token handed to the client (as a cookie) and stored only as its
sha256. It lasts ``session_hours`` from login; it ends at logout, when it expires, and at
once when the account is deactivated or its password reset
(:func:`review.auth.accounts.set_active`, :func:`~review.auth.accounts.reset_password` delete
its sessions, so reactivating the account revives none; an inactive account's sessions are
never accepted anyway).

Example::

    token = create_login_session(session=session, reviewer=ana, hours=12)
    account_for_token(session=session, token=token)   # "ana"
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from functools import lru_cache

from sqlalchemy import bindparam, delete, select
from sqlalchemy.orm import Session

from review.core.models import LoginSession, Reviewer, utcnow


def token_hash(token: str) -> str:
    """What the database keeps of a session token."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def create_login_session(*, session: Session, reviewer: Reviewer, hours: float,
                         now: datetime | None = None) -> str:
    """Start a session for ``reviewer``; returns the token (shown to the client only)."""
    now = now or utcnow()
    token = secrets.token_urlsafe(32)
    session.add(LoginSession(token_hash=token_hash(token), reviewer_id=reviewer.id,
                             created_at=now, expires_at=now + timedelta(hours=hours)))
    session.flush()
    return token


def account_for_token(*, session: Session, token: str | None,
                      now: datetime | None = None) -> str | None:
    """The name of the active account whose unexpired session ``token`` is, else None."""
    if not token or not isinstance(token, str) or len(token) > 512:
        return None
    return session.scalar(_account_statement(),
                          {"token_hash": token_hash(token), "now": now or utcnow()})


@lru_cache(maxsize=None)
def _account_statement():  # noqa: ANN202 - Select, built once: it runs on every request
    return (select(Reviewer.name).join(LoginSession, LoginSession.reviewer_id == Reviewer.id)
            .where(LoginSession.token_hash == bindparam("token_hash"),
                   LoginSession.expires_at > bindparam("now"), Reviewer.active.is_(True)))


def end_login_sessions(*, session: Session, token: str | None = None,
                       account: str | None = None) -> int:
    """End one session (``token``) or every session of ``account``; returns how many."""
    if token is not None:
        condition = LoginSession.token_hash == token_hash(token)
    elif account is not None:
        condition = LoginSession.reviewer_id.in_(select(Reviewer.id).where(Reviewer.name == account))
    else:
        raise ValueError("name a token or an account")
    return session.execute(delete(LoginSession).where(condition)).rowcount or 0


def delete_expired_sessions(*, session: Session, now: datetime | None = None) -> int:
    """Remove sessions that have expired (they are refused anyway); returns how many."""
    now = now or utcnow()
    return session.execute(delete(LoginSession).where(LoginSession.expires_at <= now)).rowcount or 0
