"""The server's own assumptions about Gradio, checked against the installed release.

The allowlist of :mod:`apps.security` must hold every route the page uses (a route it lacks
is a broken page, found here rather than by a user), and the idle queue's polling attributes
that :func:`apps.server.quiet_idle_queue` sets must exist (they are not a public setting).
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from apps.security import route_for
from tests.factories import make_reviewer
from tests.web.conftest import migrated_session, open_logged_in, running_server
from tests.web.studydata import make_blind_study


@pytest.fixture(scope="module")
def server(database_url):
    with migrated_session(database_url) as session:
        make_blind_study(session, n_items=4, overlap=2, reviewers=("ana",))
        root = make_reviewer(session, "root", role="admin")
        make_blind_study(session, name="second", n_items=2, overlap=1, reviewers=(root.name,))
    with running_server(database_url) as running:
        yield running


def test_the_idle_queue_attributes_exist_in_this_gradio():
    import gradio as gr

    from apps.server import PROGRESS_POLL_SECONDS, QUEUE_POLL_SECONDS, quiet_idle_queue

    with gr.Blocks() as page:
        gr.Markdown("x")
    queue = page._queue
    assert isinstance(queue.sleep_when_free, float)  # Gradio's own, before we set it
    assert isinstance(queue.progress_update_sleep_when_free, float)
    quiet_idle_queue(page)
    assert (queue.sleep_when_free, queue.progress_update_sleep_when_free) == (
        QUEUE_POLL_SECONDS, PROGRESS_POLL_SECONDS)


def test_every_request_the_page_makes_is_on_the_allowlist(server, chromium_browser):
    """An admin's whole page (review, dashboard, admin) in Chromium: every same-origin request
    is a route the server serves, and none is answered 404."""
    from playwright.sync_api import expect

    seen: list[tuple[str, str, int]] = []
    context, page, dialogs = open_logged_in(chromium_browser, server, "root",
                                            viewport={"width": 1440, "height": 900},
                                            ready="#answer-a .answer-body")
    host = urlsplit(server.url).netloc
    page.on("response", lambda response: seen.append(
        (response.request.method, response.url, response.status)))
    try:
        page.reload()
        page.locator("#answer-a .answer-body").wait_for(timeout=20_000)
        page.wait_for_timeout(1_200)
        page.locator("#vote-left").click()
        page.locator("#submit-vote").click()
        expect(page.locator("#notice")).to_contain_text("Vote recorded", timeout=15_000)
        page.get_by_role("tab", name="Dashboard").click()
        page.locator("#dashboard-show").click()
        expect(page.locator("#dashboard-results")).to_be_visible(timeout=60_000)
        page.get_by_role("tab", name="Admin").click()
        page.wait_for_timeout(1_000)
    finally:
        context.close()
    own = [(method, urlsplit(url).path, status) for method, url, status in seen
           if urlsplit(url).netloc == host]
    assert len(own) > 10
    for method, path, status in own:
        assert route_for(method, path) is not None, (method, path)
        assert status != 404, (method, path)
    assert dialogs == []
