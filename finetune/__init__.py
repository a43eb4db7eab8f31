"""Chain-of-thought fine-tuning: data, training and GGUF export.

The contract:

- :class:`Example` (``finetune.schema``): one training example, a prompt and the assistant text
  (the runtime's ``Trajectory.render()`` format). :func:`load_examples` (``finetune.data``) reads
  GSM8K rows, the project schema, chat messages, ``agent solve --trace`` files and ToT search trees;
  malformed data raises :class:`DataError` (``finetune.errors``) naming the file and line.
- :class:`TrainConfig` (``finetune.config``): every setting of a run, each field saying why.
- :func:`train` (``finetune.train``) returns a :class:`TrainResult`; the run directory holds
  ``adapter/`` (LoRA) or ``model/`` (full), ``tokenizer/``, ``base.json``, ``train_log.jsonl``
  and ``checkpoints/step-N`` (``resume=True`` continues exactly).
- :func:`merge_adapter` writes a merged HF model; :func:`export_model` writes a GGUF.

Nothing here imports torch until a function runs.

Example:
    >>> from finetune import TrainConfig, train
    >>> result = train(TrainConfig(data="train.jsonl", out="runs/cot", max_steps=16))  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

from finetune.config import TrainConfig
from finetune.data import load_examples, load_gold, save_examples
from finetune.errors import DataError, ExportError
from finetune.modeling import merge_adapter
from finetune.schema import Example
from finetune.train import TrainResult, train

__all__ = [
    "DataError",
    "Example",
    "ExportError",
    "TrainConfig",
    "TrainResult",
    "export_model",
    "load_examples",
    "load_gold",
    "merge_adapter",
    "save_examples",
    "train",
]


def __getattr__(name: str) -> Any:
    if name == "export_model":  # the exporter pulls in gguf/numpy: loaded on first use
        from finetune import export

        return getattr(export, name)
    raise AttributeError(f"module 'finetune' has no attribute {name!r}")
