"""Evaluation harness: run a model and a strategy over a data set, item by item, and score it.

The contract (:mod:`agent.app.evaluate.types`): a *task* (:class:`EvalTask`: ``gsm8k``, ``game24``, ``qa``)
loads :class:`Item` s from a data file and checks a predicted answer. Eval maps a strategy
(:func:`agent.strategies.programs.run_strategy`, configured by one
:class:`~agent.strategies.config.StrategyConfig`) over the items; each item's run record
(:mod:`agent.core.record`), with its score, is one JSON line written as it finishes (a rerun skips
what is already there), and the run returns a :class:`Summary`.

Example:
    >>> from agent.core.backends.fake import ScriptedModel
    >>> from agent.app.evaluate import Item, get_task, run_eval
    >>> from agent.strategies.config import StrategyConfig
    >>> items = [Item(0, "What is 6 times 7?", "42")]
    >>> model = ScriptedModel(["42"])
    >>> run_eval(get_task("qa"), items, model, StrategyConfig("direct"), "/tmp/doc-eval.jsonl").n  # doctest: +SKIP
    1
"""

from agent.app.evaluate.report import summarize
from agent.app.evaluate.runner import run_eval
from agent.app.evaluate.tasks import TASKS, get_task
from agent.app.evaluate.types import EvalTask, Item, Summary
from agent.strategies.config import STRATEGIES, StrategyConfig, StrategyName

__all__ = [
    "STRATEGIES",
    "TASKS",
    "EvalTask",
    "Item",
    "StrategyConfig",
    "StrategyName",
    "Summary",
    "get_task",
    "run_eval",
    "summarize",
]
