"""Following a training run: each new ``checkpoint-*`` folder is registered, answered and paired.

A checkpoint is taken only once it is complete: its weights and ``trainer_state.json`` are
written and no file in it has changed between two looks ``settle_seconds`` apart. Complete
checkpoints are handled in step order. For each one the watcher registers the model (named
``<run>/checkpoint-<step>``), generates its answers, and creates two studies: one against
the baseline, and one against the best earlier checkpoint of the run.

"Best so far" is the earlier checkpoint with the highest win rate against the baseline over
its judged items (ties and both-bad count one half, :func:`review.stats.winrate.mean_score`),
among those with at least ``min_judgments`` votes;
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

import pandas as pd
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from review.campaign.pairing import PairingResult, pair_models
from review.core.db import session_scope
from review.core.errors import ReviewError
from review.core.lookup import get_model, get_prompt_set
from review.core.models import DEFAULT_OVERLAP, Model, Study
from review.generation import GenerationParams
from review.registry.checkpoints import register_model
from review.reporting.dataset import study_judgments
from review.stats.winrate import mean_score

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
    overlap: int = DEFAULT_OVERLAP
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
                register_model(
                    session=session, name=name, location=str(folder), step=step,
                    run_name=self.run_name, kind="adapter" if is_adapter else "finetune",
                    base=(self.base or self.baseline), meta={"source": "watch"})
                log.info("registered %s", name)
        results = [self._pair(step, name, self.baseline)]
        # One study against the best earlier checkpoint, chosen once: a restart must not
        # pair the checkpoint again with whichever checkpoint leads by then.
        with session_scope(self.engine) as session:
            model = get_model(session=session, name=name)
            baseline = get_model(session=session, name=self.baseline)
            has_best_study = session.scalar(select(Study.id).where(
                Study.candidate_model_id == model.id, Study.baseline_model_id != baseline.id)) is not None
            best = None if has_best_study else self.best_earlier_checkpoint(
                session=session, step=step, baseline=baseline)
            best_name = best.name if best is not None else None
        if best_name is not None:
            results.append(self._pair(step, name, best_name))
        return any(r.created or r.answers_generated for r in results)

    def _pair(self, step: int, name: str, opponent: str) -> PairingResult:
        return pair_models(engine=self.engine, study=f"{name} vs {opponent}", candidate=name,
                           baseline=opponent, set_name=self.set_name, params=self.params,
                           overlap=self.overlap, meta={"run": self.run_name, "step": step},
                           batch_size=self.batch_size, show_progress=self.show_progress)

    def best_earlier_checkpoint(self, *, session: Session, step: int, baseline: Model) -> Model | None:
        """The earlier checkpoint of the run with the highest win rate against the baseline
        (among those with at least ``min_judgments`` votes), else the latest earlier one."""
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
    def _win_rate_vs(session: Session, model: Model, baseline: Model) -> tuple[float, int]:
        """Win rate of ``model`` (ties and both-bad count 1/2) and its number of votes, over
        every study of ``model`` against ``baseline``."""
        studies = session.scalars(select(Study).where(Study.candidate_model_id == model.id,
                                                      Study.baseline_model_id == baseline.id)).all()
        frames = [study_judgments(session=session, study=study) for study in studies]
        frames = [frame for frame in frames if len(frame)]
        if not frames:
            return 0.0, 0
        return mean_score(pd.concat(frames, ignore_index=True), model.name, baseline.name)
