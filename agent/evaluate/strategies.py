"""Strategies: how a model answers one evaluation item.

- ``direct``: ask for the answer only, one line, greedy (the paper's IO prompting).
- ``cot``: think step by step in prose, then ``The answer is N``; greedy.
- ``react``: a :class:`~agent.react.ReActAgent` with the tools (default: calculator, python).
- ``sc``: self-consistency, ``samples`` ReAct trajectories majority-voted, or voted by a learned verifier's
  scores (:mod:`agent.verify`).
- ``tot``: a Tree-of-Thoughts search (:func:`search.solve`), imported when used.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable
from typing import TYPE_CHECKING

from agent.evaluate import EvalConfig, EvalTask, Item, Outcome
from agent.model import Model
from agent.steps import Step, Trajectory
from tools.base import Tool

if TYPE_CHECKING:
    from agent.verify import Verifier

PROMPTS: dict[str, str] = {
    "direct_system": "Answer with the final answer only, on one line, with no explanation.",
    "cot_system": (
        "Think step by step in prose, writing each calculation as a = b. End with a line of the form 'The answer is N.'"
    ),
    "user": "Question: $question",
}
_ANSWER = re.compile(r"(?:the )?(?:final )?answer is\s*:?\s*(.+)", re.IGNORECASE)

Strategy = Callable[[Model, EvalTask, Item, EvalConfig, "list[Tool] | None"], Outcome]


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


def direct(model: Model, task: EvalTask, item: Item, cfg: EvalConfig, tools: list[Tool] | None) -> Outcome:
    """One greedy line: the answer only."""
    out = model.complete(
        _chat(model, "direct_system", task.prompt(item)),
        max_tokens=min(cfg.max_tokens, 64),
        temperature=cfg.temperature or 0.0,
        seed=cfg.seed + item.index,
    )
    lines = [line.strip() for line in out.text.strip().splitlines() if line.strip()]
    answer = cot_answer(lines[0]) if lines else None
    return Outcome(answer, out.completion_tokens, out.prompt_tokens, 1, None, out.text)


def cot(model: Model, task: EvalTask, item: Item, cfg: EvalConfig, tools: list[Tool] | None) -> Outcome:
    """A greedy chain of thought in prose ending in ``The answer is N``."""
    out = model.complete(
        _chat(model, "cot_system", task.prompt(item)),
        max_tokens=cfg.max_tokens,
        temperature=cfg.temperature or 0.0,
        seed=cfg.seed + item.index,
    )
    return Outcome(cot_answer(out.text), out.completion_tokens, out.prompt_tokens, 1, out.text, out.text)


def _agent(model: Model, cfg: EvalConfig, tools: list[Tool] | None, temperature: float, item: Item):
    from agent.react import ReActAgent, ReActConfig
    from tools.base import load_tools

    config = ReActConfig(max_steps=cfg.max_steps, temperature=temperature, seed=cfg.seed + item.index)
    return ReActAgent(model, load_tools() if tools is None else tools, config)


def _reasoning(traj: Trajectory) -> str:
    """The model's own claims: thoughts and final answers (tool results are right by construction)."""
    return "\n".join(part for s in traj.steps for part in (s.thought, s.answer) if part)


def react(model: Model, task: EvalTask, item: Item, cfg: EvalConfig, tools: list[Tool] | None) -> Outcome:
    """One ReAct trajectory."""
    traj = _agent(model, cfg, tools, cfg.temperature or 0.0, item).run(task.prompt(item))
    return Outcome(
        traj.answer,
        int(traj.stats.get("tokens", 0)),
        0,
        len(traj.steps),
        _reasoning(traj),
        [s.to_dict() for s in traj.steps],
    )


def sample_trajectories(record: dict) -> list[Trajectory]:
    """The sampled trajectories an ``sc`` record keeps in ``trace.samples`` (``[]`` for any other record)."""
    trace = record.get("trace")
    samples = trace.get("samples") if isinstance(trace, dict) else None
    question = record.get("prompt") or record.get("question") or ""
    trajs = []
    for s in samples or []:
        steps = [Step.from_dict(d) for d in s.get("steps") or []]
        trajs.append(Trajectory(question, steps, s.get("answer"), stats={"tokens": sum(x.tokens for x in steps)}))
    return trajs


def sc(
    model: Model,
    task: EvalTask,
    item: Item,
    cfg: EvalConfig,
    tools: list[Tool] | None,
    verifier: Verifier | None = None,
    earlier: list[Trajectory] | None = None,
) -> Outcome:
    """Self-consistency over ReAct: ``cfg.samples`` trajectories, majority vote (or votes weighted by ``verifier``).

    ``earlier``: samples of a smaller run of this item with the same settings; only the rest are drawn.
    """
    from agent.consistency import self_consistency

    temperature = cfg.temperature if cfg.temperature is not None else 0.7
    question = task.prompt(item)
    vote = self_consistency(_agent(model, cfg, tools, temperature, item), question, cfg.samples, earlier or ())
    tokens = sum(int(t.stats.get("tokens", 0)) for t in vote.trajectories)
    samples = [{"answer": t.answer, "steps": [s.to_dict() for s in t.steps]} for t in vote.trajectories]
    trace: dict = {"votes": vote.votes}
    if earlier:
        trace["reused"] = min(len(earlier), cfg.samples)
    answer, best = vote.answer, vote.best
    if verifier is not None:
        from agent.verify import verified_vote

        verdict = verified_vote(verifier, question, vote.trajectories)
        answer, best, trace["weighted"] = verdict.answer, verdict.best, verdict.totals
        for sample, score in zip(samples, verdict.scores):
            sample["score"] = round(score, 4)
    trace.update(best=[s.to_dict() for s in best.steps], samples=samples)
    return Outcome(
        answer,
        tokens,
        0,
        sum(len(t.steps) for t in vote.trajectories),
        "\n".join(_reasoning(t) for t in vote.trajectories),
        trace,
    )


def tot(model: Model, task: EvalTask, item: Item, cfg: EvalConfig, tools: list[Tool] | None) -> Outcome:
    """A Tree-of-Thoughts search over the task's search problem."""
    from search import solve

    kwargs = {} if cfg.temperature is None else {"temperature": cfg.temperature}
    question = item.question if task.search_task == "game24" else task.prompt(item)
    task_options = {} if cfg.proposer is None else {"propose_by": cfg.proposer}  # checked by run_eval
    result = solve(
        question,
        task=task.search_task,
        model=model,
        algorithm=cfg.algorithm,
        evaluator=cfg.evaluator,
        beam=cfg.beam,
        n_generate=cfg.n_generate,
        task_options=task_options,
        seed=cfg.seed + item.index,
        **kwargs,
    )
    stats = dict(result.stats)
    trace = {
        "best_path": list(result.best_path),
        "stats": {k: v for k, v in stats.items() if isinstance(v, (int, float, str, bool))},
    }
    return Outcome(
        result.answer,
        int(stats.get("completion_tokens", 0)),
        int(stats.get("prompt_tokens", 0)),
        len(result.best_path),
        "\n".join(result.best_path),
        trace,
    )


STRATEGY_FUNCTIONS: dict[str, Strategy] = {"direct": direct, "cot": cot, "react": react, "sc": sc, "tot": tot}
