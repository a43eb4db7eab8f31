"""A scripted fake model: a first-class backend for tests and examples.

It returns canned replies in order (or asks a function), cuts them at stop strings like a
real backend, and records every prompt it saw so tests can assert on them.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from agent.core.model import Completion, ModelError, cut_at_stop

Reply = str | Callable[[str], str]


class ScriptedModel:
    """Replies from a script.

    Args:
        replies: a list consumed in order (each item a string, or a function of the prompt
            returning a string); or one function ``f(prompt) -> str`` used for every sample.
        name: the name reported in traces.
        cycle: start the list again when it runs out instead of raising.

    Example:
        >>> m = ScriptedModel(["Thought: easy\\nFinal Answer: 4"])
        >>> m.complete("Q: 2+2", stop=["\\nObservation:"]).text
        'Thought: easy\\nFinal Answer: 4'
    """

    def __init__(self, replies: Sequence[Reply] | Callable[[str], str], name: str = "scripted", cycle: bool = False):
        self.name = name
        self.supports_grammar = True  # accepts a grammar (recorded in .calls) but does not enforce it
        self._fn = replies if callable(replies) else None
        self._replies = [] if callable(replies) else list(replies)
        self._cycle = cycle
        self._i = 0
        self.prompts: list[str] = []
        self.calls: list[dict] = []

    @classmethod
    def from_file(cls, path: str) -> ScriptedModel:
        """Load replies from a JSON list of strings."""
        try:
            replies = json.loads(Path(path).read_text())
        except (OSError, json.JSONDecodeError) as err:
            raise ModelError(f"{path}: cannot read scripted replies ({err})") from err
        if not isinstance(replies, list) or not all(isinstance(r, str) for r in replies):
            raise ModelError(f"{path}: expected a JSON list of strings")
        return cls(replies, name=f"fake:{path}", cycle=True)

    def render(self, messages: list[dict[str, str]], add_generation_prompt: bool = True) -> str:
        parts = [f"<|{m['role']}|>\n{m['content']}\n" for m in messages]
        return "".join(parts) + ("<|assistant|>\n" if add_generation_prompt else "")

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def _next(self, prompt: str) -> str:
        if self._fn is not None:
            return self._fn(prompt)
        if self._i >= len(self._replies):
            if not self._cycle or not self._replies:
                raise ModelError(f"scripted model ran out of replies after {self._i} calls")
            self._i = 0
        reply = self._replies[self._i]
        self._i += 1
        return reply(prompt) if callable(reply) else reply

    def complete(
        self, prompt, *, stop=(), grammar=None, n=1, max_tokens=256, temperature=0.0, seed=None, logprobs=False
    ) -> Completion:
        t0 = time.perf_counter()
        self.prompts.append(prompt)
        self.calls.append(
            {"prompt": prompt, "stop": list(stop), "grammar": grammar, "n": n, "temperature": temperature, "seed": seed}
        )
        texts, reasons = [], []
        for _ in range(n):
            text, reason = cut_at_stop(self._next(prompt), stop), "stop"
            if self.count_tokens(text) > max_tokens:  # a "token" is a word here: long replies end like a real backend's
                text, reason = "".join(re.findall(r"\s*\S+", text)[:max_tokens]), "length"
            texts.append(text)
            reasons.append(reason)
        return Completion(
            texts=texts,
            prompt_tokens=self.count_tokens(prompt),
            completion_tokens=sum(self.count_tokens(t) for t in texts),
            seconds=time.perf_counter() - t0,
            logprobs=[[0.0] * self.count_tokens(t) for t in texts] if logprobs else None,
            finish_reasons=reasons,
        )
