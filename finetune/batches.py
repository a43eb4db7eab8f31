"""Examples to token ids and labels, and labels to batches (padded or packed).

Each example is rendered with the model's own chat template. Labels are ``-100`` on every prompt
token (system, user, the assistant header) and on the tool's Observation text (the runtime writes
it, the model does not); the loss falls on the assistant's reasoning, answer and end-of-turn token.

Packing puts several examples in one row. They never attend to each other: ``position_ids``
restart at 0 for each example and no attention mask is passed, which transformers reads as a
packed batch (block-diagonal attention in sdpa/eager/flash kernels). Targets are shifted inside
each example, so no token learns to predict the next example's first token.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import random
import re
import sys
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

from finetune.errors import DataError
from finetune.schema import Example

log = logging.getLogger(__name__)

IGNORE = -100  # the label torch's cross-entropy skips
_OBSERVATION = re.compile(r"^Observation: ?(.*\n?)", re.MULTILINE)


@dataclass(frozen=True)
class Encoded:
    """One tokenized example: ``labels[i]`` is ``input_ids[i]`` where the loss applies, else -100."""

    input_ids: list[int]
    labels: list[int]
    cut: bool = False  # the example ran past seq_len: its end (often the final answer) is not learnt

    @property
    def n_train(self) -> int:
        """How many tokens carry a loss."""
        return sum(1 for x in self.labels if x != IGNORE)


def _char_spans(example: Example, tokenizer: Any) -> tuple[str, int, int, list[tuple[int, int]]]:
    """The full chat text, the trained character range and the masked Observation spans inside it."""
    if example.raw_prompt is not None:  # raw form: no template; the completion, then end-of-sequence, is learnt
        target = example.target()
        full = example.raw_prompt + target + (tokenizer.eos_token or "")
        return full, len(example.raw_prompt), len(full), []
    messages = example.prompt_messages()
    target = example.target()
    prompt = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    full = tokenizer.apply_chat_template([*messages, {"role": "assistant", "content": target}], tokenize=False)
    body = target.strip()
    found = full.find(body, len(prompt)) if full.startswith(prompt) else -1
    if found < 0:
        raise DataError(
            "the model's chat template does not render the prompt as a prefix of the whole chat; "
            "use a model whose template appends the assistant turn after the generation prompt"
        )
    start, end = len(prompt), _end_of_turn(full, found + len(body), tokenizer)
    shift = found - (len(target) - len(target.lstrip()))  # where target[0] sits in the full text
    skip = [(shift + m.start(1), shift + m.end(1)) for m in _OBSERVATION.finditer(target)]
    return full, start, end, skip


def _end_of_turn(full: str, end: int, tokenizer: Any) -> int:
    """Where the trained text ends: past the token that closes the assistant's turn, which the model must learn
    to stop. That is the first special token after the answer when only whitespace comes between (ChatML's
    ``<|im_end|>``, Gemma's ``<end_of_turn>``, Phi-3's ``<|end|>``, Llama 3's ``<|eot_id|>``), else the eos token."""
    rest = full[end:]
    added = getattr(tokenizer, "added_tokens_decoder", {}) or {}
    specials = set(getattr(tokenizer, "all_special_tokens", [])) | {t.content for t in added.values() if t.special}
    hits = sorted((rest.find(token), -len(token), token) for token in specials if token and token in rest)
    if hits and not rest[: hits[0][0]].strip():
        return end + hits[0][0] + len(hits[0][2])
    eos = tokenizer.eos_token
    return full.index(eos, end) + len(eos) if eos and eos in rest else end


def encode(example: Example, tokenizer: Any, seq_len: int) -> Encoded | None:
    """Token ids and labels of ``example``, cut at ``seq_len``; ``None`` when no trained token is left.

    Raises:
        DataError: the tokenizer cannot report character offsets, or the chat template is unusable.
    """
    full, start, end, skip = _char_spans(example, tokenizer)
    try:
        enc = tokenizer(full, add_special_tokens=False, return_offsets_mapping=True)
    except NotImplementedError as err:
        raise DataError("the tokenizer cannot map tokens to characters; use a model with a fast tokenizer") from err
    all_ids, offsets = list(enc["input_ids"]), list(enc["offset_mapping"])
    bos = getattr(tokenizer, "bos_token_id", None)
    if getattr(tokenizer, "add_bos_token", False) and bos is not None and all_ids[:1] != [bos]:
        # llama.cpp puts BOS first when the GGUF asks for it (Gemma's does); train on what it will read
        all_ids, offsets = [bos, *all_ids], [(-1, -1), *offsets]
    ids = all_ids[:seq_len]
    cut = len(all_ids) > seq_len and any(start <= s < end for s, _e in offsets[seq_len:])
    labels = []
    for tid, (s, _e) in zip(ids, offsets):
        trained = start <= s < end and not any(a <= s < b for a, b in skip)
        labels.append(tid if trained else IGNORE)
    encoded = Encoded(ids, labels, cut)
    return encoded if encoded.n_train else None


PARALLEL_FROM = 4000  # examples from which encode_all tokenizes in forked worker processes
_WORKER: tuple[Any, int] | None = None  # (tokenizer, seq_len), inherited by forked workers


def _encode_chunk(chunk: list[Example]) -> list[Encoded | None]:
    tokenizer, seq_len = _WORKER
    return [encode(ex, tokenizer, seq_len) for ex in chunk]


def _encode_many(examples: list[Example], tokenizer: Any, seq_len: int, workers: int) -> list[Encoded | None]:
    """``encode`` over ``examples`` in order; in ``workers`` forked processes (a GPU box's 16 cores: 55 s -> ~5 s)."""
    if workers <= 1 or sys.platform != "linux":
        return [encode(ex, tokenizer, seq_len) for ex in examples]
    global _WORKER
    _WORKER = (tokenizer, seq_len)
    size = -(-len(examples) // (workers * 4))
    chunks = [examples[i : i + size] for i in range(0, len(examples), size)]
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")  # the forked copies must not share its thread pool
    try:
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            return [e for part in pool.map(_encode_chunk, chunks) for e in part]
    finally:
        _WORKER = None


def encode_all(examples: list[Example], tokenizer: Any, seq_len: int, workers: int | None = None) -> list[Encoded]:
    """Encode every example, dropping (with a warning) those whose answer does not fit in ``seq_len``.

    ``workers``: processes that tokenize (default: every core, for ``PARALLEL_FROM`` examples or more).

    Examples whose trained part runs past ``seq_len`` are kept, cut, with a warning: their ends (a
    ReAct trace's final answer) are not learnt. GSM8K ReAct traces under the runtime's system
    prompt run to ~1,100 tokens; 18 % of them are longer than 768.
    """
    if workers is None:
        workers = min(os.cpu_count() or 1, 16) if len(examples) >= PARALLEL_FROM else 1
    out = [e for e in _encode_many(examples, tokenizer, seq_len, workers) if e is not None]
    cut = sum(e.cut for e in out)
    if cut:
        log.warning(
            "%d of %d examples are longer than seq_len=%d and were cut; their ends are not learnt "
            "(raise --seq-len to keep them whole)",
            cut,
            len(out),
            seq_len,
        )
    if len(out) < len(examples):
        log.warning(
            "%d of %d examples have no answer token within seq_len=%d and were dropped",
            len(examples) - len(out),
            len(examples),
            seq_len,
        )
    if not out:
        raise DataError(f"no example fits in seq_len={seq_len} tokens; raise --seq-len")
    return out


def plan_epoch(
    lengths: list[int],
    epoch: int,
    seed: int,
    batch_size: int,
    packing: bool,
    seq_len: int,
    groups: list[Hashable] | None = None,
) -> list[list[list[int]]]:
    """The micro-batches of one epoch: batches of rows of example indices, shuffled by (seed, epoch).

    Without packing each row is one example; with packing, consecutive examples of the shuffled
    order fill a row up to ``seq_len`` tokens. With ``groups`` (unpacked only), a batch holds examples
    of one group (see :func:`prompt_group`) and the batches are shuffled: examples that share a
    long prompt prefix then share its compute (:func:`shared_prefix`). Groups too small to fill a
    batch (short prompts that differ within the group key, like a judge's "4 9 11:") are pooled and
    batched by length, so they neither train one example a step nor pad to a long neighbour.
    """
    rng = random.Random(f"{seed}:{epoch}")
    order = list(range(len(lengths)))
    rng.shuffle(order)
    if groups is not None and not packing:
        buckets: dict[Hashable, list[int]] = {}
        for i in order:
            buckets.setdefault(groups[i], []).append(i)
        pool = sorted((i for b in buckets.values() if len(b) < batch_size for i in b), key=lengths.__getitem__)
        runs = [b for b in buckets.values() if len(b) >= batch_size] + [pool]
        batches = [[[i] for i in b[k : k + batch_size]] for b in runs for k in range(0, len(b), batch_size)]
        rng.shuffle(batches)
        return batches
    rows: list[list[int]] = []
    used = seq_len + 1
    for i in order:
        if packing and rows and used + lengths[i] <= seq_len:
            rows[-1].append(i)
            used += lengths[i]
        else:
            rows.append([i])
            used = lengths[i]
    return [rows[k : k + batch_size] for k in range(0, len(rows), batch_size)]


def prompt_group(example: Encoded, width: int = 48) -> tuple[int, ...]:
    """The untrained leading tokens of ``example``, at most ``width``: its group for :func:`plan_epoch`.

    Examples rendered from one prompt template (one system prompt, one few-shot block) fall in
    one group; the trained part never counts, so the answers do not split groups.
    """
    n = next((k for k, label in enumerate(example.labels) if label != IGNORE), len(example.labels))
    return tuple(example.input_ids[: min(width, max(n - 1, 0))])


def collate(rows: list[list[Encoded]], pad_id: int, packing: bool) -> dict[str, Any]:
    """Tensors for one micro-batch of rows (each row one example, or several when packing).

    Returns:
        ``input_ids``, ``targets`` (next-token labels, shifted inside each example) and either
        ``attention_mask`` and ``prefix_len`` (padded; see :func:`shared_prefix`) or ``position_ids``
        (packed); plus ``n_tokens`` (real tokens).
    """
    import torch

    width = max(sum(len(e.input_ids) for e in row) for row in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    targets = torch.full((len(rows), width), IGNORE, dtype=torch.long)
    positions = torch.zeros((len(rows), width), dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for r, row in enumerate(rows):
        at = 0
        for e in row:
            n = len(e.input_ids)
            ids[r, at : at + n] = torch.tensor(e.input_ids)
            targets[r, at : at + n - 1] = torch.tensor(e.labels[1:])
            positions[r, at : at + n] = torch.arange(n)
            mask[r, at : at + n] = 1
            at += n
        positions[r, at:] = torch.arange(width - at)  # padding is a segment of its own
    batch = {"input_ids": ids, "targets": targets, "n_tokens": int(mask.sum())}
    if packing:
        batch["position_ids"] = positions
    else:
        batch["attention_mask"] = mask
        batch["prefix_len"] = shared_prefix([row[0] for row in rows])
    return batch


def shared_prefix(examples: list[Encoded], minimum: int = 16) -> int:
    """Leading tokens every example has in common and none is trained on (0 when under ``minimum``).

    The last shared position must not carry a target either: its target is the next token.
    """
    if len(examples) < 2:
        return 0
    n = min(len(e.input_ids) for e in examples) - 1
    for k in range(n):
        first = examples[0].input_ids[k]
        if any(e.input_ids[k] != first or e.labels[k] != IGNORE or e.labels[k + 1] != IGNORE for e in examples):
            n = k
            break
    return n if n >= minimum else 0
