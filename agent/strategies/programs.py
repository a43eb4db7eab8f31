"""The strategies: how a model answers one question. Each returns one :class:`~agent.core.record.RunRecord`.

- ``direct``: ask for the answer only, one line (the paper's IO prompting).
- ``cot``: think step by step in prose, then ``The answer is N``.
- ``react``: a :class:`~agent.core.react.ReActAgent` with the tools (default: calculator, python).
- ``sc``: self-consistency, ``samples`` ReAct trajectories majority-voted, or voted by a learned
  verifier's scores (:mod:`agent.strategies.verify`).
- ``bon``, ``beam``: best of N trajectories, or a step-level beam search, a process reward model scoring each
  step (:mod:`agent.strategies.stepsearch`, :mod:`agent.strategies.prm`).
- ``tot``: a Tree-of-Thoughts search (:func:`search.solve`), imported when used.

:func:`run_strategy` is the one entry point (``agent solve`` and ``agent eval`` both call it).
"""

from __future__ import annotations

import functools
import re
import string
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent.core.model import Completion, Model
from agent.core.record import RunRecord, Sample
from agent.core.steps import Step, Trajectory
from agent.strategies.config import AGENTIC, STEP_SEARCH, StrategyConfig
from tools.base import Tool

if TYPE_CHECKING:
    from agent.strategies.prm import StepScorer
    from agent.strategies.verify import Verifier

PROMPTS: dict[str, str] = {
    "direct_system": "Answer with the final answer only, on one line, with no explanation.",
    "cot_system": (
        "Think step by step in prose, writing each calculation as a = b. End with a line of the form 'The answer is N.'"
    ),
    "user": "Question: $question",
}
_ANSWER = re.compile(r"(?:the )?(?:final )?answer is\s*:?\s*(.+)", re.IGNORECASE)


@dataclass
class Run:
    """What a strategy gets besides its configuration.

    Attributes:
        model: the model (any :class:`~agent.core.model.Model`).
        tools: the ReAct tools (``None``: calculator and python).
        verifier: sc: scores the samples (``None``: load ``config.verifier`` if it names one, else majority vote).
        prm: bon, beam: scores each step (``None``: load ``config.prm``, once per process and spec).
        earlier: sc: trajectories of a smaller run of this question with the same settings; only the rest are drawn.
        on_step: react, sc: called with each step as it happens (the terminal trace).
        search_question: tot: the question as the search task reads it (Game of 24: the four numbers).
        tree_out: tot: write the search tree here (``.html`` page, ``.json`` or ``.graphml``).
    """

    model: Model
    tools: list[Tool] | None = None
    verifier: Verifier | None = None
    earlier: Sequence[Trajectory] = ()
    prm: StepScorer | None = None
    on_step: Callable[[Step], None] | None = None
    search_question: str | None = None
    tree_out: str | Path | None = None


Strategy = Callable[[str, StrategyConfig, Run], RunRecord]


def _render(name: str, **values: str) -> str:
    """A named prompt; a missing variable raises ``KeyError`` rather than leaving ``$var`` in the text."""
    return string.Template(PROMPTS[name]).substitute(**values)


def _chat(model: Model, system: str, question: str) -> str:
    return model.render(
        [
            {"role": "system", "content": _render(system)},
            {"role": "user", "content": _render("user", question=question)},
        ]
    )


def cot_answer(text: str) -> str | None:
    """The answer of a chain of thought: after the last ``The answer is``, else its last line."""
    found = _ANSWER.findall(text)
    if found:
        return found[-1].strip().rstrip(".").strip() or None
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else None


def _one_completion(question: str, strategy: str, answer: str | None, out: Completion) -> RunRecord:
    """The record of a single completion: one step, the completion as its thought."""
    step = Step(thought=out.text, answer=answer, tokens=out.completion_tokens)
    return RunRecord(question, answer, strategy, steps=[step], tokens=out.completion_tokens,
                     prompt_tokens=out.prompt_tokens, chain=out.text if strategy == "cot" else None)


def _complete(question: str, cfg: StrategyConfig, run: Run, system: str, max_tokens: int) -> Completion:
    return run.model.complete(
        _chat(run.model, system, question), max_tokens=max_tokens, temperature=cfg.temperature or 0.0, seed=cfg.seed
    )


