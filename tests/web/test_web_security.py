"""The web layer's defaults, from the attacker's side: another origin with a reviewer's cookie,
a raw HTTP client on closed routes, links that try to log people out, framing.

Each test reproduces a finding of the security review against a running ``review serve``.
"""

from __future__ import annotations

import httpx
import pytest

from review.core.db import session_scope
from tests.factories import make_reviewer
from tests.web.conftest import migrated_session, module_database_url, running_server
from tests.web.studydata import make_blind_study

EVIL = "https://evil.example.com"
FRIEND = "https://review-portal.example.com"


@pytest.fixture(scope="module")
def database_url(tmp_path_factory):
    yield from module_database_url(tmp_path_factory)


@pytest.fixture(scope="module")
def server(database_url):
    with migrated_session(database_url) as session:
        make_blind_study(session, n_items=3, overlap=2, reviewers=("ana",))
        make_reviewer(session, "ann", role="analyst")
    with running_server(database_url, allowed_origins=FRIEND) as running:
        yield running


@pytest.fixture
def ana(server):
    with httpx.Client(base_url=server.url, timeout=30) as http:
        assert http.post("login", data={"username": "ana", "password": "pw"}).status_code == 200
        yield http


def own_origin(server) -> str:
    return server.url.rstrip("/")


