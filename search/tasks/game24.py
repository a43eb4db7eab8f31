"""The Game of 24 as a search task, after the Tree-of-Thoughts paper.

A state is the puzzle and the moves so far, one per line, as the paper writes them::

    4 9 10 13
    13 - 9 = 4 (left: 4 4 10)
    10 - 4 = 6 (left: 4 6)
    4 * 6 = 24 (left: 24)
    Answer: (10 - 4) * (13 - 9) = 24

Proposals are parsed strictly: a line that is malformed, whose arithmetic is wrong, that
uses numbers not left, or whose ``left:`` list is wrong is dropped. This is a legality
filter on the *format* of a move (what a game engine does when it refuses an illegal
move), not a judgement of how promising the move is: that is left to the evaluator.
With ``grammar="moves"`` the same legality is enforced while sampling: the GBNF grammar
lists exactly the legal moves, so a small model spends its tokens on choosing among them.
With ``propose_by="rules"`` the thought generator is the game's move generator instead of the
model: every legal move is a child (as a chess engine's search expands every legal move), and the
model's only role is the evaluator's. A 135M model samples these moves about uniformly at
random (``bench/game24_proposals.py``), so listing them all loses nothing and costs no tokens.
:func:`validate` checks a final answer exactly; it is for scoring only.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import ClassVar, Literal

from agent.core.model import Model
from search.contract import Query, State
from search.evaluators import VALUE_GRAMMAR
from search.meter import ask
from search.tasks import game24_prompts as prompts
from search.tasks.arith import evaluate, show
from search.tasks.game24_rules import compose, legal_moves, parse_move, puzzle_numbers, show_all, validate
from search.tasks.template import fill

MOVE_TOKENS = 40  # enough for "4 / 13 = 0.31 (left: 0.31 9 10)": digits are single tokens
_FORMAT_RULES = r"""move ::= num " " op " " num " = " num " (left: " num (" " num){0,2} ")"
num ::= "-"? [0-9]{1,4} ("." [0-9]{1,2})?
op ::= "+" | "-" | "*" | "/"
"""

_LABEL_AFTER_COLON = 'root ::= " " ("sure" | "likely" | "impossible")'


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass
class Game24:
    """The Game of 24 task.

    Args:
        style: ``"sample"``: each sample of the propose prompt is one move, ``n_generate`` of
            them drawn in one batched call (small models repeat themselves when asked for a
            list); ``"list"``: each sample lists up to ``max_moves`` moves, as in the paper.
        n_generate: propose samples per expansion when the search gives none.
        grammar: ``"moves"``: sample only legal moves (a grammar listing them); ``"format"``:
            any line shaped like a move; ``"off"``: free text, parsed afterwards.
        propose_by: ``"rules"`` (default): every legal move, from the rules (no model call;
            ``n_generate`` unused); ``"model"``: moves sampled from the model (``n_generate`` per expansion).
        answer_by: ``"steps"`` (default): the expression is composed from the model's own moves by
            bookkeeping (no check of the result); ``"model"``: the last step is the model writing the
            expression, as in the paper (small models copy their moves into a wrong expression).
        value_grammar: judge with a single label word (fast; for small models), from the paper's
            value examples without their reasoning lines, instead of the paper's free reasoning
            lines ending in the label.
        max_moves: the most moves one proposal sample may list (``style="list"``).
        n_answers: samples of the last step per state (with ``answer_by="model"``).
    """

    name: ClassVar[str] = "game24"
    # P(sure) ranks states finely; three sampled labels from a judge that is rarely sure tie
    # (ToT on 20 held-out puzzles: 12/20 with logprob, 8/20 with value; docs/RESULTS.md)
    default_evaluator: ClassVar[str] = "logprob"
    # every legal move is proposed (~30 children a state), so a wider beam keeps more of the right ones
    # (near split, the first 18 puzzles: 15/18 at b=10, 12/18 at b=5; docs/RESULTS.md)
    default_beam: ClassVar[int] = 10
    max_depth: ClassVar[int] = 4  # three moves, then the answer

    style: Literal["sample", "list"] = "sample"
    n_generate: int | None = None  # None: 8 one-move samples ("sample"), 1 list of moves ("list", the paper)
    grammar: Literal["moves", "format", "off"] = "moves"
    answer_by: Literal["model", "steps"] = "steps"
    propose_by: Literal["model", "rules"] = "rules"
    value_grammar: bool = True
    max_moves: int = 8
    n_answers: int = 3

    def __post_init__(self):
        if self.style not in ("sample", "list"):
            raise ValueError(f"style must be 'sample' or 'list', not {self.style!r}")
        if self.n_generate is None:
            self.n_generate = 8 if self.style == "sample" else 1
        if self.grammar not in ("moves", "format", "off"):
            raise ValueError(f"grammar must be 'moves', 'format' or 'off', not {self.grammar!r}")
        if self.answer_by not in ("model", "steps"):
            raise ValueError(f"answer_by must be 'model' or 'steps', not {self.answer_by!r}")
        if self.propose_by not in ("model", "rules"):
            raise ValueError(f"propose_by must be 'model' or 'rules', not {self.propose_by!r}")

    @property
    def proposer(self) -> str:
        """Who writes the moves: ``"rules"`` (the move generator) or ``"model"``; the answer line is bookkeeping
        with ``answer_by="steps"``."""
        return self.propose_by

    def initial_state(self, question: str) -> State:
        numbers = puzzle_numbers(question)
        if len(numbers) != 4:
            raise ValueError(f"a Game of 24 puzzle is four numbers, like '4 9 10 13'; got {question!r}")
        return State(" ".join(show(x) for x in numbers))

    def numbers(self, state: State) -> list[Fraction]:
        """The numbers left in ``state``."""
        numbers = puzzle_numbers(state.question)
        for step in state.steps:
            moved = parse_move(numbers, step)
            if moved:
                numbers = moved[1]
        return numbers

    def propose(self, model: Model, state: State, n: int, *, temperature: float, seed: int | None) -> list[str]:
        numbers = self.numbers(state)
        if self.is_terminal(state) or len(numbers) == 1 and numbers[0] != 24:
            return []
        if len(numbers) == 1:
            return self._answers(model, state, temperature, seed)
        if self.propose_by == "rules":
            return legal_moves(numbers)
        query = self._propose_query(numbers)
        out = ask(model, query, n=n, temperature=temperature, seed=seed)
        steps: dict[str, None] = {}
        for text in out.texts:
            for line in text.splitlines():
                moved = parse_move(numbers, line)
                if moved:
                    steps[moved[0]] = None
        return list(steps)

    def _propose_query(self, numbers: list[Fraction]) -> Query:
        prompt = fill(prompts.PROPOSE, numbers=show_all(numbers))
        lines = self.max_moves if self.style == "list" else 1
        max_tokens = MOVE_TOKENS * lines
        stop = ("\nInput:", "\n\n") if self.style == "list" else ("\n",)
        repeat = f' (move "\\n"){{0,{lines - 1}}}' if lines > 1 else ""
        if self.grammar == "moves":
            alternatives = " | ".join(_quote(m) for m in legal_moves(numbers))
            grammar = f'root ::= move "\\n"{repeat}\nmove ::= {alternatives}\n'
        elif self.grammar == "format":
            grammar = f'root ::= move "\\n"{repeat}\n{_FORMAT_RULES}'
        else:
            grammar = None
        return Query(prompt, stop=stop, grammar=grammar, max_tokens=max_tokens)

    def _answers(self, model: Model, state: State, temperature: float, seed: int | None) -> list[str]:
        if self.answer_by == "steps":
            return [f"Answer: {compose(state)} = 24"]
        prompt = fill(prompts.LAST_STEP, puzzle=state.question, steps="\n".join(state.steps))
        grammar = None
        if self.grammar != "off":
            nums = " | ".join(sorted({_quote(show(x)) for x in puzzle_numbers(state.question)}))
            grammar = (
                f'root ::= " " expr " = 24"\nexpr ::= term ((" + " | " - ") term)*\n'
                f'term ::= factor ((" * " | " / ") factor)*\nfactor ::= num | "(" expr ")"\nnum ::= {nums}\n'
            )
        out = ask(
            model,
            Query(prompt, stop=("\n",), grammar=grammar, max_tokens=48),
            n=self.n_answers,
            temperature=temperature,
            seed=seed,
        )
        answers: dict[str, None] = {}
        for text in out.texts:
            expr, _, rhs = text.strip().partition("=")
            try:
                evaluate(expr)
            except ValueError:
                continue  # not an expression at all: malformed, dropped
            answers[f"Answer: {expr.strip()} = {rhs.strip() or '?'}"] = None
        return list(answers)

    def apply(self, state: State, step: str) -> State:
        return state.then(step)

    def is_terminal(self, state: State) -> bool:
        return bool(state.steps) and state.steps[-1].startswith("Answer:")

    def answer(self, state: State) -> str | None:
        if not self.is_terminal(state):
            return None
        return state.steps[-1].removeprefix("Answer:").split("=")[0].strip()

    def value_prompt(self, state: State) -> Query:
        grammar = VALUE_GRAMMAR if self.value_grammar else None
        max_tokens = 4 if self.value_grammar else 64
        if self.is_terminal(state):
            ans = state.steps[-1].removeprefix("Answer:").strip()
            prompt = fill(prompts.VALUE_LAST_STEP, puzzle=state.question, answer=ans)
            return Query(prompt, stop=("\nInput:",), grammar=grammar, max_tokens=max_tokens)
        numbers = show_all(self.numbers(state))
        if self.value_grammar:
            return Query(fill(prompts.VALUE_SHORT, numbers=numbers), grammar=_LABEL_AFTER_COLON, max_tokens=4)
        return Query(fill(prompts.VALUE, numbers=numbers), stop=("\n\n",), max_tokens=64)

    def vote_prompt(self, states: list[State]) -> Query:
        choices = "\n".join(f"Choice {i}:\n" + "\n".join(s.steps) for i, s in enumerate(states, 1))
        ids = " | ".join(f'"{i}"' for i in range(1, len(states) + 1))
        grammar = f'root ::= "The best choice is " ({ids})' if self.value_grammar else None
        prompt = fill(prompts.VOTE, puzzle=states[0].question, choices=choices)
        return Query(prompt, grammar=grammar, max_tokens=8 if grammar else 128)

    def validate(self, question: str, answer: str) -> bool:
        return validate(question, answer)


__all__ = ["Game24", "compose", "legal_moves", "parse_move", "puzzle_numbers", "validate"]
