"""Benchmark of the analyst report: ``build_report_data`` + ``render_report_html`` end to end.

Target (two-core machine): the report of a study of 100,000 judgments (20,000 items, five
reviewers each out of 50, eight categories, answers of a few hundred characters) with 1,000
bootstrap rounds in under 30 s. The candidate belongs to a training run of three checkpoints,
so the run's ratings pool two more studies (5,000 judgments each), as a real run would.

The database is a SQLite file in a temporary folder, built with the migrations and filled with
bulk inserts (executemany); building it is not part of the timing.

Usage::

    python benchmarks/reports.py                    # 100,000 judgments
    python benchmarks/reports.py --judgments 10000  # a quick run
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from sqlalchemy import insert, select

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from review.core.db import make_engine, session_scope  # noqa: E402
from review.core.models import (
    Comparison,
    Generation,
    Judgment,
    Model,
    Prompt,
    PromptSet,
    Reviewer,
    Study,
)
from review.core.schema import upgrade_head  # noqa: E402
from review.stats.defaults import DEFAULT_BOOTSTRAP  # noqa: E402

TARGET_SECONDS = 30.0
CATEGORIES = ("writing", "roleplay", "reasoning", "math", "coding", "extraction", "stem", "humanities")
WORDS = np.array("the model answers question clearly with a short list of steps and an example".split())


def _text(rng: np.random.Generator, low: int, high: int) -> str:
    return " ".join(rng.choice(WORDS, int(rng.integers(low, high))))


def build_database(url: str, *, n_judgments: int, overlap: int = 5, n_reviewers: int = 50,
                   side_judgments: int = 5_000, seed: int = 0) -> str:
    """Create the schema and a seeded study of ``n_judgments``; return the study's name."""
    rng = np.random.default_rng(seed)
    engine = make_engine(url)
    upgrade_head(engine)
    now = datetime(2025, 3, 1, tzinfo=UTC)
    n_items = max(1, n_judgments // overlap)
    with session_scope(engine, write=True) as session:
        base = Model(name="base", kind="base", location="/models/base")
        steps = (1000, 2000, 3000)
        checkpoints = [Model(name=f"sft-{step}", kind="adapter", location=f"/runs/sft/checkpoint-{step}",
                             base_model=base, training_step=step, run_name="sft") for step in steps]
        prompt_set = PromptSet(name="bench")
        session.add_all([base, *checkpoints, prompt_set])
        session.flush()
        session.execute(insert(Reviewer), [
            {"name": f"reviewer-{r:02d}", "role": "reviewer", "password_hash": None, "active": True,
             "created_at": now} for r in range(n_reviewers)])
        session.execute(insert(Prompt), [
            {"prompt_set_id": prompt_set.id, "external_id": f"p{i:06d}",
             "messages": [{"role": "user", "content": f"Question {i}: " + _text(rng, 8, 30)}],
             "category": CATEGORIES[i % len(CATEGORIES)], "content_hash": f"{i:064d}", "meta": {},
             "created_at": now} for i in range(n_items)])
        prompt_ids = session.scalars(select(Prompt.id).where(Prompt.prompt_set_id == prompt_set.id)
                                     .order_by(Prompt.id)).all()
        reviewer_ids = np.array(session.scalars(select(Reviewer.id).order_by(Reviewer.id)).all())
        quality = {1000: 0.0, 2000: 0.3, 3000: 0.5}
        study_name = None
        for model, size in zip(checkpoints, (side_judgments, side_judgments, n_judgments), strict=True):
            items = max(1, size // overlap)
            chosen = prompt_ids[:items]
            study = Study(name=f"{model.name}-vs-base", candidate=model, baseline=base,
                          prompt_set=prompt_set, params_hash="p0", overlap=overlap)
            session.add(study)
            session.flush()
            study_name = study.name
            rows = []
            for owner in (model, base):
                for prompt_id in chosen:
                    rows.append({"model_id": owner.id, "prompt_id": prompt_id, "params_hash": "p0",
                                 "params": {}, "output": _text(rng, 30, 140), "token_count": 100,
                                 "latency_seconds": 0.5, "backend": "transformers",
                                 "library_versions": {}, "meta": {}, "created_at": now})
            existing = set(session.scalars(select(Generation.prompt_id).where(Generation.model_id == base.id)))
            rows = [r for r in rows if not (r["model_id"] == base.id and r["prompt_id"] in existing)]
            session.execute(insert(Generation), rows)
            generation = {(m, p): g for g, m, p in session.execute(
                select(Generation.id, Generation.model_id, Generation.prompt_id)
                .where(Generation.model_id.in_([model.id, base.id])))}
            session.execute(insert(Comparison), [
                {"study_id": study.id, "prompt_id": p, "generation_a_id": generation[(model.id, p)],
                 "generation_b_id": generation[(base.id, p)], "created_at": now} for p in chosen])
            comparisons = session.execute(
                select(Comparison.id, Comparison.generation_a_id, Comparison.generation_b_id)
                .where(Comparison.study_id == study.id).order_by(Comparison.id)).all()
            judgments = []
            strength = quality[model.training_step]
            for number, (item, gen_a, gen_b) in enumerate(comparisons):
                difficulty = rng.normal(strength, 1.2)
                for reviewer in rng.choice(reviewer_ids, overlap, replace=False):
                    candidate_left = rng.random() < 0.5
                    roll = rng.random()
                    if roll < 0.12:
                        choice = "tie"
                    elif roll < 0.17:
                        choice = "both_bad"
                    else:
                        won = rng.random() < 1 / (1 + np.exp(-difficulty))
                        choice = "left" if won == candidate_left else "right"
                    judgments.append({
                        "comparison_id": item, "reviewer_id": int(reviewer),
                        "left_generation_id": gen_a if candidate_left else gen_b, "choice": choice,
                        "strength": int(rng.integers(1, 4)) if choice in ("left", "right") else None,
                        "rationale": "clearer" if rng.random() < 0.1 else None,
                        "seconds": float(rng.gamma(4, 10)), "meta": {},
                        "created_at": now + timedelta(seconds=number)})
            session.execute(insert(Judgment), judgments)
    engine.dispose()
    return study_name


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--judgments", type=int, default=100_000)
    parser.add_argument("--bootstrap", type=int, default=DEFAULT_BOOTSTRAP)
    parser.add_argument("--keep", type=Path, help="Also write the report to this file.")
    args = parser.parse_args()

    from review.reporting.runner import analyze_study
    from review.reporting.dataset import study_judgments
    from review.core.lookup import get_study
    from review.reporting.report import build_report_data, render_report_html

    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'bench.db'}"
        started = time.perf_counter()
        study_name = build_database(url, n_judgments=args.judgments)
        print(f"database: {args.judgments:,} judgments in {study_name!r} (+ 2 run studies), "
              f"built in {time.perf_counter() - started:.1f} s")
        engine = make_engine(url)

        started = time.perf_counter()
        with session_scope(engine) as session:
            data = build_report_data(session=session, study=get_study(session=session, name=study_name),
                                     n_bootstrap=args.bootstrap, seed=0)
        built = time.perf_counter() - started
        page = render_report_html(data)
        total = time.perf_counter() - started
        if args.keep:
            args.keep.write_text(page, encoding="utf-8")

        # Where the time goes (each part measured again on its own).
        with session_scope(engine) as session:
            study = get_study(session=session, name=study_name)
            mark = time.perf_counter()
            study_judgments(session=session, study=study)
            query = time.perf_counter() - mark
            mark = time.perf_counter()
            analyze_study(session=session, study=study, n_bootstrap=args.bootstrap, seed=0)
            analysis = time.perf_counter() - mark - query
        engine.dispose()

    verdict = data["analysis"]["decision"]["verdict"]
    print(f"report: {data['analysis']['n_judgments']:,} judgments, {args.bootstrap} bootstrap rounds, "
          f"verdict {verdict}, {len(page) / 1e6:.1f} MB of HTML")
    print(f"  build_report_data   {built:6.2f} s  (loading judgments ~{query:.2f} s, "
          f"review.stats.analyze ~{analysis:.2f} s)")
    print(f"  render_report_html  {total - built:6.2f} s")
    print(f"  total               {total:6.2f} s  (target < {TARGET_SECONDS:.0f} s: "
          f"{'met' if total < TARGET_SECONDS else 'NOT met'})")
    return 0 if total < TARGET_SECONDS else 1


if __name__ == "__main__":
    sys.exit(main())
