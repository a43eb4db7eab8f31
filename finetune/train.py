"""Fine-tune a model: :func:`train` builds a :class:`~finetune.run.Run` and drives it to its end.

Example:
    >>> result = train(TrainConfig(data="train.jsonl", out="runs/cot", max_steps=16))  # doctest: +SKIP
    >>> result.losses[-1] < result.losses[0]  # doctest: +SKIP
    True
"""

from __future__ import annotations

from finetune.config import TrainConfig
from finetune.loop import TrainResult, run_training
from finetune.run import Run


def train(config: TrainConfig) -> TrainResult:
    """Fine-tune ``config.base`` on ``config.data`` and write the run to ``config.out``.

    Raises:
        finetune.data.DataError: unusable training data.
        ValueError: a bad base model, or a checkpoint that does not match this run.
    """
    return run_training(Run(config))


__all__ = ["Run", "TrainResult", "train"]
