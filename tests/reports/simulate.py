"""Seeded synthetic studies for the report and export tests: real rows in the database."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

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

CATEGORIES = ("writing", "coding", "math", "extraction", "safety")
REVIEWERS = ("alice", "bob", "carol")
RUN = "sft-run"
STEPS = (100, 200, 300)
# Candidate strength per training step: P(candidate preferred | decisive vote).
STEP_QUALITY = {100: 0.45, 200: 0.6, 300: 0.72}
HTML_ANSWER = "Use <script>alert('answer')</script> inside <b>body</b> & done."


def demo_run(session, *, n_items: int = 40, seed: int = 0) -> Study:
    """A training run of three checkpoints, each paired with the base model on ``n_items``
    prompts in five categories and judged by three reviewers (overlap 3), plus two gold items
    per study. Returns the study of the last checkpoint (``sft-step-300``)."""
    rng = np.random.default_rng(seed)
    base = Model(name="smollm2-base", kind="base", location="/models/base")
    checkpoints = [Model(name=f"sft-step-{step}", kind="adapter", location=f"/runs/sft/checkpoint-{step}",
                         base_model=base, training_step=step, run_name=RUN) for step in STEPS]
    session.add_all([base, *checkpoints])
    prompt_set = PromptSet(name="demo")
    session.add(prompt_set)
    session.flush()
    prompts = []
    for i in range(n_items):
        category = CATEGORIES[i % len(CATEGORIES)]
        text = f"Question {i} about {category}: explain it briefly."
        if i == 3:
            text = "How do I embed a <script> tag in an HTML page?"
        prompts.append(Prompt(prompt_set_id=prompt_set.id, external_id=f"q{i:03d}",
                              messages=[{"role": "user", "content": text}], category=category,
                              content_hash=f"h{i}"))
    golds = [Prompt(prompt_set_id=prompt_set.id, external_id=f"gold{g}",
                    messages=[{"role": "user", "content": f"Say the word 'ok' ({g})."}],
                    category="gold", content_hash=f"g{g}") for g in range(2)]
    session.add_all(prompts + golds)
    reviewers = [Reviewer(name=name, role="reviewer", password_hash=None) for name in REVIEWERS]
    session.add_all(reviewers)
    session.flush()

    def generation(model: Model, prompt: Prompt, output: str) -> Generation:
        row = Generation(model_id=model.id, prompt_id=prompt.id, params_hash="p0", params={},
                         output=output, token_count=len(output.split()), backend="transformers")
        session.add(row)
        return row

    base_answers = {}
    for prompt in prompts:
        length = int(rng.integers(1, 6))
        text = HTML_ANSWER if prompt.external_id == "q003" else "A short baseline answer. " * length
        base_answers[prompt.id] = generation(base, prompt, text.strip())
    gold_bad = {p.id: generation(base, p, "I will not say it.") for p in golds}
    started = datetime(2025, 1, 6, 9, 0, tzinfo=UTC)
    study = None
    for model in checkpoints:
        study = Study(name=model.name, candidate=model, baseline=base, prompt_set=prompt_set,
                      params_hash="p0", overlap=3)
        session.add(study)
        session.flush()
        items = []
        for prompt in prompts:
            answer = (f"The fine-tune at step {model.training_step} answers question "
                      f"{prompt.external_id}:\n- first point\n- second point" + " More detail." *
                      int(rng.integers(0, 8)))
            candidate = generation(model, prompt, answer)
            session.flush()
            items.append((Comparison(study_id=study.id, prompt_id=prompt.id, generation_a_id=candidate.id,
                                     generation_b_id=base_answers[prompt.id].id), candidate,
                          base_answers[prompt.id], None))
        for prompt in golds:
            good = generation(model, prompt, "ok")
            session.flush()
            items.append((Comparison(study_id=study.id, prompt_id=prompt.id, generation_a_id=good.id,
                                     generation_b_id=gold_bad[prompt.id].id, gold_label="a"),
                          good, gold_bad[prompt.id], "a"))
        session.add_all([item for item, *_ in items])
        session.flush()
        quality = STEP_QUALITY[model.training_step]
        for number, (item, candidate, baseline, gold) in enumerate(items):
            difficulty = rng.normal(0, 1.6)
            for r, reviewer in enumerate(reviewers):
                candidate_left = bool(rng.random() < 0.5)
                roll = rng.random()
                if gold:
                    outcome = "candidate" if rng.random() < 0.9 else "baseline"
                elif roll < 0.12:
                    outcome = "tie"
                elif roll < 0.18:
                    outcome = "both_bad"
                else:
                    p = 1 / (1 + np.exp(-(np.log(quality / (1 - quality)) + difficulty)))
                    outcome = "candidate" if rng.random() < p else "baseline"
                if reviewer.name == "carol" and outcome in ("candidate", "baseline") and rng.random() < 0.3:
                    outcome = "candidate" if candidate_left else "baseline"  # carol likes the left side
                if outcome == "candidate":
                    choice = "left" if candidate_left else "right"
                elif outcome == "baseline":
                    choice = "right" if candidate_left else "left"
                else:
                    choice = outcome
                decisive = choice in ("left", "right")
                rationale = None
                if rng.random() < 0.4:
                    rationale = ["clearer structure", "more accurate", "too verbose",
                                 "missed the question", "<i>both</i> fine"][int(rng.integers(0, 5))]
                session.add(Judgment(
                    comparison_id=item.id, reviewer_id=reviewer.id,
                    left_generation_id=(candidate if candidate_left else baseline).id,
                    choice=choice, strength=int(rng.integers(1, 4)) if decisive else None,
                    rationale=rationale, seconds=float(np.round(rng.gamma(4, 8 + 4 * r), 1)),
                    created_at=started + timedelta(minutes=number * 3 + r)))
        session.flush()
    return study


MTBENCH_MODELS = ("gpt-4", "claude-v1", "gpt-3.5-turbo", "vicuna-13b-v1.2", "alpaca-13b", "llama-13b")
MTBENCH_CATEGORIES = ("writing", "roleplay", "reasoning", "math", "coding", "extraction", "stem", "humanities")


def mtbench_file(path: Path, *, seed: int = 0, n_questions: int = 24) -> Path:
    """An MT-Bench human-judgment file: six models of decreasing strength, two turns per
    question, several judges per pair (so agreement can be measured)."""
    rng = np.random.default_rng(seed)
    strength = dict(zip(MTBENCH_MODELS, np.linspace(1.2, -1.2, len(MTBENCH_MODELS)), strict=True))
    judges = [f"expert_{j}" for j in range(5)]
    rows = []
    for q in range(n_questions):
        qid = 81 + q
        category = MTBENCH_CATEGORIES[q % len(MTBENCH_CATEGORIES)]
        questions = [f"Question {qid}, turn 1 ({category})?", f"Question {qid}, turn 2: follow up."]
        answers = {m: [f"{m} answers turn 1 of {qid}." + " Detail." * int(rng.integers(0, 6)),
                       f"{m} answers turn 2 of {qid}."] for m in MTBENCH_MODELS}
        for _ in range(3):
            a, b = rng.choice(len(MTBENCH_MODELS), 2, replace=False)
            model_a, model_b = MTBENCH_MODELS[a], MTBENCH_MODELS[b]
            turn = int(rng.integers(1, 3))
            for judge in rng.choice(judges, int(rng.integers(2, 4)), replace=False):
                first, second = (model_a, model_b) if rng.random() < 0.5 else (model_b, model_a)
                roll = rng.random()
                if roll < 0.15:
                    winner = "tie"
                elif roll < 0.2:
                    winner = "tie (bothbad)"
                else:
                    p = 1 / (1 + np.exp(-(strength[first] - strength[second])))
                    winner = "model_a" if rng.random() < p else "model_b"

                def conversation(model: str) -> list[dict]:
                    return [{"role": "user", "content": questions[0]},
                            {"role": "assistant", "content": answers[model][0]},
                            {"role": "user", "content": questions[1]},
                            {"role": "assistant", "content": answers[model][1]}]

                key = (qid, turn, tuple(sorted((first, second))), str(judge))
                if any(r["_key"] == key for r in rows):
                    continue
                rows.append({"_key": key, "question_id": qid, "model_a": first, "model_b": second,
                             "winner": winner, "judge": str(judge), "turn": turn,
                             "conversation_a": conversation(first), "conversation_b": conversation(second),
                             "category": category, "tstamp": 1687000000 + len(rows)})
    path.write_text("".join(json.dumps({k: v for k, v in r.items() if k != "_key"}) + "\n"
                            for r in rows), encoding="utf-8")
    return path


PAYLOADS = {
    "study": "study <script>alert('study')</script>",
    "candidate": "ft <img src=x onerror=alert('model')>",
    "baseline": "base</title><script>alert('base')</script>",
    "reviewer": "rev <svg onload=alert('reviewer')>",
    "category": "cat <script>alert('category')</script>",
    "prompt": "What does <script>alert('prompt')</script> do?",
    "answer": "</div></details><script>alert('answer')</script><b>bold?</b>",
    "rationale": "<iframe src=\"https://example.com/x\"></iframe>",
}


def payload_study(session) -> Study:
    """A small study where every user-provided string is an HTML/JS injection attempt."""
    base = Model(name=PAYLOADS["baseline"], kind="base", location="/m/base")
    ft = Model(name=PAYLOADS["candidate"], kind="finetune", location="/m/ft")
    prompt_set = PromptSet(name="payloads")
    session.add_all([base, ft, prompt_set])
    session.flush()
    reviewers = [Reviewer(name=name, role="reviewer") for name in (PAYLOADS["reviewer"], "r2", "r3")]
    session.add_all(reviewers)
    study = Study(name=PAYLOADS["study"], candidate=ft, baseline=base, prompt_set=prompt_set, overlap=3)
    session.add(study)
    session.flush()
    choices = [("left", "right", "tie"), ("left", "left", "right"), ("both_bad", "left", "right"),
               ("right", "right", "right")]
    for i, votes in enumerate(choices):
        prompt = Prompt(prompt_set_id=prompt_set.id, external_id=f"x{i}",
                        messages=[{"role": "user", "content": PAYLOADS["prompt"]}],
                        category=PAYLOADS["category"], content_hash=f"x{i}")
        session.add(prompt)
        session.flush()
        a = Generation(model_id=ft.id, prompt_id=prompt.id, params_hash="p", params={},
                       output=PAYLOADS["answer"], backend="transformers")
        b = Generation(model_id=base.id, prompt_id=prompt.id, params_hash="p", params={},
                       output="plain " * (i + 1), backend="transformers")
        session.add_all([a, b])
        session.flush()
        item = Comparison(study_id=study.id, prompt_id=prompt.id, generation_a_id=a.id, generation_b_id=b.id)
        session.add(item)
        session.flush()
        for reviewer, choice in zip(reviewers, votes, strict=True):
            session.add(Judgment(comparison_id=item.id, reviewer_id=reviewer.id, left_generation_id=a.id,
                                 choice=choice, rationale=PAYLOADS["rationale"], seconds=5.0))
    session.flush()
    return study
