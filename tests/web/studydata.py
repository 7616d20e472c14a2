"""Real rows for the reviewer-app tests: a study whose model names are easy to search for.

The model names and locations are distinctive strings, so a test can assert that none
of them ever reaches a reviewer (page, config, API responses).
"""

from __future__ import annotations

from review.core.models import Comparison, Study, StudyReviewer
from tests.factories import make_generation, make_model, make_prompt_set, make_reviewer

CANDIDATE = "zz-candidate-7f3a"
BASELINE = "zz-baseline-91c2"
SECRETS = (CANDIDATE, BASELINE, "/secret/weights/cand-7f3a", "/secret/weights/base-91c2")


def make_blind_study(session, *, name="blind", n_items=4, overlap=3, reviewers=("ana",),
                     gold=0, gold_rate=0.0, outputs=None, messages=None, password="pw",
                     set_name=None):
    """A study of CANDIDATE vs BASELINE with ``n_items`` regular items and ``gold`` gold items.

    ``outputs`` maps an item index to (candidate output, baseline output); ``messages``
    replaces the first prompt's messages. Reviewers are created if new and put on the study.
    Returns (study, items) with gold items last.
    """
    from sqlalchemy import select

    from review.core.models import Model, Reviewer

    base = session.scalar(select(Model).where(Model.name == BASELINE)) or make_model(
        session, BASELINE, location="/secret/weights/base-91c2")
    cand = session.scalar(select(Model).where(Model.name == CANDIDATE)) or make_model(
        session, CANDIDATE, kind="finetune", location="/secret/weights/cand-7f3a", base=base)
    prompt_set = make_prompt_set(session, name=set_name or f"{name}-prompts", n=n_items + gold)
    if messages is not None:
        prompt_set.prompts[0].messages = messages
    study = Study(name=name, candidate=cand, baseline=base, prompt_set=prompt_set,
                  overlap=overlap, gold_rate=gold_rate,
                  guidelines="Prefer the **more helpful** answer.\n\n- be fair\n- ignore length")
    session.add(study)
    session.flush()
    outputs = outputs or {}
    items = []
    for index, prompt in enumerate(prompt_set.prompts):
        cand_text, base_text = outputs.get(index, (f"Candidate says {index}.", f"Baseline says {index}."))
        a = make_generation(session, cand, prompt, output=cand_text, params_hash=f"{name}-p")
        b = make_generation(session, base, prompt, output=base_text, params_hash=f"{name}-p")
        item = Comparison(study_id=study.id, prompt_id=prompt.id, generation_a_id=a.id,
                          generation_b_id=b.id, gold_label="a" if index >= n_items else None)
        session.add(item)
        items.append(item)
    session.flush()
    for reviewer_name in reviewers:
        reviewer = session.scalar(select(Reviewer).where(Reviewer.name == reviewer_name)) \
            or make_reviewer(session, reviewer_name, password=password)
        session.add(StudyReviewer(study_id=study.id, reviewer_id=reviewer.id))
    session.flush()
    return study, items
