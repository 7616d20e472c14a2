"""Known devices (device cookies) and the end of an account's access: strangers cannot lock a
reviewer out of a device she signed in from; deactivating an account or resetting its password
ends its sessions and forgets its devices, and reactivating it revives none of them."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from review.auth.accounts import reset_password, set_active
from review.auth.devices import DEVICES_PER_ACCOUNT, known_device, remember_device
from review.auth.login import log_in
from review.auth.sessions import account_for_token
from review.core.config import Settings
from review.core.db import Database, session_scope
from review.core.errors import ReviewError
from review.core.models import KnownDevice, Reviewer, utcnow


def outcome(result):
    return "ok" if result.token else "paused" if result.retry_after_s else "wrong"


def sign_in(database, password, address, name="ana", device=None):
    return log_in(database=database, name=name, password=password, address=address, device=device)


def lock_out_strangers(database, name="ana"):
    """5 wrong passwords from each of 10 addresses: the account's limit of 50 is reached."""
    for i in range(1, 11):
        for _ in range(5):
            assert outcome(sign_in(database, "guess", f"127.0.3.{i}", name=name)) == "wrong"


def account_of(engine, token):
    with session_scope(engine) as session:
        return account_for_token(session=session, token=token)


def test_strangers_cannot_lock_a_reviewer_out_of_her_known_device(database):
    first = sign_in(database, "her-password", "127.0.4.1")
    assert first.token and first.device and first.device != first.token
    lock_out_strangers(database)
    # The account's bound still holds for every client without her device, wherever it is.
    assert outcome(sign_in(database, "her-password", "127.0.5.1")) == "paused"
    assert outcome(sign_in(database, "her-password", "127.0.4.1")) == "paused"
    again = sign_in(database, "her-password", "127.0.4.1", device=first.device)
    assert outcome(again) == "ok" and again.device == first.device  # the same device, kept
    # From anywhere, behind any address: the device is what counts.
    assert outcome(sign_in(database, "her-password", "127.0.3.1", device=first.device)) == "ok"


def with_account_limit(database, limit):
    """The same database under a smaller per-account limit (fewer slow password checks)."""
    return Database(Settings(database_url=database.settings.database_url,
                             login_failures_per_account=limit))


def test_a_device_of_another_account_gives_no_exemption(database):
    strict = with_account_limit(database, 3)
    his = sign_in(strict, "his-password", "127.0.4.2", name="bo")
    assert his.device
    for i in range(3):
        assert outcome(sign_in(strict, "guess", f"127.0.3.{i + 1}")) == "wrong"
    assert outcome(sign_in(strict, "her-password", "127.0.4.2", device=his.device)) == "paused"
    assert outcome(sign_in(strict, "his-password", "127.0.4.2", name="bo", device=his.device)) == "ok"
    strict.dispose()


def test_a_device_is_bound_to_its_account(database):
    his = sign_in(database, "his-password", "127.0.4.3", name="bo")
    hers = sign_in(database, "her-password", "127.0.4.3", device=his.device)
    # Accepted as a login without a device: she gets a device of her own, his stays his.
    assert outcome(hers) == "ok" and hers.device not in (None, his.device)
    with session_scope(database.engine) as session:
        assert known_device(session=session, name="ana", token=his.device) is None
        assert known_device(session=session, name="bo", token=his.device) is not None
        assert known_device(session=session, name="ana", token=hers.device) is not None


def test_a_devices_own_guesses_are_limited_under_its_own_key(database):
    first = sign_in(database, "her-password", "127.0.4.4")
    for _ in range(5):
        assert outcome(sign_in(database, "guess", "127.0.4.4", device=first.device)) == "wrong"
    assert outcome(sign_in(database, "her-password", "127.0.4.4", device=first.device)) == "paused"
    # The device's failures count nowhere else: the same address without it still signs in.
    assert outcome(sign_in(database, "her-password", "127.0.4.4")) == "ok"


def test_devices_are_stored_as_hashes_and_expire(database, engine):
    first = sign_in(database, "her-password", "127.0.4.5")
    with session_scope(engine) as session:
        device = session.scalars(select(KnownDevice)).one()
        assert first.device not in device.token_hash and len(device.token_hash) == 64
        days = (device.expires_at - device.created_at) / timedelta(days=1)
        assert days == pytest.approx(database.settings.device_days) == 180
        later = device.expires_at + timedelta(seconds=1)
        assert known_device(session=session, name="ana", token=first.device, now=later) is None
        assert known_device(session=session, name="ana", token="not-a-device") is None


