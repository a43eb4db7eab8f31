"""Search over ReAct steps, judged step by step by a process reward model (:mod:`agent.strategies.prm`).

- :func:`best_of_n`: N sampled trajectories (drawn as :mod:`~agent.strategies.consistency` draws them), each
  step scored on its own prefix; the trajectory with the best aggregate score (``min``, ``last`` or
  ``product`` of its steps) gives the answer. The answer each aggregate would give is kept beside it.
- :func:`beam_search`: B beams. Each is expanded by K sampled next steps drawn in one batch (one
  ``complete(n=K)`` call: the K share the beam's prompt, so llama.cpp computes it once); the distinct ones
  are taken (their tool calls run, each distinct call once over the whole search, :class:`ToolCalls`),
  the PRM scores each new step, and the B best unfinished children go on. A child that gives a final
  answer is finished; the answer is the vote of the finished beams, each weighted by its aggregate score.

Both stop within a budget of generated tokens when one is given: a beam search caps each sample's length by
what is left, and never draws past it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from agent.core.react import ReActAgent
from agent.core.steps import Trajectory
from agent.strategies.consistency import normalize_answer, self_consistency
from agent.strategies.prm import AGGREGATES, CachedScorer, aggregate
from agent.strategies.verify import weighted_vote
from tools.base import Tool, ToolError


class ToolCalls:
    """Tools that run each distinct call once: the same (tool, arguments) gives the same result or error."""

    def __init__(self) -> None:
        self.calls = 0  # calls that ran
        self.hits = 0  # calls answered from an earlier run
        self._done: dict[tuple[str, str], tuple[str | None, ToolError | None]] = {}

    def wrap(self, tools: list[Tool]) -> list[Tool]:
        """``tools`` with their functions memoised (schemas and names unchanged)."""
        return [replace(tool, fn=self._memo(tool)) for tool in tools]

    def _memo(self, tool: Tool) -> Callable[..., str]:
        def run(**args: Any) -> str:
            key = (tool.name, json.dumps(args, sort_keys=True, default=str))
            if key in self._done:
                self.hits += 1
            else:
                self.calls += 1
                try:
                    self._done[key] = (tool.run(**args), None)
                except ToolError as err:
                    self._done[key] = (None, err)
            result, error = self._done[key]
            if error is not None:
                raise error
            return result

        return run


@dataclass
class Beam:
    """A trajectory in the search and the PRM's score of each of its steps."""

    traj: Trajectory
    scores: list[float] = field(default_factory=list)

    def value(self, how: str) -> float:
        return aggregate(self.scores, how) if self.scores else 0.0


@dataclass
class StepSearch:
    """What :func:`best_of_n` and :func:`beam_search` return.

    Attributes:
        answer: the chosen answer (``None`` when no trajectory finished).
        best: the trajectory behind it (the best-scored one that gives it).
        beams: every finished trajectory (best-of-N: all N) with its step scores.
        weighted: beam search: each answer's summed aggregate score.
        stats: ``tokens`` generated, ``prm_calls``, ``tool_calls``, ``seconds`` and the search's own counts.
    """

    answer: str | None
    best: Trajectory
    beams: list[Beam]
    weighted: dict[str, float] | None
    stats: dict[str, Any]


def best_of_n(agent: ReActAgent, scorer: CachedScorer, question: str, n: int, how: str = "min") -> StepSearch:
    """``n`` sampled trajectories ranked by the aggregate of their step scores (``how``); the best one answers."""
    if how not in AGGREGATES:
        raise ValueError(f"aggregate must be one of {', '.join(AGGREGATES)}, not {how!r}")
    t0 = time.perf_counter()
    vote = self_consistency(agent, question, n)
    beams = [Beam(t, scorer.scores(question, t.steps)) for t in vote.trajectories]
    by = {h: _top(beams, h) for h in AGGREGATES}
    best = by[how]
    stats = {
        "tokens": sum(int(t.stats.get("tokens", 0)) for t in vote.trajectories),
        "prm": scorer.name,
        **_roles(scorer),
        "prm_calls": scorer.calls,
        "aggregate": how,
        "answer_by": {h: b.traj.answer for h, b in by.items()},  # what each aggregate would answer
        "seconds": round(time.perf_counter() - t0, 3),
    }
    return StepSearch(best.traj.answer, best.traj, beams, None, stats)


