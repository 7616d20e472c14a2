"""Registry, generation, pairing and the checkpoint watcher on a real database and tiny models."""

from __future__ import annotations

import json
from datetime import timedelta
import os
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from review.core.db import session_scope
from review.core.models import Comparison, Generation, Model, Reviewer, Study
from tests.factories import kill_midway_and_rerun
from tests.tiny_models import build_llama, write_trainer_state


def write_prompts(path: Path, n: int) -> Path:
    rows = [{"id": f"q{i}", "prompt": f"Question number {i}: how do I restart the thermostat?",
             "category": "support" if i % 2 else "general"} for i in range(n)]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return path


@pytest.fixture
def project(cli, tmp_path, tiny_llama, tiny_llama_adapter):
    """An initialised database with a prompt set of 6 prompts and a base model and adapter."""
    assert cli("init")[0] == 0
    assert cli("prompts", "import", write_prompts(tmp_path / "p.jsonl", 6), "--set", "demo")[0] == 0
    code, _, err = cli("models", "add", "base", tiny_llama)
    assert code == 0, err
    code, _, err = cli("models", "add", "tuned", tiny_llama_adapter, "--base", "base")
    assert code == 0, err
    return cli


def model_count(engine) -> int:
    with session_scope(engine) as session:
        return session.scalar(select(func.count()).select_from(Model))


def test_registry_records_kind_hash_and_base(project, engine, tiny_llama):
    code, out, _ = project("models", "list", "--json")
    models = {m["name"]: m for m in json.loads(out)}
    assert models["base"]["kind"] == "base" and models["base"]["location"] == str(tiny_llama)
    assert models["tuned"]["kind"] == "adapter" and models["tuned"]["base"] == "base"
    assert len(models["base"]["content_hash"]) == 64
    assert models["base"]["content_hash"] != models["tuned"]["content_hash"]


def test_bad_models_are_refused_and_nothing_is_half_registered(project, engine, tmp_path,
                                                               tiny_llama, tiny_llama_adapter, other_llama):
    before = model_count(engine)
    not_a_model = tmp_path / "notes"
    not_a_model.mkdir()
    (not_a_model / "readme.txt").write_text("hello")
    corrupted = tmp_path / "corrupted"
    corrupted.mkdir()
    for name in ("config.json", "tokenizer.json", "tokenizer_config.json"):
        (corrupted / name).write_bytes((tiny_llama / name).read_bytes())
    (corrupted / "model.safetensors").write_bytes((tiny_llama / "model.safetensors").read_bytes()[:200])
    assert project("models", "add", "other", other_llama)[0] == 0
    before += 1
    cases = [
        (("models", "add", "twin", tiny_llama), "already registered as model 'base'"),
        (("models", "add", "gone", tmp_path / "missing"), "no such file or folder"),
        (("models", "add", "notes", not_a_model), ""),
        (("models", "add", "broken", corrupted), ""),
        (("models", "add", "lonely", tiny_llama_adapter), "needs its base model"),
        (("models", "add", "mismatch", tiny_llama_adapter, "--base", "other"), ""),
        (("models", "add", "base", tmp_path), "already registered"),
        (("models", "add", "dead", "http://127.0.0.1:9/v1", "--kind", "endpoint"), ""),
    ]
    for args, fragment in cases:
        code, out, err = project(*args)
        assert code == 1, (args, out, err)
        assert err.startswith("error: ") and err.count("\n") == 1, err
        assert fragment in err, err
    assert model_count(engine) == before