def test_an_account_keeps_a_bounded_number_of_devices(database, engine):
    with session_scope(engine, write=True) as session:
        ana = session.scalar(select(Reviewer).where(Reviewer.name == "ana"))
        start = utcnow()
        tokens = [remember_device(session=session, reviewer_id=ana.id, days=1,
                                  now=start + timedelta(seconds=i))
                  for i in range(DEVICES_PER_ACCOUNT + 3)]
    with session_scope(engine) as session:
        assert session.scalar(select(func.count()).select_from(KnownDevice)) == DEVICES_PER_ACCOUNT
        assert known_device(session=session, name="ana", token=tokens[0]) is None  # the oldest
        assert known_device(session=session, name="ana", token=tokens[-1]) is not None


def test_deactivation_ends_sessions_and_reactivation_revives_none(database, engine):
    first = sign_in(database, "her-password", "127.0.4.6")
    assert account_of(engine, first.token) == "ana"
    with session_scope(engine, write=True) as session:
        set_active(session=session, name="ana", active=False)
    assert account_of(engine, first.token) is None
    assert outcome(sign_in(database, "her-password", "127.0.4.6", device=first.device)) == "wrong"
    with session_scope(engine, write=True) as session:
        assert set_active(session=session, name="ana", active=True).active
    assert account_of(engine, first.token) is None  # the old session stays ended
    with session_scope(engine) as session:
        assert known_device(session=session, name="ana", token=first.device) is None
    # The old device is a stranger now: no exemption from the account's limit (3 here).
    strict = with_account_limit(database, 3)
    for i in range(3):
        sign_in(strict, "guess", f"127.0.3.{i + 1}")
    assert outcome(sign_in(strict, "her-password", "127.0.4.6", device=first.device)) == "paused"
    strict.dispose()


def test_reset_password_ends_sessions_and_devices(database, engine):
    first = sign_in(database, "her-password", "127.0.4.7")
    with session_scope(engine, write=True) as session:
        generated = reset_password(session=session, name="ana")
    assert generated and account_of(engine, first.token) is None
    assert outcome(sign_in(database, "her-password", "127.0.4.7")) == "wrong"
    second = sign_in(database, generated, "127.0.4.7", device=first.device)
    assert outcome(second) == "ok" and second.device != first.device  # the old device is gone
    with session_scope(engine, write=True) as session:
        assert reset_password(session=session, name="ana", password="chosen-one") is None
    assert account_of(engine, second.token) is None
    assert outcome(sign_in(database, "chosen-one", "127.0.4.7")) == "ok"
    with session_scope(engine, write=True) as session:
        with pytest.raises(ReviewError, match="must not be empty"):
            reset_password(session=session, name="ana", password="")
        with pytest.raises(ReviewError, match="no reviewer named 'nobody'"):
            set_active(session=session, name="nobody", active=False)
        session.add(Reviewer(name="judge:x", kind="llm", password_hash=None, active=False))
        session.flush()
        with pytest.raises(ReviewError, match="model judge"):
            set_active(session=session, name="judge:x", active=True)


def test_cli_deactivate_activate_and_reset_password(cli, database, engine):
    first = sign_in(database, "her-password", "127.0.4.8")
    code, out, err = cli("reviewers", "deactivate", "ana", "--json")
    assert code == 0, err
    assert json.loads(out) == {"name": "ana", "active": False}
    assert account_of(engine, first.token) is None
    code, out, err = cli("reviewers", "activate", "ana")
    assert code == 0 and out.strip() == "activated 'ana'", err
    assert account_of(engine, first.token) is None
    code, out, err = cli("reviewers", "reset-password", "ana", "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["name"] == "ana" and outcome(sign_in(database, data["password"], "127.0.4.8")) == "ok"
    code, out, err = cli("reviewers", "reset-password", "ana", "--password", "n3w-s3cret")
    assert code == 0 and "n3w-s3cret" not in out, err
    assert outcome(sign_in(database, "n3w-s3cret", "127.0.4.8")) == "ok"
    for args in (("deactivate", "nobody"), ("activate", "nobody"), ("reset-password", "nobody"),
                 ("reset-password", "ana", "--password", "")):
        code, out, err = cli("reviewers", *args)
        assert code == 1 and out == "" and err.startswith("error: ") and err.count("\n") == 1, args
