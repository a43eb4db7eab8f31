"""Atomic, exactly-resumable checkpoints: ``out/checkpoints/step-N``.

A checkpoint holds the trained weights (LoRA adapter or full model), the optimizer and scheduler
states, every RNG state and the run's state (step, position in the data stream, losses so far).
It is written to a hidden temporary directory and renamed into place, so a process killed
mid-save leaves the previous checkpoint as the newest valid one.
"""

from __future__ import annotations

import json
import logging
import os
import random
import shutil
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

_DONE = "state.json"  # written last inside the temporary directory


def rng_states() -> dict[str, Any]:
    """Python's and torch's (CPU and every GPU) random generator states."""
    import torch

    states = {"python": random.getstate(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def set_rng_states(states: dict[str, Any]) -> None:
    import torch

    random.setstate(states["python"])
    torch.set_rng_state(states["torch"])
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def save_checkpoint(
    root: Path,
    step: int,
    weights: dict[str, Any],
    optimizer: Any,
    scheduler: Any,
    state: dict[str, Any],
    keep: int = 2,
    rngs: list[dict[str, Any]] | None = None,
) -> Path:
    """Write checkpoint ``step`` atomically and delete all but the ``keep`` newest.

    Args:
        root: the ``checkpoints`` directory.
        step: the optimizer steps done.
        weights: the trained parameters (:func:`finetune.modeling.trainable_state`).
        optimizer: its ``state_dict()`` is saved.
        scheduler: its ``state_dict()`` is saved.
        state: JSON-ready run state (step, data position, losses, config).
        keep: how many checkpoints to keep.
        rngs: the RNG states of every process, by rank (``None``: this process's, :func:`rng_states`).
    """
    import torch

    root.mkdir(parents=True, exist_ok=True)
    final = root / f"step-{step}"
    tmp = root / f".tmp-step-{step}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    torch.save(weights, tmp / "weights.pt")
    torch.save(
        {"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(), "rng": rngs or rng_states()},
        tmp / "trainer.pt",
    )
    with open(tmp / _DONE, "w") as f:
        json.dump(state, f)
        f.flush()
        os.fsync(f.fileno())
    for name in ("weights.pt", "trainer.pt"):
        with open(tmp / name, "rb") as f:
            os.fsync(f.fileno())
    if final.exists():  # a re-run over an old checkpoint of the same step: replace it
        old = root / f".old-step-{step}-{os.getpid()}"
        final.rename(old)
        shutil.rmtree(old, ignore_errors=True)
    tmp.rename(final)
    _fsync_dir(root)
    for stale in list_checkpoints(root)[:-keep]:
        shutil.rmtree(stale, ignore_errors=True)
    log.info("checkpoint %s", final)
    return final


def list_checkpoints(root: Path) -> list[Path]:
    """Complete checkpoints, oldest first (temporary directories of an interrupted save are ignored)."""
    if not root.is_dir():
        return []
    found = [p for p in root.glob("step-*") if (p / _DONE).is_file() and p.name[5:].isdigit()]
    return sorted(found, key=lambda p: int(p.name[5:]))


def clean_partial(root: Path) -> None:
    """Remove what an interrupted save left behind."""
    if root.is_dir():
        for tmp in [*root.glob(".tmp-step-*"), *root.glob(".old-step-*")]:
            shutil.rmtree(tmp, ignore_errors=True)


def load_checkpoint(path: Path) -> dict[str, Any]:
    """``{"weights", "optimizer", "scheduler", "rng", "state"}`` of a checkpoint.

    Raises:
        ValueError: the checkpoint is unreadable.
    """
    import torch

    try:
        trainer = torch.load(path / "trainer.pt", map_location="cpu", weights_only=False)
        weights = torch.load(path / "weights.pt", map_location="cpu")
        state = json.loads((path / _DONE).read_text())
    except (OSError, RuntimeError, ValueError, EOFError) as err:
        raise ValueError(f"checkpoint {path} is unreadable: {err}") from err
    return {"weights": weights, "state": state, **trainer}


def snapshot_run(run_dir: str | Path, dest: str | Path, step: int | None = None) -> Path:
    """Write a checkpoint of ``run_dir`` as a finished run (``adapter/`` or ``model/``, ``tokenizer/``,
    ``base.json``) in ``dest``, so it can be exported and tried while training goes on.

    Args:
        run_dir: a run directory with ``checkpoints/``.
        dest: where to write the run.
        step: the checkpoint's step; ``None``: the newest.

    Raises:
        ValueError: no such checkpoint.
    """
    from finetune.config import TrainConfig
    from finetune.modeling import build_model, load_tokenizer, load_trainable_state, save_run, torch_dtype

    found = list_checkpoints(Path(run_dir) / "checkpoints")
    if step is not None:
        found = [p for p in found if p.name == f"step-{step}"]
    if not found:
        what = f"checkpoint of step {step}" if step is not None else "checkpoint"
        raise ValueError(f"{run_dir} has no {what} in checkpoints/ (is it a run directory of agent finetune?)")
    ckpt = load_checkpoint(found[-1])
    config = TrainConfig(**ckpt["state"]["config"])
    model = build_model(config, torch_dtype(config.dtype, "cpu"))
    load_trainable_state(model, ckpt["weights"])
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    save_run(model, load_tokenizer(config.base), config, dest)
    return dest
