"""The ReAct loop: Thought / Action / Observation until a final answer or ``max_steps``.

What the model gets wrong (unparseable text, an unknown tool, bad arguments, a tool that
raises, the same action again) becomes the step's Observation and the loop goes on; a
failing backend raises :class:`~agent.core.model.ModelError`.

Example:
    >>> from agent.core.backends.fake import ScriptedModel
    >>> from tools import load_tools
    >>> model = ScriptedModel([
    ...     'Thought: multiply\\nAction: calculator\\nAction Input: {"expression": "6*7"}\\n',
    ...     "Thought: done\\nFinal Answer: 42\\n"])
    >>> ReActAgent(model, load_tools("calculator")).run("6 times 7?").answer
    '42'
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from agent.core.errors import UserError
from agent.core.grammar import react_grammar
from agent.core.model import Completion, Model
from agent.core.parse import Parsed, parse_step
from agent.core.prompts import render, render_react_prompt
from agent.core.steps import Step, StepError, Trajectory
from agent.core.text import clean
from tools.base import Tool, ToolError

log = logging.getLogger(__name__)
STOP = ["\nObservation:", "Observation:", "\nQuestion:"]
MAX_OBSERVATION_CHARS = 1000  # long tool output is cut so the prompt stays within the context


@dataclass
class ReActConfig:
    """Settings of one ReAct run."""

    max_steps: int = 8  # the last allowed step must give a final answer
    max_tokens: int = 320  # per step; the grammar bounds the thought (240 chars), the rest is tool input
    temperature: float = 0.0  # 0 is greedy; self-consistency needs > 0
    seed: int | None = None
    grammar: bool = True  # constrain decoding where the backend supports GBNF
    repeat_limit: int = 2  # identical actions tolerated before a final answer is forced

    def __post_init__(self) -> None:
        if self.max_steps < 1:
            raise ValueError(f"max_steps must be at least 1, got {self.max_steps}")
        if self.temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {self.temperature}")


class ReActAgent:
    """Drives a model through the ReAct format with a set of tools."""

    def __init__(
        self,
        model: Model,
        tools: list[Tool],
        config: ReActConfig | None = None,
        on_step: Callable[[Step], None] | None = None,
    ):
        self.model = model
        self.tools = {t.name: t for t in tools}
        self.config = config or ReActConfig()
        self.on_step = on_step
        self._first_args = {t.name: next(iter(t.parameters.get("properties", {})), None) for t in tools}
        self._grammars = {flag: react_grammar(tools, final_only=flag) for flag in (False, True)}

    def prompt(self, traj: Trajectory) -> str:
        """The full prompt for the next step: chat-rendered question, then the steps so far."""
        messages = render_react_prompt(traj.question, list(self.tools.values()))
        return self.model.render(messages) + traj.render()

    def run(self, question: str, first: str | None = None) -> Trajectory:
        """Run until a final answer or ``max_steps``; ``first`` is an already drawn first step."""
        traj = Trajectory(question=question, model=getattr(self.model, "name", ""), tools=list(self.tools))
        if first is None:
            self._check_question_fits(traj)
        return self._loop(traj, first)

    def resume(self, traj: Trajectory, first: str | None = None) -> Trajectory:
        """A new trajectory that goes on from ``traj``'s steps (left as they are) until a final answer or
        ``max_steps`` in all; ``first`` is an already drawn text of the next step. A rollout from a step prefix."""
        start = Trajectory(question=traj.question, steps=list(traj.steps), model=traj.model or
                           getattr(self.model, "name", ""), tools=list(traj.tools or self.tools))
        if traj.answer is not None:
            start.answer = traj.answer
            return start
        return self._loop(start, first)

    def _loop(self, traj: Trajectory, first: str | None) -> Trajectory:
        t0 = time.perf_counter()
        done = len(traj.steps)
        repeats = sum(s.error is not None and s.error.type == "repeat" for s in traj.steps)
        for i in range(done, self.config.max_steps):
            if i and (i > done or first is None) and not self._fits(traj):
                traj.stats["stopped"] = "context_full"  # no room for another step: end with what exists
                break
            force_final = i == self.config.max_steps - 1 or repeats >= self.config.repeat_limit
            step = self._step(traj, force_final, first if i == done else None)
            repeats += step.error is not None and step.error.type == "repeat"
            traj.steps.append(step)
            if self.on_step:
                self.on_step(step)
            if step.answer is not None:
                traj.answer = step.answer
                break
        traj.stats = {
            **traj.stats,
            "steps": len(traj.steps),
            "tokens": sum(s.tokens for s in traj.steps),
            "seconds": round(time.perf_counter() - t0, 3),
            "finished": traj.answer is not None,
        }
        return traj

    def propose(
        self, traj: Trajectory, n: int, temperature: float, seed: int | None = None, max_tokens: int | None = None
    ) -> Completion:
        """``n`` drawn texts of the step after ``traj``, in one batch where the backend can; nothing is run.

        The last step a run allows may only give the final answer (the grammar says so where the backend takes one).
        ``max_tokens`` caps each sample below the configured step length (a search's budget).
        """
        use_grammar = self.config.grammar and getattr(self.model, "supports_grammar", True)
        final_only = len(traj.steps) >= self.config.max_steps - 1
        return self.model.complete(
            self.prompt(traj),
            stop=STOP,
            n=n,
            grammar=self._grammars[final_only] if use_grammar else None,
            max_tokens=self.config.max_tokens if max_tokens is None else min(max_tokens, self.config.max_tokens),
            temperature=temperature,
            seed=seed,
        )

    def take(self, traj: Trajectory, text: str) -> Step:
        """The step that ``text`` makes after ``traj``: parsed and its action run (``traj`` itself is unchanged)."""
        return self._step(traj, False, text)

    def _fits(self, traj: Trajectory) -> bool:
        """Whether the next step's prompt plus its token budget fits the model's context (if it has one)."""
        n_ctx = getattr(self.model, "n_ctx", None)
        if not n_ctx:
            return True
        return self.model.count_tokens(self.prompt(traj)) + self.config.max_tokens + 32 <= n_ctx

    def _check_question_fits(self, traj: Trajectory) -> None:
        """Refuse a question that leaves no room for a first step in the model's context (if it has one).

        Raises:
            UserError: the message gives the question's tokens and the context size.
        """
        if self._fits(traj):
            return
        n_ctx, question = self.model.n_ctx, self.model.count_tokens(traj.question)
        prompt = self.model.count_tokens(self.prompt(traj))
        raise UserError(
            f"the question has {question} tokens, too many for the model's context of {n_ctx} tokens (the prompt "
            f"with it has {prompt}, and a step needs {self.config.max_tokens} more); shorten the question"
        )

    def _generate(self, traj: Trajectory, force_final: bool) -> tuple[str, int, bool]:
        prompt = self.prompt(traj)
        if force_final:
            prompt += render("force_final")
        use_grammar = self.config.grammar and getattr(self.model, "supports_grammar", True)
        out = self.model.complete(
            prompt,
            stop=STOP,
            grammar=self._grammars[force_final] if use_grammar else None,
            max_tokens=self.config.max_tokens,
            temperature=self.config.temperature,
            seed=None if self.config.seed is None else self.config.seed + len(traj.steps),
        )
        text = out.text
        if force_final and not text.lstrip().startswith("Thought:"):
            text = render("force_final") + text
        truncated = bool(out.finish_reasons) and out.finish_reasons[0] == "length"
        return text, out.completion_tokens, truncated

    def _step(self, traj: Trajectory, force_final: bool, drawn: str | None) -> Step:
        t0 = time.perf_counter()
        text, tokens, truncated = (drawn, 0, False) if drawn is not None else self._generate(traj, force_final)
        parsed = parse_step(text, self._first_args)
        if truncated and parsed.error is not None:  # well-formed so far (grammar), but out of tokens
            msg = f"the step was cut off after {tokens} tokens; keep the Thought to one line and the input short"
            parsed = Parsed(parsed.thought, parsed.action, parsed.answer, StepError("truncated", msg))
        step = Step(thought=parsed.thought, action=parsed.action, answer=parsed.answer, tokens=tokens, raw=text)
        if parsed.error is None and parsed.action is not None:
            step.observation, step.error = self._act(parsed, traj)
        elif parsed.error is not None:
            step.error = parsed.error
            step.observation = f"Error: {parsed.error.message}"
        if step.observation is not None:  # a tool's (or the model's) escape sequences reach neither prompt nor tty
            step.observation = clean(step.observation)
        if step.error is not None:
            step.error = StepError(step.error.type, clean(step.error.message))
        step.seconds = round(time.perf_counter() - t0, 3)
        log.debug("step %d: %s", len(traj.steps) + 1, step)
        return step

    def _act(self, parsed: Parsed, traj: Trajectory) -> tuple[str, StepError | None]:
        """Run the parsed action; model mistakes come back as (observation, error)."""
        action = parsed.action
        tool = self.tools.get(action.tool)
        if tool is None:
            msg = f"there is no tool {action.tool!r}; use one of: {', '.join(self.tools)}"
            return f"Error: {msg}", StepError("unknown_tool", msg)
        previous = next((s for s in reversed(traj.steps) if s.action == action and s.error is None), None)
        if previous is not None:
            msg = f"you already ran this action and got: {previous.observation}. Use it or give the Final Answer."
            return f"Error: {msg}", StepError("repeat", msg)
        problem = tool.check_args(action.args)
        if problem:
            return f"Error: {problem}", StepError("bad_args", problem)
        try:
            result = tool.run(**action.args)
        except ToolError as err:
            return f"Error: {err}", StepError("tool_error", str(err))
        except Exception as err:  # noqa: BLE001 - a tool's own bug is still the model's observation, not a crash
            log.warning("tool %s raised %r", tool.name, err)
            return f"Error: {type(err).__name__}: {err}", StepError("tool_error", f"{type(err).__name__}: {err}")
        if len(result) > MAX_OBSERVATION_CHARS:
            result = result[:MAX_OBSERVATION_CHARS] + f" ... [{len(result) - MAX_OBSERVATION_CHARS} chars cut]"
        return result.strip(), None
