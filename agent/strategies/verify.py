"""Learned verifiers: score the sampled trajectories of a question, and vote the answers by those scores.

Two kinds, one :class:`Verifier` protocol (``score_all(question, trajectories) -> scores``), both fit on the
model's own sampled trajectories on training questions, labelled right or wrong against the gold answer:

- :class:`FeatureVerifier`: a logistic regression over features of each trajectory among its siblings
  (:mod:`agent.strategies.features`: its answer's share of the votes, a whole-number answer, the question's numbers
  used, invented numbers, ...), fit by ``examples/recipes/verifier_fit.py``; microseconds a trajectory.
  ``agent/data/verifier.json`` is the default (``--verifier default``).
- :class:`ModelVerifier`: a language model (a LoRA trained on ``{"prompt", "completion": " correct" | " wrong"}`` records; the script that wrote them is in git history up to 6fafe95)
  reads a compact rendering of one trajectory (:data:`VERIFY_PROMPT`) and its score is
  ``P(correct) / (P(correct) + P(wrong))`` from the log-probabilities of the two forced labels.

Voting with a verifier (:func:`weighted_vote`) sums the scores of the trajectories behind each answer instead
of counting them (the GSM8K paper's verifier picks the single best-scored sample; summing is the more robust
of the two when the verifier is weak, and reduces to majority voting when all scores are equal).

Example:
    >>> weighted_vote(["12", "12.0", "7"], [0.2, 0.3, 0.9])
    ('7', {'12': 0.5, '7': 0.9})
"""

from __future__ import annotations

import json
import math
import string
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from agent.core.model import Model, ModelError
from agent.core.steps import Step, Trajectory
from agent.strategies.consistency import normalize_answer

VERIFY_PROMPT = "Check the solution (correct/wrong)\nQuestion: $question\n$steps\nAnswer: $answer\nVerdict:"
LABELS = (" correct", " wrong")  # the completions the verifier is trained on, leading space included
DEFAULT_VERIFIER = Path(__file__).resolve().parents[1] / "data" / "verifier.json"  # what ``--verifier default`` loads


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


@runtime_checkable
class Verifier(Protocol):
    """Scores the sampled trajectories of one question (higher: more likely right)."""

    name: str

    def score_all(self, question: str, trajectories: Sequence[Trajectory]) -> list[float]: ...


class ModelVerifier:
    """A model trained on :data:`VERIFY_PROMPT` judges each trajectory alone: its P(``correct``)."""

    def __init__(self, model: Model):
        self.model = model
        self.name = getattr(model, "name", type(model).__name__)

    def score(self, question: str, steps: Sequence[Step], answer: str | None) -> float:
        """The probability the verifier gives ``correct``; 0 for a trajectory with no answer."""
        if answer is None or not str(answer).strip():
            return 0.0
        return label_odds(self.model, verifier_prompt(question, steps, answer))

    def score_all(self, question: str, trajectories: Sequence[Trajectory]) -> list[float]:
        return [self.score(question, t.steps, t.answer) for t in trajectories]


@dataclass(frozen=True)
class FeatureVerifier:
    """A logistic regression over :func:`agent.strategies.features.trajectory_features` (fit by ``verifier_fit.py``).

    Attributes:
        weights: per feature, on standardised values (``(x - mean) / std``).
        bias: the intercept.
        mean: per feature, its mean over the training samples.
        std: per feature, its standard deviation there.
    """

    weights: dict[str, float]
    bias: float
    mean: dict[str, float]
    std: dict[str, float]
    name: str = "features"

    def score_all(self, question: str, trajectories: Sequence[Trajectory]) -> list[float]:
        from agent.strategies.features import trajectory_features

        out = []
        for f in trajectory_features(question, trajectories):
            z = self.bias + sum(w * (f[k] - self.mean[k]) / self.std[k] for k, w in self.weights.items())
            out.append(1.0 / (1.0 + math.exp(max(-700.0, min(700.0, -z)))))
        return out

    @classmethod
    def from_file(cls, path: str | Path) -> FeatureVerifier:
        """Read the JSON ``verifier_fit.py`` writes.

        Raises:
            ModelError: the file is missing or is not such a JSON object.
        """
        from agent.strategies.features import FEATURES

        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
            weights = {k: float(data["weights"][k]) for k in data["weights"]}
            unknown = set(weights) - set(FEATURES)
            if unknown:
                raise ValueError(f"unknown features {sorted(unknown)}")
            mean = {k: float(data["mean"][k]) for k in weights}
            std = {k: float(data["std"][k]) or 1.0 for k in weights}
            return cls(weights, float(data["bias"]), mean, std, name=Path(path).name)
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise ModelError(f"{path}: not a feature verifier ({err})") from err

    def to_dict(self) -> dict[str, Any]:
        return {"weights": self.weights, "bias": self.bias, "mean": self.mean, "std": self.std}


def weighted_vote(answers: Sequence[str | None], scores: Sequence[float]) -> tuple[str | None, dict[str, float]]:
    """The answer whose trajectories' scores sum highest (ties: the earliest), and each answer's total.

    Answers are compared in :func:`~agent.strategies.consistency.normalize_answer` form; the winner is returned as
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
    scores = verifier.score_all(question, trajectories)
    answer, totals = weighted_vote([t.answer for t in trajectories], scores)
    best = trajectories[0]
    if answer is not None:
        key = normalize_answer(answer)
        winners = [i for i, t in enumerate(trajectories) if normalize_answer(t.answer) == key]
        best = trajectories[max(winners, key=scores.__getitem__)]
    return Verdict(answer, best, totals, scores)


def load_verifier(spec: str) -> Verifier:
    """A verifier from a spec: ``default`` (the shipped one), a ``.json`` feature verifier, or a model spec
    (see :func:`agent.core.model.load_model`) for a :class:`ModelVerifier`.

    Raises:
        ModelError: ``default`` when no verifier ships, or a spec that loads nothing.
    """
    from agent.core.load import load_model

    if spec == "default":
        if not DEFAULT_VERIFIER.is_file():
            raise ModelError(f"no verifier ships with this install ({DEFAULT_VERIFIER}); pass a verifier spec instead")
        spec = str(DEFAULT_VERIFIER)
    if spec.endswith(".json"):
        return FeatureVerifier.from_file(spec)
    return ModelVerifier(load_model(spec))


__all__ = [
    "LABELS",
    "VERIFY_PROMPT",
    "FeatureVerifier",
    "ModelVerifier",
    "Verdict",
    "Verifier",
    "label_odds",
    "load_verifier",
    "verified_vote",
    "verifier_prompt",
    "weighted_vote",
]
