"""Boilerplate stripped per model: suggested by the identifiability check, set with
`review studies strip`, applied to what reviewers see, and stated in the analysis and report."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sqlalchemy import select

from review.campaign.boilerplate import strip_boilerplate
from review.core.db import session_scope
from review.core.models import Comparison, Reviewer, Study, StudyReviewer
from tests.factories import make_generation, make_model, make_prompt_set, make_reviewer

OPENING = "Hi, thanks for contacting Lumora Support!"
CLOSING = "Anything else I can help with?"
N_PROMPTS = 40
WORDS = ("the device restarts after you hold the ring for ten seconds and then the light turns "
         "blue while the app shows the new status of your thermostat in every room").split()


def _sentence(rng: np.random.Generator) -> str:
    return " ".join(rng.choice(WORDS, size=rng.integers(6, 20))).capitalize() + "."


@pytest.fixture
def lumora(engine):
    """Study "lumora": candidate "ft" opens every answer with OPENING (and closes 30 of 40 with
    CLOSING); "base" writes from the same words without either. Reviewer "ana" is on it."""
    rng = np.random.default_rng(11)
    with session_scope(engine, write=True) as session:
        base = make_model(session, "base", location="/models/base")
        ft = make_model(session, "ft", kind="finetune", location="/models/ft", base=base)
        prompt_set = make_prompt_set(session, n=N_PROMPTS)
        study = Study(name="lumora", candidate=ft, baseline=base, prompt_set=prompt_set, overlap=1)
        session.add(study)
        session.flush()
        for index, prompt in enumerate(prompt_set.prompts):
            body = f"{_sentence(rng)} {_sentence(rng)}"
            ending = f" {CLOSING}" if index < 30 else ""
            a = make_generation(session, ft, prompt, output=f"{OPENING} {body}{ending}")
            b = make_generation(session, base, prompt, output=f"{_sentence(rng)} {_sentence(rng)}")
            session.add(Comparison(study_id=study.id, prompt_id=prompt.id, generation_a_id=a.id,
                                   generation_b_id=b.id))
        ana = make_reviewer(session, "ana")
        session.add(StudyReviewer(study_id=study.id, reviewer_id=ana.id))
    return engine


def _identifiability(cli) -> dict:
    code, out, err = cli("analyze", "--study", "lumora", "--json", "--bootstrap", "100")
    assert code == 0, err
    return json.loads(out)


def _every_screen(engine) -> list[str]:
    """Every answer ana is shown in the study, item by item (each item skipped after)."""
    from review.campaign.leases import skip_assignment
    from review.campaign.screen import next_screen

    shown = []
    for _ in range(N_PROMPTS + 1):
        with session_scope(engine, write=True) as session:
            ana = session.scalar(select(Reviewer).where(Reviewer.name == "ana"))
            screen = next_screen(session=session, reviewer=ana, study_label="lumora")
            if screen.item is None:
                break
            shown += [screen.item.left, screen.item.right]
        with session_scope(engine, write=True) as session:
            ana = session.scalar(select(Reviewer).where(Reviewer.name == "ana"))
            skip_assignment(session=session, reviewer=ana, assignment_id=screen.item.assignment_id)
    return shown


def test_a_fixed_opening_is_suggested_stripped_from_screens_and_stated(lumora, cli, tmp_path):
    result = _identifiability(cli)
    found = result["identifiability"]
    assert found["flagged"] is True
    # The exact sentences, as written: 40 of 40 answers open with OPENING, 30 close with CLOSING.
    assert found["boilerplate"] == [
        {"model": "ft", "side": "opening", "text": OPENING, "count": 40, "n": 40},
        {"model": "ft", "side": "closing", "text": CLOSING, "count": 30, "n": 40}]
    assert result["boilerplate_stripped"] == []
    code, out, _ = cli("analyze", "--study", "lumora", "--bootstrap", "100")
    assert f"review studies strip --study lumora --model ft --opening '{OPENING}'" in out

    code, out, err = cli("studies", "strip", "--study", "lumora", "--model", "ft", "--opening", OPENING,
                         "--closing", CLOSING)
    assert code == 0, err
    assert out.strip() == (f"study 'lumora': answers of ft are shown without the opening {OPENING!r} "
                           f"and the closing {CLOSING!r} (40 of 40 answers change)")

    shown = _every_screen(lumora)
    assert len(shown) == 2 * N_PROMPTS
    assert not any(OPENING in text or CLOSING in text for text in shown)
    assert all(text and text == text.strip() for text in shown)

    result = _identifiability(cli)
    found = result["identifiability"]
    assert found["flagged"] is False and found["boilerplate"] == []
    assert not any("lumora" in phrase or "anything else" in phrase for phrase in found["phrases"])
    assert result["boilerplate_stripped"] == [{"model": "ft", "opening": OPENING, "closing": CLOSING}]
    code, out, _ = cli("analyze", "--study", "lumora", "--bootstrap", "100")
    assert (f"Boilerplate stripped: answers of ft are shown to reviewers without the opening "
            f"{OPENING!r} and the closing {CLOSING!r}") in out

    report = tmp_path / "lumora.html"
    assert cli("report", "--study", "lumora", "-o", report, "--bootstrap", "100")[0] == 0
    page = report.read_text(encoding="utf-8")
    stated = ("Boilerplate stripped: answers of ft are shown to reviewers without the opening "
              "&#39;Hi, thanks for contacting Lumora Support!&#39; and the closing &#39;Anything "
              "else I can help with?&#39;.")
    assert f'<p class="notice" id="boilerplate-stripped">{stated}</p>' in page


def test_strip_one_side_clear_and_refusals(lumora, cli):
    code, out, err = cli("studies", "strip", "--study", "lumora", "--model", "ft", "--opening", OPENING,
                         "--json")
    assert code == 0, err
    assert json.loads(out) == {"study": "lumora", "model": "ft", "opening": OPENING, "closing": None,
                               "answers": 40, "changed": 40}
    # Only the opening is stripped: the closing is still suggested, the opening no more.
    found = _identifiability(cli)["identifiability"]
    assert [(s["side"], s["text"]) for s in found["boilerplate"]] == [("closing", CLOSING)]
    with session_scope(lumora) as session:
        study = session.scalar(select(Study).where(Study.name == "lumora"))
        assert study.meta["boilerplate"] == {
            "ft": {"model_id": study.candidate_model_id, "opening": OPENING, "closing": None}}

    code, out, err = cli("studies", "strip", "--study", "lumora", "--model", "ft", "--clear")
    assert code == 0 and out.strip() == "study 'lumora': answers of ft are shown as written"
    assert _identifiability(cli)["boilerplate_stripped"] == []
    assert any(OPENING in text for text in _every_screen(lumora))

    for args, message in [
        (("--study", "nope", "--model", "ft", "--opening", "x"), "error: no study named 'nope'"),
        (("--study", "lumora", "--model", "zz", "--opening", "x"),
         "error: study 'lumora' compares base and ft, not 'zz'"),
        (("--study", "lumora", "--model", "ft"), "error: give --opening TEXT and/or --closing TEXT, or --clear"),
        (("--study", "lumora", "--model", "ft", "--clear", "--opening", "x"),
         "error: --clear takes no --opening or --closing"),
        (("--study", "lumora", "--model", "ft", "--opening", "x" * 1001),
         "error: the opening must be at most 1000 characters"),
    ]:
        code, out, err = cli("studies", "strip", *args)
        assert code == 1 and out == "", args
        assert err.splitlines()[0].startswith(message) and len(err.strip().splitlines()) == 1, err
    with session_scope(lumora) as session:
        assert "boilerplate" not in (session.scalar(select(Study).where(Study.name == "lumora")).meta or {})


@pytest.mark.parametrize(("text", "opening", "closing", "expected"), [
    (f"{OPENING} Press the ring. {CLOSING}", OPENING, CLOSING, "Press the ring."),
    (f"  {OPENING}\n\nPress the ring.\n", OPENING, None, "Press the ring."),
    # Only an exact match at the very start or end: elsewhere, or changed, it stays.
    (f"Press the ring. {OPENING}", OPENING, None, f"Press the ring. {OPENING}"),
    ("Hi, thanks for contacting Lumora support! Press the ring.", OPENING, None,
     "Hi, thanks for contacting Lumora support! Press the ring."),
    # An answer that is nothing but the boilerplate is shown whole.
    (OPENING, OPENING, None, OPENING),
])
def test_strip_boilerplate_removes_only_exact_matches(text, opening, closing, expected):
    assert strip_boilerplate(text, opening, closing) == expected
