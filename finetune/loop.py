"""Drive a :class:`~finetune.run.Run`: resume, step with a progress bar, log, evaluate, checkpoint, save.

:func:`run_training` returns a :class:`TrainResult`.

``out/train_log.jsonl`` gets one line per logged step (``step``, ``loss``, ``lr``, ``tokens``,
``tokens_per_second``, ``epoch``) and one per evaluation (``step``, ``dev_loss``, ``dev_accuracy``).
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from finetune.checkpoint import (
    clean_partial,
    list_checkpoints,
    load_checkpoint,
    rng_states,
    save_checkpoint,
    set_rng_states,
)

if TYPE_CHECKING:
    from finetune.run import Run

log = logging.getLogger(__name__)


@dataclass
class TrainResult:
    """What a run did and left behind (``agent finetune --json`` prints :meth:`to_dict`)."""

    out: str
    steps: int  # optimizer steps done (all of them, across resumes)
    losses: list[float]  # training loss at each logged step, from step 1
    tokens_per_second: float  # real (non-pad) tokens trained on per second, in this process's run
    precision: str  # what the matrix products ran in: "float32", "bfloat16", "bf16 autocast" (float32 weights)
    seconds: float  # wall time of the training steps of this process's run
    examples: int  # training examples (after the dev split and seq_len filtering)
    dev_examples: int = 0
    dev_loss: float | None = None
    dev_accuracy: float | None = None
    adapter: str | None = None
    model: str | None = None
    tokenizer: str | None = None
    resumed_from: int | None = None
    finished: bool = True  # False when stopped early by ``stop_after``
    out_of_time: bool = False  # True when ``max_seconds`` ended it before its last step (saved all the same)
    evals: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _rewrite_log(path: Path, up_to: int) -> None:
    """Keep the log lines of steps <= ``up_to`` (what a resumed run will not write again)."""
    if not path.is_file():
        return
    kept = []
    for line in path.read_text().splitlines():
        try:
            if json.loads(line).get("step", 0) <= up_to:
                kept.append(line + "\n")
        except json.JSONDecodeError:
            continue  # a line cut by a kill
    tmp = path.with_suffix(".tmp")
    tmp.write_text("".join(kept))
    tmp.replace(path)


def _start(run: Run) -> int | None:
    """Resume from the newest checkpoint when asked (returns its step), else clear an old run's traces."""
    root, main = run.out / "checkpoints", run.acc.is_main_process
    if main:
        clean_partial(root)
    found = list_checkpoints(root)
    if not run.config.resume:
        if main and (found or (run.out / "train_log.jsonl").exists()):
            log.warning(
                "%s holds an earlier run: its checkpoints and log are replaced (use --resume to continue)", run.out
            )
            shutil.rmtree(root, ignore_errors=True)
            (run.out / "train_log.jsonl").unlink(missing_ok=True)
        run.acc.wait_for_everyone()
        return None
    if not found:
        log.warning("--resume: no checkpoint in %s, starting from step 0", root)
        return None
    ck = load_checkpoint(found[-1])
    state = ck["state"]
    differs = run.config.same_run(state["config"])
    if differs or state["fingerprint"] != run.fingerprint:
        what = ", ".join(differs) or "the training data"
        raise ValueError(f"cannot resume from {found[-1]}: {what} changed since it was written")
    from finetune.modeling import load_trainable_state

    load_trainable_state(run.acc.unwrap_model(run.loss_fn).model, ck["weights"])
    run.optimizer.load_state_dict(ck["optimizer"])
    run.scheduler.load_state_dict(ck["scheduler"])
    rng = ck["rng"]  # one state per process (a list), or one for all in checkpoints of one process
    set_rng_states(rng[min(run.acc.process_index, len(rng) - 1)] if isinstance(rng, list) else rng)
    run.step, run.losses, run.evals = state["step"], list(state["losses"]), list(state["evals"])
    run.acc.wait_for_everyone()  # every process has read the checkpoint before the log changes
    if main:
        _rewrite_log(run.out / "train_log.jsonl", run.step)
    log.info("resumed from %s", found[-1])
    return run.step


