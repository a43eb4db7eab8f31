"""Many agents, one batch: concurrent ``complete`` calls served by one batched call of a wrapped model.

A GPU runs a 135M model at nearly the same speed for 1 sequence or 512, so sampling ReAct trajectories
one at a time wastes it. :class:`BatchingModel` is a :class:`~agent.core.model.Model` for many threads at
once (each thread runs its own ReAct loop or ``agent eval`` shard): a call is queued, a worker thread
gathers the queued calls (up to ``max_batch`` prompts, waiting ``wait`` seconds for stragglers), groups
those that share stop strings, token limit and temperature, and serves each group with one
``inner.complete_many(prompts, ...)`` (a call for ``n`` samples is ``n`` prompts). The wrapped model
must offer ``complete_many`` (:class:`~agent.core.backends.transformers_backend.TransformersModel` and
:class:`~agent.core.backends.llama_cpp.LlamaCppModel` do).

Grammars only where the wrapped model batches them (``batch_grammar``: llama.cpp does; without, the ReAct
loop relies on its parser); no log-probabilities; sampling is not seeded per call.

Example:
    >>> from agent.core.backends.fake import ScriptedModel
    >>> class Echo(ScriptedModel):
    ...     def complete_many(self, prompts, **kw):
    ...         return [self.complete(p) for p in prompts]
    >>> with BatchingModel(Echo(lambda p: p.upper())) as m:
    ...     m.complete("hi", n=2).texts
    ['HI', 'HI']
"""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Self

from agent.core.model import Completion, ModelError


@dataclass
class _Call:
    prompt: str
    n: int
    key: tuple[
        tuple[str, ...], int, float, str | None
    ]  # stop strings, max tokens, temperature, grammar: one batch shares them
    done: threading.Event = field(default_factory=threading.Event)
    result: Completion | None = None
    error: BaseException | None = None


class BatchingModel:
    """Serve concurrent calls with batched calls of ``inner`` (see the module doc)."""

    def __init__(self, inner: Any, max_batch: int = 256, wait: float = 0.02):
        if not hasattr(inner, "complete_many"):
            raise ModelError(f"{getattr(inner, 'name', inner)!r} cannot batch: it has no complete_many")
        if max_batch < 1:
            raise ValueError(f"max_batch must be at least 1, got {max_batch}")
        self.inner, self.max_batch, self.wait = inner, max_batch, wait
        self.supports_grammar = bool(getattr(inner, "batch_grammar", False))
        if getattr(inner, "n_ctx", None):  # shared by the batch's sequences: a conservative budget for each
            self.n_ctx = inner.n_ctx // max_batch
        self.name = getattr(inner, "name", "batched")
        self.batches: list[int] = []  # prompts per inner call, for reporting
        self._queue: queue.Queue[_Call | None] = queue.Queue()
        self._worker = threading.Thread(target=self._serve, name="batching-model", daemon=True)
        self._worker.start()

    def render(self, messages: list[dict[str, str]], add_generation_prompt: bool = True) -> str:
        return self.inner.render(messages, add_generation_prompt)

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)

    def complete(
        self, prompt, *, stop=(), grammar=None, n=1, max_tokens=256, temperature=0.0, seed=None, logprobs=False
    ) -> Completion:
        if grammar and not self.supports_grammar:
            raise ModelError("the batching model cannot enforce a grammar")
        if logprobs:
            raise ModelError("the batching model returns no logprobs")
        call = _Call(prompt, n, (tuple(stop), max_tokens, float(temperature), grammar or None))
        self._queue.put(call)
        call.done.wait()
        if call.error is not None:
            raise call.error
        return call.result

    def close(self) -> None:
        """Stop the worker (calls already queued are served first)."""
        self._queue.put(None)
        self._worker.join()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _gather(self, first: _Call) -> tuple[list[_Call], bool]:
        """The first call and those queued within ``wait`` seconds, up to ``max_batch`` prompts; and whether to stop."""
        calls, size, deadline = [first], first.n, time.perf_counter() + self.wait
        while size < self.max_batch:
            try:
                call = self._queue.get(timeout=max(0.0, deadline - time.perf_counter()))
            except queue.Empty:
                break
            if call is None:
                return calls, True
            calls.append(call)
            size += call.n
        return calls, False

    def _serve(self) -> None:
        stop = False
        while not stop:
            first = self._queue.get()
            if first is None:
                return
            calls, stop = self._gather(first)
            groups: dict[tuple, list[_Call]] = {}
            for call in calls:
                groups.setdefault(call.key, []).append(call)
            for (stops, max_tokens, temperature, grammar), group in groups.items():
                self._run(group, stops, max_tokens, temperature, grammar)

    def _run(
        self, group: list[_Call], stops: tuple[str, ...], max_tokens: int, temperature: float, grammar: str | None
    ) -> None:
        prompts = [c.prompt for c in group for _ in range(c.n)]
        extra = {"grammar": grammar} if grammar else {}
        try:
            outs = self.inner.complete_many(
                prompts, stop=stops, max_tokens=max_tokens, temperature=temperature, **extra
            )
        except BaseException as err:  # noqa: BLE001 - handed to every waiting caller, who re-raises it
            for call in group:
                call.error = err
                call.done.set()
            return
        self.batches.append(len(prompts))
        i = 0
        for call in group:
            mine, i = outs[i : i + call.n], i + call.n
            call.result = Completion(
                texts=[c.text for c in mine],
                prompt_tokens=sum(c.prompt_tokens for c in mine),
                completion_tokens=sum(c.completion_tokens for c in mine),
                seconds=max(c.seconds for c in mine),
                finish_reasons=[r for c in mine for r in c.finish_reasons],
            )
            call.done.set()
