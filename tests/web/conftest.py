"""Fixtures for the web app: a running server on a free loopback port, signed-in clients of
its JSON API and of the page's own event route, and Chromium.

Every module here shares one database and one server (starting the page takes a few
seconds): ``database_url`` is module-scoped in this folder, so the root conftest's ``engine``
fixture and its PostgreSQL switch (REVIEW_TEST_POSTGRES_URL) apply unchanged.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from tests.conftest import fresh_database

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="module")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Like the root ``database_url`` fixture, for the whole module (its server's database)."""
    with fresh_database(tmp_path_factory.mktemp("db")) as url:
        yield url


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def migrated_session(database_url: str) -> Iterator[Any]:
    """A session on the migrated database at ``database_url``, committed on exit: where a
    module puts its study before its server starts, or reads what its server stored."""
    from review.core.db import make_engine, session_scope
    from review.core.schema import upgrade_head

    engine = make_engine(database_url)
    try:
        upgrade_head(engine)
        with session_scope(engine) as session:
            yield session
    finally:
        engine.dispose()


def judgments_of(server: Server, name: str) -> list:
    """The judgments of the account ``name`` on ``server``'s database, oldest first."""
    from sqlalchemy import select

    from review.core.db import session_scope
    from review.core.models import Judgment, Reviewer

    with session_scope(server.engine) as session:
        return session.scalars(select(Judgment).join(Reviewer, Reviewer.id == Judgment.reviewer_id)
                               .where(Reviewer.name == name).order_by(Judgment.id)).all()


@dataclass
class Server:
    url: str
    engine: Engine
    app: Any = None  # the apps.server.WebApp; its review_context holds the per-app state


@contextmanager
def running_server(database_url: str, **settings: object) -> Iterator[Server]:
    """``review serve`` in this process, on a free loopback port (migrated database first)."""
    from apps.server import build_app, launch
    from review.core.config import Settings
    from review.core.db import make_engine
    from review.core.schema import upgrade_head

    engine = make_engine(database_url)
    upgrade_head(engine)
    app = build_app(Settings(database_url=database_url, **settings))
    url = launch(app, host="127.0.0.1", port=free_port(), block=False)
    try:
        yield Server(url=url.rstrip("/") + "/", engine=engine, app=app)
    finally:
        app.close()
        engine.dispose()


@pytest.fixture(scope="session")
def chromium_browser():
    """Headless Debian Chromium through Playwright (skipped when it is not installed)."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium (scripts/setup test)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS,
                                             headless=True)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def screenshot_dir(tmp_path_factory) -> Path:
    """Where screenshots go: REVIEW_SCREENSHOT_DIR if set, else a temporary folder."""
    folder = os.environ.get("REVIEW_SCREENSHOT_DIR")
    path = Path(folder) if folder else tmp_path_factory.mktemp("shots")
    path.mkdir(parents=True, exist_ok=True)
    return path


def signed_in(server: Server | str, name: str, password: str = "pw", **client: Any) -> httpx.Client:
    """An HTTP client of ``server`` (or a base URL) signed in as ``name`` through ``POST /login``
    (close it: ``with contextlib.closing(signed_in(...)) as http``)."""
    url = server if isinstance(server, str) else server.url
    http = httpx.Client(base_url=url, timeout=client.pop("timeout", 60), **client)
    response = http.post("login", data={"username": name, "password": password})
    assert response.status_code == 200, response.text
    return http


class PageError(Exception):
    """A page event refused: the message the page would show."""


class PageEvents:
    """The page's own events, called as the page calls them: ``POST /gradio_api/run/predict``
    with the event's index in the page's config (read from the signed-in page, by the event's
    name) and a session hash of its own, like one open tab.

    Example::

        events = PageEvents(signed_in(server, "root"))
        accounts, studies, names = events.call("admin_refresh")
    """

    def __init__(self, http: httpx.Client) -> None:
        import json
        import re
        import uuid

        self.http = http
        page = http.get("/")
        assert page.status_code == 200, page.text[:300]
        found = re.search(r"window\.gradio_config = (\{.*?\});\s*</script>", page.text, re.S)
        assert found, "the page carries no config: not signed in?"
        self.config = json.loads(found.group(1))
        self.index = {d["api_name"]: d["id"] for d in self.config["dependencies"] if d.get("api_name")}
        self.session_hash = uuid.uuid4().hex[:11]

    def call(self, api_name: str, *data: Any) -> list:
        """The outputs of event ``api_name`` with inputs ``data``; :class:`PageError` with the
        page's message when refused (a ``gr.Error``)."""
        response = self.post(api_name, *data)
        body = response.json()
        if response.status_code != 200 or body.get("error"):
            raise PageError(body.get("error") or body.get("detail") or response.text)
        return body["data"]

    def post(self, api_name: str, *data: Any) -> httpx.Response:
        """The raw answer of event ``api_name`` (for status codes)."""
        return self.http.post("gradio_api/run/predict", json={
            "data": list(data), "fn_index": self.index[api_name], "session_hash": self.session_hash,
            "event_data": None, "trigger_id": None})