def test_generate_is_idempotent_and_records_how(project, engine):
    code, out, err = project("generate", "--model", "base", "--set", "demo", "--max-new-tokens", "8",
                             "--batch-size", "4", "--json")
    assert code == 0, err
    summary = json.loads(out)
    assert summary["generated"] == 6 and summary["already_present"] == 0 and summary["tokens"] > 0
    code, out, _ = project("generate", "--model", "base", "--set", "demo", "--max-new-tokens", "8", "--json")
    assert json.loads(out)["generated"] == 0 and json.loads(out)["already_present"] == 6
    with session_scope(engine) as session:
        generations = session.scalars(select(Generation)).all()
        assert len(generations) == 6
        first = generations[0]
        assert first.params["max_new_tokens"] == 8 and first.params["temperature"] == 0.0
        assert first.backend == "transformers" and "im_start" in first.chat_template
        assert "transformers" in first.library_versions and "torch" in first.library_versions
        assert first.model_hash == first.model.content_hash
    # Other decoding parameters are other generations.
    code, out, _ = project("generate", "--model", "base", "--set", "demo", "--max-new-tokens", "4", "--json")
    assert json.loads(out)["generated"] == 6


def test_an_answer_with_nul_characters_is_stored_on_every_database(project, engine):
    from review.generation.job import store_answer
    from review.generation import GenerationParams, GenerationResult

    params = GenerationParams(max_new_tokens=4)
    with session_scope(engine) as session:
        model = session.scalar(select(Model).where(Model.name == "base"))
        prompt_id = session.execute(text("SELECT min(id) FROM prompts")).scalar()
        result = GenerationResult(key=str(prompt_id), text="a\x00b", token_count=3, latency_seconds=0.1,
                                  chat_template=None, backend="transformers", library_versions={})
        store_answer(session=session, model=model, prompt_id=prompt_id, params=params, result=result)
        store_answer(session=session, model=model, prompt_id=prompt_id, params=params, result=result)
    with session_scope(engine) as session:
        stored = session.scalars(select(Generation)).all()
        assert len(stored) == 1  # the second store of the same key is a no-op
        assert stored[0].output == "a\ufffdb" and stored[0].meta["nul_replaced"] is True


def test_pair_generates_missing_answers_and_creates_items(project, engine):
    code, out, err = project("pair", "--study", "s1", "--candidate", "tuned", "--baseline", "base",
                             "--set", "demo", "--max-new-tokens", "8", "--json")
    assert code == 0, err
    assert json.loads(out) == {"study": "s1", "created": True, "items_added": 6, "items_total": 6,
                               "prompts_without_both_answers": 0, "answers_generated": 12}
    code, out, _ = project("pair", "--study", "s1", "--candidate", "tuned", "--baseline", "base",
                           "--set", "demo", "--max-new-tokens", "8", "--json")
    again = json.loads(out)
    assert again["created"] is False and again["items_added"] == 0 and again["answers_generated"] == 0
    with session_scope(engine) as session:
        study = session.scalar(select(Study))
        assert study.overlap == 3 and study.candidate.name == "tuned"
        items = session.scalars(select(Comparison)).all()
        assert len(items) == 6
        for item in items:
            assert item.generation_a.model.name == "tuned" and item.generation_b.model.name == "base"
            assert item.generation_a.prompt_id == item.generation_b.prompt_id == item.prompt_id
        # The adapter really changes the answers.
        assert sum(i.generation_a.output != i.generation_b.output for i in items) >= 4
    code, _, err = project("pair", "--study", "s1", "--candidate", "base", "--baseline", "tuned",
                           "--set", "demo", "--max-new-tokens", "8")
    assert code == 1 and "already exists with other models" in err
    code, _, err = project("pair", "--study", "s2", "--candidate", "nope", "--baseline", "base", "--set", "demo")
    assert code == 1 and "no model named 'nope'" in err


