"""The evaluation loop: one strategy over the items, each result appended as soon as it is known.

Every item's record is appended to the results file with :func:`agent.core.jsonl.append_jsonl`, so a
crash loses at most the item in flight; a rerun with the same file skips the items already
there (same task, strategy, model, index and question) without calling the model. An ``sc`` run with
more samples than one already in the file (same settings otherwise) grows it: each item keeps its
earlier samples and draws only the rest. ``parallel=N`` runs N greedy items at once, their model calls
served as one batch (:class:`~agent.core.backends.batching.BatchingModel`; llama.cpp decodes the N sequences
together): 1.5x the items per second on 2 CPU cores at N=4; batch rounding changes some greedy answers.
"""

from __future__ import annotations

import contextlib
import logging
import re
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from agent.app.evaluate.faithfulness import check_chain
from agent.app.evaluate.report import read_results, summarize
from agent.app.evaluate.types import EvalTask, Item, Summary
from agent.core.jsonl import append_jsonl
from agent.core.model import Model
from agent.core.record import sample_trajectories
from agent.core.text import escape_surrogates
from agent.strategies.config import AGENTIC, StrategyConfig
from agent.strategies.programs import Run, run_strategy
from agent.strategies.verify import Verifier, load_verifier
from tools.base import Tool, load_tools

log = logging.getLogger(__name__)
PARALLEL = ("react", "cot", "direct")  # greedy strategies whose items may run at once (no seeds, no logprobs)
OnRecord = Callable[[dict[str, Any], bool], None]  # (record, was it skipped as already done)


def _key(rec: dict[str, Any]) -> tuple[Any, Any]:
    return rec.get("index"), rec.get("question")


def _item_key(item: Item) -> tuple[Any, Any]:
    """The key of ``item``'s record as written (a lone surrogate in the question is read back as its escape)."""
    return item.index, escape_surrogates(item.question)


def done_records(
    out: str | Path, task: str, variant: str, model: str, seed: int = 0
) -> dict[tuple[Any, Any], dict[str, Any]]:
    """Records already in ``out`` for this run (same task, model, strategy, options and seed), by (index, question).

    Records written before the seed was recorded count as seed 0, the default.
    """
    if not Path(out).exists():
        return {}
    run = (task, escape_surrogates(variant), escape_surrogates(model), seed)  # as written
    return {
        _key(r): r
        for r in read_results(out)
        if (r.get("task"), r.get("variant", r.get("strategy")), r.get("model"), r.get("seed", 0)) == run
    }


def _sampling(variant: str) -> str:
    """An sc variant without its sample count and verifier: the settings that decide what each sample is."""
    rest = re.sub(r"(samples=[^,)]*|verifier=[^,)]*)(, )?", "", variant).replace(", )", ")")
    return "sc" if rest == "sc()" else rest


def earlier_samples(out: str | Path, task: str, model: str, config: StrategyConfig) -> dict[tuple[Any, Any], dict]:
    """For an ``sc`` run: by item, the record in ``out`` of a smaller sc run (same model, sampling settings
    and seed) that holds the most samples; its samples are reused, the rest drawn."""
    if config.strategy != "sc" or not Path(out).exists():
        return {}
    best: dict[tuple[Any, Any], dict] = {}
    model, sampling = escape_surrogates(model), _sampling(escape_surrogates(config.variant))  # as written
    for r in read_results(out):
        variant = r.get("variant", "")
        if (r.get("task"), r.get("model"), r.get("strategy"), r.get("seed", 0)) != (task, model, "sc", config.seed):
            continue
        n = _n_samples(r)
        if _sampling(variant) == sampling and _n_samples(best.get(_key(r), {})) < n < config.samples:
            best[_key(r)] = r
    return best


def _n_samples(record: dict[str, Any]) -> int:
    return len(sample_trajectories(record)) if record else 0


