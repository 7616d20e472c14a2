"""``review generate``, ``review pair`` and ``review watch``: answers and studies."""

from __future__ import annotations

from pathlib import Path

import click

from review.cli.base import app, current, emit, json_option
from review.core.vocabulary import DEFAULT_OVERLAP


def _generation_options(function):  # noqa: ANN001, ANN202
    """The decoding options shared by generate, pair and watch."""
    options = [
        click.option("--batch-size", type=int, default=8, show_default=True, help="Prompts per batch."),
        click.option("--max-new-tokens", type=int, default=256, show_default=True),
        click.option("--temperature", type=float, default=0.0, show_default=True,
                     help="0 is greedy decoding."),
        click.option("--top-p", type=float, default=1.0, show_default=True),
        click.option("--seed", type=int, default=0, show_default=True,
                     help="Sampling seed (used when temperature > 0)."),
        click.option("--no-chat-template", is_flag=True, help="Join messages as plain text."),
    ]
    for option in reversed(options):
        function = option(function)
    return function


def _params(max_new_tokens: int, temperature: float, top_p: float, seed: int, no_chat_template: bool):
    from review.generation import GenerationParams

    return GenerationParams(max_new_tokens=max_new_tokens, temperature=temperature, top_p=top_p,
                            seed=seed, use_chat_template=not no_chat_template)


@app.command()
@click.option("--model", "model_name", required=True, help="A registered model.")
@click.option("--set", "set_name", required=True, help="A prompt set.")
@_generation_options
@json_option
def generate(model_name: str, set_name: str, batch_size: int, max_new_tokens: int,
             temperature: float, top_p: float, seed: int, no_chat_template: bool,
             as_json: bool) -> None:
    """Generate a model's answers for a prompt set (only those not generated yet).

    Rerunning does nothing for prompts already answered; after an interruption it finishes
    the rest. A progress bar shows prompts done, tokens per second and time left.

    Example: review generate --model smollm2 --set demo --batch-size 16 --max-new-tokens 200
    """
    from review.generation.job import generate_answers

    params = _params(max_new_tokens, temperature, top_p, seed, no_chat_template)
    summary = generate_answers(engine=current().engine(), model_name=model_name, set_name=set_name,
                               params=params, batch_size=batch_size, show_progress=not as_json)
    data = {**summary.__dict__, "tokens_per_second": round(summary.tokens_per_second, 2)}
    emit(data, as_json, f"{model_name}: {summary.generated} answers generated "
                         f"({summary.tokens_per_second:.1f} tokens/s), "
                         f"{summary.already_present} already present")


@app.command()
@click.option("--study", "study_name", required=True, help="Name of the study to create.")
@click.option("--candidate", required=True, help="The fine-tuned model.")
@click.option("--baseline", required=True, help="The model it must beat.")
@click.option("--set", "set_name", required=True, help="The prompt set.")
@click.option("--overlap", type=int, default=DEFAULT_OVERLAP, show_default=True, help="Reviewers per item (k).")
@click.option("--gold-rate", type=float, default=0.0, show_default=True,
              help="Share of gold (attention-check) items mixed into each reviewer's queue.")
@click.option("--guidelines", "guidelines_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A markdown file of reviewer guidelines.")
@_generation_options
@json_option
def pair(study_name: str, candidate: str, baseline: str, set_name: str, overlap: int,
         gold_rate: float, guidelines_file: Path | None, batch_size: int, max_new_tokens: int,
         temperature: float, top_p: float, seed: int, no_chat_template: bool, as_json: bool) -> None:
    """Create a study of candidate vs baseline, generating any missing answers first.

    An external model (answers imported with `review answers import`) generates nothing: the
    study pairs on its answers, and prompts it did not answer are left out.

    Example: review pair --study sft-v1 --candidate sft-v1 --baseline smollm2 --set demo --overlap 3
    """
    from review.campaign.pairing import pair_models

    guidelines = guidelines_file.read_text(encoding="utf-8") if guidelines_file else ""
    result = pair_models(
        engine=current().engine(), study=study_name, candidate=candidate, baseline=baseline,
        set_name=set_name, params=_params(max_new_tokens, temperature, top_p, seed, no_chat_template),
        overlap=overlap, gold_rate=gold_rate, guidelines=guidelines, batch_size=batch_size,
        show_progress=not as_json)
    left_out = result.prompts_without_both_answers
    emit(result.__dict__, as_json,
         f"study {result.study!r}: {result.items_total} items ({result.items_added} new), "
         f"{overlap} reviewers per item"
         + (f"; {left_out} prompts left out (no answer from both models)" if left_out else ""))


@app.command()
@click.argument("directory", type=click.Path(path_type=Path))
@click.option("--baseline", required=True, help="The registered model every checkpoint is compared with.")
@click.option("--set", "set_name", required=True, help="The prompt set.")
@click.option("--base", help="Base model of adapter checkpoints (default: the baseline).")
@click.option("--run", "run_name", help="Run name (default: the folder's name).")
@click.option("--overlap", type=int, default=DEFAULT_OVERLAP, show_default=True, help="Reviewers per item (k).")
@click.option("--interval", type=float, default=10.0, show_default=True,
              help="Seconds between looks; a checkpoint must be unchanged over one interval.")
