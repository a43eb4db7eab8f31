"""``solve()``: one call from a question to a :class:`search.SearchResult`."""

from __future__ import annotations

import dataclasses
from typing import Any

from agent.core.model import Model
from search.bfs import BFS
from search.contract import SearchConfig, SearchResult, Task
from search.dfs import DFS
from search.engine import Engine
from search.evaluators import make_evaluator
from search.mcts import MCTS
from search.meter import MeteredModel
from search.tasks import get_task

ALGORITHMS = {"bfs": BFS, "dfs": DFS, "mcts": MCTS}
EVALUATORS = ("value", "vote", "logprob")
TASKS = ("game24", "gsm8k", "generic")


def _config(**fields: Any) -> SearchConfig:
    known = {f.name for f in dataclasses.fields(SearchConfig)}
    unknown = sorted(set(fields) - known)
    if unknown:
        raise ValueError(f"unknown search option(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    config = SearchConfig(**fields)
    for name in ("beam", "n_evaluate", "max_nodes", "iterations"):
        if getattr(config, name) < 1:
            raise ValueError(f"{name} must be at least 1, not {getattr(config, name)}")
    for name in ("n_generate", "max_depth"):
        if getattr(config, name) is not None and getattr(config, name) < 1:
            raise ValueError(f"{name} must be at least 1, not {getattr(config, name)}")
    if config.temperature < 0:
        raise ValueError(f"temperature must be >= 0, not {config.temperature}")
    return config


def solve(
    question: str,
    task: str | Task = "game24",
    model: Model | None = None,
    algorithm: str = "bfs",
    evaluator: object = None,
    beam: int | None = None,
    n_generate: int | None = None,
    n_evaluate: int = 3,
    max_depth: int | None = None,
    seed: int = 0,
    temperature: float = 0.7,
    task_options: dict[str, Any] | None = None,
    **options: Any,
) -> SearchResult:
    """Search for an answer to ``question`` with Tree of Thoughts.

    Args:
        question: the problem (for Game of 24: ``"4 9 10 13"``).
        task: ``"game24"``, ``"gsm8k"``, ``"generic"`` or a :class:`search.Task`.
        model: the model; ``None`` loads the embedded default (:func:`agent.load_model`).
        algorithm: ``"bfs"`` (the paper's beam search), ``"dfs"`` or ``"mcts"``.
        evaluator: ``None``: the task's ``default_evaluator`` if it has one (``"logprob"`` for game24),
            else ``"value"``; ``"value"`` or ``"vote"`` (the model judges: model-only), ``"logprob"``,
            an :class:`search.Evaluator`, a :class:`search.evaluators.LearnedScorer`, or a
            callable ``f(question, state) -> float`` (a verifier: reported as not model-only).
        beam: BFS states kept per level (the paper's b); ``None``: the task's ``default_beam`` if it has one
            (10 for game24), else 5.
        n_generate: propose samples per expansion (``None``: the task's default).
        n_evaluate: value samples or votes per judgement.
        max_depth: the most steps (``None``: the task's).
        seed: base seed; the run is repeatable.
        temperature: sampling temperature.
        task_options: options for a task given by name (e.g. ``{"grammar": "off"}`` for game24).
        **options: other :class:`search.SearchConfig` fields (``selection``, ``value_threshold``,
            ``max_nodes``, ``iterations``, ``exploration``).

    Returns:
        The answer, the chosen path, the tree and the counters.

    Raises:
        ValueError: an unknown task, algorithm, evaluator or option, or a bad value.
        TypeError: ``task`` is neither a name nor a Task.

    Example:
        >>> result = solve("4 9 10 13", task="game24", algorithm="bfs", beam=5)  # doctest: +SKIP
        >>> result.answer, result.stats["nodes"]  # doctest: +SKIP
    """
    if algorithm not in ALGORITHMS:
        raise ValueError(f"unknown algorithm {algorithm!r}: use one of {', '.join(ALGORITHMS)}")
    if isinstance(evaluator, str) and evaluator not in EVALUATORS:
        raise ValueError(f"unknown evaluator {evaluator!r}: use one of {', '.join(EVALUATORS)}")
    if isinstance(task, str):
        task = get_task(task, **(task_options or {}))
    elif not isinstance(task, Task):
        raise TypeError(f"{task!r} is not a task: give a name ({', '.join(TASKS)}) or a search.Task")
    if evaluator is None:
        evaluator = getattr(task, "default_evaluator", "value")
    if beam is None:
        beam = getattr(task, "default_beam", SearchConfig.beam)
    config = _config(
        beam=beam,
        n_generate=n_generate,
        n_evaluate=n_evaluate,
        max_depth=max_depth,
        seed=seed,
        temperature=temperature,
        **options,
    )
    search = ALGORITHMS[algorithm](config)
    if model is None:
        from agent.core.load import load_model

        model = load_model()
    metered = MeteredModel(model, seed)
    judge = make_evaluator(evaluator, metered, task, n_evaluate, temperature)
    return search.search(Engine(question, task, metered, judge, config, algorithm))