@pytest.fixture(scope="module")
def clients(server):
    """One signed-in HTTP client per account (password "pw"), made on first use, for the
    module's own ``server`` fixture: ``clients("ana").get("api/v1/studies")``."""
    made: dict[str, httpx.Client] = {}

    def client(name: str) -> httpx.Client:
        if name not in made:
            made[name] = signed_in(server, name)
        return made[name]

    yield client
    for http in made.values():
        http.close()


@pytest.fixture(scope="module")
def pages(clients):
    """The page's events for one account, signed in with :func:`clients`: ``pages("root")``."""
    made: dict[str, PageEvents] = {}

    def events(name: str) -> PageEvents:
        if name not in made:
            made[name] = PageEvents(clients(name))
        return made[name]

    return events


def api_ok(response: httpx.Response, status: int = 200) -> Any:
    """The JSON of an API answer that must have ``status``."""
    assert response.status_code == status, (response.status_code, response.text[:500])
    return response.json()


def open_logged_in(browser, server, name: str, *, viewport: dict, ready: str | None):  # noqa: ANN001, ANN201
    """Log ``name`` (password "pw") in through the page's form; returns (context, page, the
    JS dialogs the page opened, which must stay empty). Waits for the ``ready`` selector,
    or for the "signed in as" line when it is None."""
    context = browser.new_context(viewport=viewport)
    page = context.new_page()
    dialogs: list[str] = []

    def on_dialog(dialog) -> None:  # noqa: ANN001
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    page.goto(server.url)
    sign_in_on_page(page, name, "pw")
    target = page.locator(ready) if ready else page.locator("#whoami").get_by_text(name)
    target.wait_for(timeout=20_000)
    return context, page, dialogs


def sign_in_on_page(page, name: str, password: str) -> None:  # noqa: ANN001
    """Fill the login page's form and press "Log in"."""
    page.get_by_label("Username").fill(name)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()


REVIEW = str(Path(sys.executable).with_name("review"))


def serve_process(database_url: str, port: int, log: Path, **env: str) -> subprocess.Popen:
    """``review serve`` as a process of its own (its own session), once it answers.

    Extra keyword arguments are environment variables (``REVIEW_LEASE_MINUTES="0.05"``).
    Stop it with ``os.killpg(process.pid, signal.SIGKILL)`` or :func:`stop_process`.
    """
    environment = dict(os.environ, REVIEW_DATABASE_URL=database_url,
                       GRADIO_ANALYTICS_ENABLED="False", **env)
    process = subprocess.Popen([REVIEW, "serve", "--host", "127.0.0.1", "--port", str(port)],
                               env=environment, stdout=log.open("ab"), stderr=subprocess.STDOUT,
                               start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text()[-3000:]
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=2).status_code == 200:
                return process
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    os.killpg(process.pid, signal.SIGKILL)
    raise AssertionError("review serve did not start: " + log.read_text()[-3000:])


def stop_process(process: subprocess.Popen) -> None:
    """Stop a process of :func:`serve_process` and wait for it."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=20)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=20)


@contextmanager
def replica_processes(database_url: str, logs: Path, count: int = 2, **env: str) -> Iterator[list[str]]:
    """``count`` processes of :func:`serve_process` on one database; yields their base URLs."""
    processes, urls = [], []
    try:
        for index in range(count):
            port = free_port()
            processes.append(serve_process(database_url, port, logs / f"serve-{index}.log", **env))
            urls.append(f"http://127.0.0.1:{port}/")
        yield urls
    finally:
        for process in processes:
            stop_process(process)
