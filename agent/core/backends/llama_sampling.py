"""Drawing tokens from llama.cpp's logits: per-sample sampler chains and a cheap grammar check."""

from __future__ import annotations

import ctypes
import math

RANDOM_SEED = 0xFFFFFFFF  # LLAMA_DEFAULT_SEED: llama.cpp draws a random seed


def make_chain(temperature: float, seed: int, top_k: int, top_p: float, min_p: float):
    """A sampler chain: greedy, or top-k / top-p / min-p / temperature / seeded draw (freed by the caller)."""
    import llama_cpp

    params = llama_cpp.llama_sampler_chain_default_params()
    params.no_perf = True
    chain = llama_cpp.llama_sampler_chain_init(params)
    if temperature <= 0:
        llama_cpp.llama_sampler_chain_add(chain, llama_cpp.llama_sampler_init_greedy())
        return chain
    for sampler in (
        llama_cpp.llama_sampler_init_top_k(top_k),
        llama_cpp.llama_sampler_init_top_p(top_p, 1),
        llama_cpp.llama_sampler_init_min_p(min_p, 1),
        llama_cpp.llama_sampler_init_temp(temperature),
        llama_cpp.llama_sampler_init_dist(seed),
    ):
        llama_cpp.llama_sampler_chain_add(chain, sampler)
    return chain


class Logits:
    """Rows of the last decoded batch's logits as numpy views (no copy), one vocabulary wide."""

    def __init__(self, ctx, n_vocab: int) -> None:
        self.ctx = ctx
        self.row_type = ctypes.c_float * n_vocab

    def row(self, idx: int):
        import llama_cpp
        import numpy as np

        pointer = llama_cpp.llama_get_logits_ith(self.ctx, idx)
        return np.frombuffer(self.row_type.from_address(ctypes.addressof(pointer.contents)), dtype=np.float32)


def draw(ctx, sample, logits) -> int:
    """Draw the next token of ``sample`` (a :class:`~agent.core.backends.llama_batch.Sample`) from ``logits``,
    its row of the last batch (a numpy view).

    A greedy draw is the first largest logit, the token llama.cpp's greedy sampler picks, found in
    numpy: the sampler first copies the whole vocabulary into a candidate array, ten times the cost.
    With a grammar, llama.cpp's own shortcut: draw unconstrained and keep the token if the
    grammar accepts it; only when it does not, mask the whole vocabulary with the grammar
    and draw again (masking every token costs ten times a plain draw).
    """
    import llama_cpp

    token = int(logits.argmax()) if sample.greedy else llama_cpp.llama_sampler_sample(sample.chain, ctx, sample.idx)
    if sample.grammar is None:
        return token
    one = (llama_cpp.llama_token_data * 1)(llama_cpp.llama_token_data(token, float(logits[token]), 0.0))
    check = llama_cpp.llama_token_data_array(one, 1, -1, False)
    llama_cpp.llama_sampler_apply(sample.grammar, ctypes.byref(check))
    if not math.isfinite(one[0].logit):
        token = _masked_draw(sample, logits)
    llama_cpp.llama_sampler_accept(sample.grammar, token)
    return token


def _masked_draw(sample, logits) -> int:
    """Mask every token the grammar rejects, then draw with the sample's chain."""
    import llama_cpp
    import numpy as np

    candidates = np.zeros(len(logits), dtype=[("id", np.int32), ("logit", np.float32), ("p", np.float32)])
    candidates["id"], candidates["logit"] = np.arange(len(logits)), logits
    data = candidates.ctypes.data_as(llama_cpp.llama_token_data_p)
    every = llama_cpp.llama_token_data_array(data, len(logits), -1, False)
    llama_cpp.llama_sampler_apply(sample.grammar, ctypes.byref(every))
    llama_cpp.llama_sampler_apply(sample.chain, ctypes.byref(every))
    return every.data[every.selected].id


def log_softmax_at(logits, token: int) -> float:
    """log-softmax of ``logits`` at ``token``."""
    import numpy as np

    top = float(logits.max())
    return float(logits[token]) - top - float(np.log(np.exp(logits - top, dtype=np.float64).sum()))


def free_samplers(samples) -> None:
    """Free each sample's sampler chain and grammar copy."""
    import llama_cpp

    for sample in samples:
        llama_cpp.llama_sampler_free(sample.chain)
        if sample.grammar:
            llama_cpp.llama_sampler_free(sample.grammar)
