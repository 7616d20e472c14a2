"""Serving latency: "next item" and "record vote" with 50 concurrent simulated reviewers.

Measures p50 / p99 latency of the two calls a reviewer makes for every item:

* at the service layer: the calls and transactions the web app makes, without HTTP, from
  50 threads ("next item" = ``next_assignment``, then ``item_view`` + ``reviewer_progress``
  once the writing is done; "record vote" = ``record_vote``). Sessions come from the app's
  :class:`apps.context.AppContext`, which on SQLite queues the process's writers on a lock
  rather than in SQLite's busy handler and frees the write lock before the reads;
* over HTTP: ``review serve`` in its own process, 50 logged-in clients calling the JSON API,
  ``GET /api/v1/studies/bench/next`` and ``POST /api/v1/assignments/{id}/vote`` (whose answer
  carries the next item too).

on SQLite (a temporary file) and on PostgreSQL (a throwaway database created on the
server named by REVIEW_BENCH_POSTGRES_URL, default postgresql://postgres@127.0.0.1:5432/test,
and dropped afterwards; skipped with a message when the server cannot be reached).

Each simulated reviewer loads an item, reads it for ``--think`` seconds (uniformly drawn
between half and one and a half times it), votes, and goes on. ``--think 0`` turns the
run into a closed-loop stress test: every reviewer fires its next request the moment the
last one returns.

Targets on a 2-core machine: p99 under 50 ms at the service layer and under 250 ms over
HTTP (with the default think time); with ``--sweep 1000,20000,100000``, each study size is
seeded afresh and measured in turn, and the next item's p99 at every size stays within 1.5x
of the first (its cost does not grow with the study).

Usage::

    python benchmarks/serving.py [--db sqlite|postgres|both] [--reviewers 50] [--votes 8]
                                 [--think 1.0] [--layers service,http] [--items 400]
                                 [--sweep 1000,20000,100000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run from a checkout without installing

TARGET_SERVICE_P99_MS = 50.0
TARGET_HTTP_P99_MS = 250.0
# "Next item" at the largest study of a sweep against the smallest (p99).
TARGET_SWEEP_RATIO = 1.5
DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"
PASSWORD = "bench-pw"
# Each reviewer's first item is not measured: it opens the pool's connections and warms caches.
WARMUP = 1


@dataclass
class Latencies:
    next_item: list[float] = field(default_factory=list)
    vote: list[float] = field(default_factory=list)
    errors: int = 0


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100), nearest-rank."""
    ordered = sorted(values)
    rank = max(1, int(round(q / 100 * len(ordered) + 0.5)))
    return ordered[min(rank, len(ordered)) - 1]


# --------------------------------------------------------------------------- databases


@contextmanager
def sqlite_database() -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="review-bench-") as folder:
        yield f"sqlite:///{folder}/bench.db"


