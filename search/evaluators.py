"""Evaluators: how a search judges candidate states.

- :class:`ValueEvaluator` (the paper's "value"): ``n`` samples of the task's value prompt,
  each ending in ``sure``/``likely``/``impossible``, weighted 20/1/0.001 and summed.
- :class:`VoteEvaluator` (the paper's "vote"): ``n`` samples of a prompt listing the
  candidates; each sample votes for one; a state's value is its number of votes.
- :class:`VerifierEvaluator`: a program ``f(question, state) -> float``. It is *not* the
  model judging (``judge = "program"``), so results using it are never ``model_only``.
- :class:`LearnedScorer`: the interface a trained scorer (from ``finetune/``) implements;
  :class:`LogprobScorer` is one made from a model's log-probabilities of ``sure`` against
  ``impossible``, and :class:`ScorerEvaluator` turns any scorer into an evaluator.

Every evaluator caches: the same state (for LM evaluators, the same prompt) is judged once.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Protocol, runtime_checkable

from agent.core.model import Model, ModelError
from search.contract import JUDGES, Evaluation, Evaluator, Query, State, Task, check_role
from search.meter import ask

VALUE_WEIGHTS = {"sure": 20.0, "likely": 1.0, "impossible": 0.001}  # the paper's (ad hoc) weights
VALUE_GRAMMAR = 'root ::= "sure" | "likely" | "impossible"'
_LABEL_WORD = re.compile(r"\b(sure|likely|impossible)\b")
_VOTE = re.compile(r"best choice is\s*:?\s*(\d+)", re.IGNORECASE)


def read_label(text: str) -> str | None:
    """The verdict in one value sample: the first line that is only a label, else the first label word."""
    for line in text.lower().splitlines():
        if line.strip().strip(".:*") in VALUE_WEIGHTS:
            return line.strip().strip(".:*")
    match = _LABEL_WORD.search(text.lower())
    return match.group(1) if match else None


class ValueEvaluator:
    """The paper's value evaluator: rate each state independently, ``n`` samples in one call.

    Args:
        n: samples per state (the paper's ``n_evaluate_sample``, 3).
        temperature: sampling temperature of the judgements.
    """

    judge = "model"

    def __init__(self, n: int = 3, temperature: float = 0.7):
        self.name = "value"
        self.n = n
        self.temperature = temperature
        self.max_value = VALUE_WEIGHTS["sure"] * n
        self.cache: dict[Query, Evaluation] = {}
        self.hits = 0

    def evaluate(self, model: Model, task: Task, states: list[State]) -> list[Evaluation]:
        return [self._one(model, task.value_prompt(s)) for s in states]

    def _one(self, model: Model, query: Query) -> Evaluation:
        if query in self.cache:
            self.hits += 1
            return self.cache[query]
        out = ask(model, query, n=self.n, temperature=self.temperature)
        value = sum(VALUE_WEIGHTS.get(read_label(t) or "", 0.0) for t in out.texts)
        self.cache[query] = Evaluation(value, tuple(out.texts))
        return self.cache[query]


class VoteEvaluator:
    """The paper's vote evaluator: ``n`` votes on which of the candidates is most promising.

    Args:
        n: votes drawn, in one call.
        temperature: sampling temperature of the votes.
    """

    judge = "model"

    def __init__(self, n: int = 3, temperature: float = 0.7):
        self.name = "vote"
        self.n = n
        self.temperature = temperature
        self.max_value = float(n)
        self.cache: dict[tuple[State, ...], list[Evaluation]] = {}
        self.hits = 0

    def evaluate(self, model: Model, task: Task, states: list[State]) -> list[Evaluation]:
        key = tuple(states)
        if key in self.cache:
            self.hits += 1
            return self.cache[key]
        if len(states) == 1:  # nothing to compare: the only candidate gets every vote
            self.cache[key] = [Evaluation(float(self.n), ("only candidate",))]
            return self.cache[key]
        out = ask(model, task.vote_prompt(states), n=self.n, temperature=self.temperature)
        votes = [0] * len(states)
        for text in out.texts:
            match = _VOTE.search(text)
            if match and 1 <= int(match.group(1)) <= len(states):
                votes[int(match.group(1)) - 1] += 1
        self.cache[key] = [Evaluation(float(v), tuple(out.texts)) for v in votes]
        return self.cache[key]


class VerifierEvaluator:
    """A program as evaluator: ``fn(question, state) -> float`` (higher is better).

    Args:
        fn: the verifier; for example :func:`search.tasks.gsm8k.arithmetic_verifier`.
        name: how it is reported in ``stats["evaluator"]``.
        max_value: the best value ``fn`` returns.
    """

    judge = "program"

    def __init__(self, fn: Callable[[str, State], float], name: str | None = None, max_value: float = 1.0):
        self.fn = fn
        self.name = f"verifier:{name or getattr(fn, '__name__', 'custom')}"
        self.max_value = max_value
        self.cache: dict[State, Evaluation] = {}
        self.hits = 0

    def evaluate(self, model: Model, task: Task, states: list[State]) -> list[Evaluation]:
        out = []
        for state in states:
            if state in self.cache:
                self.hits += 1
            else:
                value = float(self.fn(state.question, state))
                self.cache[state] = Evaluation(value, (f"{self.name} -> {value:g}",))
            out.append(self.cache[state])
        return out


@runtime_checkable
class LearnedScorer(Protocol):
    """A trained state scorer (to come from ``finetune/``): higher means more promising, in [0, 1]."""

    def score(self, question: str, state: State) -> float: ...


class ScorerEvaluator(VerifierEvaluator):
    """Any :class:`LearnedScorer` as an evaluator (cached per state).

    Args:
        judge: ``"model"`` (default: a learned scorer is a model) or ``"program"``.
    """

    def __init__(self, scorer: LearnedScorer, name: str = "learned", judge: str = "model"):
        super().__init__(scorer.score, name=name, max_value=1.0)
        self.name = name
        self.judge = check_role("judge", judge, JUDGES)


class LogprobScorer:
    """Scores a state by how much more likely the model finds ``sure`` than ``impossible``.

    Each label is forced with a one-line grammar after the task's value prompt (the two
    calls share the prompt, so a caching backend computes it once); the score is
    ``P(sure) / (P(sure) + P(impossible))`` from the log-probabilities the backend reports.

    Raises:
        ModelError: the backend returns no log-probabilities.
    """

    def __init__(self, model: Model, task: Task):
        self.model = model
        self.task = task

    def score(self, question: str, state: State) -> float:
        query = self.task.value_prompt(state)
        lp = {}
        for label in ("sure", "impossible"):
            forced = Query(query.prompt, grammar=f'root ::= "{label}"', max_tokens=4)
            out = ask(self.model, forced, temperature=0.0, logprobs=True)
            if not out.logprobs:
                raise ModelError(
                    f"{getattr(self.model, 'name', 'model')} returns no logprobs; "
                    "use a llama.cpp or transformers backend for the logprob scorer"
                )
            lp[label] = sum(out.logprobs[0])
        return 1.0 / (1.0 + math.exp(lp["impossible"] - lp["sure"]))


def make_evaluator(spec: object, model: Model, task: Task, n_evaluate: int = 3, temperature: float = 0.7) -> Evaluator:
    """An evaluator from a name (``value``, ``vote``, ``logprob``), an Evaluator, a LearnedScorer or a callable.

    Raises:
        ValueError: an unknown name or object.
    """
    if isinstance(spec, str):
        if spec == "value":
            return ValueEvaluator(n_evaluate, temperature)
        if spec == "vote":
            return VoteEvaluator(n_evaluate, temperature)
        if spec == "logprob":
            return ScorerEvaluator(LogprobScorer(model, task), name="logprob")
        raise ValueError(f"unknown evaluator {spec!r}: use 'value', 'vote', 'logprob', an Evaluator or a callable")
    if isinstance(spec, Evaluator):
        return spec
    if isinstance(spec, LearnedScorer):
        return ScorerEvaluator(spec)
    if callable(spec):
        return VerifierEvaluator(spec)
    raise ValueError(f"cannot use {spec!r} as an evaluator")
