"""Known devices (OWASP's "device cookies"): the clients an account has signed in from.

A successful login hands the client a device token (random; the web app keeps it in a
long-lived cookie) and stores only its sha256. A later login that presents a valid device
token *of the account it names* is limited under that device's own key only, exempt from the
account's, the address's and the pair's limits (:mod:`review.auth.login`), so strangers who
guess elsewhere, or behind the same address, cannot lock the account out of its own devices.

A device is bound to one account and known for ``device_days`` (a setting) from its first
login, then the next login hands out a new one. An account keeps at most
:data:`DEVICES_PER_ACCOUNT` (the least recently used go first), so clients that never keep the
cookie do not fill the table. Deactivating the account or resetting its password forgets its
devices (:mod:`review.auth.accounts`).

Example::

    token = remember_device(session=session, reviewer_id=ana.id, days=180)
    known_device(session=session, name="ana", token=token)   # the token's hash
    known_device(session=session, name="bo", token=token)    # None: not bo's device
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from functools import lru_cache

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.orm import Session

from review.auth.sessions import token_hash
from review.core.models import KnownDevice, Reviewer, utcnow

DEVICES_PER_ACCOUNT = 20


def remember_device(*, session: Session, reviewer_id: int, days: float,
                    now: datetime | None = None) -> str:
    """Make a new device of the account; returns its token (shown to the client only)."""
    now = now or utcnow()
    token = secrets.token_urlsafe(32)
    session.add(KnownDevice(token_hash=token_hash(token), reviewer_id=reviewer_id, created_at=now,
                            last_used_at=now, expires_at=now + timedelta(days=days)))
    session.flush()
    oldest = (select(KnownDevice.token_hash).where(KnownDevice.reviewer_id == reviewer_id)
              .order_by(KnownDevice.last_used_at.desc(), KnownDevice.created_at.desc())
              .offset(DEVICES_PER_ACCOUNT))
    stale = list(session.scalars(oldest))
    if stale:
        session.execute(delete(KnownDevice).where(KnownDevice.token_hash.in_(stale)))
    return token


def known_device(*, session: Session, name: str, token: str | None,
                 now: datetime | None = None) -> str | None:
    """The hash of ``token`` when it is an unexpired device of the active account ``name``,
    else None (no token, an unknown or expired one, or another account's)."""
    if not token or not isinstance(token, str) or len(token) > 512 or not name:
        return None
    return session.scalar(_device_statement(), {"token_hash": token_hash(token), "name": name,
                                                "now": now or utcnow()})


@lru_cache(maxsize=None)
def _device_statement():  # noqa: ANN202 - Select, built once: it runs on every login
    return (select(KnownDevice.token_hash).join(Reviewer, Reviewer.id == KnownDevice.reviewer_id)
            .where(KnownDevice.token_hash == bindparam("token_hash"),
                   Reviewer.name == bindparam("name"), Reviewer.active.is_(True),
                   KnownDevice.expires_at > bindparam("now")))


def device_used(*, session: Session, device_hash: str, now: datetime | None = None) -> bool:
    """Note a login from the device whose token hashes to ``device_hash``; False when it is
    no longer known (forgotten or expired meanwhile)."""
    now = now or utcnow()
    changed = session.execute(update(KnownDevice)
                              .where(KnownDevice.token_hash == device_hash,
                                     KnownDevice.expires_at > now)
                              .values(last_used_at=now)).rowcount
    return bool(changed)


def forget_devices(*, session: Session, reviewer_id: int) -> int:
    """Forget every device of the account; returns how many."""
    return session.execute(delete(KnownDevice).where(KnownDevice.reviewer_id == reviewer_id)).rowcount or 0


def delete_expired_devices(*, session: Session, now: datetime | None = None) -> int:
    """Remove devices that have expired (they are not honoured anyway); returns how many."""
    now = now or utcnow()
    return session.execute(delete(KnownDevice).where(KnownDevice.expires_at <= now)).rowcount or 0
