"""Step labels without a teacher: Monte-Carlo rollouts (Math-Shepherd), and the cheaper on-reference label.

:func:`rollout_labels`: from each step prefix of a sampled trajectory, ``k`` completions are drawn: their first
steps as one batch (one ``complete(n=k)`` call, so llama.cpp evaluates the shared prefix once), then each goes
on alone. The step's label is the share of the ``k`` that reach the gold answer. A final-answer step needs no
rollout: it is right or wrong. Labels come from training questions only: the caller gives the gold answer.

:func:`on_reference`: for data with a reference solution (GSM8K's ``<<48/2=24>>`` annotations and their
re-instantiations), a step counts as on-reference when its tool result is one of the reference's values.

Example:
    >>> from agent.core.steps import Action, Step
    >>> on_reference(Step("half", Action("calculator", {"expression": "48/2"}), observation="24.0"), {24})
    True
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from fractions import Fraction

from agent.core.answers import last_number, match_answer
from agent.core.react import ReActAgent
from agent.core.steps import Step, Trajectory

Check = Callable[[str | None, str], bool]  # (answer, gold) -> right


@dataclass(frozen=True)
class StepLabel:
    """The label of one step: the share of rollouts from its prefix that reached the gold answer.

    Attributes:
        index: the step's place in its trajectory (from 0).
        share: right rollouts / ``rollouts`` (a final-answer step: 1.0 or 0.0 by its own answer).
        rollouts: completions drawn (0 for a final-answer step).
        tokens: tokens those completions generated.
    """

    index: int
    share: float
    rollouts: int
    tokens: int = 0

    @property
    def good(self) -> bool:
        """Math-Shepherd's hard estimate: some completion from here reaches the answer."""
        return self.share > 0


def rollout_labels(
    agent: ReActAgent, trajectory: Trajectory, gold: str, k: int = 4, check: Check = match_answer, seed: int = 0
) -> list[StepLabel]:
    """One :class:`StepLabel` per step of ``trajectory``, from ``k`` rollouts at the agent's temperature.

    Raises:
        ValueError: ``k`` below 1, or a greedy agent (greedy rollouts are one rollout ``k`` times).
    """
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    cfg = agent.config
    if cfg.temperature <= 0 and k > 1:
        raise ValueError("rollouts need a sampling temperature (give the agent temperature > 0)")
    labels = []
    for i, step in enumerate(trajectory.steps):
        if step.answer is not None:
            labels.append(StepLabel(i, 1.0 if check(step.answer, gold) else 0.0, 0))
            continue
        prefix = Trajectory(trajectory.question, list(trajectory.steps[: i + 1]), model=trajectory.model,
                            tools=list(trajectory.tools))
        first = agent.propose(prefix, k, cfg.temperature, seed + 1000 * i)  # one batch, the prefix shared
        right, tokens = 0, first.completion_tokens
        for j, text in enumerate(first.texts):
            runner = ReActAgent(agent.model, list(agent.tools.values()), replace(cfg, seed=seed + 1000 * i + 7 * (j + 1)))
            done = runner.resume(prefix, first=text)
            tokens += sum(s.tokens for s in done.steps[len(prefix.steps):])
            right += bool(check(done.answer, gold))
        labels.append(StepLabel(i, right / len(first.texts), len(first.texts), tokens))
    return labels


_ANNOTATION = re.compile(r"<<([^<>=]*)=([^<>]*)>>")


def reference_values(solution: str) -> set[Fraction]:
    """The values a reference solution computes: the results of its ``<<a*b=c>>`` annotations (else its numbers)."""
    results = [last_number(m.group(2)) for m in _ANNOTATION.finditer(solution)]
    if not results:
        results = [last_number(n) for n in re.findall(r"-?\d[\d,]*(?:\.\d+)?", solution)]
    return {v for v in results if v is not None}


def on_reference(step: Step, values: Iterable[Fraction]) -> bool:
    """Whether ``step``'s tool result is one of the reference solution's ``values`` (a final answer: its answer)."""
    text = step.answer if step.answer is not None else (step.observation if step.error is None else None)
    value = last_number(text)
    return value is not None and value in set(values)


__all__ = ["StepLabel", "on_reference", "reference_values", "rollout_labels"]
