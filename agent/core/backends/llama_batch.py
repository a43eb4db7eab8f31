"""The decode loop behind :class:`agent.core.backends.llama_cpp.LlamaCppModel`: ``n`` samples advanced as
parallel sequences of one reusable ``llama_batch`` (one ``llama_decode`` per step for all live samples).

It talks to the ctypes API of llama-cpp-python 0.3.36 directly. The other low-level pieces live beside
it, one job a file: ``llama_log`` (the log sink), ``gguf_header`` (header checks), ``llama_machine``
(what this machine's llama.cpp can do, remembered), ``llama_probe`` (the child-process probe),
``llama_sampling`` (samplers) and ``llama_prompt_cache`` (prompt states kept across processes).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from agent.core.backends.gguf_header import check_gguf, gguf_string
from agent.core.backends.llama_log import LOG_SINK, LogSink
from agent.core.backends.llama_machine import ExtraBufts, follow_extra_bufts_in_high_level_api
from agent.core.backends.llama_probe import probe_gguf
from agent.core.backends.llama_sampling import RANDOM_SEED, Logits, draw, log_softmax_at, make_chain
from agent.core.model import ModelError

__all__ = [  # the names this module has always offered (tests and benchmarks import them from here)
    "LOG_SINK",
    "RANDOM_SEED",
    "Batch",
    "ExtraBufts",
    "Limits",
    "LogSink",
    "Sample",
    "check_gguf",
    "draw",
    "follow_extra_bufts_in_high_level_api",
    "generate",
    "gguf_string",
    "log_softmax_at",
    "make_chain",
    "probe_gguf",
]

logger = logging.getLogger(__name__)


class Batch:
    """A ``llama_batch`` of fixed capacity, refilled in place for every decode."""

    def __init__(self, capacity: int) -> None:
        import llama_cpp

        self.capacity = capacity
        self.raw = llama_cpp.llama_batch_init(capacity, 0, 1)

    def fill(self, rows: Sequence[tuple[int, int, int, bool]]) -> None:
        """Set the batch to ``rows`` of (token, position, sequence id, wants logits)."""
        raw = self.raw
        for i, (token, pos, seq_id, logits) in enumerate(rows):
            raw.token[i] = token
            raw.pos[i] = pos
            raw.n_seq_id[i] = 1
            raw.seq_id[i][0] = seq_id
            raw.logits[i] = logits
        raw.n_tokens = len(rows)

    def close(self) -> None:
        import llama_cpp

        if self.raw is not None:
            llama_cpp.llama_batch_free(self.raw)
            self.raw = None


@dataclass
class Sample:
    """One sample being generated as llama.cpp sequence ``seq_id``."""

    seq_id: int
    chain: object
    grammar: object | None  # this sample's own copy of the grammar sampler (its own parse state)
    pos: int  # position its next token will be decoded at
    idx: int = 0  # row of the last decoded batch holding its logits
    greedy: bool = False  # its chain is llama.cpp's greedy sampler (drawn in numpy, see draw)
    tokens: list[int] = field(default_factory=list)
    decoded: int = 0  # how many of ``tokens`` are in the KV cache
    data: bytearray = field(default_factory=bytearray)
    text: str = ""
    logprobs: list[float] = field(default_factory=list)
    finish: str | None = None


@dataclass(frozen=True)
class Limits:
    """When a sample ends, and what to record while it runs."""

    stop: tuple[str, ...]
    max_tokens: int
    logprobs: bool


def _advance(ctx, vocab, logits: Logits, sample: Sample, limits: Limits, piece: Callable[[int], bytes]) -> None:
    """Sample the next token of ``sample`` and update its text and finish reason."""
    import llama_cpp

    row = logits.row(sample.idx)
    token = draw(ctx, sample, row)
    if llama_cpp.llama_vocab_is_eog(vocab, token):
        sample.finish = "stop"
        return
    if limits.logprobs:
        sample.logprobs.append(log_softmax_at(row, token))
    sample.tokens.append(token)
    seen = len(sample.text)
    sample.data += piece(token)
    sample.text = sample.data.decode("utf-8", "ignore")
    cuts = [i for s in limits.stop if s and (i := sample.text.find(s, max(0, seen - len(s)))) >= 0]
    if cuts:
        sample.text = sample.text[: min(cuts)]
        sample.finish = "stop"
    elif len(sample.tokens) >= limits.max_tokens:
        sample.finish = "length"


def generate(ctx, vocab, batch: Batch, samples: list[Sample], limits: Limits, piece: Callable[[int], bytes]) -> None:
    """Run ``samples`` to their end, decoding one token per live sample per step in one batch.

    Each sample's first token is drawn from the logits its ``idx`` points at (the prompt's
    last row, shared by all samples); its sequence must already hold the prompt.

    Raises:
        ModelError: llama.cpp failed to decode.
    """
    import llama_cpp

    logits = Logits(ctx, llama_cpp.llama_vocab_n_tokens(vocab))
    live = [s for s in samples if s.finish is None]
    while live:
        for sample in live:
            _advance(ctx, vocab, logits, sample, limits, piece)
        live = [s for s in live if s.finish is None]
        if not live:
            return
        batch.fill([(s.tokens[-1], s.pos, s.seq_id, True) for s in live])
        status = llama_cpp.llama_decode(ctx, batch.raw)
        if status == 1:  # no KV slot left: the context is full
            logger.warning("llama.cpp context full after %d tokens; ending %d samples", live[0].pos, len(live))
            for sample in live:
                sample.finish = "length"
            return
        if status != 0:
            raise ModelError(f"llama_decode failed with status {status}: {LOG_SINK.last_error()}")
        for row, sample in enumerate(live):
            sample.idx, sample.pos, sample.decoded = row, sample.pos + 1, sample.decoded + 1
