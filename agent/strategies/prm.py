"""Process reward models: how good is the last step of a ReAct trajectory, given the question and the steps before it.

One :class:`StepScorer` protocol (``score(question, steps) -> P(the last step is good)``), two kinds:

- :class:`ModelPRM`: a language model (a LoRA trained with ``agent finetune`` on the records
  :func:`prm_record` writes) reads :func:`prm_prompt` and its score is ``P(good) / (P(good) + P(bad))``
  from the log-probabilities of the two forced labels, as the Game of 24 judge does. The prompt puts the
  question and the earlier steps first, so scoring step k + 1 after step k re-reads only the new step on a
  backend with a prefix cache (llama.cpp): a step costs about the evaluation of its own tokens.
- :class:`FeaturePRM`: the shipped feature verifier (:class:`~agent.strategies.verify.FeatureVerifier`) read
  on the trajectory so far: the baseline a learned PRM must beat.

:class:`CachedScorer` wraps either so the same (question, steps) is scored once, and counts the calls.
:func:`aggregate` turns a trajectory's step scores into one number (``min``, ``last`` or ``product``).

Example:
    >>> aggregate([0.9, 0.5, 0.8], "min"), aggregate([0.9, 0.5, 0.8], "last")
    (0.5, 0.8)
"""

from __future__ import annotations

import logging
import math
import string
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

from agent.core.model import Model
from agent.core.steps import Step, Trajectory
from agent.strategies.verify import label_odds, render_step

PRM_PROMPT = "Rate the last step (good/bad)\nQuestion: $question\n$steps\nVerdict:"
PRM_LABELS = (" good", " bad")  # the completions the PRM is trained on, leading space included
AGGREGATES = ("min", "last", "product")
log = logging.getLogger(__name__)
DEFAULT_PRM = Path(__file__).resolve().parents[1] / "data" / "prm-adapter.gguf"  # what ``--prm default`` loads


def render_prm_step(index: int, step: Step) -> str:
    """Step ``index`` (from 1) as the PRM reads it: the thought with its tool call and result, or the answer."""
    text = render_step(step)
    if step.answer is not None:
        text = f"{step.thought.strip()} Answer: {step.answer}".strip()
    return f"Step {index}: {text}"


def prm_prompt(question: str, steps: Sequence[Step]) -> str:
    """The PRM's prompt for the last of ``steps`` (the question and earlier steps first: a shared prefix)."""
    if not steps:
        raise ValueError("the PRM rates a step: give at least one")
    lines = "\n".join(render_prm_step(i, s) for i, s in enumerate(steps, 1))
    return string.Template(PRM_PROMPT).substitute(question=question.strip(), steps=lines)


def prm_record(question: str, steps: Sequence[Step], good: bool) -> dict[str, str]:
    """One training record for ``agent finetune``: the prompt of the last step and its label."""
    return {"prompt": prm_prompt(question, steps), "completion": PRM_LABELS[0] if good else PRM_LABELS[1]}


def aggregate(scores: Sequence[float], how: str = "min") -> float:
    """One number for a trajectory from its step scores: the weakest step, the last, or their product.

    Raises:
        ValueError: an unknown ``how``; no scores.
    """
    if how not in AGGREGATES:
        raise ValueError(f"aggregate must be one of {', '.join(AGGREGATES)}, not {how!r}")
    if not scores:
        raise ValueError("no step scores to aggregate")
    if how == "min":
        return min(scores)
    if how == "last":
        return scores[-1]
    return math.prod(scores)


@runtime_checkable
class StepScorer(Protocol):
    """Scores the last of a trajectory's steps (higher: more likely on the way to the right answer)."""

    name: str
    judge: str  # "model" or "program", as search evaluators say (search.contract.JUDGES)

    def score(self, question: str, steps: Sequence[Step]) -> float: ...


class ModelPRM:
    """A model trained on :func:`prm_record` records: its P(``good``) for the last step."""

    judge = "model"

    def __init__(self, model: Model):
        self.model = model
        self.name = f"prm:{getattr(model, 'name', type(model).__name__)}"

    def score(self, question: str, steps: Sequence[Step]) -> float:
        return label_odds(self.model, prm_prompt(question, steps), PRM_LABELS)


class FeaturePRM:
    """The feature verifier as a step scorer: its score of the trajectory so far, read alone (no siblings)."""

    judge = "program"

    def __init__(self, verifier, name: str | None = None):
        self.verifier = verifier
        self.name = name or f"prm:features:{verifier.name}"

    def score(self, question: str, steps: Sequence[Step]) -> float:
        traj = Trajectory(question, list(steps), answer=steps[-1].answer if steps else None)
        return self.verifier.score_all(question, [traj])[0]


@dataclass
class CachedScorer:
    """A :class:`StepScorer` that scores each distinct (question, steps) once; ``calls`` counts real scorings."""

    scorer: StepScorer
    calls: int = 0
    hits: int = 0

    def __post_init__(self) -> None:
        self.name, self.judge = self.scorer.name, self.scorer.judge
        self._cache: dict[tuple[str, tuple[str, ...]], float] = {}

    def score(self, question: str, steps: Sequence[Step]) -> float:
        key = (question, tuple(render_prm_step(i, s) for i, s in enumerate(steps, 1)))
        if key in self._cache:
            self.hits += 1
        else:
            self.calls += 1
            self._cache[key] = float(self.scorer.score(question, steps))
        return self._cache[key]

    def scores(self, question: str, steps: Sequence[Step]) -> list[float]:
        """The score of every step of ``steps``, each on its own prefix."""
        return [self.score(question, steps[: i + 1]) for i in range(len(steps))]


def load_prm(spec: str, policy: Model | None = None) -> StepScorer:
    """A step scorer from a spec: ``default`` (the shipped PRM adapter; where none ships, the shipped feature
    verifier: its ``name`` says which), ``features`` (the feature verifier), a ``.json`` feature verifier, or a
    model spec (see :func:`agent.core.load.load_model`). A GGUF LoRA adapter on a llama.cpp ``policy`` shares
    the policy's loaded base (:meth:`~agent.core.backends.llama_cpp.LlamaCppModel.with_adapter`).

    Raises:
        ModelError: a spec that loads nothing.
    """
    from agent.strategies.verify import DEFAULT_VERIFIER, FeatureVerifier

    if spec == "default" and not DEFAULT_PRM.is_file():
        log.info("no PRM adapter ships (%s): --prm default scores steps with the feature verifier", DEFAULT_PRM)
        spec = "features"
    if spec == "features":
        return FeaturePRM(FeatureVerifier.from_file(DEFAULT_VERIFIER), name="prm:features")
    if spec.endswith(".json"):
        return FeaturePRM(FeatureVerifier.from_file(spec))
    from agent.core.backends.gguf_header import gguf_string
    from agent.core.load import load_model

    path = DEFAULT_PRM if spec == "default" else Path(spec)
    is_adapter = path.suffix == ".gguf" and path.is_file() and gguf_string(path, "general.type") == "adapter"
    if is_adapter and hasattr(policy, "with_adapter"):
        return ModelPRM(policy.with_adapter(path))  # one base in memory: the policy's weights, the PRM's adapter
    return ModelPRM(load_model(str(path) if spec == "default" else spec))


__all__ = [
    "AGGREGATES",
    "PRM_LABELS",
    "PRM_PROMPT",
    "CachedScorer",
    "FeaturePRM",
    "ModelPRM",
    "StepScorer",
    "aggregate",
    "load_prm",
    "prm_prompt",
    "prm_record",
]
