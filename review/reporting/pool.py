"""Analyses off the reviewers' path: a bounded pool of worker processes, a cache, one at a time
per account.

An analysis of a large study takes seconds of CPU (bootstrap rounds over every prompt). Run in
a web server's threads it would take the interpreter, and every reviewer's vote would wait
behind it. :class:`AnalysisPool` runs analyses (the ``analyze --json`` document, the report's
data, the report's HTML) in ``workers`` separate processes, at a lower scheduling priority
(``nice``), so that a machine busy with analyses still answers its reviewers first:

* **Bounded**: at most ``workers`` analyses run at once per server process; more wait in line.
* **One at a time per account**: an account that asks while its previous analysis is still
  running is answered at once with :class:`StillComputing`, not queued again.
* **Cached** per (what, study, the study's data so far, options): a refresh with no new vote,
  change or setting answers from memory, without a worker. The data's fingerprint
  (:func:`study_fingerprint`) reads per-item counters the database keeps (no scan of the
  judgments), so it costs one small query. The same analysis asked by two accounts at once
  is computed once.

Workers are started with ``spawn`` (never a fork of a threaded server), build their own engine
from the database URL once, and stay for the next analysis.

Example::

    pool = AnalysisPool(settings)
    with database.session() as session:  # the key is read, then the session is let go
        key = pool.key(session=session, kind="analysis", study=study, n_bootstrap=1000)
    document = pool.submit(account="ann", key=key).result()
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections import OrderedDict
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from review.core.config import Settings
from review.core.errors import ReviewError
from review.core.models import Comparison, Study

KINDS = ("analysis", "report_data", "report_html")
CACHE_SIZE = 32
# Workers run below the server's priority: reviewers' requests first.
WORKER_NICENESS = 10


class StillComputing(ReviewError):
    """The account's previous analysis is still running."""


@dataclass(frozen=True)
class AnalysisKey:
    kind: str
    study_id: int
    fingerprint: str
    n_bootstrap: int


def study_fingerprint(*, session: Session, study: Study) -> str:
    """A digest that changes whenever anything an analysis of ``study`` reads changes: a
    judgment or judge verdict added, changed or removed (``Comparison.revision``, kept by the
    database), an item added, or a setting of the study (thresholds, overlap, judge, budget,
    what is stripped). One aggregate over the study's items (an index scan, no judgments)."""
    items, revisions, last = session.execute(
        select(func.count(Comparison.id), func.coalesce(func.sum(Comparison.revision), 0),
               func.coalesce(func.max(Comparison.id), 0))
        .where(Comparison.study_id == study.id)).one()
    settings = [study.name, study.overlap, study.thresholds, study.meta, study.judge_id,
                study.human_budget, study.gold_rate, study.candidate_model_id,
                study.baseline_model_id]
    payload = json.dumps([int(items), int(revisions), int(last), settings], sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:32]


# ----------------------------------------------------------------------------- the workers

_WORKER: dict[str, Any] = {}  # in a worker process only: its database, built once


def _start_worker(database_url: str, niceness: int) -> None:
    from review.core.db import Database

    try:
        os.nice(niceness)
    except OSError:
        pass
    _WORKER["database"] = Database(Settings(database_url=database_url))


def _compute(kind: str, study_id: int, n_bootstrap: int) -> Any:
    """Run in a worker: the analysis of ``kind`` for the study (JSON-serialisable)."""
    from review.reporting.report import build_report_data, render_report_html
    from review.reporting.runner import analyze_study

    with _WORKER["database"].session() as session:
        study = session.get(Study, study_id)
        if kind == "analysis":
            return analyze_study(session=session, study=study, n_bootstrap=n_bootstrap)
        data = build_report_data(session=session, study=study, n_bootstrap=n_bootstrap)
    return data if kind == "report_data" else render_report_html(data)


# ----------------------------------------------------------------------------- the pool


class AnalysisPool:
    """See the module docstring. ``workers`` defaults to ``Settings.analysis_workers``."""

    def __init__(self, settings: Settings, workers: int | None = None,
                 cache_size: int = CACHE_SIZE) -> None:
        self.settings = settings
        self.workers = workers or settings.analysis_workers
        self.cache_size = cache_size
        self._executor: ProcessPoolExecutor | None = None
        self._cache: OrderedDict[AnalysisKey, Any] = OrderedDict()
        self._running: dict[AnalysisKey, Future] = {}
        self._accounts: dict[str, Future] = {}
        self._lock = threading.Lock()
        self.computed = 0  # analyses handed to a worker (the rest came from the cache or a twin)

    def _pool(self) -> ProcessPoolExecutor:
        if self._executor is None:
            import multiprocessing

            self._executor = ProcessPoolExecutor(
                max_workers=self.workers, mp_context=multiprocessing.get_context("spawn"),
                initializer=_start_worker, initargs=(self.settings.database_url, WORKER_NICENESS))
        return self._executor

    def key(self, *, session: Session, kind: str, study: Study, n_bootstrap: int) -> AnalysisKey:
        """The cache key of an analysis of ``study`` as its data stands now."""
        if kind not in KINDS:
            raise ValueError(f"unknown analysis {kind!r}")
        return AnalysisKey(kind=kind, study_id=study.id,
                           fingerprint=study_fingerprint(session=session, study=study),
                           n_bootstrap=n_bootstrap)

    def check_free(self, account: str) -> None:
        """:class:`StillComputing` while the account's previous analysis runs: callers ask this
        first, before any work for the next one (a client told to wait costs next to nothing)."""
        with self._lock:
            previous = self._accounts.get(account)
            if previous is not None and not previous.done():
                raise StillComputing("your previous analysis is still computing: "
                                     "ask again when it is done")

    def submit(self, *, account: str, key: AnalysisKey) -> Future:
        """A future of the analysis ``key`` for ``account``: done at once from the cache, the
        running one when the same analysis is already computing, else a new one.
        :class:`StillComputing` while the account's previous analysis runs."""
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                done: Future = Future()
                done.set_result(self._cache[key])
                return done
            previous = self._accounts.get(account)
            if previous is not None and not previous.done():
                raise StillComputing("your previous analysis is still computing: "
                                     "ask again when it is done")
            future = self._running.get(key)
            if future is None:
                future = self._pool().submit(_compute, key.kind, key.study_id, key.n_bootstrap)
                self.computed += 1
                self._running[key] = future
                future.add_done_callback(lambda done, key=key: self._finished(key, done))
            self._accounts[account] = future
            return future

    def _finished(self, key: AnalysisKey, future: Future) -> None:
        with self._lock:
            self._running.pop(key, None)
            if future.cancelled() or future.exception() is not None:
                return
            self._cache[key] = future.result()
            self._cache.move_to_end(key)
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)

    def close(self) -> None:
        """Stop the workers (running analyses are abandoned)."""
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None