def test_killed_generation_resumes_without_duplicates(project, engine, database_url, tmp_path):
    many = write_prompts(tmp_path / "many.jsonl", 120)
    assert project("prompts", "import", many, "--set", "many")[0] == 0
    env = {**os.environ, "REVIEW_DATABASE_URL": database_url, "HF_HUB_OFFLINE": "1"}
    command = [sys.executable, "-m", "review.cli", "generate", "--model", "base", "--set", "many",
               "--batch-size", "1", "--max-new-tokens", "48", "--json"]

    def stored() -> int:
        with engine.connect() as connection:
            return connection.execute(text("SELECT count(*) FROM generations")).scalar()

    done_before, result = kill_midway_and_rerun(command, env, stored)
    assert 5 <= done_before < 120, "the run must be killed midway"
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["already_present"] == done_before and summary["generated"] == 120 - done_before
    with engine.connect() as connection:
        rows = connection.execute(text(
            "SELECT count(*), count(DISTINCT prompt_id) FROM generations")).one()
    assert tuple(rows) == (120, 120)


def make_checkpoint(run: Path, step: int, seed: int, *, complete: bool = True) -> Path:
    folder = run / f"checkpoint-{step}"
    build_llama(folder, seed=seed)
    if complete:
        write_trainer_state(folder, step)
    return folder


def test_watch_registers_complete_checkpoints_in_order_once(project, engine, tmp_path):
    from review.generation import GenerationParams
    from review.registry.watcher import CheckpointWatcher

    run = tmp_path / "run-a"
    run.mkdir()
    make_checkpoint(run, 20, seed=20)
    make_checkpoint(run, 10, seed=10)
    make_checkpoint(run, 30, seed=30, complete=False)  # no trainer_state.json yet

    def watcher():
        return CheckpointWatcher(engine=engine, directory=run, baseline="base", set_name="demo",
                                 params=GenerationParams(max_new_tokens=6), settle_seconds=0)

    first = watcher()
    assert first.poll() == []  # the first look only records sizes: nothing is settled yet
    assert first.poll() == ["run-a/checkpoint-10", "run-a/checkpoint-20"]
    with session_scope(engine) as session:
        steps = session.execute(select(Model.name, Model.training_step).where(Model.run_name == "run-a")
                                .order_by(Model.id)).all()
        assert steps == [("run-a/checkpoint-10", 10), ("run-a/checkpoint-20", 20)]
        studies = set(session.scalars(select(Study.name)))
        assert studies == {"run-a/checkpoint-10 vs base", "run-a/checkpoint-20 vs base",
                           "run-a/checkpoint-20 vs run-a/checkpoint-10"}
        items = session.scalar(select(func.count()).select_from(Comparison))
        assert items == 3 * 6
    # A restarted watcher pairs nothing twice.
    restarted = watcher()
    restarted.poll()
    assert restarted.poll() == []
    write_trainer_state(run / "checkpoint-30", 30)
    restarted.poll()
    assert restarted.poll() == ["run-a/checkpoint-30"]
    with session_scope(engine) as session:
        assert session.scalar(select(func.count()).select_from(Study)) == 5
        assert session.scalar(select(func.count()).select_from(Model)) == 2 + 3


def test_watch_command_once(project, tmp_path):
    run = tmp_path / "run-b"
    run.mkdir()
    make_checkpoint(run, 5, seed=5)
    code, out, err = project("watch", run, "--baseline", "base", "--set", "demo", "--once",
                             "--interval", "0.2", "--max-new-tokens", "6", "--json")
    assert code == 0, err
    assert json.loads(out) == {"handled": ["run-b/checkpoint-5"]}
    code, out, _ = project("watch", run, "--baseline", "base", "--set", "demo", "--once",
                           "--interval", "0.2", "--max-new-tokens", "6", "--json")
    assert json.loads(out) == {"handled": []}
    code, _, err = project("watch", tmp_path / "nowhere", "--baseline", "base", "--set", "demo", "--once")
    assert code == 1 and "no such folder" in err


