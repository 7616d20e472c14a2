"""Registering checkpoints from inside a training run.

:class:`ReviewCallback` is a ``transformers.TrainerCallback``: each time the Trainer saves a
checkpoint it registers it in the review database (name ``<run>/checkpoint-<step>``, the
same name ``review watch`` uses), in a background thread so training never waits for the
hashing or the database. ``review watch`` (or ``review generate`` and ``review pair``)
then generates and pairs it.

Example::

    trainer = Trainer(..., callbacks=[ReviewCallback("sqlite:///review.db", base="smollm2")])
"""

from __future__ import annotations

import logging
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from transformers import TrainerCallback

log = logging.getLogger(__name__)


class ReviewCallback(TrainerCallback):
    """Registers each saved checkpoint without blocking training.

    Args:
        database_url: the review database.
        base: the registered base model (needed for adapter checkpoints and recorded for
            full fine-tunes).
        run_name: defaults to the name of the Trainer's output folder.
    """

    def __init__(self, database_url: str, *, base: str | None = None, run_name: str | None = None):
        self.database_url = database_url
        self.base = base
        self.run_name = run_name
        self.futures: list[Future] = []
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="review-register")

    def on_save(self, args, state, control, **kwargs):  # noqa: ANN001, ANN201 - Trainer API
        if state.is_world_process_zero:
            folder = Path(args.output_dir) / f"checkpoint-{state.global_step}"
            run = self.run_name or Path(args.output_dir).resolve().name
            self.futures.append(self._executor.submit(self._register, folder, state.global_step, run))
        return control

    def on_train_end(self, args, state, control, **kwargs):  # noqa: ANN001, ANN201
        self._executor.shutdown(wait=True)
        return control

    def _register(self, folder: Path, step: int, run: str) -> str | None:
        from review.registry.checkpoints import register_model
        from review.core.db import make_engine, session_scope

        engine = make_engine(self.database_url)
        name = f"{run}/checkpoint-{step}"
        try:
            with session_scope(engine, write=True) as session:
                kind = "adapter" if (folder / "adapter_config.json").is_file() else "finetune"
                register_model(session=session, name=name, location=str(folder), kind=kind,
                               base=self.base, step=step, run_name=run, meta={"source": "trainer"})
            return name
        except Exception:  # training must go on; the watcher can still pick the checkpoint up
            log.exception("could not register %s", folder)
            return None
        finally:
            engine.dispose()