@click.option("--once", is_flag=True, help="Look twice (one interval apart), handle what is complete, exit.")
@_generation_options
@json_option
def watch(directory: Path, baseline: str, set_name: str, base: str | None, run_name: str | None,
          overlap: int, interval: float, once: bool, batch_size: int, max_new_tokens: int,
          temperature: float, top_p: float, seed: int, no_chat_template: bool, as_json: bool) -> None:
    """Register, generate and pair each new checkpoint-* folder of a training run.

    Each complete checkpoint (weights and trainer_state.json written, unchanged for one
    interval) is handled once, in step order: a study against the baseline and one against
    the best earlier checkpoint. Restarting never pairs anything twice.

    Example: review watch runs/sft --baseline smollm2 --set demo --interval 30
    """
    import time

    from review.registry.watcher import CheckpointWatcher

    watcher = CheckpointWatcher(
        engine=current().engine(), directory=directory, baseline=baseline, set_name=set_name,
        params=_params(max_new_tokens, temperature, top_p, seed, no_chat_template), base=base,
        run_name=run_name, overlap=overlap, batch_size=batch_size, settle_seconds=interval,
        show_progress=not as_json)
    if once:
        watcher.complete_checkpoints()
        time.sleep(interval)
        handled = watcher.poll()
        emit({"handled": handled}, as_json,
              "\n".join(f"handled {name}" for name in handled) or "no new complete checkpoint")
        return
    click.echo(f"watching {watcher.directory} every {interval:g}s (Ctrl-C to stop)", err=True)
    while True:
        for name in watcher.poll():
            click.echo(f"handled {name}", err=True)
        time.sleep(interval)


@app.command()
@click.option("--study", "study_name", required=True, help="The study whose items are judged.")
@click.option("--judge", "judge_name", required=True, help="A registered model (any backend) to judge with.")
@click.option("--name", "rater_name", help="The judge's rater name (default: judge:<model>).")
@click.option("--template", "template_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A judge prompt with {question}, {answer_a}, {answer_b} (and {reference}).")
@click.option("--verdict-only", is_flag=True,
              help="Local models: no explanation; the verdict is the most probable of A, B, C after '[['.")
@click.option("--use-judge", is_flag=True, help="Let the study's verdict use this judge afterwards.")
@click.option("--human-budget", type=int,
              help="With --use-judge: human judgments to spend, on the items the judge is least sure of.")
@click.option("--selection-seed", type=int, default=0, show_default=True, help="Seed of the draw of items.")
@_generation_options
@json_option
def judge(study_name: str, judge_name: str, rater_name: str | None, template_path: Path | None,
          verdict_only: bool, use_judge: bool, human_budget: int | None, selection_seed: int, batch_size: int,
          max_new_tokens: int, temperature: float, top_p: float, seed: int, no_chat_template: bool,
          as_json: bool) -> None:
    """A model judges every item of a study, in both orders, MT-Bench style ([[A]]/[[B]]/[[C]]).

    Its verdicts are stored under an llm rater and never count as human votes. Outputs without
    a verdict are stored as failed, with their text. Rerunning judges only what is missing.

    Example: review judge --study sft-vs-base --judge qwen-7b --use-judge --human-budget 150
    """
    from review.generation.judging import judge_study

    if human_budget is not None and not use_judge:
        raise click.UsageError("--human-budget needs --use-judge")
    params = _params(max_new_tokens, temperature, top_p, seed, no_chat_template)
    summary = judge_study(engine=current().engine(), study_name=study_name, judge_name=judge_name,
                          params=params, template_path=template_path, rater_name=rater_name,
                          batch_size=batch_size, show_progress=not as_json, verdict_only=verdict_only)
    data = dict(summary.__dict__)
    text = (f"{summary.judge}: {summary.judged} verdicts ({summary.failed} without a verdict), "
            f"{summary.already_present} already present")
    if use_judge:
        selection = apply_use_judge(study_name, summary.judge, human_budget, selection_seed)
        data["selection"] = selection.__dict__
        text += "\n" + selection_text(selection)
    emit(data, as_json, text)


def apply_use_judge(study_name: str, judge_name: str | None, human_budget: int | None, seed: int):  # noqa: ANN202
    from review.campaign.selection import use_judge

    with current().session() as session:
        return use_judge(session=session, study_name=study_name, judge_name=judge_name,
                         human_budget=human_budget, seed=seed)


def selection_text(selection) -> str:  # noqa: ANN001
    if selection.judge is None:
        return f"study {selection.study!r}: the verdict uses people only; every item is for people"
    if selection.human_budget is None:
        return (f"study {selection.study!r}: the verdict uses {selection.judge} "
                f"(prediction-powered); every item is for people")
    return (f"study {selection.study!r}: the verdict uses {selection.judge}; {selection.drawn} of "
            f"{selection.items} items drawn for people ({selection.expected:.1f} expected for a "
            f"budget of {selection.human_budget} judgments), the judge's least sure first")
