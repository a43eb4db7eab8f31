"""What a verifier can read off a finished trajectory without a model: the features of :class:`FeatureVerifier`.

Each feature is a number about one sampled trajectory among its siblings (the other samples of the same
question): how many of them reached the same answer, whether the answer is a whole non-negative number,
how much of the question's numbers the tool calls used, how many numbers they invented, whether the answer
is what a tool computed, its size against the question's numbers. A logistic regression over them, fit on
the model's own labelled samples (``examples/recipes/verifier_fit.py``), is a learned verifier that costs
microseconds per trajectory.

Example:
    >>> from agent.core.steps import Action, Step, Trajectory
    >>> t = Trajectory("A box holds 24 pens. How many in 17 boxes?", [
    ...     Step("Multiply.", Action("calculator", {"expression": "24*17"}), "408"),
    ...     Step("Done.", answer="408")], answer="408")
    >>> f = trajectory_features(t.question, [t])[0]
    >>> f["vote_share"], f["whole"], f["question_numbers_used"], f["answer_from_tool"]
    (1.0, 1.0, 1.0, 1.0)
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Sequence
from fractions import Fraction

from agent.core.steps import Trajectory
from agent.strategies.consistency import normalize_answer

FEATURES = (
    "vote_share",  # the share of sibling samples with the same answer (self-consistency's signal)
    "whole",  # the answer is a whole number (GSM8K answers are)
    "non_negative",
    "question_numbers_used",  # share of the question's numbers that appear in the tool calls
    "invented_numbers",  # share of tool-call numbers found neither in the question nor in earlier results
    "tool_calls",  # number of tool calls / 8
    "errors",  # steps the runtime flagged as mistakes / 4
    "answer_from_tool",  # the answer is one of the tool results
    "no_answer",
    "relative_size",  # log10 of the answer against the question's largest number, clipped to [-3, 3]
    "answer_is_last_result",  # the answer is the last tool result
    "cents",  # the answer has at most two decimals
    "answer_in_question",  # the answer is one of the question's own numbers
    "fractional_results",  # share of tool results that are not whole numbers
)
_NUMBER = re.compile(r"\d+(?:\.\d+)?")


def _numbers(text: str) -> set[Fraction]:
    return {Fraction(x) for x in _NUMBER.findall(text.replace(",", ""))}


def _value(answer: str | None) -> Fraction | None:
    key = normalize_answer(answer)
    try:
        return None if key is None else Fraction(key)
    except ValueError:
        return None


def _one(question: str, traj: Trajectory, share: float) -> dict[str, float]:
    calls = [s for s in traj.steps if s.action is not None]
    asked = _numbers(question)
    used: set[Fraction] = set()
    results: set[Fraction] = set()
    invented = fractional = 0
    for step in calls:
        numbers = _numbers(json.dumps(step.action.args))
        invented += len(numbers - asked - results)
        used |= numbers
        if step.observation is not None and step.error is None:
            results |= _numbers(step.observation)
            fractional += _value(step.observation) is not None and _value(step.observation).denominator != 1
    value = _value(traj.answer)
    last = calls[-1].observation if calls and calls[-1].error is None else None
    size = 0.0
    if value is not None:
        size = math.log10(abs(float(value)) + 1) - math.log10(float(max(asked | {Fraction(1)})) + 1)
    return {
        "vote_share": share,
        "whole": float(value is not None and value.denominator == 1),
        "non_negative": float(value is not None and value >= 0),
        "question_numbers_used": len(asked & used) / max(1, len(asked)),
        "invented_numbers": invented / max(1, len(used)),
        "tool_calls": min(len(calls), 8) / 8,
        "errors": sum(s.error is not None for s in traj.steps) / 4,
        "answer_from_tool": float(value is not None and value in results),
        "no_answer": float(value is None),
        "relative_size": max(-3.0, min(3.0, size)),
        "answer_is_last_result": float(value is not None and last is not None and _value(last) == value),
        "cents": float(value is not None and (value * 100).denominator == 1),
        "answer_in_question": float(value is not None and value in asked),
        "fractional_results": fractional / max(1, len(calls)),
    }


def trajectory_features(question: str, trajectories: Sequence[Trajectory]) -> list[dict[str, float]]:
    """The :data:`FEATURES` of each of the sampled ``trajectories`` of one question, in order."""
    keys = [normalize_answer(t.answer) for t in trajectories]
    counts = Counter(k for k in keys if k is not None)
    n = max(1, len(trajectories))
    return [_one(question, t, counts[k] / n if k is not None else 0.0) for t, k in zip(trajectories, keys)]


__all__ = ["FEATURES", "trajectory_features"]
