"""A model wrapper that counts what a search spends, and gives every call its own seed.

Counters live on the wrapper (one per search), not in module globals as in the ToT
reference code.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from agent.core.model import Completion, Model, ModelError
from search.contract import Query

log = logging.getLogger(__name__)
SEED_STRIDE = 1000  # more than the samples any one call draws


@dataclass(frozen=True)
class Usage:
    """Totals of the model calls so far."""

    calls: int = 0
    samples: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def __sub__(self, other: Usage) -> Usage:
        return Usage(
            self.calls - other.calls,
            self.samples - other.samples,
            self.prompt_tokens - other.prompt_tokens,
            self.completion_tokens - other.completion_tokens,
            self.seconds - other.seconds,
        )


class MeteredModel:
    """Forwards to ``model`` and adds up calls, samples, tokens and seconds.

    Args:
        model: any :class:`agent.core.model.Model`.
        seed: the base seed; call ``i`` (from 0) samples with ``seed + SEED_STRIDE * i`` unless
            given one (a backend draws sample ``j`` of a call with ``seed + j``: the stride keeps
            the samples of different calls on different seeds).
    """

    def __init__(self, model: Model, seed: int | None = 0):
        self.inner = model
        self.name = getattr(model, "name", type(model).__name__)
        self._seed = seed
        self.usage = Usage()
        # False when the backend says it cannot enforce grammars, or once it refuses one
        self.grammar_ok = bool(getattr(model, "supports_grammar", True))

    def render(self, messages: list[dict[str, str]], add_generation_prompt: bool = True) -> str:
        return self.inner.render(messages, add_generation_prompt=add_generation_prompt)

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)

    def complete(self, prompt: str, **kwargs) -> Completion:
        if kwargs.get("seed") is None and self._seed is not None:
            kwargs["seed"] = self._seed + SEED_STRIDE * self.usage.calls
        t0 = time.perf_counter()
        out = self.inner.complete(prompt, **kwargs)
        u = self.usage
        self.usage = Usage(
            u.calls + 1,
            u.samples + len(out.texts),
            u.prompt_tokens + out.prompt_tokens,
            u.completion_tokens + out.completion_tokens,
            u.seconds + (time.perf_counter() - t0),
        )
        return out


def ask(
    model: Model, query: Query, *, n: int = 1, temperature: float = 0.7, seed: int | None = None, logprobs: bool = False
) -> Completion:
    """Send ``query`` to ``model`` for ``n`` samples in one call.

    When the query carries a grammar and the backend says it cannot enforce grammars (its
    ``supports_grammar`` is false, or it raises a ModelError saying it "cannot enforce" one),
    the query goes without it (and, on a :class:`MeteredModel`, later calls skip it). A
    grammar the backend rejects as malformed still raises.
    """
    grammar = query.grammar if getattr(model, "grammar_ok", getattr(model, "supports_grammar", True)) else None
    kwargs = {
        "stop": list(query.stop),
        "n": n,
        "max_tokens": query.max_tokens,
        "temperature": temperature,
        "seed": seed,
        "logprobs": logprobs,
    }
    try:
        return model.complete(query.prompt, grammar=grammar, **kwargs)
    except ModelError as err:
        if grammar is None or "cannot enforce" not in str(err).lower():
            raise
        log.warning("%s cannot enforce grammars (%s); asking without one", getattr(model, "name", "model"), err)
        if isinstance(model, MeteredModel):
            model.grammar_ok = False
        return model.complete(query.prompt, grammar=None, **kwargs)