@contextmanager
def postgres_database(server_url: str) -> Iterator[str]:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url
    from sqlalchemy.pool import NullPool

    url = make_url(server_url)
    if url.drivername in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+psycopg")
    name = f"review_bench_{uuid.uuid4().hex[:10]}"
    # A connection per statement: the server may have restarted in between (load.py).
    admin = create_engine(url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def seed(url: str, *, reviewers: int, items: int, overlap: int) -> list[str]:
    """A migrated database with one study of ``items`` items and ``reviewers`` accounts on it
    (multi-row inserts: 100,000 items take seconds, as an import would)."""
    from sqlalchemy import insert, select

    from review.core.db import make_engine, session_scope
    from review.core.models import (
        Comparison,
        Generation,
        Model,
        Prompt,
        PromptSet,
        Reviewer,
        Study,
        StudyReviewer,
    )
    from review.core.schema import upgrade_head
    from review.auth.passwords import hash_password

    engine = make_engine(url)
    upgrade_head(engine)
    password_hash = hash_password(PASSWORD)  # one hash (with its salt) serves every account
    names = [f"reviewer{i:03d}" for i in range(reviewers)]
    chunk = 5000
    with session_scope(engine) as session:
        base = Model(name="bench-base", kind="base", location="/bench/base")
        tuned = Model(name="bench-tuned", kind="finetune", location="/bench/tuned")
        prompt_set = PromptSet(name="bench")
        session.add_all([base, tuned, prompt_set])
        session.flush()
        study = Study(name="bench", candidate=tuned, baseline=base, prompt_set=prompt_set,
                      overlap=overlap, guidelines="Pick the better answer.")
        session.add(study)
        session.flush()
        for start in range(0, items, chunk):
            numbers = range(start, min(items, start + chunk))
            session.execute(insert(Prompt), [
                {"prompt_set_id": prompt_set.id, "external_id": f"q{i}", "content_hash": f"h{i}",
                 "messages": [{"role": "user", "content": f"Question {i}: explain something."}]}
                for i in numbers])
        prompt_ids = session.scalars(select(Prompt.id).where(Prompt.prompt_set_id == prompt_set.id)
                                     .order_by(Prompt.id)).all()
        for model in (tuned, base):
            for start in range(0, items, chunk):
                session.execute(insert(Generation), [
                    {"model_id": model.id, "prompt_id": pid, "params_hash": "p", "params": {},
                     "output": f"Answer {pid} from one model. " * 20, "backend": "bench"}
                    for pid in prompt_ids[start:start + chunk]])
        answers = {(row[0], row[1]): row[2] for row in session.execute(
            select(Generation.model_id, Generation.prompt_id, Generation.id))}
        for start in range(0, items, chunk):
            session.execute(insert(Comparison), [
                {"study_id": study.id, "prompt_id": pid, "generation_a_id": answers[(tuned.id, pid)],
                 "generation_b_id": answers[(base.id, pid)]} for pid in prompt_ids[start:start + chunk]])
        for name in names:
            reviewer = Reviewer(name=name, role="reviewer", password_hash=password_hash)
            session.add(reviewer)
            session.flush()
            session.add(StudyReviewer(study_id=study.id, reviewer_id=reviewer.id))
    if engine.dialect.name == "postgresql":  # fresh statistics, as autovacuum would soon have
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("ANALYZE")
    engine.dispose()
    return names


# --------------------------------------------------------------------------- service layer


def run_service(url: str, names: list[str], *, votes: int, think: float) -> Latencies:
    from sqlalchemy import select

    from review.campaign.judgments import record_vote
    from review.campaign.screen import next_screen
    from review.core.config import Settings
    from review.core.db import Database
    from review.core.models import Reviewer

    database = Database(Settings(database_url=url))
    engine, session_scope = database.engine, database.session
    result = Latencies()
    lock = threading.Lock()
    with session_scope() as session:
        ids = dict(session.execute(select(Reviewer.name, Reviewer.id)).all())
    start = threading.Barrier(len(names))

    def reviewer_loop(name: str) -> None:
        rng = random.Random(name)
        start.wait()
        time.sleep(rng.uniform(0, think))  # reviewers do not all arrive in the same millisecond
        for index in range(WARMUP + votes):
            try:
                began = time.perf_counter()
                with session_scope(write=True) as session:
                    reviewer = session.get(Reviewer, ids[name])
                    screen = next_screen(session=session, reviewer=reviewer, study_label=None)
                    if screen.item is None:
                        return
                    lease_id = screen.item.assignment_id
                loaded = time.perf_counter()
                time.sleep(rng.uniform(0.5, 1.5) * think)
                voting = time.perf_counter()
                with session_scope(write=True) as session:
                    record_vote(session=session, reviewer=session.get(Reviewer, ids[name]),
                                assignment_id=lease_id, choice=rng.choice(["left", "right", "tie"]))
                voted = time.perf_counter()
                if index >= WARMUP:
                    with lock:
                        result.next_item.append((loaded - began) * 1000)
                        result.vote.append((voted - voting) * 1000)
            except Exception as exc:  # counted and shown, the run goes on
                with lock:
                    result.errors += 1
                print(f"  {name}: {type(exc).__name__}: {exc}", file=sys.stderr)

    threads = [threading.Thread(target=reviewer_loop, args=(n,)) for n in names]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    engine.dispose()
    return result


# --------------------------------------------------------------------------- HTTP


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def review_server(url: str, pids: list[int] | None = None) -> Iterator[str]:
    """``review serve`` in a child process; yields its base URL once it answers (and appends
    the process id to ``pids``, for measuring its CPU time)."""
    import httpx

    port = _free_port()
    code = ("import sys; from review.cli import main; "
            f"sys.exit(main(['--db', {url!r}, 'serve', '--host', '127.0.0.1', '--port', '{port}']))")
    env = dict(os.environ, GRADIO_ANALYTICS_ENABLED="False", PYTHONPATH=str(ROOT))
    log = tempfile.TemporaryFile(mode="w+")
    process = subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.DEVNULL,
                               stderr=log, text=True)
    base = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 90
        while True:
            if process.poll() is not None:
                log.seek(0)
                raise RuntimeError(f"review serve exited: {log.read()[-2000:]}")
            try:
                if httpx.get(base + "api/v1/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("review serve did not start within 90 s")
            time.sleep(0.3)
        if pids is not None:
            pids.append(process.pid)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def run_http(base: str, names: list[str], *, votes: int, think: float) -> Latencies:
    import httpx

    result = Latencies()

    async def reviewer_loop(name: str, client: httpx.AsyncClient) -> None:
        rng = random.Random(name)
        await asyncio.sleep(rng.uniform(0, think))
        for index in range(WARMUP + votes):
            try:
                began = time.perf_counter()
                response = await client.get("api/v1/studies/bench/next")
                response.raise_for_status()
                item = response.json()
                if index >= WARMUP:
                    result.next_item.append((time.perf_counter() - began) * 1000)
                if item["assignment_id"] is None:
                    return
                await asyncio.sleep(rng.uniform(0.5, 1.5) * think)
                began = time.perf_counter()
                response = await client.post(f"api/v1/assignments/{item['assignment_id']}/vote",
                                             json={"choice": rng.choice(["left", "right", "tie"])})
                response.raise_for_status()
                if index >= WARMUP:
                    result.vote.append((time.perf_counter() - began) * 1000)
            except Exception as exc:  # counted and shown, the run goes on
                result.errors += 1
                print(f"  {name}: {type(exc).__name__}: {exc}", file=sys.stderr)

    async def main() -> None:
        limits = httpx.Limits(max_connections=len(names) + 10)
        clients = [httpx.AsyncClient(base_url=base, timeout=60, limits=limits) for _ in names]
        try:
            # Log everyone in first (scrypt makes logins deliberately slow; not measured).
            login = asyncio.Semaphore(4)

            async def log_in(client: httpx.AsyncClient, name: str) -> None:
                async with login:
                    response = await client.post("login", data={"username": name, "password": PASSWORD})
                    response.raise_for_status()

            await asyncio.gather(*(log_in(c, n) for c, n in zip(clients, names, strict=True)))
            await asyncio.gather(*(reviewer_loop(n, c) for c, n in zip(clients, names, strict=True)))
        finally:
            await asyncio.gather(*(c.aclose() for c in clients))

    asyncio.run(main())
    return result


# --------------------------------------------------------------------------- report


def report(label: str, result: Latencies, target_ms: float) -> bool:
    ok = result.errors == 0 and bool(result.next_item) and bool(result.vote)
    for call, values in (("next item", result.next_item), ("record vote", result.vote)):
        if not values:
            print(f"{label:<22} {call:<12} no samples")
            continue
        p50, p99 = percentile(values, 50), percentile(values, 99)
        passed = p99 < target_ms
        ok = ok and passed
        print(f"{label:<22} {call:<12} n={len(values):<4} p50={p50:7.1f} ms  p99={p99:7.1f} ms  "
              f"max={max(values):7.1f} ms  mean={statistics.fmean(values):6.1f} ms  "
              f"target p99<{target_ms:.0f} ms: {'ok' if passed else 'MISSED'}")
    if result.errors:
        print(f"{label:<22} errors: {result.errors}")
    return ok


def bench(db: str, url_context, args: argparse.Namespace) -> bool:  # noqa: ANN001
    ok = True
    sizes = args.sweep or [args.items]
    first: dict[str, Latencies] = {}
    for layer in args.layers:
        for size in sizes:
            items = max(size, args.reviewers * (args.votes + WARMUP))  # never run out of work
            with url_context() as url:
                seeded = time.perf_counter()
                names = seed(url, reviewers=args.reviewers, items=items, overlap=args.overlap)
                print(f"{db} / {layer}: a study of {items:,} items seeded in "
                      f"{time.perf_counter() - seeded:.1f} s")
                started = time.perf_counter()
                if layer == "service":
                    result = run_service(url, names, votes=args.votes, think=args.think)
                    target = TARGET_SERVICE_P99_MS
                else:
                    with review_server(url) as base:
                        started = time.perf_counter()
                        result = run_http(base, names, votes=args.votes, think=args.think)
                    target = TARGET_HTTP_P99_MS
            seconds = time.perf_counter() - started
            calls = len(result.next_item) + len(result.vote)
            label = f"{db} / {layer}" + (f" / {items:,}" if args.sweep else "")
            ok = report(label, result, target) and ok
            print(f"{'':<22} {calls} calls in {seconds:.1f} s ({calls / seconds:.0f} calls/s)")
            if args.sweep:
                if layer not in first:
                    first[layer] = result
                else:
                    ok = sweep_ratio(label, first[layer], result, sizes[0]) and ok
    return ok


def sweep_ratio(label: str, smallest: Latencies, result: Latencies, size: int) -> bool:
    """The next item's p50 and p99 against the smallest study of the sweep; target p99 within
    :data:`TARGET_SWEEP_RATIO` of it."""
    if not (smallest.next_item and result.next_item):
        return False
    ratios = {q: percentile(result.next_item, q) / percentile(smallest.next_item, q) for q in (50, 99)}
    passed = ratios[99] <= TARGET_SWEEP_RATIO
    print(f"{label:<22} next item vs {size:,} items: p50 x{ratios[50]:.2f}  p99 x{ratios[99]:.2f}  "
          f"target p99 within x{TARGET_SWEEP_RATIO:g}: {'ok' if passed else 'MISSED'}")
    return passed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--layers", default="service,http",
                        help="comma-separated: service, http (default both)")
    parser.add_argument("--reviewers", type=int, default=50)
    parser.add_argument("--votes", type=int, default=8, help="votes per reviewer")
    parser.add_argument("--items", type=int, default=400)
    parser.add_argument("--sweep", type=lambda text: [int(x) for x in text.split(",") if x.strip()],
                        default=None, help="study sizes to measure in turn, e.g. 1000,20000,100000 "
                                           "(each printed with its ratio to the first)")
    parser.add_argument("--overlap", type=int, default=3)
    parser.add_argument("--think", type=float, default=1.0,
                        help="mean seconds a reviewer reads an item (0 = closed-loop stress test)")
    args = parser.parse_args(argv)
    args.layers = [layer.strip() for layer in args.layers.split(",") if layer.strip()]
    print(f"{args.reviewers} concurrent reviewers x {args.votes} measured votes (+{WARMUP} warm-up), "
          f"overlap {args.overlap}, think time {args.think:g} s, {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.1f}")
    ok = True
    if args.db in ("sqlite", "both"):
        ok = bench("sqlite", sqlite_database, args) and ok
    if args.db in ("postgres", "both"):
        server = os.environ.get("REVIEW_BENCH_POSTGRES_URL", DEFAULT_POSTGRES_URL)
        try:
            from review.core.db import check_connection, make_engine

            probe = make_engine(server)
            check_connection(probe)
            probe.dispose()
        except Exception as exc:  # no server: say so and skip
            print(f"postgres: skipped ({exc})")
        else:
            ok = bench("postgres", lambda: postgres_database(server), args) and ok
    print(f"load average at the end {os.getloadavg()[0]:.1f}")
    print("all targets met" if ok else "some targets missed")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
