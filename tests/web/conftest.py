"""Fixtures for the reviewer app: a running server on a free loopback port, and Chromium.

Server modules share one database and one server per module (starting Gradio takes a
few seconds): they override ``database_url`` at module scope with
:func:`module_database_url`, so the root conftest's ``engine`` fixture and its
PostgreSQL switch (REVIEW_TEST_POSTGRES_URL) apply unchanged.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from gradio_client import Client
from sqlalchemy import Engine

from tests.conftest import fresh_database

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def module_database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Like the root ``database_url`` fixture, for one test module."""
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
    app: Any = None  # the gr.Blocks; its review_context holds the per-app state


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
        app.review_context.engine.dispose()
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


@pytest.fixture(scope="module")
def clients(server):
    """One logged-in gradio_client per account (password "pw"), made on first use, for the
    module's own ``server`` fixture."""
    made: dict[str, Client] = {}

    def client(name: str) -> Client:
        if name not in made:
            made[name] = Client(server.url, auth=(name, "pw"), verbose=False)
        return made[name]

    yield client
    # Closing a client waits about a second for its worker threads: close them together.
    closers = [threading.Thread(target=c.close) for c in made.values()]
    for closer in closers:
        closer.start()
    for closer in closers:
        closer.join()


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
    page.get_by_label("username").fill(name)
    page.get_by_label("password").fill("pw")
    page.get_by_role("button", name="Login").click()
    target = page.locator(ready) if ready else page.locator("#whoami").get_by_text(name)
    target.wait_for(timeout=20_000)
    return context, page, dialogs


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
            if httpx.get(f"http://127.0.0.1:{port}/config", timeout=2).status_code == 401:
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