def direct(question: str, cfg: StrategyConfig, run: Run) -> RunRecord:
    """One line: the answer only."""
    out = _complete(question, cfg, run, "direct_system", min(cfg.max_tokens, 64))
    lines = [line.strip() for line in out.text.strip().splitlines() if line.strip()]
    return _one_completion(question, "direct", cot_answer(lines[0]) if lines else None, out)


def cot(question: str, cfg: StrategyConfig, run: Run) -> RunRecord:
    """A chain of thought in prose ending in ``The answer is N``; its arithmetic is checked for faithfulness."""
    out = _complete(question, cfg, run, "cot_system", cfg.max_tokens)
    return _one_completion(question, "cot", cot_answer(out.text), out)


def _agent(cfg: StrategyConfig, run: Run):
    from agent.core.react import ReActAgent, ReActConfig
    from tools.base import load_tools

    config = ReActConfig(max_steps=cfg.max_steps, temperature=cfg.temperature_or_default, seed=cfg.seed,
                         grammar=cfg.grammar)
    return ReActAgent(run.model, load_tools() if run.tools is None else run.tools, config, on_step=run.on_step)


def _reasoning(traj: Trajectory) -> str:
    """The model's own claims: thoughts and final answers (tool results are right by construction)."""
    return "\n".join(part for s in traj.steps for part in (s.thought, s.answer) if part)


def react(question: str, cfg: StrategyConfig, run: Run) -> RunRecord:
    """One ReAct trajectory."""
    traj = _agent(cfg, run).run(question)
    return RunRecord(question, traj.answer, "react", tools=traj.tools, steps=traj.steps,
                     tokens=int(traj.stats.get("tokens", 0)),
                     stats={k: v for k, v in traj.stats.items() if k != "tokens"}, chain=_reasoning(traj))


def sc(question: str, cfg: StrategyConfig, run: Run) -> RunRecord:
    """Self-consistency over ReAct: ``cfg.samples`` trajectories, majority vote (or votes weighted by a verifier)."""
    from agent.strategies.consistency import self_consistency

    agent = _agent(cfg, run)
    vote = self_consistency(agent, question, cfg.samples or 1, run.earlier)
    samples = [Sample(t.answer, t.steps) for t in vote.trajectories]
    answer, best, weighted = vote.answer, vote.best, None
    verifier = run.verifier
    if verifier is None and cfg.verifier is not None:
        from agent.strategies.verify import load_verifier

        verifier = load_verifier(cfg.verifier)
    if verifier is not None:
        from agent.strategies.verify import verified_vote

        verdict = verified_vote(verifier, question, vote.trajectories)
        answer, best, weighted = verdict.answer, verdict.best, verdict.totals
        for sample, score in zip(samples, verdict.scores):
            sample.score = score
    stats = {"reused": min(len(run.earlier), cfg.samples or 1)} if run.earlier else {}
    return RunRecord(
        question, answer, "sc", tools=list(agent.tools), steps=best.steps,
        tokens=sum(int(t.stats.get("tokens", 0)) for t in vote.trajectories), stats=stats,
        samples=samples, votes=vote.votes, weighted=weighted,
        chain="\n".join(_reasoning(t) for t in vote.trajectories),
    )


def _prm(cfg: StrategyConfig, run: Run):
    from agent.strategies.prm import CachedScorer

    return CachedScorer(run.prm if run.prm is not None else _load_prm(cfg.prm or "default", run.model))


@functools.lru_cache(maxsize=4)
def _load_prm(spec: str, policy: Model) -> StepScorer:
    """A PRM loaded once per process, spec and policy (a model PRM is a model load, or an adapter on the policy's base)."""
    from agent.strategies.prm import load_prm

    return load_prm(spec, policy)


def _step_record(question: str, strategy: str, result, tools: list[str]) -> RunRecord:
    samples = [Sample(b.traj.answer, b.traj.steps, score=round(b.value(result.stats["aggregate"]), 6))
               for b in result.beams]
    return RunRecord(
        question, result.answer, strategy, tools=tools, steps=result.best.steps, tokens=int(result.stats["tokens"]),
        stats={k: v for k, v in result.stats.items() if k != "tokens"}, samples=samples, weighted=result.weighted,
        chain="\n".join(_reasoning(b.traj) for b in result.beams) or _reasoning(result.best),
    )