def test_trainer_callback_registers_saved_checkpoints(project, engine, database_url, tmp_path, tiny_llama):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, Trainer, TrainingArguments

    from review.registry.callback import ReviewCallback

    tokenizer = AutoTokenizer.from_pretrained(tiny_llama)
    model = AutoModelForCausalLM.from_pretrained(tiny_llama)
    encoded = tokenizer(["Press and hold the ring for ten seconds."] * 8, return_tensors="pt")
    dataset = [{"input_ids": ids, "labels": ids} for ids in encoded["input_ids"]]
    args = TrainingArguments(output_dir=str(tmp_path / "run-c"), max_steps=4, save_steps=2,
                             per_device_train_batch_size=2, report_to=[], use_cpu=True,
                             logging_strategy="no", save_only_model=True)
    torch.manual_seed(0)
    callback = ReviewCallback(database_url, base="base")
    Trainer(model=model, args=args, train_dataset=dataset, callbacks=[callback]).train()
    assert [f.result() for f in callback.futures] == ["run-c/checkpoint-2", "run-c/checkpoint-4"]
    with session_scope(engine) as session:
        rows = session.execute(select(Model.name, Model.training_step, Model.kind)
                               .where(Model.run_name == "run-c").order_by(Model.training_step)).all()
    assert rows == [("run-c/checkpoint-2", 2, "finetune"), ("run-c/checkpoint-4", 4, "finetune")]


def _vote_all(engine, study_name: str, reviewer_name: str, *, candidate_wins: bool) -> int:
    """One reviewer votes on every item of the study, for or against its candidate, through
    the same services the web app uses; returns the number of votes."""
    from review.campaign.judgments import record_vote
    from review.campaign.leases import next_assignment
    from review.campaign.membership import assign_reviewers
    from review.core.lookup import get_study
    from tests.factories import make_reviewer

    votes = 0
    with session_scope(engine, write=True) as session:
        reviewer = session.scalar(select(Reviewer).where(Reviewer.name == reviewer_name))
        if reviewer is None:
            reviewer = make_reviewer(session, reviewer_name)
        study = get_study(session=session, name=study_name)
        assign_reviewers(session=session, study=study_name, reviewers=[reviewer_name])
        while (lease := next_assignment(session=session, reviewer=reviewer, study=study)) is not None:
            candidate_left = lease.left_generation_id == lease.comparison.generation_a_id
            choice = "left" if candidate_left == candidate_wins else "right"
            # Voted as if after reading it: the watcher's studies count a vote after 1 s on screen.
            record_vote(session=session, reviewer=reviewer, assignment_id=lease.id, choice=choice,
                        now=lease.leased_at + timedelta(seconds=5))
            votes += 1
    return votes


def test_watch_pairs_a_new_checkpoint_with_the_best_earlier_one_by_real_votes(project, engine, tmp_path):
    from review.generation import GenerationParams
    from review.registry.watcher import CheckpointWatcher

    run = tmp_path / "run-c"
    run.mkdir()
    make_checkpoint(run, 10, seed=10)
    make_checkpoint(run, 20, seed=20)

    def watcher():
        return CheckpointWatcher(engine=engine, directory=run, baseline="base", set_name="demo",
                                 params=GenerationParams(max_new_tokens=6), settle_seconds=0,
                                 min_judgments=6)

    first = watcher()
    first.poll()
    assert first.poll() == ["run-c/checkpoint-10", "run-c/checkpoint-20"]
    # Reviewers prefer checkpoint 10 to the base model and the base model to checkpoint 20:
    # the best earlier checkpoint is 10, although 20 is the latest.
    assert _vote_all(engine, "run-c/checkpoint-10 vs base", "rita", candidate_wins=True) == 6
    assert _vote_all(engine, "run-c/checkpoint-20 vs base", "rita", candidate_wins=False) == 6
    make_checkpoint(run, 30, seed=30)
    later = watcher()
    later.poll()
    assert later.poll() == ["run-c/checkpoint-30"]
    with session_scope(engine) as session:
        studies = set(session.scalars(select(Study.name).where(Study.name.like("run-c/checkpoint-30%"))))
    assert studies == {"run-c/checkpoint-30 vs base", "run-c/checkpoint-30 vs run-c/checkpoint-10"}

    # With fewer votes than min_judgments the latest earlier checkpoint is the opponent.
    make_checkpoint(run, 40, seed=40)
    fewer = CheckpointWatcher(engine=engine, directory=run, baseline="base", set_name="demo",
                              params=GenerationParams(max_new_tokens=6), settle_seconds=0,
                              min_judgments=7)
    fewer.poll()
    assert fewer.poll() == ["run-c/checkpoint-40"]
    with session_scope(engine) as session:
        studies = set(session.scalars(select(Study.name).where(Study.name.like("run-c/checkpoint-40%"))))
    assert studies == {"run-c/checkpoint-40 vs base", "run-c/checkpoint-40 vs run-c/checkpoint-30"}