def beam_search(
    agent: ReActAgent,
    scorer: CachedScorer,
    question: str,
    *,
    beam: int = 4,
    expand: int = 4,
    how: str = "min",
    budget: int | None = None,
    tools: ToolCalls | None = None,
) -> StepSearch:
    """Step-level beam search over ReAct steps, ``beam`` states a depth, ``expand`` samples per state.

    Args:
        agent: draws and takes the steps (its config gives ``max_steps``, the temperature and the seed);
            give it tools wrapped by ``tools`` so each distinct call runs once.
        budget: the most tokens generated in all (``None``: no limit but ``max_steps``).

    Raises:
        ValueError: ``beam`` or ``expand`` below 1, or an unknown aggregate.
    """
    if beam < 1 or expand < 1:
        raise ValueError(f"beam and expand must be at least 1, got {beam} and {expand}")
    if how not in AGGREGATES:
        raise ValueError(f"aggregate must be one of {', '.join(AGGREGATES)}, not {how!r}")
    t0 = time.perf_counter()
    cfg = agent.config
    frontier = [Beam(Trajectory(question, model=getattr(agent.model, "name", ""), tools=list(agent.tools)))]
    finished: list[Beam] = []
    spent = expansions = 0
    kept_per_depth: list[int] = []
    for depth in range(cfg.max_steps):
        children: list[Beam] = []
        for i, parent in enumerate(frontier):
            left = None if budget is None else (budget - spent) // expand
            if left is not None and left < 1:
                break
            seed = None if cfg.seed is None else cfg.seed + 1000 * depth + i
            out = agent.propose(parent.traj, expand, cfg.temperature, seed, max_tokens=left)
            spent += out.completion_tokens
            expansions += 1
            share = out.completion_tokens // max(1, len(out.texts))
            for text in dict.fromkeys(out.texts):  # the same text twice is the same step
                step = agent.take(parent.traj, text)
                step.tokens = share
                traj = Trajectory(question, [*parent.traj.steps, step], step.answer, parent.traj.model,
                                  parent.traj.tools)
                child = Beam(traj, [*parent.scores, scorer.score(question, traj.steps)])
                (finished if step.answer is not None else children).append(child)
        frontier = sorted(children, key=lambda b: -b.value(how))[:beam]
        kept_per_depth.append(len(frontier))
        if not frontier or budget is not None and budget - spent < expand:
            break
    answer, weighted = weighted_vote([b.traj.answer for b in finished], [b.value(how) for b in finished])
    if finished:
        key = normalize_answer(answer)
        best = max((b for b in finished if normalize_answer(b.traj.answer) == key), key=lambda b: b.value(how))
    else:
        best = (frontier or [Beam(Trajectory(question))])[0]
    for b in finished:
        b.traj.stats = {"steps": len(b.traj.steps), "tokens": sum(s.tokens for s in b.traj.steps), "finished": True}
    stats = {
        "tokens": spent,
        "prm": scorer.name,
        **_roles(scorer),
        "prm_calls": scorer.calls,
        "prm_hits": scorer.hits,
        "tool_calls": tools.calls if tools else None,
        "tool_hits": tools.hits if tools else None,
        "expansions": expansions,
        "finished": len(finished),
        "kept_per_depth": kept_per_depth,
        "beam": beam,
        "expand": expand,
        "aggregate": how,
        "budget": budget,
        "seconds": round(time.perf_counter() - t0, 3),
    }
    return StepSearch(answer, best.traj, finished, weighted, stats)


def _roles(scorer: CachedScorer) -> dict[str, Any]:
    """The model proposes every step; the PRM judges (``model_only`` as in :func:`search.contract.provenance`)."""
    return {"proposer": "model", "judge": scorer.judge, "model_only": scorer.judge == "model"}


def _top(beams: list[Beam], how: str) -> Beam:
    """The best-scored beam under ``how`` (ties: the earliest)."""
    return max(beams, key=lambda b: (b.value(how), -beams.index(b)))


__all__ = ["Beam", "StepSearch", "ToolCalls", "beam_search", "best_of_n"]