def _append(run: Run, record: dict[str, Any]) -> None:
    if run.acc.is_main_process:
        from agent.core.jsonl import append_jsonl

        append_jsonl(run.out / "train_log.jsonl", record)


def _due(step: int, every: int) -> bool:
    return every > 0 and step % every == 0


def run_training(run: Run) -> TrainResult:
    """Train ``run`` to its last step (or ``stop_after``), then save adapter/model, tokenizer and base.json."""
    from tqdm.auto import tqdm

    cfg = run.config
    run.out.mkdir(parents=True, exist_ok=True)
    resumed = _start(run)
    bar = tqdm(total=run.total, initial=run.step, desc="finetune", unit="step", disable=not run.acc.is_main_process)
    seconds, tokens = 0.0, 0
    out_of_time = False
    while run.step < run.total and (cfg.stop_after is None or run.step < cfg.stop_after):
        if cfg.max_seconds is not None and seconds >= cfg.max_seconds:
            out_of_time = True
            log.warning(
                "stopping at step %d of %d: %.0f s of training reached --max-seconds %.0f (the run is saved as it is)",
                run.step,
                run.total,
                seconds,
                cfg.max_seconds,
            )
            break
        t0 = time.perf_counter()
        loss, n_tokens = run.train_step()
        seconds, tokens = seconds + time.perf_counter() - t0, tokens + n_tokens
        rate = tokens / max(seconds, 1e-9)
        bar.update(1)
        bar.set_postfix(loss=f"{loss:.4f}", tok_s=f"{rate:.0f}")
        if _due(run.step, cfg.log_every) or run.step == run.total:
            run.losses.append(loss)
            _append(
                run,
                {
                    "step": run.step,
                    "loss": loss,
                    "lr": run.scheduler.get_last_lr()[0],
                    "tokens": n_tokens,
                    "tokens_per_second": round(rate, 1),
                    "epoch": run.stream.epoch_of(run.step),
                },
            )
        if _due(run.step, cfg.eval_every) and run.step < run.total:
            _append(run, run.evaluate())
        if _due(run.step, cfg.save_every):
            _save(run)
        run.acc.wait_for_everyone()
    bar.close()
    result = TrainResult(
        out=str(run.out),
        steps=run.step,
        losses=list(run.losses),
        tokens_per_second=round(tokens / max(seconds, 1e-9), 1),
        precision=run.precision,
        seconds=round(seconds, 2),
        examples=len(run.encoded),
        dev_examples=len(run.dev_encoded),
        resumed_from=resumed,
        finished=run.step >= run.total or out_of_time,
        out_of_time=out_of_time,
    )
    if result.finished:
        _finish(run, result)
    result.evals = list(run.evals)
    return result


def _save(run: Run) -> None:
    """A checkpoint, written by the main process alone, with every process's RNG states."""
    from accelerate.utils import gather_object

    from finetune.modeling import trainable_state

    rngs = gather_object([rng_states()]) if run.acc.num_processes > 1 else [rng_states()]
    if run.acc.is_main_process:
        weights = trainable_state(run.acc.unwrap_model(run.loss_fn).model)
        save_checkpoint(
            run.out / "checkpoints",
            run.step,
            weights,
            run.optimizer,
            run.scheduler,
            run.state(),
            run.config.keep_checkpoints,
            rngs=rngs,
        )


def _finish(run: Run, result: TrainResult) -> None:
    """The last evaluation, then the adapter or model, tokenizer and base.json."""
    from finetune.modeling import save_run

    final = run.evaluate()
    if final:
        _append(run, final)
        result.dev_loss, result.dev_accuracy = final.get("dev_loss"), final.get("dev_accuracy")
    if run.acc.is_main_process:
        paths = save_run(run.acc.unwrap_model(run.loss_fn).model, run.tokenizer, run.config, run.out)
        result.adapter, result.model, result.tokenizer = paths.get("adapter"), paths.get("model"), paths["tokenizer"]