def test_the_studies_of_a_run_share_one_error_budget(project, engine, tmp_path):
    from review.core.lookup import get_study
    from review.generation import GenerationParams
    from review.registry.watcher import CheckpointWatcher
    from review.reporting.runner import analyze_study
    from review.stats import run_confidence

    run = tmp_path / "run-d"
    run.mkdir()
    make_checkpoint(run, 10, seed=10)
    make_checkpoint(run, 20, seed=20)
    watcher = CheckpointWatcher(engine=engine, directory=run, baseline="base", set_name="demo",
                                params=GenerationParams(max_new_tokens=6), settle_seconds=0)
    watcher.poll()
    assert watcher.poll() == ["run-d/checkpoint-10", "run-d/checkpoint-20"]
    with session_scope(engine) as session:
        names = ["run-d/checkpoint-10 vs base", "run-d/checkpoint-20 vs base",
                 "run-d/checkpoint-20 vs run-d/checkpoint-10"]
        budgets = [analyze_study(session=session, study=get_study(session=session, name=name),
                                 n_bootstrap=50) for name in names]
        plain = analyze_study(session=session, study=get_study(session=session, name="run-d/checkpoint-10 vs base"),
                              n_bootstrap=50)
    # Created in this order: the j-th study gets alpha * 6 / (pi^2 j^2) of the run's 5%.
    assert [b["error_budget"]["position"] for b in budgets] == [1, 2, 3]
    assert [b["thresholds"]["confidence"] for b in budgets] == pytest.approx(
        [run_confidence(0.95, j) for j in (1, 2, 3)])
    assert budgets[2]["thresholds"]["confidence"] == pytest.approx(1 - 0.05 * 6 / (9 * 3.14159265 ** 2), abs=1e-6)
    assert plain["error_budget"]["run"] == "run-d"


def test_a_vote_before_the_minimum_on_screen_is_refused(project, engine):
    """Studies made by `review pair` count a vote only after its item was on screen 1 s."""
    from review.campaign.judgments import TooFast, record_vote
    from review.campaign.leases import next_assignment
    from review.campaign.membership import assign_reviewers
    from review.core.lookup import get_study
    from tests.factories import make_reviewer

    assert project("pair", "--study", "quick", "--candidate", "tuned", "--baseline", "base", "--set", "demo",
                   "--max-new-tokens", "4")[0] == 0
    with session_scope(engine, write=True) as session:
        study = get_study(session=session, name="quick")
        assert study.meta["min_seconds_on_screen"] == 1.0
        reviewer = make_reviewer(session, "speedy")
        assign_reviewers(session=session, study="quick", reviewers=["speedy"])
        lease = next_assignment(session=session, reviewer=reviewer, study=study)
        with pytest.raises(TooFast, match="on screen for 0.5 s"):
            record_vote(session=session, reviewer=reviewer, assignment_id=lease.id, choice="left",
                        now=lease.leased_at + timedelta(seconds=0.5))
        judgment = record_vote(session=session, reviewer=reviewer, assignment_id=lease.id,
                               choice="left", now=lease.leased_at + timedelta(seconds=1.2))
        assert judgment.choice == "left"
