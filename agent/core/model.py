"""The model contract: one small protocol every backend implements.

A backend completes a *raw prompt string* (already rendered with the model's chat
template by :meth:`Model.render`) with stop strings, an optional GBNF grammar,
``n`` samples, temperature/seed and optional logprobs, and reports the tokens it used.

Choosing a backend from a model spec is :func:`agent.core.load.load_model`'s job.

Example:
    >>> from agent.core.backends.fake import ScriptedModel
    >>> m = ScriptedModel(["Hello"])
    >>> m.complete("Hi:").texts
    ['Hello']
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable


class ModelError(RuntimeError):
    """A system failure of a backend (missing file, dead server, corrupt weights).

    Raised, never turned into an observation: the user has to fix something.
    """


@dataclass(frozen=True)
class Completion:
    """The result of one :meth:`Model.complete` call.

    Attributes:
        texts: one generated text per sample (``n`` of them), stop strings removed.
        prompt_tokens: tokens in the prompt that were evaluated (after prefix reuse).
        completion_tokens: tokens generated, summed over all samples.
        seconds: wall time of the call.
        logprobs: per sample, the log-probability of each generated token, when asked for.
        finish_reasons: per sample, ``"stop"`` (a stop string or end of generation) or ``"length"``.
    """

    texts: list[str]
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0
    logprobs: list[list[float]] | None = None
    finish_reasons: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        """The first sample's text."""
        return self.texts[0]


@runtime_checkable
class Model(Protocol):
    """What the runtime and the search need of a language model."""

    name: str

    def render(self, messages: list[dict[str, str]], add_generation_prompt: bool = True) -> str:
        """Render chat messages (``{"role", "content"}``) with the model's own chat template."""
        ...

    def complete(
        self,
        prompt: str,
        *,
        stop: list[str] | tuple[str, ...] = (),
        grammar: str | None = None,
        n: int = 1,
        max_tokens: int = 256,
        temperature: float = 0.0,
        seed: int | None = None,
        logprobs: bool = False,
    ) -> Completion:
        """Continue ``prompt``; ``n`` samples, each cut at the first stop string.

        Args:
            prompt: the raw text to continue (use :meth:`render` for chat).
            stop: strings that end a sample; they are not included in the text.
            grammar: a GBNF grammar the output must follow (backends that cannot
                enforce one raise :class:`ModelError` rather than ignore it).
            n: number of samples; backends draw them as one batch where they can.
            max_tokens: the most tokens generated per sample.
            temperature: 0 is greedy.
            seed: makes sampling repeatable.
            logprobs: also return the log-probability of each generated token.
        """
        ...

    def count_tokens(self, text: str) -> int:
        """Number of tokens ``text`` encodes to (without special tokens)."""
        ...


def cut_at_stop(text: str, stop: list[str] | tuple[str, ...]) -> str:
    """``text`` up to the first of the stop strings (for backends that get whole texts back)."""
    cuts = [i for i in (text.find(s) for s in stop if s) if i >= 0]
    return text[: min(cuts)] if cuts else text
