"""Load test: 100 simulated reviewers over HTTP against ``review serve`` on PostgreSQL.

Two runs, each for a bounded time (``--seconds``, default 120, loopback only):

1. one ``review serve`` process;
2. two ``review serve`` processes on the same PostgreSQL database, the reviewers split
   between their ports (what a second worker or a rolling restart looks like).

Each reviewer logs in, then loops: ``/next_item`` -> think (``--think`` seconds, drawn
between half and 1.5 times it) -> ``/vote``, until the time is up or nothing is left.
Printed per run: votes acknowledged (a 200 with ``recorded: true``), votes stored,
duplicates (judgments on the same item by the same reviewer; must be 0), acknowledged
votes missing from the database (must be 0), the most judgments on one item against the
study's overlap (never above it), p50/p99 latency of next-item and vote, and the error
rate (non-200 answers and transport errors over all requests).

``--restart-postgres`` restarts the PostgreSQL cluster in the middle of each run
(``pg_ctlcluster --skip-systemctl-redirect 15 main restart``): requests fail while it is
down, and the same server processes serve again afterwards (the pool checks connections
before use), which the "after restart" counters show.

The database is a throwaway ``review_load_*`` created on REVIEW_BENCH_POSTGRES_URL
(default postgresql://postgres@127.0.0.1:5432/test) and dropped afterwards.

Usage::

    python benchmarks/load.py [--seconds 120] [--reviewers 100] [--items 400] [--overlap 3]
                              [--think 0.5] [--restart-postgres]
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import threading
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run from a checkout without installing

from benchmarks.serving import PASSWORD, percentile, postgres_database, review_server, seed  # noqa: E402

DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"
RESTART_COMMAND = ["pg_ctlcluster", "--skip-systemctl-redirect", "15", "main", "restart"]
# A reviewer never makes more requests than this in one run, whatever the duration.
MAX_REQUESTS_PER_REVIEWER = 100_000


@dataclass
class Tally:
    """What one run's reviewers saw; appended to from many threads (list.append is atomic)."""

    next_item_ms: list[float] = field(default_factory=list)
    vote_ms: list[float] = field(default_factory=list)
    acknowledged: list[tuple[str, str]] = field(default_factory=list)  # (reviewer, assignment)
    requests: list[int] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    after_restart_ok: list[int] = field(default_factory=list)


