"""The OpenAI-compatible backend against a real server: llama-cpp-python's, serving the demo
GGUF on loopback. `.ci/run` builds and starts it and sets REVIEW_TEST_LLAMA_URL; elsewhere these
tests are skipped (and fail under CI=true when the variable is missing, so they never vanish
silently from CI)."""

from __future__ import annotations

import json
import os

import pytest
from sqlalchemy import func, select

from review.core.db import session_scope
from review.core.models import Generation, JudgeVerdict
from tests.factories import make_study_with_items

LLAMA_URL = os.environ.get("REVIEW_TEST_LLAMA_URL")


@pytest.fixture
def llama_url():
    if not LLAMA_URL:
        if os.environ.get("CI"):
            pytest.fail("REVIEW_TEST_LLAMA_URL is not set: .ci/run starts llama-cpp-python's server")
        pytest.skip("no llama-cpp-python server (REVIEW_TEST_LLAMA_URL); .ci/run starts one")
    return LLAMA_URL


def test_generation_through_a_llama_cpp_server_is_resumable(cli, engine, llama_url, tmp_path):
    prompts = tmp_path / "p.jsonl"
    prompts.write_text("".join(json.dumps({"id": f"q{i}", "prompt": question}) + "\n" for i, question in
                               enumerate(["What is 2 + 2?", "Name a colour of the sky.",
                                          "Say hello in French."])))
    assert cli("init")[0] == 0
    assert cli("prompts", "import", prompts, "--set", "small")[0] == 0
    code, _, err = cli("models", "add", "smollm2-server", llama_url, "--kind", "endpoint")
    assert code == 0, err
    code, out, err = cli("generate", "--model", "smollm2-server", "--set", "small",
                         "--max-new-tokens", "24", "--json")
    assert code == 0, err
    summary = json.loads(out)
    assert (summary["generated"], summary["already_present"]) == (3, 0) and summary["tokens"] > 0
    code, out, _ = cli("generate", "--model", "smollm2-server", "--set", "small",
                       "--max-new-tokens", "24", "--json")
    assert (json.loads(out)["generated"], json.loads(out)["already_present"]) == (0, 3)
    with session_scope(engine) as session:
        rows = session.scalars(select(Generation).where(Generation.backend == "openai")).all()
    assert len(rows) == 3 and all(row.output.strip() for row in rows)


def test_judge_through_a_llama_cpp_server(cli, engine, llama_url):
    with session_scope(engine, write=True) as session:
        make_study_with_items(session, n_items=2, overlap=1)
    assert cli("models", "add", "smollm2-server", llama_url, "--kind", "endpoint")[0] == 0
    code, out, err = cli("judge", "--study", "study", "--judge", "smollm2-server",
                         "--max-new-tokens", "48", "--json")
    assert code == 0, err
    summary = json.loads(out)
    assert summary["judged"] == 4 and 0 <= summary["failed"] <= 4
    with session_scope(engine) as session:
        verdicts = session.scalars(select(JudgeVerdict)).all()
        assert sorted(v.judge_order for v in verdicts) == ["ab", "ab", "ba", "ba"]
        assert all(v.raw_output and v.meta["backend"] == "openai" for v in verdicts)
        # An endpoint judge states no probabilities: its score comes from its two orders.
        assert all("option_probabilities" not in v.meta for v in verdicts)
    code, out, _ = cli("judge", "--study", "study", "--judge", "smollm2-server", "--max-new-tokens", "48",
                       "--json")
    assert json.loads(out)["judged"] == 0
    with session_scope(engine) as session:
        assert session.scalar(select(func.count(JudgeVerdict.id))) == 4