def resolve(config: StrategyConfig, task: EvalTask) -> StrategyConfig:
    """``config`` for ``task``: its search task, the task's default strategy, checked as a whole.

    Raises:
        ConfigError: options that cannot go together (before any model loads).
    """
    return replace(config, task=task.search_task).resolved(task.default_strategy)


def evaluate_item(
    task: EvalTask,
    item: Item,
    model: Model,
    config: StrategyConfig,
    tools: list[Tool] | None = None,
    verifier: Verifier | None = None,
    earlier: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Run the strategy on one item and score it; returns the JSON-ready run record
    (:mod:`agent.core.record`) with the item's fields: ``index``, ``task``, ``gold``, ``correct``, ``prompt``
    (what the model read; ``question`` is the item as the data file gives it) and ``faithfulness``.

    ``config``: resolved for the task (:func:`resolve`). ``earlier``: an ``sc`` record of this item with fewer
    samples; its samples are kept and its seconds counted.
    """
    prompt = task.prompt(item)
    run = Run(
        model,
        tools,
        verifier,
        earlier=sample_trajectories(earlier) if earlier else (),
        search_question=item.question if task.search_task == "game24" else None,
    )
    record = run_strategy(prompt, replace(config, seed=config.seed + item.index), run)  # repeatable per item
    seconds = record.seconds + (float(earlier.get("seconds") or 0) if earlier else 0.0)
    checked, right = check_chain(record.chain)
    return {
        "index": item.index,
        "task": task.name,
        **record.to_dict(),
        "question": item.question,
        "prompt": prompt,
        "gold": item.gold,
        "correct": task.check(item, record.answer),
        "seed": config.seed,
        "seconds": round(seconds, 3),
        "faithfulness": None if record.chain is None else {"checked": checked, "correct": right},
    }


def run_eval(
    task: EvalTask,
    items: list[Item],
    model: Model,
    config: StrategyConfig,
    out: str | Path,
    tools: list[Tool] | None = None,
    on_record: OnRecord | None = None,
    verifier: Verifier | None = None,
    parallel: int = 1,
) -> Summary:
    """Evaluate ``model`` with ``config.strategy`` on ``items``, appending each record to ``out``.

    Args:
        task: scores the answers.
        items: what to evaluate (already limited).
        model: any :class:`~agent.core.model.Model` (a scripted one in tests).
        config: the strategy and its settings (resolved here for ``task``).
        out: the results JSONL; items already in it are skipped.
        tools: the ReAct tools; ``None`` gives the defaults (calculator, python).
        on_record: called after each item, e.g. to advance a progress bar.
        verifier: weights the votes of ``sc``; ``None`` loads ``config.verifier`` when it names one.
        parallel: items run at once (greedy react, cot and direct only), their calls batched; the file
            then holds records in the order they finish, each ``seconds`` is that item's own wall time,
            and the summary adds the run's ``wall_seconds_per_item`` (the throughput).

    Raises:
        ValueError: ``parallel`` > 1 for a sampled or searching strategy, or a model that cannot batch;
            conflicting options (:class:`~agent.strategies.config.ConfigError`).

    Returns:
        The summary over all ``items`` (those skipped count with their earlier records).
    """
    config = resolve(config, task)
    check_parallel(config, parallel, model)
    model_name = getattr(model, "name", type(model).__name__)
    if tools is None and config.strategy in AGENTIC:
        tools = load_tools()  # once for the run (not per item), and named in every record
    if verifier is None and config.verifier is not None:
        verifier = load_verifier(config.verifier)
    done = done_records(out, task.name, config.variant, model_name, config.seed)
    grow = earlier_samples(out, task.name, model_name, config)
    pending = [item for item in items if _item_key(item) not in done]
    results: dict[int, dict[str, Any]] = {}

    def finish(item: Item, rec: dict[str, Any]) -> None:
        append_jsonl(out, rec)
        log.info(
            "item %d: %s (gold %s) %s", item.index, rec["answer"], item.gold, "correct" if rec["correct"] else "wrong"
        )
        results[id(item)] = rec
        if on_record is not None:
            on_record(rec, False)

    for item in items:  # those already in the file count first, as the progress bar's start
        rec = done.get(_item_key(item))
        if rec is not None:
            results[id(item)] = rec
            if on_record is not None:
                on_record(rec, True)
    t0 = time.perf_counter()
    if parallel > 1 and len(pending) > 1:
        _run_parallel(task, pending, model, config, tools, verifier, parallel, finish, grow)
    else:
        for item in pending:
            finish(item, evaluate_item(task, item, model, config, tools, verifier, grow.get(_item_key(item))))
    records, skipped = [results[id(item)] for item in items], len(items) - len(pending)
    summary = summarize(records, out=str(out))
    return Summary(
        task.name,
        str(config.strategy),
        model_name,
        summary.n,
        summary.correct,
        summary.tokens_per_item,
        summary.seconds_per_item,
        summary.faithfulness,
        summary.n_checked,
        str(out),
        {"skipped": skipped}
        | (
            {"parallel": parallel, "wall_seconds_per_item": round((time.perf_counter() - t0) / len(pending), 3)}
            if parallel > 1 and pending
            else {}
        ),
        summary.roles,
    )


def is_remote(model: Model | str | None) -> bool:
    """Whether a model (or model spec) answers over the network: its calls may overlap, a server serves them."""
    if isinstance(model, str) or model is None:
        return bool(model) and model.startswith(("http://", "https://"))
    return bool(getattr(model, "concurrent", False))


def check_parallel(config: StrategyConfig, parallel: int, model: Model | None = None) -> None:
    """Refuse ``parallel`` > 1 where items cannot share batches (the model is checked when given).

    A remote model (an OpenAI-compatible server) takes any strategy: its items are independent requests,
    each with its own seed, and the server decides how to serve them at once.

    Raises:
        ValueError: a sampled or searching strategy on a local model, or a local model without ``complete_many``.
    """
    if parallel < 1:
        raise ValueError(f"parallel must be at least 1, got {parallel}")
    if parallel == 1 or is_remote(model if model is not None else config.model):
        return
    if config.strategy not in PARALLEL or (config.temperature or 0) > 0:
        raise ValueError(
            f"--parallel runs greedy {', '.join(PARALLEL)} on a local model (seeded samples and log-probability "
            f"judges need one item at a time; an OpenAI-compatible server takes any); got --strategy {config.strategy}"
            + (f" at temperature {config.temperature:g}" if config.temperature else "")
        )
    if model is not None and not hasattr(model, "complete_many"):
        raise ValueError(f"--parallel needs a model that batches prompts (llama.cpp, transformers), not {model.name}")


def _run_parallel(task, pending, model, config, tools, verifier, parallel, finish, grow=None) -> None:
    """Run ``pending`` items ``parallel`` at a time, one thread each: a local model's calls batched, a remote
    model's sent as concurrent requests."""
    from concurrent.futures import ThreadPoolExecutor, as_completed

    from agent.core.backends.batching import BatchingModel

    if hasattr(model, "reserve"):
        model.reserve(parallel)  # llama.cpp: a KV cache for that many sequences; a server: that many requests
    remote = is_remote(model)
    with contextlib.ExitStack() as stack:
        shared = model if remote else stack.enter_context(BatchingModel(model, max_batch=parallel))
        pool = stack.enter_context(ThreadPoolExecutor(parallel))
        grow = grow or {}
        futures = {pool.submit(evaluate_item, task, item, shared, config, tools, verifier, grow.get(_item_key(item))):
                   item for item in pending}
        try:
            for future in as_completed(futures):
                finish(futures[future], future.result())
        except BaseException:
            for future in futures:  # a system failure (or Ctrl-C) stops the run, not just this item
                future.cancel()
            raise