def test_another_origin_cannot_use_a_reviewers_cookie(server, ana):
    """The proof of concept: a page elsewhere fetched the token, leased an item and voted."""
    for method, path, body in (("GET", "config", None), ("POST", "gradio_api/run/studies", {"data": []}),
                               ("POST", "gradio_api/run/next_item", {"data": ["blind"]}),
                               ("POST", "gradio_api/queue/join", {"data": [], "fn_index": 0,
                                                                  "session_hash": "x"})):
        response = ana.request(method, path, json=body, headers={"Origin": EVIL})
        assert response.status_code == 403, path
        assert "access-control-allow-origin" not in response.headers, path
        assert "blind" not in response.text and "Candidate" not in response.text
    preflight = ana.options("gradio_api/run/studies", headers={
        "Origin": EVIL, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type"})
    assert preflight.status_code == 403 and "access-control-allow-origin" not in preflight.headers
    # A sibling subdomain or another port is another origin too.
    host = own_origin(server).split("//")[1]
    for origin in (f"http://sub.{host}", own_origin(server).rsplit(":", 1)[0] + ":1"):
        assert ana.get("config", headers={"Origin": origin}).status_code == 403, origin


def test_the_own_origin_and_allowed_origins_work(server, ana):
    assert ana.post("gradio_api/run/studies", json={"data": []},
                    headers={"Origin": own_origin(server)}).json()["data"] == [["blind"]]
    response = ana.post("gradio_api/run/studies", json={"data": []}, headers={"Origin": FRIEND})
    assert response.status_code == 200


def test_login_csrf_and_logout_by_link_are_refused(server):
    with httpx.Client(base_url=server.url, timeout=30) as http:
        # A form on another site posting the attacker's credentials (login CSRF).
        forged = http.post("login", data={"username": "ana", "password": "pw"}, headers={"Origin": EVIL})
        assert forged.status_code == 403 and not http.cookies
        assert http.post("login", data={"username": "ana", "password": "pw"},
                         headers={"Origin": own_origin(server)}).status_code == 200
        # An <img src=".../logout"> or a link elsewhere: GET does nothing.
        assert http.get("logout").status_code == 405
        assert http.post("gradio_api/run/studies", json={"data": []}).status_code == 200
        # A cross-origin form POST to /logout is refused too; the page's own form works.
        assert http.post("logout", headers={"Origin": EVIL}).status_code == 403
        assert http.post("gradio_api/run/studies", json={"data": []}).status_code == 200
        assert http.post("logout", headers={"Origin": own_origin(server)}).status_code == 303
        assert http.post("gradio_api/run/studies", json={"data": []}).status_code == 401


def test_the_session_cookie_is_lax_and_secure_behind_tls(server):
    with httpx.Client(base_url=server.url, timeout=30) as http:
        plain = http.post("login", data={"username": "ana", "password": "pw"})
        cookies = plain.headers.get_list("set-cookie")
        assert len(cookies) == 1 and "samesite=lax" in cookies[0].lower()
        assert "samesite=none" not in " ".join(cookies).lower() and "httponly" in cookies[0].lower()
        tls = http.post("login", data={"username": "ana", "password": "pw"},
                        headers={"X-Forwarded-Proto": "https"})
        (cookie,) = tls.headers.get_list("set-cookie")
        assert "secure" in cookie.lower() and "samesite=lax" in cookie.lower()


@pytest.mark.parametrize("method, path", [
    ("GET", "gradio_api/token"), ("GET", "gradio_api/token/"), ("GET", "monitoring"),
    ("GET", "monitoring/summary"), ("POST", "gradio_api/upload"), ("GET", "gradio_api/upload_progress"),
])
def test_closed_routes_answer_404_even_to_a_logged_in_reviewer(ana, method, path):
    if method == "POST":
        response = ana.post(path, files={"files": ("big.txt", b"x" * 1024)})
    else:
        response = ana.get(path)
    assert response.status_code == 404
    assert "token" not in response.json() or response.json().get("token") is None


def test_every_response_forbids_framing_and_sniffing(server, ana):
    for response in (ana.get(""), ana.get("config"), ana.get("config", headers={"Origin": EVIL}),
                     httpx.get(server.url + "gradio_api/token")):
        headers = response.headers
        assert headers["content-security-policy"] == "frame-ancestors 'none'"
        assert headers["x-frame-options"] == "DENY"
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "same-origin"


def test_a_page_elsewhere_cannot_frame_the_app(server, chromium_browser, tmp_path):
    """Chromium itself refuses to render the app inside another page's frame."""
    context = chromium_browser.new_context()
    page = context.new_page()
    try:
        page.set_content(f'<iframe id="f" src="{server.url}" width="800" height="600"></iframe>')
        page.wait_for_timeout(1500)
        frame = page.frame_locator("#f")
        assert frame.locator("text=Login").count() == 0
    finally:
        context.close()


@pytest.mark.parametrize("raw", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_non_finite_numbers_are_refused_with_a_clear_message(server, ana, raw):
    item = ana.post("gradio_api/run/next_item", json={"data": ["blind"]}).json()["data"][0]
    body = '{"data": ["%s", "left", %s, null, null]}' % (item["assignment_id"], raw)
    response = ana.post("gradio_api/run/vote", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 400 and "Traceback" not in response.text
    assert "strength must be 1 (slightly), 2 (clearly) or 3 (much better)" in response.text
    with session_scope(server.engine) as session:
        from sqlalchemy import func, select

        from review.core.models import Judgment

        assert session.scalar(select(func.count(Judgment.id))) == 0


def test_an_account_without_a_password_answers_as_slowly_as_any(server):
    """An imported rater has no password: refusing it must cost a real password check."""
    import time

    from review.auth.accounts import authenticate
    from review.core.models import Reviewer

    with session_scope(server.engine) as session:
        session.add(Reviewer(name="gpt-4-judge", password_hash=None, active=True))
    timings = {}
    for name in ("gpt-4-judge", "no-such-account", "ana"):
        spent = []
        for _ in range(3):
            with session_scope(server.engine) as session:
                started = time.perf_counter()
                assert authenticate(session=session, name=name, password="wrong") is None
                spent.append(time.perf_counter() - started)
        timings[name] = sorted(spent)[1]
    slowest, fastest = max(timings.values()), min(timings.values())
    assert fastest > 0.5 * slowest, timings


def test_old_password_hashes_are_upgraded_at_login(server):
    import base64
    import hashlib
    import secrets

    from sqlalchemy import select

    from review.core.models import Reviewer

    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(b"old-pw", salt=salt, n=2**14, r=8, p=1, dklen=32)
    old = f"scrypt${2**14}$8$1${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"
    with session_scope(server.engine) as session:
        session.add(Reviewer(name="veteran", password_hash=old))
    with httpx.Client(base_url=server.url, timeout=30) as http:
        assert http.post("login", data={"username": "veteran", "password": "old-pw"}).status_code == 200
    with session_scope(server.engine) as session:
        stored = session.scalar(select(Reviewer.password_hash).where(Reviewer.name == "veteran"))
    assert stored != old and stored.startswith(f"scrypt${2**14}$8$5$")
    with httpx.Client(base_url=server.url, timeout=30) as http:
        assert http.post("login", data={"username": "veteran", "password": "old-pw"}).status_code == 200


def test_refusals_are_4xx_and_say_why(server, ana):
    unknown = ana.post("gradio_api/run/vote", json={"data": ["no-such-id", "left", None, None, None]})
    assert unknown.status_code == 404 and unknown.json()["error"]
    not_mine = ana.post("gradio_api/run/study_progress", json={"data": []})
    assert not_mine.status_code == 403 and "analyst" in not_mine.json()["error"]
    bad = ana.post("gradio_api/run/vote", json={"data": ["x", "sideways", None, None, None]})
    assert bad.status_code in (400, 404)


def test_downloads_only_for_analysts_and_only_once(server, ana):
    with httpx.Client(base_url=server.url, timeout=60) as ann:
        assert ann.post("login", data={"username": "ann", "password": "pw"}).status_code == 200
        built = ann.post("gradio_api/run/dashboard_export", json={"data": ["blind", "csv"]})
        assert built.status_code == 200, built.text
        url = built.json()["data"][0]["value"]["url"]
        path = "gradio_api/file=" + url.split("gradio_api/file=")[1]
        # The link in a reviewer's hands, or nobody's: nothing.
        assert ana.get(path).status_code == 404
        assert httpx.get(server.url + path).status_code in (401, 404)
        first = ann.get(path)
        assert first.status_code == 200 and "model_left" in first.text
        # Removed once sent: the same link leads nowhere, for the analyst too.
        assert ann.get(path).status_code in (403, 404)
        from pathlib import Path

        assert not Path(path.split("file=")[1]).exists()
        # Other files of the server's temporary folder are never reachable through it.
        assert ann.get("gradio_api/file=/etc/passwd").status_code == 404


def test_another_sessions_event_stream_cannot_be_read(server, ana):
    """Gradio streams results to whoever asks with the session hash; only its owner may."""
    import json
    import uuid

    config = ana.get("config").json()
    fn_index = next(d["id"] for d in config["dependencies"] if d.get("api_name") == "next_item")
    session_hash = uuid.uuid4().hex
    joined = ana.post("gradio_api/queue/join", json={
        "data": ["blind"], "fn_index": fn_index, "session_hash": session_hash, "event_data": None,
        "trigger_id": None})
    assert joined.status_code == 200, joined.text
    with httpx.Client(base_url=server.url, timeout=30) as ann:
        assert ann.post("login", data={"username": "ann", "password": "pw"}).status_code == 200
        stolen = ann.get("gradio_api/queue/data", params={"session_hash": session_hash})
        assert stolen.status_code == 404 and "assignment" not in stolen.text
        unknown = ann.get("gradio_api/queue/data", params={"session_hash": uuid.uuid4().hex})
        assert unknown.status_code == 404
    with ana.stream("GET", "gradio_api/queue/data", params={"session_hash": session_hash}) as stream:
        assert stream.status_code == 200
        done = None
        for line in stream.iter_lines():
            if line.startswith("data:"):
                message = json.loads(line[5:])
                if message.get("msg") == "process_completed":
                    done = message
                    break
    assert done is not None and done["success"] is True


def test_a_deactivated_account_loses_every_route_at_once(server):
    from sqlalchemy import select

    from review.core.models import Reviewer

    with session_scope(server.engine) as session:
        make_reviewer(session, "temp")
    with httpx.Client(base_url=server.url, timeout=30) as http:
        assert http.post("login", data={"username": "temp", "password": "pw"}).status_code == 200
        assert http.get("config").status_code == 200
        with session_scope(server.engine) as session:
            session.scalar(select(Reviewer).where(Reviewer.name == "temp")).active = False
        assert http.get("config").status_code == 401
        assert http.post("gradio_api/run/studies", json={"data": []}).status_code == 401
