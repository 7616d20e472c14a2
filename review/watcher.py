"""Following a training run: each new ``checkpoint-*`` folder is registered, answered and paired.

A checkpoint is taken only once it is complete: its weights and ``trainer_state.json`` are
written and no file in it has changed between two looks ``settle_seconds`` apart. Complete
checkpoints are handled in step order. For each one the watcher registers the model (named
``<run>/checkpoint-<step>``), generates its answers, and creates two studies: one against
the baseline, and one against the best earlier checkpoint of the run.

"Best so far" is the earlier checkpoint with the highest win rate against the baseline over
its judged items (ties count one half), among those with at least ``min_judgments`` votes;
while no earlier checkpoint has enough votes, it is the latest earlier checkpoint.

Restarting is safe: a checkpoint already registered (same location) is not registered
again, and studies are found by name before they are created, so nothing is paired twice.

Example::

    watcher = CheckpointWatcher(engine=engine, directory=Path("runs/sft"), baseline="base",
                                set_name="demo", params=GenerationParams(max_new_tokens=128))
    watcher.poll()           # one look; returns the checkpoints handled
    watcher.run_forever()    # poll every `interval` seconds
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine, func, select

from review.answers import generate_answers, get_prompt_set
from review.checkpoints import get_model, register_model
from review.db import session_scope
from review.errors import ReviewError
from review.generation import GenerationParams
from review.models import Comparison, Judgment, Model, Study
from review.pairing import create_study

log = logging.getLogger(__name__)

CHECKPOINT_DIR = re.compile(r"^checkpoint-(\d+)$")
WEIGHT_FILES = ("model.safetensors", "adapter_model.safetensors", "pytorch_model.bin",
                "adapter_model.bin", "model.safetensors.index.json", "pytorch_model.bin.index.json")


def _snapshot(folder: Path) -> tuple | None:
    """Sizes and modification times of every file, or None when the checkpoint is incomplete."""
    if not (folder / "trainer_state.json").is_file():
        return None
    if not any((folder / name).is_file() for name in WEIGHT_FILES):
        return None
    try:
        return tuple(sorted((str(p.relative_to(folder)), p.stat().st_size, p.stat().st_mtime_ns)
                            for p in folder.rglob("*") if p.is_file()))
    except FileNotFoundError:  # a file vanished while we looked: still being written
        return None


def checkpoint_step(folder: Path) -> int | None:
    match = CHECKPOINT_DIR.match(folder.name)
    return int(match.group(1)) if match else None


@dataclass
class CheckpointWatcher:
    engine: Engine
    directory: Path
    baseline: str
    set_name: str
    params: GenerationParams = field(default_factory=GenerationParams)
    base: str | None = None          # base model for adapter checkpoints (default: the baseline)
    run_name: str | None = None
    overlap: int = 3
    batch_size: int = 8
    settle_seconds: float = 5.0
    min_judgments: int = 20
    show_progress: bool = False
    _seen: dict[Path, tuple] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        self.directory = Path(self.directory).expanduser().resolve()
        if not self.directory.is_dir():
            raise ReviewError(f"{self.directory}: no such folder")
        self.run_name = self.run_name or self.directory.name
        with session_scope(self.engine) as session:  # fail early on unknown names
            get_model(session=session, name=self.baseline)
            get_prompt_set(session=session, name=self.set_name)
            if self.base:
                get_model(session=session, name=self.base)

    def model_name(self, step: int) -> str:
        return f"{self.run_name}/checkpoint-{step}"

    def complete_checkpoints(self) -> list[tuple[int, Path]]:
        """Checkpoints whose files are written and unchanged since the previous look."""
        ready = []
        now = {}
        for folder in sorted(self.directory.iterdir()):
            step = checkpoint_step(folder)
            if step is None or not folder.is_dir():
                continue
            snapshot = _snapshot(folder)
            if snapshot is None:
                continue
            now[folder] = snapshot
            if self._seen.get(folder) == snapshot:
                ready.append((step, folder))
        self._seen = now
        return sorted(ready)

    def poll(self) -> list[str]:
        """One look at the folder: handle every complete checkpoint not handled yet."""
        handled = []
        for step, folder in self.complete_checkpoints():
            if self.handle(step, folder):
                handled.append(self.model_name(step))
        return handled

    def run_forever(self, interval: float | None = None) -> None:
        interval = self.settle_seconds if interval is None else interval
        while True:
            self.poll()
            time.sleep(interval)

    def handle(self, step: int, folder: Path) -> bool:
        """Register, generate and pair one checkpoint; False when it was already fully handled."""
        name = self.model_name(step)
        with session_scope(self.engine, write=True) as session:
            model = session.scalar(select(Model).where(Model.name == name))
            if model is None:
                is_adapter = (folder / "adapter_config.json").is_file()
                model = register_model(
                    session=session, name=name, location=str(folder), step=step,
                    run_name=self.run_name, kind="adapter" if is_adapter else "finetune",
                    base=(self.base or self.baseline), meta={"source": "watch"})
                log.info("registered %s", name)
        generate_answers(engine=self.engine, model_name=self.baseline, set_name=self.set_name,
                         params=self.params, batch_size=self.batch_size,
                         show_progress=self.show_progress)
        summary = generate_answers(engine=self.engine, model_name=name, set_name=self.set_name,
                                   params=self.params, batch_size=self.batch_size,
                                   show_progress=self.show_progress)
        created = False
        with session_scope(self.engine, write=True) as session:
            model = get_model(session=session, name=name)
            baseline = get_model(session=session, name=self.baseline)
            prompt_set = get_prompt_set(session=session, name=self.set_name)
            params_hash = self.params.params_hash()
            opponents = [baseline]
            # One study against the best earlier checkpoint, chosen once: a restart must not
            # pair the checkpoint again with whichever checkpoint leads by then.
            has_best_study = session.scalar(select(Study.id).where(
                Study.candidate_model_id == model.id, Study.baseline_model_id != baseline.id)) is not None
            best = None if has_best_study else self.best_earlier_checkpoint(
                session=session, step=step, baseline=baseline)
            if best is not None:
                opponents.append(best)
            for opponent in opponents:
                study_name = f"{name} vs {opponent.name}"
                result = create_study(session=session, name=study_name, candidate=model,
                                      baseline=opponent, prompt_set=prompt_set,
                                      params_hash=params_hash, overlap=self.overlap,
                                      meta={"run": self.run_name, "step": step})
                created = created or result.created
        return created or summary.generated > 0

    def best_earlier_checkpoint(self, *, session, step: int, baseline: Model) -> Model | None:
        earlier = list(session.scalars(
            select(Model).where(Model.run_name == self.run_name, Model.training_step < step)
            .order_by(Model.training_step)))
        if not earlier:
            return None
        best, best_rate = None, -1.0
        for model in earlier:
            rate, n = self._win_rate_vs(session, model, baseline)
            if n >= self.min_judgments and rate > best_rate:
                best, best_rate = model, rate
        return best if best is not None else earlier[-1]

    @staticmethod
    def _win_rate_vs(session, model: Model, baseline: Model) -> tuple[float, int]:
        """Candidate win rate (ties 1/2) over judged items of studies ``model`` vs ``baseline``."""
        studies = select(Study.id).where(Study.candidate_model_id == model.id,
                                         Study.baseline_model_id == baseline.id)
        rows = session.execute(
            select(Judgment.choice, Judgment.left_generation_id, Comparison.generation_a_id,
                   func.count())
            .join(Comparison, Comparison.id == Judgment.comparison_id)
            .where(Comparison.study_id.in_(studies))
            .group_by(Judgment.choice, Judgment.left_generation_id, Comparison.generation_a_id)
        ).all()
        score = total = 0.0
        for choice, left_generation, candidate_generation, count in rows:
            total += count
            if choice in ("tie", "both_bad"):
                score += 0.5 * count
            elif (choice == "left") == (left_generation == candidate_generation):
                score += count
        return (score / total if total else 0.0), int(total)

