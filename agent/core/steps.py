"""Typed steps and trajectories: what the ReAct loop records, renders and writes to ``--trace``.

One format from the runtime to the trainer: ``finetune/`` reads the same JSON lines.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from agent.core.text import dumps

ErrorType = Literal["parse", "unknown_tool", "bad_args", "tool_error", "repeat", "truncated", "max_steps"]


@dataclass(frozen=True)
class Action:
    """A tool call: the tool's name and its JSON arguments."""

    tool: str
    args: dict[str, Any]

    def render(self) -> str:
        return f"Action: {self.tool}\nAction Input: {json.dumps(self.args, ensure_ascii=False)}\n"


@dataclass(frozen=True)
class StepError:
    """Something the *model* got wrong; shown to it as the observation."""

    type: ErrorType
    message: str


@dataclass
class Step:
    """One Thought / Action / Observation step, or the final answer.

    Attributes:
        thought: the model's reasoning for this step.
        action: the tool call, or ``None`` on a final-answer step or a step that failed to parse.
        observation: what the tool returned, or the error text the model is shown.
        error: set when the model's output could not be carried out.
        answer: the final answer, on the last step only.
        tokens: tokens generated for this step.
        seconds: wall time of the step (generation and tool).
    """

    thought: str = ""
    action: Action | None = None
    observation: str | None = None
    error: StepError | None = None
    answer: str | None = None
    tokens: int = 0
    seconds: float = 0.0
    raw: str = field(default="", repr=False)

    def render(self) -> str:
        """The step as prompt text, exactly as the model is trained to write it."""
        text = f"Thought: {self.thought}\n"
        if self.answer is not None and self.action is None:
            return text + f"Final Answer: {self.answer}\n"
        if self.action is not None:
            text += self.action.render()
        elif self.raw:
            text = self.raw if self.raw.endswith("\n") else self.raw + "\n"
        if self.observation is not None:
            text += f"Observation: {self.observation}\n"
        return text

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("raw")
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Step:
        action = d.get("action")
        error = d.get("error")
        return cls(
            thought=d.get("thought") or "",
            action=Action(action["tool"], dict(action.get("args") or {})) if action else None,
            observation=d.get("observation"),
            error=StepError(error["type"], error["message"]) if error else None,
            answer=d.get("answer"),
            tokens=int(d.get("tokens") or 0),
            seconds=float(d.get("seconds") or 0.0),
        )


@dataclass
class Trajectory:
    """A whole run: the question, its steps, the answer and counters."""

    question: str
    steps: list[Step] = field(default_factory=list)
    answer: str | None = None
    model: str = ""
    tools: list[str] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)

    def render(self) -> str:
        """The assistant's side of the run as prompt text (all steps)."""
        return "".join(s.render() for s in self.steps)

    def to_dict(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "steps": [s.to_dict() for s in self.steps],
            "answer": self.answer,
            "model": self.model,
            "tools": self.tools,
            "stats": self.stats,
        }

    def to_json(self) -> str:
        """The run as one JSON line; any text encodes (:func:`agent.core.text.dumps`)."""
        return dumps(self.to_dict())

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Trajectory:
        return cls(
            question=d["question"],
            steps=[Step.from_dict(s) for s in d.get("steps") or []],
            answer=d.get("answer"),
            model=d.get("model") or "",
            tools=list(d.get("tools") or []),
            stats=dict(d.get("stats") or {}),
        )
