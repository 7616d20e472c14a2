"""The model registry: models and checkpoints, their content hashes, the checkpoint watcher
that follows a training run, and the ``transformers`` callback that registers checkpoints
from inside training.
"""
