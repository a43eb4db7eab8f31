"""Tree-of-Thoughts search: :func:`solve` and the contract (:mod:`search.contract`) every task and search shares.

A *task* (Game of 24, GSM8K, free text, or your own) says how to start from a question,
propose next steps with a model, apply a step, recognise a finished state and read its
answer, and how to ask the model to judge states. A *search* (``bfs``, ``dfs``, ``mcts``)
grows a tree over the task with a model and an *evaluator*, and returns a frozen
:class:`SearchResult` holding the answer, the chosen path and the whole tree (a
``networkx.DiGraph``).

Example:
    >>> from agent.core.backends.fake import ScriptedModel
    >>> from search import solve
    >>> move = "13 - 9 = 4 (left: 4 4 10)"
    >>> model = ScriptedModel(lambda prompt: move if prompt.endswith("steps:\\n") else " likely")
    >>> result = solve("4 9 10 13", task="game24", model=model, beam=1, max_depth=1)
    >>> result.best_path, result.stats["nodes"]
    (['13 - 9 = 4 (left: 4 4 10)'], 2)
"""

from search.contract import (
    Evaluation,
    Evaluator,
    EvaluatorSpec,
    Query,
    SearchConfig,
    SearchResult,
    State,
    Task,
    Validator,
)
from search.solve import ALGORITHMS, EVALUATORS, TASKS, solve

__all__ = [
    "ALGORITHMS",
    "EVALUATORS",
    "TASKS",
    "Evaluation",
    "Evaluator",
    "EvaluatorSpec",
    "Query",
    "SearchConfig",
    "SearchResult",
    "State",
    "Task",
    "Validator",
    "solve",
]
