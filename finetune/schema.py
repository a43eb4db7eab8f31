"""The project's training example: :class:`Example`, and the styles GSM8K rows become.

:mod:`finetune.data` reads files into examples, :mod:`finetune.formats` and :mod:`finetune.tot`
convert records; all of them build on this module, which imports none of them.

Example:
    >>> ex = Example(problem="2+2?", reasoning="I add.", answer="4")
    >>> ex.target()
    'Thought: I add.\\nFinal Answer: 4\\n'
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Any, Literal

from finetune.errors import DataError

Style = Literal["react", "chain"]
STYLES: tuple[str, ...] = ("react", "chain")


@dataclass(frozen=True)
class Example:
    """One training example: a prompt and the assistant text the model learns to write.

    Attributes:
        problem: the question (the user turn).
        reasoning: the assistant's reasoning before the answer; ReAct lines (``Thought: ...``)
            are kept as they are, plain text becomes one ``Thought:``.
        answer: the final answer (also what dev-set accuracy compares against).
        system: the system prompt; ``None`` uses the runtime's ReAct prompt with ``tools``.
        tools: names of the tools the prompt lists.
        messages: chat form: the prompt messages (system/user/...), used instead of the fields above.
        completion: chat and raw forms: the assistant text verbatim, used instead of reasoning + answer.
        raw_prompt: raw form: the prompt text as the model sees it (no chat template); the
            completion follows it directly and ends with the end-of-sequence token.
    """

    problem: str
    reasoning: str
    answer: str
    system: str | None = None
    tools: tuple[str, ...] = ()
    messages: tuple[dict[str, str], ...] = ()
    completion: str | None = None
    raw_prompt: str | None = None

    def target(self) -> str:
        """The assistant's turn, exactly as the runtime parses it (``Trajectory.render()`` format)."""
        if self.completion is not None:
            return self.completion
        reasoning = self.reasoning.strip()
        if not reasoning.startswith("Thought:"):
            reasoning = f"Thought: {reasoning or 'I know the answer.'}"
        return f"{reasoning}\nFinal Answer: {self.answer.strip()}\n"

    def prompt_messages(self) -> list[dict[str, str]]:
        """The chat messages before the assistant's turn."""
        if self.messages:
            return [dict(m) for m in self.messages]
        from agent.core.prompts import render, render_react_prompt

        if self.system is not None:
            return [
                {"role": "system", "content": self.system},
                {"role": "user", "content": render("react_user", question=self.problem.strip())},
            ]
        return render_react_prompt(self.problem, example_tools(self.tools))

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["tools"] = list(self.tools)
        d["messages"] = list(self.messages)
        return {k: v for k, v in d.items() if v not in (None, [], ())}


@lru_cache(maxsize=32)
def example_tools(names: tuple[str, ...]) -> list[Any]:
    """The tool objects ``names`` load (cached), for the runtime's ReAct prompt.

    Raises:
        DataError: a tool cannot be loaded.
    """
    from tools import ToolNotFound, load_tools

    try:
        return load_tools(list(names))
    except ToolNotFound as err:
        raise DataError(f"the examples name a tool that cannot be loaded: {err}") from err


__all__ = ["STYLES", "Example", "Style", "example_tools"]
