"""Plain factory helpers that put real rows in the test database."""

from __future__ import annotations

import functools

from review.core.models import Comparison, Generation, Model, Prompt, PromptSet, Reviewer, Study
from review.auth.passwords import hash_password


def make_model(session, name="base", kind="base", location="/models/base", base=None, **kw):
    model = Model(name=name, kind=kind, location=location, base_model=base, **kw)
    session.add(model)
    session.flush()
    return model


def make_prompt_set(session, name="demo", n=3, category="general"):
    prompt_set = PromptSet(name=name)
    session.add(prompt_set)
    session.flush()
    for i in range(n):
        session.add(Prompt(prompt_set_id=prompt_set.id, external_id=f"p{i}",
                           messages=[{"role": "user", "content": f"Question {i}?"}],
                           category=category, content_hash=f"h{i}"))
    session.flush()
    return prompt_set


def make_generation(session, model, prompt, output="An answer.", params_hash="p0"):
    generation = Generation(model_id=model.id, prompt_id=prompt.id, params_hash=params_hash,
                            params={"max_new_tokens": 16}, output=output, token_count=3,
                            latency_seconds=0.1, backend="transformers")
    session.add(generation)
    session.flush()
    return generation


@functools.cache
def _hashed(password: str) -> str:
    """One hash per password for the whole test run: scrypt is slow on purpose."""
    return hash_password(password)


def make_reviewer(session, name="ana", role="reviewer", password="pw"):
    reviewer = Reviewer(name=name, role=role, password_hash=_hashed(password))
    session.add(reviewer)
    session.flush()
    return reviewer


def make_study_with_items(session, name="study", n_items=3, overlap=3):
    """A study of candidate 'ft' vs baseline 'base' with one item per prompt."""
    base = make_model(session, "base", location="/models/base")
    ft = make_model(session, "ft", kind="finetune", location="/models/ft", base=base)
    prompt_set = make_prompt_set(session, n=n_items)
    study = Study(name=name, candidate=ft, baseline=base, prompt_set=prompt_set, overlap=overlap)
    session.add(study)
    session.flush()
    items = []
    for prompt in prompt_set.prompts:
        a = make_generation(session, ft, prompt, output=f"ft answer {prompt.external_id}")
        b = make_generation(session, base, prompt, output=f"base answer {prompt.external_id}")
        item = Comparison(study_id=study.id, prompt_id=prompt.id, generation_a_id=a.id,
                          generation_b_id=b.id)
        session.add(item)
        items.append(item)
    session.flush()
    return study, items


def kill_midway_and_rerun(command: list[str], env: dict, stored, *, at_least: int = 5):
    """Start ``command``, SIGKILL it once ``stored()`` counts ``at_least`` rows, then run it
    again to the end; returns (rows stored when killed, the rerun's CompletedProcess)."""
    import signal
    import subprocess
    import time

    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while stored() < at_least and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    done = stored()
    return done, subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
