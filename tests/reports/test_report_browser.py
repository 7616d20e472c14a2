"""The report in headless Chromium: plots draw without a toolbar over their titles, nothing
leaves the machine, no console errors.

Set REVIEW_REPORT_SCREENSHOTS=DIR to keep full-page screenshots of the reports in DIR.
"""

from __future__ import annotations

import os
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from review.core.db import session_scope
from review.interchange.mtbench import import_mtbench, parse_mtbench_file
from review.core.lookup import get_study
from review.reporting.report import build_report_data, render_report_html
from tests.reports.simulate import PAYLOADS, demo_run, mtbench_file, payload_study

sync_api = pytest.importorskip("playwright.sync_api")
CHROMIUM = os.environ.get("REVIEW_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"no Chromium at {CHROMIUM}")


def write_reports(engine, folder: Path) -> dict[str, tuple[Path, int]]:
    """Three reports: the demo run, an imported six-model study, injection payloads.
    Returns file and expected number of plots by name."""
    rows = parse_mtbench_file(mtbench_file(folder / "mt.jsonl", seed=5))
    with session_scope(engine, write=True) as session:
        demo_run(session, n_items=40)
        import_mtbench(session=session, study_name="mt-bench", rows=rows)
        payload_study(session)
    reports = {}
    for name, study, plots in (("demo", "sft-step-300", 6), ("mtbench", "mt-bench", 5),
                               ("payloads", PAYLOADS["study"], 6)):
        with session_scope(engine) as session:
            data = build_report_data(session=session, study=get_study(session=session, name=study),
                                     n_bootstrap=200)
        path = folder / f"report-{name}.html"
        path.write_text(render_report_html(data), encoding="utf-8")
        reports[name] = (path, plots)
    return reports


def test_reports_render_offline_without_errors(engine, tmp_path):
    reports = write_reports(engine, tmp_path)
    # A thread of its own: Playwright's sync API refuses to start twice in one thread, and the
    # browser tests of tests/web may hold one for the whole run.
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(_open_reports, reports, tmp_path).result()


def _open_reports(reports: dict[str, tuple[Path, int]], tmp_path: Path) -> None:
    keep = os.environ.get("REVIEW_REPORT_SCREENSHOTS")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            for name, (path, plots) in reports.items():
                page = browser.new_page(viewport={"width": 1280, "height": 900})
                requests, problems, dialogs = [], [], []
                page.on("request", lambda request, seen=requests: seen.append(request.url))
                page.on("console", lambda message, seen=problems: seen.append(
                    f"{message.type}: {message.text}")
                    if message.type in ("error", "warning") or message.text.startswith("WARN") else None)
                page.on("pageerror", lambda error, seen=problems: seen.append(f"pageerror: {error}"))
                page.on("dialog", lambda dialog, seen=dialogs: (seen.append(dialog.message), dialog.dismiss()))
                page.goto(path.as_uri(), wait_until="load")
                page.wait_for_function(
                    f"document.querySelectorAll('.js-plotly-plot .main-svg').length >= {plots}",
                    timeout=30_000)
                assert page.locator(".js-plotly-plot").count() == plots, name
                # No plotly toolbar over the figures' titles, not even on hover.
                page.locator(".js-plotly-plot").first.hover()
                assert not any(bar.is_visible() for bar in page.locator(".modebar").all()), name
                assert problems == [], name
                assert dialogs == [], name  # no injected script ran
                outside = [url for url in requests if url != path.as_uri() and not url.startswith("data:")]
                assert outside == [], name
                text = page.inner_text("body")
                if name == "payloads":
                    assert PAYLOADS["answer"] in text and PAYLOADS["rationale"] in text
                    assert page.locator("iframe").count() == 0
                screenshot = tmp_path / f"report-{name}.png"
                page.screenshot(path=str(screenshot), full_page=True)
                assert screenshot.stat().st_size > 10_000
                if keep:
                    Path(keep).mkdir(parents=True, exist_ok=True)
                    shutil.copy(screenshot, Path(keep) / screenshot.name)
                page.close()
        finally:
            browser.close()