def reviewer_loop(base: str, name: str, tally: Tally, *, deadline: float, think: float,
                  restarted: threading.Event) -> None:
    import httpx

    rng = random.Random(name)
    with httpx.Client(base_url=base, timeout=30) as http:
        def call(endpoint: str, data: list) -> dict | None:
            tally.requests.append(1)
            try:
                response = http.post(f"gradio_api/run/{endpoint}", json={"data": data})
            except httpx.HTTPError as exc:
                tally.errors.append(f"{endpoint}: {type(exc).__name__}")
                return None
            if response.status_code != 200:
                tally.errors.append(f"{endpoint}: HTTP {response.status_code}")
                return None
            if restarted.is_set():
                tally.after_restart_ok.append(1)
            return response.json()["data"][0]

        if http.post("login", data={"username": name, "password": PASSWORD}).status_code != 200:
            tally.errors.append("login refused")
            return
        for _ in range(MAX_REQUESTS_PER_REVIEWER // 2):
            if time.monotonic() >= deadline:
                return
            started = time.perf_counter()
            item = call("next_item", [None])
            if item is None:
                time.sleep(0.2)  # e.g. the database is restarting
                continue
            tally.next_item_ms.append((time.perf_counter() - started) * 1000)
            if item["assignment_id"] is None:
                return  # nothing left for this reviewer
            if think:
                time.sleep(rng.uniform(0.5 * think, 1.5 * think))
            started = time.perf_counter()
            result = call("vote", [item["assignment_id"], rng.choice(["left", "right", "tie"]),
                                   None, None, 1.0])
            if result is not None and result.get("recorded") is True:
                tally.vote_ms.append((time.perf_counter() - started) * 1000)
                tally.acknowledged.append((name, item["assignment_id"]))


def check_database(url: str, tally: Tally, overlap: int) -> dict:
    from sqlalchemy import func, select

    from review.core.db import make_engine, session_scope
    from review.core.models import Judgment

    engine = make_engine(url)
    try:
        with session_scope(engine) as session:
            stored = session.scalar(select(func.count(Judgment.id)))
            duplicates = session.scalar(select(func.count()).select_from(
                select(Judgment.comparison_id, Judgment.reviewer_id)
                .group_by(Judgment.comparison_id, Judgment.reviewer_id)
                .having(func.count() > 1).subquery()))
            per_item = (select(func.count(Judgment.id).label("n"))
                        .group_by(Judgment.comparison_id).subquery())
            max_per_item = session.scalar(select(func.max(per_item.c.n))) or 0
            stored_assignments = set(session.scalars(select(Judgment.assignment_id)))
    finally:
        engine.dispose()
    missing = sum(1 for _, assignment in tally.acknowledged if assignment not in stored_assignments)
    return {"stored": stored, "duplicates": duplicates, "max_per_item": max_per_item,
            "overlap": overlap, "missing": missing}


def run(label: str, servers: int, args: argparse.Namespace, postgres_url: str) -> bool:
    with postgres_database(postgres_url) as url:
        names = seed(url, reviewers=args.reviewers, items=args.items, overlap=args.overlap)
        with ExitStack() as stack:
            bases = [stack.enter_context(review_server(url)) for _ in range(servers)]
            tally = Tally()
            restarted = threading.Event()
            deadline = time.monotonic() + args.seconds
            threads = [threading.Thread(target=reviewer_loop, daemon=True,
                                        args=(bases[i % servers], name, tally),
                                        kwargs={"deadline": deadline, "think": args.think,
                                                "restarted": restarted})
                       for i, name in enumerate(names)]
            started = time.monotonic()
            for thread in threads:
                thread.start()
            restart_s = None
            if args.restart_postgres:
                time.sleep(args.seconds / 3)
                began = time.monotonic()
                subprocess.run(RESTART_COMMAND, check=True, capture_output=True)
                restart_s = time.monotonic() - began
                restarted.set()
            for thread in threads:
                thread.join(timeout=max(1.0, deadline - time.monotonic()) + 60)
            elapsed = time.monotonic() - started
        figures = check_database(url, tally, args.overlap)

    requests = len(tally.requests)
    error_rate = len(tally.errors) / requests if requests else 0.0
    print(f"\n== {label}: {servers} server process(es), {args.reviewers} reviewers, "
          f"{elapsed:.0f} s, think {args.think} s ==")
    print(f"votes acknowledged      {len(tally.acknowledged)}  ({len(tally.acknowledged) / elapsed:.1f}/s)")
    print(f"votes stored            {figures['stored']}")
    print(f"acknowledged, missing   {figures['missing']}")
    print(f"duplicates              {figures['duplicates']}")
    print(f"max judgments per item  {figures['max_per_item']} (overlap {figures['overlap']})")
    for what, values in (("next_item", tally.next_item_ms), ("vote", tally.vote_ms)):
        if values:
            print(f"{what:<10} p50 {percentile(values, 50):7.1f} ms   p99 {percentile(values, 99):7.1f} ms"
                  f"   (n={len(values)})")
    print(f"errors                  {len(tally.errors)} of {requests} requests ({error_rate:.2%})")
    if tally.errors:
        kinds: dict[str, int] = {}
        for error in tally.errors:
            kinds[error] = kinds.get(error, 0) + 1
        print("  " + ", ".join(f"{k} x{v}" for k, v in sorted(kinds.items())))
    if restart_s is not None:
        print(f"PostgreSQL restarted at {args.seconds / 3:.0f} s (took {restart_s:.1f} s); "
              f"successful requests afterwards, same server processes: {len(tally.after_restart_ok)}")
    ok = (figures["duplicates"] == 0 and figures["missing"] == 0
          and figures["max_per_item"] <= args.overlap
          and (restart_s is None or len(tally.after_restart_ok) > 0))
    print("PASS" if ok else "FAIL")
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=120.0, help="duration of each run")
    parser.add_argument("--reviewers", type=int, default=100)
    parser.add_argument("--items", type=int, default=400)
    parser.add_argument("--overlap", type=int, default=3)
    parser.add_argument("--think", type=float, default=0.5, help="seconds between item and vote")
    parser.add_argument("--restart-postgres", action="store_true",
                        help="restart the PostgreSQL cluster a third of the way into each run")
    parser.add_argument("--single-only", action="store_true", help="skip the two-process run")
    args = parser.parse_args(argv)
    postgres_url = os.environ.get("REVIEW_BENCH_POSTGRES_URL", DEFAULT_POSTGRES_URL)
    ok = run("one server", 1, args, postgres_url)
    if not args.single_only:
        ok = run("two servers, one database", 2, args, postgres_url) and ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
