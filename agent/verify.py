"""A learned verifier: a model judges finished ReAct trajectories, and sampled answers are voted by its scores.

The verifier reads a compact rendering of one trajectory (question, each thought with its tool call and
result, the final answer) and is asked for a verdict, ``correct`` or ``wrong``. Its score is
``P(correct) / (P(correct) + P(wrong))`` from the log-probabilities of the two forced labels, so one
verifier call per label and trajectory (the two share the prompt, which a caching backend computes once).

Self-consistency with a verifier (:func:`weighted_vote`) sums the scores of the trajectories behind each
answer instead of counting them (the GSM8K paper's verifier picks the single best-scored sample; summing is
the more robust of the two when the verifier is weak, and reduces to majority voting when all scores are equal).

The verifier is trained by ``finetune/recipes/verifier_data.py`` on the model's own sampled trajectories on
training questions, labelled right or wrong against the gold answer; ``agent/data/verifier-adapter.gguf``
(when it ships) is the default, applied to the embedded base.

Example:
    >>> weighted_vote(["12", "12.0", "7"], [0.2, 0.3, 0.9])
    ('7', {'12': 0.5, '7': 0.9})
"""

from __future__ import annotations

import math
import string
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from agent.consistency import normalize_answer
from agent.model import Model, ModelError
from agent.steps import Step, Trajectory

VERIFY_PROMPT = "Check the solution (correct/wrong)\nQuestion: $question\n$steps\nAnswer: $answer\nVerdict:"
LABELS = (" correct", " wrong")  # the completions the verifier is trained on, leading space included
DEFAULT_VERIFIER = Path(__file__).parent / "data" / "verifier-adapter.gguf"


def render_step(step: Step) -> str:
    """One step as the verifier reads it: the thought, then ``[tool: input = result]`` or the error."""
    text = step.thought.strip()
    if step.error is not None:
        return f"{text} [error: {step.error.message}]"
    if step.action is not None:
        args = step.action.args
        shown = args.get("expression", args.get("code", "")) if len(args) == 1 else args
        text += f" [{step.action.tool}: {shown} = {step.observation}]"
    return text


def verifier_prompt(question: str, steps: Sequence[Step], answer: str | None) -> str:
    """The verifier's prompt for one finished trajectory (final-answer steps are shown as ``Answer:``)."""
    lines = [render_step(s) for s in steps if s.action is not None or s.error is not None]
    return string.Template(VERIFY_PROMPT).substitute(
        question=question.strip(), steps="\n".join(lines) or "(no steps)", answer=answer if answer is not None else ""
    )


def label_odds(model: Model, prompt: str, labels: tuple[str, str] = LABELS) -> float:
    """``P(labels[0]) / (P(labels[0]) + P(labels[1]))``, each label forced with a grammar after ``prompt``.

    Raises:
        ModelError: the backend returns no log-probabilities.
    """
    logp = []
    for label in labels:
        grammar = 'root ::= "' + label.replace("\\", "\\\\").replace('"', '\\"') + '"'
        out = model.complete(prompt, grammar=grammar, max_tokens=8, temperature=0.0, logprobs=True)
        if not out.logprobs:
            raise ModelError(
                f"{getattr(model, 'name', 'model')} returns no logprobs; use a llama.cpp or transformers backend"
            )
        logp.append(sum(out.logprobs[0]))
    return 1.0 / (1.0 + math.exp(max(-700.0, min(700.0, logp[1] - logp[0]))))


class Verifier:
    """Scores finished trajectories with a model trained on :data:`VERIFY_PROMPT` (higher: more likely right)."""

    def __init__(self, model: Model):
        self.model = model
        self.name = getattr(model, "name", type(model).__name__)

    def score(self, question: str, steps: Sequence[Step], answer: str | None) -> float:
        """The probability the verifier gives ``correct``; 0 for a trajectory with no answer."""
        if answer is None or not str(answer).strip():
            return 0.0
        return label_odds(self.model, verifier_prompt(question, steps, answer))


def weighted_vote(answers: Sequence[str | None], scores: Sequence[float]) -> tuple[str | None, dict[str, float]]:
    """The answer whose trajectories' scores sum highest (ties: the earliest), and each answer's total.

    Answers are compared in :func:`~agent.consistency.normalize_answer` form; the winner is returned as
    first written.
    """
    if len(answers) != len(scores):
        raise ValueError(f"{len(answers)} answers but {len(scores)} scores")
    keys = [normalize_answer(a) for a in answers]
    totals: dict[str, float] = {}
    for key, score in zip(keys, scores):
        if key is not None:
            totals[key] = totals.get(key, 0.0) + float(score)
    if not totals:
        return None, {}
    best = max(totals, key=lambda k: (totals[k], -keys.index(k)))
    original = next(a for a, k in zip(answers, keys) if k == best)
    return original, {k: round(v, 4) for k, v in totals.items()}


@dataclass
class Verdict:
    """Sampled trajectories voted by a verifier's scores.

    Attributes:
        answer: the answer with the highest summed score (``None`` when no trajectory answered).
        best: the winning answer's highest-scored trajectory (the first one when none answered).
        totals: each normalised answer's summed score.
        scores: each trajectory's score, in order.
    """

    answer: str | None
    best: Trajectory
    totals: dict[str, float]
    scores: list[float]


def verified_vote(verifier: Verifier, question: str, trajectories: Sequence[Trajectory]) -> Verdict:
    """Score every trajectory and vote by the scores (:func:`weighted_vote`)."""
    if not trajectories:
        raise ValueError("no trajectories to vote on")
    scores = [verifier.score(question, t.steps, t.answer) for t in trajectories]
    answer, totals = weighted_vote([t.answer for t in trajectories], scores)
    best = trajectories[0]
    if answer is not None:
        key = normalize_answer(answer)
        winners = [i for i, t in enumerate(trajectories) if normalize_answer(t.answer) == key]
        best = trajectories[max(winners, key=scores.__getitem__)]
    return Verdict(answer, best, totals, scores)


def load_verifier(spec: str) -> Verifier:
    """A verifier from a model spec (see :func:`agent.model.load_model`); ``default``: the shipped verifier.

    Raises:
        ModelError: ``default`` when no verifier adapter ships, or a spec that loads nothing.
    """
    from agent.model import load_model

    if spec == "default":
        if not DEFAULT_VERIFIER.is_file():
            raise ModelError(f"no verifier ships with this install ({DEFAULT_VERIFIER}); pass a model spec instead")
        spec = str(DEFAULT_VERIFIER)
    return Verifier(load_model(spec))


__all__ = [
    "LABELS",
    "VERIFY_PROMPT",
    "Verdict",
    "Verifier",
    "label_odds",
    "load_verifier",
    "verified_vote",
    "verifier_prompt",
    "weighted_vote",
]
