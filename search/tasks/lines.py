"""Tasks whose steps are lines of free reasoning, the last one giving the answer.

:class:`LineTask` samples one line per step (``n`` samples in one call, the prompt ending
with the steps so far, so a child's prompt extends its parent's). Subclasses give the
prompts and the shape of the answer line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import ClassVar

from agent.core.model import Model
from search.contract import Query, State
from search.evaluators import VALUE_GRAMMAR
from search.meter import ask
from search.tasks.template import fill

MAX_LINE_CHARS = 400  # a step longer than this is rambling, dropped


@dataclass
class LineTask:
    """One line of reasoning per step; a line matching ``answer_pattern`` ends the search.

    Args:
        value_grammar: judge with a single label word instead of free text.
        max_step_tokens: the most tokens per proposed line.
    """

    name: ClassVar[str] = "lines"
    proposer: ClassVar[str] = "model"  # every step is a line the model samples
    max_depth: ClassVar[int] = 6
    n_generate: ClassVar[int] = 3  # one line per sample: several samples give the branching
    answer_pattern: ClassVar[re.Pattern] = re.compile(r"^Answer:\s*(.+)$", re.IGNORECASE)
    propose_template: ClassVar[str] = "$question\n$steps"
    value_template: ClassVar[str] = "$question\n$steps\n"
    vote_template: ClassVar[str] = "$question\n$choices\n"

    value_grammar: bool = True
    max_step_tokens: int = 64

    def initial_state(self, question: str) -> State:
        if not question.strip():
            raise ValueError("the question is empty")
        return State(question.strip())

    def _steps_text(self, state: State) -> str:
        return "".join(f"{s}\n" for s in state.steps)

    def propose(self, model: Model, state: State, n: int, *, temperature: float, seed: int | None) -> list[str]:
        if self.is_terminal(state):
            return []
        prompt = fill(self.propose_template, question=state.question, steps=self._steps_text(state))
        out = ask(
            model, Query(prompt, stop=("\n",), max_tokens=self.max_step_tokens), n=n, temperature=temperature, seed=seed
        )
        lines: dict[str, None] = {}
        for text in out.texts:
            line = text.strip()
            if line and len(line) <= MAX_LINE_CHARS and line not in state.steps:
                lines[line] = None
        return list(lines)

    def apply(self, state: State, step: str) -> State:
        return state.then(step)

    def is_terminal(self, state: State) -> bool:
        return bool(state.steps) and self.answer(state) is not None

    def answer(self, state: State) -> str | None:
        if not state.steps:
            return None
        match = self.answer_pattern.search(state.steps[-1].strip())
        return match.group(1).strip().rstrip(".") if match else None

    def value_prompt(self, state: State) -> Query:
        prompt = fill(self.value_template, question=state.question, steps=self._steps_text(state) or "(none)\n")
        if self.value_grammar:
            return Query(prompt, grammar=VALUE_GRAMMAR, max_tokens=4)
        return Query(prompt, stop=("\n\n", "\nQuestion:"), max_tokens=64)

    def vote_prompt(self, states: list[State]) -> Query:
        choices = "\n".join(f"Choice {i}:\n{self._steps_text(s)}" for i, s in enumerate(states, 1))
        prompt = fill(self.vote_template, question=states[0].question, choices=choices)
        ids = " | ".join(f'"{i}"' for i in range(1, len(states) + 1))
        grammar = f'root ::= "The best choice is " ({ids})' if self.value_grammar else None
        return Query(prompt, grammar=grammar, max_tokens=8 if grammar else 128)
