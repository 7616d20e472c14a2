"""Analyses beside voting: does an analyst's heavy "Show results" slow the reviewers down?

``review serve`` runs in its own process on a study of 1,200 judgments (400 items with their
three votes each, plus items still open). A reviewer votes through the JSON API every 1.1 s
(``POST /api/v1/assignments/{id}/vote``, whose answer is the next item): first alone, then
while 12 threads of one analyst call ``GET /api/v1/studies/{study}/analysis?bootstrap=10000``
over and over. Analyses run in the server's pool of worker processes (one per server by
default, at a lower priority), one at a time per account: the analyst's other threads are
answered at once with 429 "still computing", and an analysis of data that did not change is
answered from the cache.

Printed: the reviewer's vote latency (median, max) alone and under the analyst's load, their
ratio, and what the analyst's requests got (computed, cached, refused as still computing).

Target (2-core machine): under load, the vote's median within 3x of idle and its max under
1.5 s.

Usage::

    python benchmarks/analysis_load.py [--db postgres|sqlite] [--votes 20] [--threads 12]
                                       [--bootstrap 10000]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import threading
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run from a checkout without installing

from benchmarks.serving import (  # noqa: E402
    DEFAULT_POSTGRES_URL,
    PASSWORD,
    postgres_database,
    review_server,
    seed,
    sqlite_database,
)

TARGET_MEDIAN_RATIO = 3.0
TARGET_MAX_S = 1.5
STUDY = "bench"
VOTERS = ("reviewer000", "reviewer001", "reviewer002")


def fill(url: str, items: int) -> None:
    """Three votes on each of the study's first ``items`` items, by the first three accounts
    (through the service that votes, so every count is kept as in real use)."""
    from sqlalchemy import select

    from review.campaign.judgments import record_vote
    from review.campaign.leases import next_assignment
    from review.core.config import Settings
    from review.core.db import Database
    from review.core.models import Reviewer, Study

    database = Database(Settings(database_url=url))
    rng = random.Random(7)
    with database.session(write=True) as session:
        study = session.scalar(select(Study).where(Study.name == STUDY))
        study.thresholds = {"method": "fixed"}  # spread votes: every item gets its three
        voters = [session.scalar(select(Reviewer).where(Reviewer.name == name)) for name in VOTERS]
        for _ in range(items):
            for reviewer in voters:
                lease = next_assignment(session=session, reviewer=reviewer, study=study, rng=rng)
                record_vote(session=session, reviewer=reviewer, assignment_id=lease.id,
                            choice=rng.choice(["left", "left", "right", "tie"]))
        study.thresholds = {}
    database.dispose()


def log_in(base: str, name: str):  # noqa: ANN201 - httpx.Client
    import httpx

    client = httpx.Client(base_url=base, timeout=120)
    response = client.post("login", data={"username": name, "password": PASSWORD})
    response.raise_for_status()
    return client


def vote_every(client, votes: int, pause: float) -> list[float]:  # noqa: ANN001
    """Vote ``votes`` times, one every ``pause`` seconds; the latency of each, in seconds."""
    item = client.get(f"api/v1/studies/{STUDY}/next").json()
    latencies = []
    for _ in range(votes):
        time.sleep(pause)
        started = time.perf_counter()
        response = client.post(f"api/v1/assignments/{item['assignment_id']}/vote", json={"choice": "left"})
        latencies.append(time.perf_counter() - started)
        response.raise_for_status()
        item = response.json()["next"]
    return latencies


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=["postgres", "sqlite"], default="postgres")
    parser.add_argument("--votes", type=int, default=20, help="votes measured alone, and again under load")
    parser.add_argument("--threads", type=int, default=12, help="the analyst's concurrent requests")
    parser.add_argument("--bootstrap", type=int, default=10_000)
    parser.add_argument("--filled", type=int, default=400, help="items with their three votes")
    args = parser.parse_args(argv)
    server = os.environ.get("REVIEW_BENCH_POSTGRES_URL", DEFAULT_POSTGRES_URL)
    database = postgres_database(server) if args.db == "postgres" else sqlite_database()
    with database as url:
        names = seed(url, reviewers=5, items=args.filled + 600, overlap=3)
        fill(url, args.filled)
        reviewer, analyst = names[3], names[4]
        from sqlalchemy import update

        from review.core.db import make_engine
        from review.core.models import Reviewer

        engine = make_engine(url)
        with engine.begin() as connection:
            connection.execute(update(Reviewer).where(Reviewer.name == analyst).values(role="analyst"))
        engine.dispose()
        with review_server(url) as base:
            voter, ann = log_in(base, reviewer), log_in(base, analyst)
            idle = vote_every(voter, args.votes, 1.1)
            answers: Counter = Counter()
            computed: list[float] = []
            stop = threading.Event()

            def analyst_loop() -> None:
                client = log_in(base, analyst)
                while not stop.is_set():
                    started = time.perf_counter()
                    response = client.get(f"api/v1/studies/{STUDY}/analysis",
                                          params={"bootstrap": args.bootstrap})
                    answers[response.status_code] += 1
                    if response.status_code == 200:
                        computed.append(time.perf_counter() - started)
                    elif response.status_code == 429:
                        time.sleep(0.2)  # a client told to wait does not hammer at once
                client.close()

            threads = [threading.Thread(target=analyst_loop) for _ in range(args.threads)]
            for thread in threads:
                thread.start()
            time.sleep(1.0)  # the analyses are under way
            loaded = vote_every(voter, args.votes, 1.1)
            stop.set()
            for thread in threads:
                thread.join()
            voter.close()
            ann.close()
    idle_ms = [x * 1000 for x in idle]
    loaded_ms = [x * 1000 for x in loaded]
    ratio = statistics.median(loaded_ms) / statistics.median(idle_ms)
    print(f"{args.db}: {args.filled * 3:,} judgments, analyst: {args.threads} threads asking for "
          f"{args.bootstrap:,} bootstrap rounds; {os.cpu_count()} CPUs")
    print(f"vote alone          median {statistics.median(idle_ms):7.1f} ms   max {max(idle_ms):7.1f} ms")
    print(f"vote beside analyses median {statistics.median(loaded_ms):7.1f} ms   max {max(loaded_ms):7.1f} ms"
          f"   (median x{ratio:.2f})")
    print(f"analyst's answers   {dict(sorted(answers.items()))}  (200 computed or cached, 429 still computing)"
          + (f"; slowest 200 {max(computed):.1f} s" if computed else ""))
    ok = ratio <= TARGET_MEDIAN_RATIO and max(loaded_ms) < TARGET_MAX_S * 1000
    print(f"target median within x{TARGET_MEDIAN_RATIO:g} of alone and max under {TARGET_MAX_S:g} s: "
          f"{'met' if ok else 'MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
