"""The web layer's defaults, from the attacker's side: another origin with a reviewer's cookie,
a raw HTTP client on every route Gradio has (only those the product serves answer), links
that try to log people out, framing, oversized bodies.

Each test reproduces a finding of the security review against a running ``review serve``.
"""

from __future__ import annotations

import os
import socket
import tempfile
import time
from contextlib import closing
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from review.core.db import session_scope
from review.core.models import Judgment
from tests.factories import make_reviewer
from tests.web.conftest import migrated_session, running_server, signed_in
from tests.web.studydata import make_blind_study

EVIL = "https://evil.example.com"
FRIEND = "https://review-portal.example.com"


@pytest.fixture(scope="module")
def server(database_url):
    with migrated_session(database_url) as session:
        make_blind_study(session, n_items=3, overlap=2, reviewers=("ana",))
        make_reviewer(session, "ann", role="analyst")
    with running_server(database_url, allowed_origins=FRIEND) as running:
        yield running


@pytest.fixture
def ana(server):
    http = signed_in(server, "ana")
    yield http
    http.close()


def own_origin(server) -> str:
    return server.url.rstrip("/")


def test_another_origin_cannot_use_a_reviewers_cookie(server, ana):
    """The proof of concept: a page elsewhere fetched the token, leased an item and voted."""
    for method, path, body in (("GET", "", None), ("GET", "api/v1/studies", None),
                               ("GET", "api/v1/studies/blind/next", None),
                               ("POST", "api/v1/assignments/x/vote", {"choice": "left"}),
                               ("POST", "gradio_api/run/predict", {"data": [], "fn_index": 0})):
        response = ana.request(method, path, json=body, headers={"Origin": EVIL})
        assert response.status_code == 403, path
        assert "access-control-allow-origin" not in response.headers, path
        assert "blind" not in response.text and "Candidate" not in response.text
    preflight = ana.options("api/v1/studies", headers={
        "Origin": EVIL, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type"})
    assert preflight.status_code in (403, 404) and "access-control-allow-origin" not in preflight.headers
    # A sibling subdomain, another port or another scheme is another origin too.
    host = own_origin(server).split("//")[1]
    for origin in (f"http://sub.{host}", own_origin(server).rsplit(":", 1)[0] + ":1",
                   f"https://{host}", "null", "http://"):
        assert ana.get("api/v1/studies", headers={"Origin": origin}).status_code == 403, origin


def test_the_origin_check_compares_the_scheme_behind_a_tls_proxy(server, ana):
    """Behind nginx with TLS (X-Forwarded-Proto from the trusted proxy on this host), an
    http:// origin of the same host is another origin."""
    host = own_origin(server).split("//")[1]
    tls = {"X-Forwarded-Proto": "https"}
    assert ana.get("api/v1/studies", headers={**tls, "Origin": f"http://{host}"}).status_code == 403
    assert ana.get("api/v1/studies", headers={**tls, "Origin": f"https://{host}"}).status_code == 200


def test_the_own_origin_and_allowed_origins_work(server, ana):
    assert ana.get("api/v1/studies", headers={"Origin": own_origin(server)}).json()[0]["name"] == "blind"
    assert ana.get("api/v1/studies", headers={"Origin": FRIEND}).status_code == 200


def test_login_csrf_and_logout_by_link_are_refused(server):
    with httpx.Client(base_url=server.url, timeout=30) as http:
        # A form on another site posting the attacker's credentials (login CSRF).
        forged = http.post("login", data={"username": "ana", "password": "pw"}, headers={"Origin": EVIL})
        assert forged.status_code == 403 and not http.cookies
        assert http.post("login", data={"username": "ana", "password": "pw"},
                         headers={"Origin": own_origin(server)}).status_code == 200
        # An <img src=".../logout"> or a link elsewhere: GET does nothing.
        assert http.get("logout").status_code == 405
        assert http.get("api/v1/studies").status_code == 200
        # A cross-origin form POST to /logout is refused too; the page's own form works.
        assert http.post("logout", headers={"Origin": EVIL}).status_code == 403
        assert http.get("api/v1/studies").status_code == 200
        assert http.post("logout", headers={"Origin": own_origin(server)}).status_code == 303
        assert http.get("api/v1/studies").status_code == 401


def test_the_session_cookie_is_lax_and_secure_behind_tls_with_hsts(server):
    with httpx.Client(base_url=server.url, timeout=30) as http:
        plain = http.post("login", data={"username": "ana", "password": "pw"})
        session_cookies = [c for c in plain.headers.get_list("set-cookie") if c.startswith("review_session=")]
        assert len(session_cookies) == 1 and "samesite=lax" in session_cookies[0].lower()
        assert "samesite=none" not in " ".join(plain.headers.get_list("set-cookie")).lower()
        assert "httponly" in session_cookies[0].lower() and "secure" not in session_cookies[0].lower()
        assert "strict-transport-security" not in plain.headers
        tls = http.post("login", data={"username": "ana", "password": "pw"},
                        headers={"X-Forwarded-Proto": "https"})
        for cookie in tls.headers.get_list("set-cookie"):
            assert "secure" in cookie.lower() and "httponly" in cookie.lower()
        assert tls.headers["strict-transport-security"].startswith("max-age=")
        page = http.get("", headers={"X-Forwarded-Proto": "https"})
        assert page.headers["strict-transport-security"].startswith("max-age=")


# Every route of Gradio's server that the product does not serve: whatever a reviewer with a
# valid session asks there, the answer is 404 (and nothing is read or written).
GRADIO_ROUTES = [
    ("GET", "gradio_api/file=/etc/hostname"), ("GET", "gradio_api/file//etc/hostname"),
    ("GET", "gradio_api/file/%2Fetc%2Fhostname"), ("GET", "gradio_api/file/..%2F..%2Fetc%2Fhostname"),
    ("GET", "file=/etc/hostname"), ("GET", "gradio_api/file%3D/etc/hostname"),
    ("POST", "gradio_api/process_recording"), ("POST", "gradio_api/upload"),
    ("GET", "gradio_api/upload_progress"), ("GET", "gradio_api/token"), ("GET", "gradio_api/token/"),
    ("GET", "monitoring"), ("GET", "monitoring/summary"), ("GET", "gradio_api/monitoring"),
    ("GET", "config"), ("GET", "gradio_api/info"), ("GET", "gradio_api/openapi.json"),
    ("POST", "gradio_api/queue/join"), ("GET", "gradio_api/queue/data"),
    ("POST", "gradio_api/call/ui_load"), ("GET", "gradio_api/call/ui_load/abc123"),
    ("POST", "gradio_api/run/ui_submit_vote"), ("POST", "gradio_api/api/predict"),
    ("GET", "gradio_api/heartbeat/abc"), ("GET", "gradio_api/startup-events"),
    ("GET", "user"), ("GET", "login_check"), ("GET", "gradio_api/mcp/sse"),
    ("GET", "manifest.json"), ("GET", "svelte/x.js"), ("GET", "gradio_api/a-route-of-the-next-release"),
    ("GET", "api/v2/studies"), ("GET", "gradio_api/run/predict"), ("PUT", "api/v1/studies"),
]


@pytest.mark.parametrize("method, path", GRADIO_ROUTES)
def test_routes_the_product_does_not_serve_answer_404_even_to_a_signed_in_reviewer(ana, method, path):
    kwargs = {"files": {"files": ("big.txt", b"x" * 1024)}} if method == "POST" else {}
    response = ana.request(method, path, **kwargs)
    assert response.status_code in (404, 405), (path, response.status_code)
    assert "hostname" not in response.text and "token" not in response.text


def test_an_export_reaches_analysts_only_and_leaves_no_file(server, ana):
    folders = [Path(tempfile.gettempdir()), Path(os.environ.get("GRADIO_TEMP_DIR", tempfile.gettempdir()))]
    before = {p for folder in folders for p in folder.rglob("*blind*")}
    assert ana.get("api/v1/studies/blind/export", params={"format": "csv"}).status_code == 403
    assert httpx.get(server.url + "api/v1/studies/blind/export?format=csv").status_code == 401
    ann = signed_in(server, "ann")
    try:
        response = ann.get("api/v1/studies/blind/export", params={"format": "csv"})
        assert response.status_code == 200 and "model_left" in response.text
    finally:
        ann.close()
    assert {p for folder in folders for p in folder.rglob("*blind*")} == before


def test_every_response_forbids_framing_and_sniffing(server, ana):
    for response in (ana.get(""), ana.get("api/v1/studies"), ana.get("config"),
                     ana.get("api/v1/studies", headers={"Origin": EVIL}),
                     httpx.get(server.url + "gradio_api/token"), httpx.get(server.url)):
        headers = response.headers
        assert headers["content-security-policy"] == "frame-ancestors 'none'"
        assert headers["x-frame-options"] == "DENY"
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "same-origin"
    assert ana.get("api/v1/studies").headers["cache-control"] == "no-store"


def test_a_page_elsewhere_cannot_frame_the_app(server, chromium_browser, tmp_path):
    """Chromium itself refuses to render the app inside another page's frame."""
    context = chromium_browser.new_context()
    page = context.new_page()
    try:
        page.set_content(f'<iframe id="f" src="{server.url}" width="800" height="600"></iframe>')
        page.wait_for_timeout(1500)
        frame = page.frame_locator("#f")
        assert frame.locator("text=Log in").count() == 0
    finally:
        context.close()


@pytest.mark.parametrize("raw", ["NaN", "Infinity", "-Infinity", "1e400", "2.5", "true"])
def test_non_numbers_are_refused_with_a_clear_message(server, ana, raw):
    item = ana.get("api/v1/studies/blind/next").json()
    body = '{"choice": "left", "strength": %s}' % raw
    response = ana.post(f"api/v1/assignments/{item['assignment_id']}/vote", content=body,
                        headers={"Content-Type": "application/json"})
    assert response.status_code in (400, 422) and "Traceback" not in response.text
    assert "strength" in response.text
    with session_scope(server.engine) as session:
        assert session.scalar(select(func.count(Judgment.id))) == 0


def _raw_request(server, head: str, body_chunks, *, chunk_pause: float = 0.0) -> tuple[int, float]:
    """Send a request by hand, body in chunks, until the server answers; returns the status and
    the seconds it took to answer (the server may answer before the body is sent)."""
    host, port = server.url.split("//")[1].rstrip("/").split(":")
    started = time.perf_counter()
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(head.encode())
        sock.setblocking(False)
        answer = b""
        for chunk in body_chunks:
            try:
                answer += sock.recv(65536)
            except BlockingIOError:
                pass
            if answer:
                break
            try:
                sock.sendall(chunk)
            except (BlockingIOError, BrokenPipeError, ConnectionResetError):
                break
            if chunk_pause:
                time.sleep(chunk_pause)
        sock.setblocking(True)
        sock.settimeout(30)
        while b"\r\n" not in answer:
            more = sock.recv(65536)
            if not more:
                break
            answer += more
    elapsed = time.perf_counter() - started
    return int(answer.split(b" ", 2)[1]), elapsed


def test_big_bodies_are_refused_before_they_are_read(server, ana):
    """200 MB to an API route: refused without a session (401) or over the limit (413) at once,
    by Content-Length or by counting the bytes of a body that names no length; the server's
    memory does not grow with it."""
    import psutil

    host = server.url.split("//")[1].rstrip("/")
    process = psutil.Process()  # the server runs in this process
    rss_before = process.memory_info().rss
    megabyte = b"x" * (1 << 20)
    signed = f"Cookie: review_session={ana.cookies['review_session']}"
    cases = (([], "Content-Length: 209715200", 401),             # nobody signed in
             ([signed], "Content-Length: 209715200", 413),       # too big by its length
             ([signed], "Transfer-Encoding: chunked", 413))      # too big by counting
    for cookie, length, expected in cases:
        lines = ["POST /api/v1/assignments/x/vote HTTP/1.1", f"Host: {host}", *cookie,
                 "Content-Type: application/json", length]
        head = "\r\n".join(lines) + "\r\n\r\n"
        if "chunked" in length:
            chunks = (b"%x\r\n" % len(megabyte) + megabyte + b"\r\n" for _ in range(200))
        else:
            chunks = (megabyte for _ in range(200))
        status, elapsed = _raw_request(server, head, chunks)
        assert status == expected, (cookie, length, status)
        assert elapsed < 3.0, (cookie, length, elapsed)
    assert process.memory_info().rss - rss_before < 50 * (1 << 20)
    # A body within the limit is read as usual.
    assert ana.post("api/v1/assignments/x/vote", json={"choice": "left", "rationale": "y" * 1000}).status_code == 404


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
    unknown = ana.post("api/v1/assignments/no-such-id/vote", json={"choice": "left"})
    assert unknown.status_code == 404 and unknown.json() == {"detail": "no such assignment for you"}
    not_mine = ana.get("api/v1/studies/blind/analysis")
    assert not_mine.status_code == 403 and "analyst" in not_mine.json()["detail"]
    item = ana.get("api/v1/studies/blind/next").json()
    bad = ana.post(f"api/v1/assignments/{item['assignment_id']}/vote", json={"choice": "sideways"})
    assert bad.status_code == 400 and "unknown choice" in bad.json()["detail"]
    malformed = ana.post(f"api/v1/assignments/{item['assignment_id']}/vote", content=b"{not json",
                         headers={"Content-Type": "application/json"})
    assert malformed.status_code == 422 and "Traceback" not in malformed.text


def test_a_deactivated_account_loses_every_route_at_once(server):
    from review.core.models import Reviewer

    with session_scope(server.engine) as session:
        make_reviewer(session, "temp")
    with closing(signed_in(server, "temp")) as http:
        assert "gradio_config" in http.get("").text
        assert http.get("api/v1/studies").status_code == 200
        with session_scope(server.engine) as session:
            session.scalar(select(Reviewer).where(Reviewer.name == "temp")).active = False
        assert "gradio_config" not in http.get("").text  # the login page
        assert http.get("api/v1/studies").status_code == 401
        assert http.post("gradio_api/run/predict", json={"data": [], "fn_index": 0}).status_code == 401
