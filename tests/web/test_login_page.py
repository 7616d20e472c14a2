"""The login page and the tabs after it, in headless Chromium.

The form shows the server's own answer (a locked account is told to wait, not that its
password is wrong), "You are signed out." after logging out, and an analyst or admin who
is on no study lands on the dashboard with no empty Review tab. Screenshots go to
REVIEW_SCREENSHOT_DIR when it is set.
"""

from __future__ import annotations

import re

import httpx
import pytest

from tests.factories import make_reviewer
from tests.web.conftest import (
    migrated_session,
    open_logged_in,
    running_server,
    sign_in_on_page,
)
from tests.web.studydata import make_blind_study

DESKTOP = {"width": 1440, "height": 900}
PHONE = {"width": 390, "height": 844}
LOCKOUT = re.compile(r"Too many failed sign-in attempts\. Try again in \d+ minutes?\.")



@pytest.fixture(scope="module")
def server(database_url):
    with migrated_session(database_url) as session:
        make_blind_study(session, n_items=2, overlap=2, reviewers=("ana", "lou"))
        make_reviewer(session, "ann", role="analyst", password="pw")  # on no study
        make_reviewer(session, "root", role="admin", password="pw")  # on no study
        make_reviewer(session, "rex", password="pw")  # a reviewer on no study
        make_reviewer(session, "ava", role="analyst", password="pw")  # an analyst on a study
        make_blind_study(session, name="second", n_items=1, overlap=1, reviewers=("ava",))
    with running_server(database_url) as running:
        yield running


def _login_form(browser, server, viewport):
    context = browser.new_context(viewport=viewport)
    page = context.new_page()
    page.goto(server.url)
    page.get_by_label("Username").wait_for(timeout=20_000)
    return context, page


def _form_text(page) -> str:
    return page.locator("main").inner_text()


def test_a_locked_account_is_told_to_wait_not_that_its_password_is_wrong(server, chromium_browser,
                                                                         screenshot_dir):
    from playwright.sync_api import expect

    # Five wrong passwords lock the account (from this address) ...
    with httpx.Client(base_url=server.url, timeout=30) as http:
        for _ in range(5):
            assert http.post("login", data={"username": "lou", "password": "wrong"}).status_code == 400
        assert http.post("login", data={"username": "lou", "password": "pw"}).status_code == 429
    # ... and the right one, typed into the form, is refused with the server's reason.
    for name, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        context, page = _login_form(chromium_browser, server, viewport)
        try:
            sign_in_on_page(page, "lou", "pw")
            expect(page.locator("#login-message")).to_have_text(LOCKOUT, timeout=15_000)
            expect(page.locator("#login-message")).to_be_visible()
            assert "incorrect credentials" not in _form_text(page).lower()
            assert page.locator("#whoami").count() == 0  # still on the login form
            page.screenshot(path=str(screenshot_dir / f"login-lockout-{name}.png"))
        finally:
            context.close()


def test_a_wrong_password_is_said_once_and_a_right_one_signs_in(server, chromium_browser):
    from playwright.sync_api import expect

    context, page = _login_form(chromium_browser, server, DESKTOP)
    try:
        sign_in_on_page(page, "ana", "not her password")
        expect(page.locator("#login-message")).to_have_text("Incorrect credentials.", timeout=15_000)
        assert _form_text(page).lower().count("incorrect credentials") == 1
        sign_in_on_page(page, "ana", "pw")
        expect(page.locator("#whoami")).to_contain_text("ana", timeout=20_000)
    finally:
        context.close()


def test_after_logging_out_the_login_page_says_so(server, chromium_browser, screenshot_dir):
    from playwright.sync_api import expect

    for name, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        context, page, dialogs = open_logged_in(chromium_browser, server, "ana", viewport=viewport,
                                                ready="#answer-a .answer-body")
        try:
            page.locator("#logout button").click()
            expect(page.locator("#login-message")).to_have_text("You are signed out.", timeout=15_000)
            expect(page.get_by_label("Username")).to_be_visible()
            assert "signed_out" not in page.url  # a reload or the next login does not say it again
            page.screenshot(path=str(screenshot_dir / f"signed-out-{name}.png"))
            page.reload()
            page.get_by_label("Username").wait_for(timeout=20_000)
            page.wait_for_timeout(300)
            assert page.locator("#login-message").count() == 0
            sign_in_on_page(page, "ana", "pw")
            expect(page.locator("#whoami")).to_contain_text("ana", timeout=20_000)
            assert dialogs == []
        finally:
            context.close()


def test_an_analyst_or_admin_on_no_study_has_no_empty_review_tab(server, chromium_browser):
    from playwright.sync_api import expect

    for name in ("ann", "root"):
        context, page, _ = open_logged_in(chromium_browser, server, name, viewport=DESKTOP, ready=None)
        try:
            expect(page.get_by_role("tab", name="Dashboard")).to_have_attribute(
                "aria-selected", "true", timeout=20_000)
            expect(page.get_by_role("tab", name="Review")).to_have_count(0)
            assert not page.get_by_text("You are not on any study yet.").is_visible()
        finally:
            context.close()
    # An analyst on a study reviews; a reviewer on no study is told why the tab is empty.
    context, page, _ = open_logged_in(chromium_browser, server, "ava", viewport=DESKTOP,
                                      ready="#answer-a .answer-body")
    try:
        expect(page.get_by_role("tab", name="Review")).to_be_visible()
        expect(page.get_by_role("tab", name="Dashboard")).to_be_visible()
    finally:
        context.close()
    context, page, _ = open_logged_in(chromium_browser, server, "rex", viewport=DESKTOP, ready=None)
    try:
        expect(page.locator("#notice")).to_contain_text("You are not on any study yet.", timeout=20_000)
        expect(page.get_by_role("tab", name="Review")).to_be_visible()
    finally:
        context.close()
