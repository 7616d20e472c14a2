"""The reviewer app under attack and failure: password guessing, stale sessions, what a
reviewer's session receives, and the server killed in the middle of voting.

Runs on SQLite and, with REVIEW_TEST_POSTGRES_URL set, on PostgreSQL.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import threading
import time
from collections import Counter
from datetime import timedelta
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from sqlalchemy import delete, func, select, text

from apps.cookies import DEVICE_COOKIE, SESSION_COOKIE
from review.core.db import session_scope
from review.core.models import (
    Assignment,
    Comparison,
    Generation,
    Judgment,
    LoginSession,
    LoginThrottle,
    Model,
    Reviewer,
    Study,
    utcnow,
)
from tests.factories import make_generation, make_model, make_prompt_set, make_reviewer
from tests.web.conftest import PageEvents, free_port, running_server, serve_process
from tests.web.studydata import SECRETS, make_blind_study

CONTENT_HASHES = ("c0ffee7f3a" * 6 + "beef", "deadbe91c2" * 6 + "f00d")
# Ids far from anything else the pages contain, so a leaked one is found by plain search.
FIRST_IDS = {"models": 7340001, "generations": 7350001, "comparisons": 7360001}


def _start_ids_at(session, first_ids: dict[str, int]) -> None:
    """Make the next rows of models, generations and comparisons get ids from ``first_ids`` on."""
    if session.bind.dialect.name == "postgresql":
        for table, first in first_ids.items():
            session.execute(text(f"ALTER SEQUENCE {table}_id_seq RESTART WITH {first}"))
        return
    # SQLite hands out the largest id + 1: one placeholder row per table, in a study nobody is on.
    model = make_model(session, "placeholder", location="-")
    model.id = first_ids["models"] - 1
    prompt_set = make_prompt_set(session, name="placeholder", n=1)
    generation = make_generation(session, model, prompt_set.prompts[0], params_hash="placeholder")
    generation.id = first_ids["generations"] - 1
    other = make_generation(session, model, prompt_set.prompts[0], params_hash="placeholder-2")
    other.id = first_ids["generations"] - 2
    study = Study(name="placeholder", candidate=model, baseline=model, prompt_set=prompt_set)
    session.add(study)
    session.flush()
    session.add(Comparison(id=first_ids["comparisons"] - 1, study_id=study.id,
                           prompt_id=prompt_set.prompts[0].id, generation_a_id=generation.id,
                           generation_b_id=other.id))
    session.flush()


@pytest.fixture(scope="module")
def server(database_url):
    from review.core.db import make_engine
    from review.core.schema import upgrade_head

    engine = make_engine(database_url)
    upgrade_head(engine)
    with session_scope(engine) as session:
        _start_ids_at(session, FIRST_IDS)
    with session_scope(engine) as session:
        make_blind_study(session, n_items=5, overlap=2, reviewers=("ana", "bo", "cy", "dee"))
        study_models = select(Model).where(Model.name != "placeholder").order_by(Model.id)
        for model, content_hash in zip(session.scalars(study_models), CONTENT_HASHES, strict=True):
            model.content_hash = content_hash
    engine.dispose()
    with running_server(database_url) as running:
        yield running


@pytest.fixture
def throttle(server):
    """A clean login throttle (it lives in the database), and a way to let time pass.

    ``throttle(seconds)`` moves every stored throttle and session time that far into the
    past, which is what the passing of that much time looks like to the server.
    """
    def clear() -> None:
        with session_scope(server.engine) as session:
            session.execute(delete(LoginThrottle))

    def travel(seconds: float) -> None:
        shift = timedelta(seconds=seconds)
        with session_scope(server.engine) as session:
            for row in session.scalars(select(LoginThrottle)):
                if row.window_started_at is not None:
                    row.window_started_at -= shift
                if row.blocked_until is not None:
                    row.blocked_until -= shift
            for login in session.scalars(select(LoginSession)):
                login.created_at -= shift
                login.expires_at -= shift

    clear()
    yield travel
    clear()


def _retry_after(server, key: str) -> float | None:
    from review.auth.throttle import retry_after

    with session_scope(server.engine) as session:
        return retry_after(session=session, key=key)


def _login(http: httpx.Client, name: str, password: str) -> httpx.Response:
    return http.post("login", data={"username": name, "password": password})


# ----------------------------------------------------------------------------- login limits


def test_five_failures_lock_the_account_even_with_the_right_password(server, throttle):
    with httpx.Client(base_url=server.url) as http:
        for _ in range(5):
            assert _login(http, "ana", "wrong").status_code == 400
        refused = _login(http, "ana", "pw")
        assert refused.status_code == 429
        assert refused.json()["detail"] == "Too many failed sign-in attempts. Try again in 5 minutes."
        assert 0 < int(refused.headers["Retry-After"]) <= 300
        assert "review_session" not in refused.headers.get("set-cookie", "")
        # Another account from the same address is not locked out by ana's failures.
        assert _login(http, "bo", "pw").status_code == 200

        throttle(295)
        assert _login(http, "ana", "pw").status_code == 429  # still paused
        throttle(6)
        assert _login(http, "ana", "pw").status_code == 200
    # A success clears the count: four more failures and the right password still work.
    with httpx.Client(base_url=server.url) as http:
        for _ in range(4):
            assert _login(http, "ana", "wrong").status_code == 400
        assert _login(http, "ana", "pw").status_code == 200
        assert [s["name"] for s in http.get("api/v1/studies").json()] == ["blind"]


def test_failures_older_than_the_window_are_forgotten(server, throttle):
    with httpx.Client(base_url=server.url) as http:
        for _ in range(4):
            assert _login(http, "cy", "wrong").status_code == 400
        throttle(301)
        for _ in range(4):
            assert _login(http, "cy", "wrong").status_code == 400
        assert _login(http, "cy", "pw").status_code == 200


def test_one_address_guessing_many_names_is_locked_out(server, throttle):
    names = [f"nobody{i}" for i in range(server.app.review_context.settings.login_failures_per_address)]
    assert len(names) == 20
    with httpx.Client(base_url=server.url) as http:
        for name in names:
            assert _login(http, name, "guess").status_code == 400
        # Every name is now refused from this address, a real account with its password too.
        refused = _login(http, "dee", "pw")
        assert refused.status_code == 429 and "Too many failed sign-in" in refused.json()["detail"]
    assert _retry_after(server, "address:127.0.0.1") is not None
    assert _retry_after(server, "name:dee") is None  # dee's own record is clean


def test_parallel_guesses_cannot_outrun_the_limit(server, throttle):
    def guess(_):
        with httpx.Client(base_url=server.url, timeout=60) as http:
            return _login(http, "bo", "wrong").status_code

    with ThreadPoolExecutor(max_workers=16) as pool:
        codes = Counter(pool.map(guess, range(16)))
    # Only five passwords were checked; the other attempts were refused before checking.
    assert codes == {400: 5, 429: 11}, codes


def test_a_crowd_behind_one_address_signs_in_at_once(server, throttle):
    # Sixteen sign-ins at once from 127.0.0.1, four per account (below the per-name limit).
    def sign_in(index):
        with httpx.Client(base_url=server.url, timeout=60) as http:
            return _login(http, ("ana", "bo", "cy", "dee")[index % 4], "pw").status_code

    with ThreadPoolExecutor(max_workers=16) as pool:
        assert set(pool.map(sign_in, range(16))) == {200}


def _login_from(http: httpx.Client, name: str, password: str, address: str) -> httpx.Response:
    """A login from ``address``, as a trusted reverse proxy on this host would state it."""
    return http.post("login", data={"username": name, "password": password},
                     headers={"X-Forwarded-For": address})


def test_strangers_cannot_lock_a_reviewer_out_of_her_own_device(server, throttle):
    with httpx.Client(base_url=server.url) as own:
        # Her own machine signed in before: it keeps a device cookie, sent to /login only.
        first = _login_from(own, "ana", "pw", "127.0.4.1")
        assert first.status_code == 200 and own.cookies.get(DEVICE_COOKIE)
        device_cookie = next(c for c in first.headers.get_list("set-cookie") if c.startswith(DEVICE_COOKIE))
        assert "path=/login" in device_cookie.lower() and "httponly" in device_cookie.lower()
        with httpx.Client(base_url=server.url) as stranger:
            for index in range(1, 11):  # five wrong passwords from each of ten addresses
                for _ in range(5):
                    assert _login_from(stranger, "ana", "guess", f"127.0.3.{index}").status_code == 400
            # The bound on guessing spread over many addresses holds for every new device ...
            assert _login_from(stranger, "ana", "pw", "127.0.5.1").status_code == 429
        # ... while her own device signs in with the right password, every time.
        for _ in range(3):
            assert _login_from(own, "ana", "pw", "127.0.4.1").status_code == 200
        assert [s["name"] for s in own.get("api/v1/studies").json()] == ["blind"]
    # A device cookie of another account exempts nothing.
    with httpx.Client(base_url=server.url) as other:
        assert _login_from(other, "bo", "pw", "127.0.6.1").status_code == 200
        assert _login_from(other, "ana", "pw", "127.0.6.1").status_code == 429


def test_parallel_correct_logins_are_never_refused(server, throttle):
    """Eight browsers behind one address signing one account in over and over at once (more
    attempts in flight than its limit of failures)."""
    def sign_in_repeatedly(index):
        codes = []
        with httpx.Client(base_url=server.url, timeout=60) as http:
            for _ in range(6):
                http.cookies.clear()  # a new browser every time: no device cookie
                codes.append(_login(http, "ana", "pw").status_code)
        return codes

    with ThreadPoolExecutor(max_workers=8) as pool:
        codes = Counter(code for codes in pool.map(sign_in_repeatedly, range(8)) for code in codes)
    assert codes == {200: 48}, codes


def test_reactivating_an_account_revives_none_of_its_sessions(server, throttle):
    from review.auth.accounts import set_active

    with session_scope(server.engine) as session:
        if session.scalar(select(func.count()).select_from(Reviewer).where(Reviewer.name == "eve")) == 0:
            make_reviewer(session, "eve")
    with httpx.Client(base_url=server.url) as http:
        assert _login(http, "eve", "pw").status_code == 200
        assert http.get("api/v1/studies").status_code == 200
        with session_scope(server.engine) as session:
            set_active(session=session, name="eve", active=False)
        assert http.get("api/v1/studies").status_code == 401
        with session_scope(server.engine) as session:
            set_active(session=session, name="eve", active=True)
        assert http.get("api/v1/studies").status_code == 401  # the old session stays ended
        assert _login(http, "eve", "pw").status_code == 200
        assert http.get("api/v1/studies").status_code == 200


# ----------------------------------------------------------------------------- session expiry


def test_a_session_expires_and_must_sign_in_again(server, throttle):
    with httpx.Client(base_url=server.url) as http:
        response = _login(http, "cy", "pw")
        assert response.status_code == 200
        # The cookie itself also ends with the session.
        assert "Max-Age=43200" in response.headers["set-cookie"]
        assert http.get("api/v1/studies").status_code == 200
        throttle(11.9 * 3600)
        assert "gradio_config" in http.get("").text  # the app's page
        throttle(0.2 * 3600)
        assert http.get("api/v1/studies").status_code == 401
        assert "gradio_config" not in http.get("").text  # the login page
        assert http.get("api/v1/studies/blind/next").status_code == 401
        assert http.post("gradio_api/run/predict", json={"data": [], "fn_index": 0}).status_code == 401
        assert _login(http, "cy", "pw").status_code == 200
        assert http.get("api/v1/studies").status_code == 200


def test_sessions_are_stored_only_as_hashes_and_logout_ends_them(server, throttle):
    with httpx.Client(base_url=server.url) as http:
        assert _login(http, "dee", "pw").status_code == 200
        token = http.cookies[SESSION_COOKIE]
        with session_scope(server.engine) as session:
            stored = set(session.scalars(select(LoginSession.token_hash)))
        assert token not in stored and hashlib.sha256(token.encode()).hexdigest() in stored
        assert http.get("api/v1/studies").status_code == 200
        assert http.get("logout").status_code == 405  # a link elsewhere cannot log anybody out
        assert http.get("api/v1/studies").status_code == 200
        assert http.post("logout").status_code == 303
    with httpx.Client(base_url=server.url, cookies={SESSION_COOKIE: token}) as http:
        assert http.get("api/v1/studies").status_code == 401


# ----------------------------------------------------------------------------- blinding


class Recorder:
    """An httpx client that keeps the body of every response it receives."""

    def __init__(self, base_url: str) -> None:
        self.bodies: list[tuple[str, bytes]] = []
        self.http = httpx.Client(base_url=base_url, timeout=30,
                                 event_hooks={"response": [self._keep]})

    def _keep(self, response: httpx.Response) -> None:
        response.read()
        self.bodies.append((str(response.url), response.content + str(response.headers).encode()))

    def api(self, method: str, path: str, **body) -> dict:
        response = self.http.request(method, f"api/v1/{path}", json=body or None)
        assert response.status_code == 200, (path, response.text)
        return response.json()


def test_everything_a_reviewer_session_receives_is_blind(server):
    with session_scope(server.engine) as session:
        models = select(Model).where(Model.name != "placeholder")
        model_ids = [str(m.id) for m in session.scalars(models)]
        hashes = [m.content_hash for m in session.scalars(models) if m.content_hash]
        locations = [m.location for m in session.scalars(models)]
        names = [m.name for m in session.scalars(models)]
        generation_ids = [str(i) for i in session.scalars(
            select(Generation.id).where(Generation.model_id.in_([int(i) for i in model_ids])))]
        comparison_ids = [str(c.id) for c in session.scalars(
            select(Comparison).join(Study).where(Study.name == "blind"))]
    assert min(map(int, model_ids)) >= FIRST_IDS["models"]
    assert min(map(int, generation_ids)) >= FIRST_IDS["generations"]
    assert len(hashes) == 2
    with session_scope(server.engine) as session:  # votes count at once in this study
        session.scalar(select(Study).where(Study.name == "blind")).meta = {}

    recorder = Recorder(server.url)
    try:
        assert _login(recorder.http, "dee", "pw").status_code == 200
        for path in ("", "config", "gradio_api/info", "gradio_api/openapi.json", "user",
                     "gradio_api/token", "login_check", "api/v1/docs", "api/v1/openapi.json"):
            recorder.http.get(path)
        page = PageEvents(recorder.http)  # the page's own load event, as the browser calls it
        assert page.call("ui_load")
        assert [s["name"] for s in recorder.api("GET", "studies")] == ["blind"]
        voted = 0
        while True:
            item = recorder.api("GET", "studies/blind/next")
            if item["assignment_id"] is None:
                break
            assignment = item["assignment_id"]
            assert recorder.api("GET", f"assignments/{assignment}")["left"] == item["left"]
            if voted == 1:
                assert recorder.api("POST", f"assignments/{assignment}/skip")["skipped"] is True
            else:
                recorder.api("POST", f"assignments/{assignment}/vote", choice="left", strength=2,
                             rationale="clearer")
                if voted == 0:
                    recorder.api("POST", f"assignments/{assignment}/change", choice="tie")
            voted += 1
        assert voted == 5
        # A refusal is a response too (recorded like every other): it says why, and nothing more.
        refused = recorder.http.post("api/v1/assignments/made-up/vote", json={"choice": "left"})
        assert refused.status_code == 404 and refused.json() == {"detail": "no such assignment for you"}
    finally:
        recorder.http.close()

    assert len(recorder.bodies) > 20
    forbidden = [*SECRETS, *names, *locations, *hashes, *model_ids, *generation_ids, *comparison_ids]
    for url, body in recorder.bodies:
        decoded = body.decode("utf-8", errors="replace")
        for secret in forbidden:
            assert secret not in decoded, f"{secret!r} reached the reviewer in {url}"
        for key in ('"generation_id"', '"model_id"', '"comparison_id"', '"left_generation_id"',
                    '"content_hash"', '"location"'):
            assert key not in decoded, f"{key} reached the reviewer in {url}"


# ----------------------------------------------------------------------------- kill -9


LEASE_MINUTES = 0.05  # three seconds


def _serve(database_url: str, port: int, log: Path) -> subprocess.Popen:
    return serve_process(database_url, port, log, REVIEW_LEASE_MINUTES=str(LEASE_MINUTES))


def _reviewer_loop(url: str, name: str, acknowledged: list, stop: threading.Event) -> None:
    """Vote until there is nothing left, the server goes away, or ``stop`` is set."""
    try:
        with httpx.Client(base_url=url, timeout=20) as http:
            assert _login(http, name, "pw").status_code == 200
            while not stop.is_set():
                response = http.get("api/v1/studies/kill/next")
                response.raise_for_status()
                assignment_id = response.json()["assignment_id"]
                if assignment_id is None:
                    return
                response = http.post(f"api/v1/assignments/{assignment_id}/vote", json={"choice": "right"})
                response.raise_for_status()
                if response.json()["judgment"]["assignment_id"] == assignment_id:
                    acknowledged.append((name, assignment_id))
    except (httpx.TransportError, httpx.HTTPStatusError):
        return  # the server was killed under us


def open_kill_leases(engine) -> int:
    with session_scope(engine) as session:
        return session.scalar(select(func.count(Assignment.id)).join(Comparison).join(Study)
                              .where(Study.name == "kill", Assignment.status == "leased"))


def test_kill_9_during_voting_loses_no_acknowledged_vote(engine, database_url, tmp_path):
    """(The module's database: the study "kill" is this test's alone.)"""
    n_items, overlap = 24, 2
    first_wave, second_wave = ["k1", "k2", "k3", "k4"], ["k5", "k6", "k7", "k8"]
    with session_scope(engine) as session:
        make_blind_study(session, name="kill", n_items=n_items, overlap=overlap,
                         reviewers=first_wave + second_wave)
    log = tmp_path / "serve.log"
    acknowledged: list[tuple[str, str]] = []
    stop = threading.Event()

    port = free_port()
    process = _serve(database_url, port, log)
    try:
        threads = [threading.Thread(target=_reviewer_loop,
                                    args=(f"http://127.0.0.1:{port}/", name, acknowledged, stop))
                   for name in first_wave]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 60
        while len(acknowledged) < 12 and time.monotonic() < deadline:
            time.sleep(0.01)
        # Kill while at least one reviewer holds a lease (between two votes every reviewer
        # may briefly hold none), so that the expiry of leases is exercised.
        while open_kill_leases(engine) == 0 and time.monotonic() < deadline:
            time.sleep(0.005)
        os.killpg(process.pid, signal.SIGKILL)  # mid-run: requests in flight
        process.wait(timeout=10)
        for thread in threads:
            thread.join(timeout=30)
        assert not any(t.is_alive() for t in threads)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    killed_at = len(acknowledged)
    assert 12 <= killed_at < n_items * overlap, "the kill did not land mid-run"
    # Usually the killed reviewers were holding items (a vote can still land in the instant
    # between the look above and the kill); the end state below must hold either way.

    time.sleep(LEASE_MINUTES * 60 + 0.5)  # their leases run out
    port = free_port()
    process = _serve(database_url, port, log)
    try:
        for name in second_wave:
            _reviewer_loop(f"http://127.0.0.1:{port}/", name, acknowledged, stop)
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)

    with session_scope(engine) as session:
        kill_items = select(Comparison.id).join(Study).where(Study.name == "kill")
        rows = session.execute(select(Judgment.assignment_id, Judgment.comparison_id,
                                      Assignment.status, Assignment.comparison_id)
                               .join(Assignment, Assignment.id == Judgment.assignment_id,
                                     isouter=True)
                               .where(Judgment.comparison_id.in_(kill_items))).all()
        per_item = Counter(row[1] for row in rows)
        live_leases = session.scalar(select(func.count(Assignment.id)).where(
            Assignment.comparison_id.in_(kill_items),
            Assignment.status == "leased", Assignment.expires_at > utcnow()))
    stored = Counter(row[0] for row in rows)
    # Every acknowledged vote is stored, exactly once.
    assert len(acknowledged) == len(set(acknowledged))
    for _, assignment_id in acknowledged:
        assert stored[assignment_id] == 1, assignment_id
    # No half-written vote: each judgment belongs to a finished assignment of its item.
    for assignment_id, comparison_id, status, assignment_comparison in rows:
        assert assignment_id is not None and status == "done"
        assert comparison_id == assignment_comparison
    # The killed session's items went back to the pool and were completed by the second wave.
    assert len(per_item) == n_items and set(per_item.values()) == {overlap}, per_item
    assert len(rows) == n_items * overlap
    assert live_leases == 0
    assert len(acknowledged) > killed_at