def bon(question: str, cfg: StrategyConfig, run: Run) -> RunRecord:
    """Best of N: ``cfg.samples`` sampled ReAct trajectories, the one whose steps the PRM scores best answers."""
    from agent.strategies.stepsearch import best_of_n

    agent = _agent(cfg, run)
    result = best_of_n(agent, _prm(cfg, run), question, cfg.samples or 1, cfg.aggregate or "min")
    return _step_record(question, "bon", result, list(agent.tools))


def beam(question: str, cfg: StrategyConfig, run: Run) -> RunRecord:
    """Step-level beam search over ReAct steps: ``cfg.beam`` beams, ``cfg.expand`` drawn steps each, the PRM judging."""
    from agent.core.react import ReActAgent, ReActConfig
    from agent.strategies.stepsearch import ToolCalls, beam_search
    from tools.base import load_tools

    calls = ToolCalls()
    tools = calls.wrap(load_tools() if run.tools is None else run.tools)
    config = ReActConfig(max_steps=cfg.max_steps, temperature=cfg.temperature_or_default, seed=cfg.seed,
                         grammar=cfg.grammar)
    agent = ReActAgent(run.model, tools, config)
    result = beam_search(agent, _prm(cfg, run), question, beam=cfg.beam or 1, expand=cfg.expand or 1,
                         how=cfg.aggregate or "min", budget=cfg.budget, tools=calls)
    return _step_record(question, "beam", result, list(agent.tools))


def tot(question: str, cfg: StrategyConfig, run: Run) -> RunRecord:
    """A Tree-of-Thoughts search over the task's search problem; the record carries the whole tree."""
    import json

    from search import solve
    from search.tree import save, to_json

    kwargs = {} if cfg.temperature is None else {"temperature": cfg.temperature}
    result = solve(
        run.search_question or question,
        task=cfg.task,
        model=run.model,
        algorithm=cfg.algorithm or "bfs",
        evaluator=cfg.evaluator,
        beam=cfg.beam,
        n_generate=cfg.n_generate,
        task_options={} if cfg.proposer is None else {"propose_by": cfg.proposer},
        seed=cfg.seed,
        **kwargs,
    )
    stats = {k: v for k, v in result.stats.items() if isinstance(v, (int, float, str, bool))}
    if run.tree_out is not None:
        save(result.tree, run.tree_out)
    return RunRecord(
        question, result.answer, "tot", tokens=int(stats.get("completion_tokens", 0)),
        prompt_tokens=int(stats.get("prompt_tokens", 0)), stats=stats,
        tree={"best_path": list(result.best_path), **json.loads(to_json(result.tree))},
        chain="\n".join(result.best_path),
    )


def _roles(cfg: StrategyConfig, run: Run) -> dict[str, Any]:
    """Who proposed and who judged a run that did not search (tot, bon and beam say it themselves). The model
    writes every step of direct, cot, react and sc; the answer is its own (sc: its most frequent one), unless a verifier (a program fit on gold
    labels) weighs the votes. ``model_only`` as in :func:`search.contract.provenance`."""
    judge = "program" if cfg.strategy == "sc" and (run.verifier is not None or cfg.verifier is not None) else "model"
    return {"proposer": "model", "judge": judge, "model_only": judge == "model"}


STRATEGY_FUNCTIONS: dict[str, Strategy] = {
    "direct": direct, "cot": cot, "react": react, "sc": sc, "bon": bon, "beam": beam, "tot": tot,
}


def run_strategy(question: str, config: StrategyConfig, run: Run) -> RunRecord:
    """Answer ``question`` with ``config``'s strategy; the record names the strategy, variant, model, seed and time.

    ``config`` is resolved here (defaults that depend on other options; conflicts raise
    :class:`~agent.strategies.config.ConfigError`), so callers may pass it as the user gave it.
    """
    cfg = config.resolved()
    t0 = time.perf_counter()
    record = STRATEGY_FUNCTIONS[cfg.strategy or "react"](question, cfg, run)
    record.seconds = time.perf_counter() - t0
    if cfg.strategy not in ("tot", *STEP_SEARCH):  # theirs come from the search: its task and evaluator, or PRM
        record.stats.update(_roles(cfg, run))
    record.variant, record.seed = cfg.variant, cfg.seed
    record.model = getattr(run.model, "name", type(run.model).__name__)
    if record.strategy in AGENTIC and not record.tools:
        record.tools = [t.name for t in run.tools or []]
    return record


__all__ = ["PROMPTS", "STRATEGY_FUNCTIONS", "Run", "Strategy", "cot_answer", "run_strategy"]
