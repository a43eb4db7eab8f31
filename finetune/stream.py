"""The order in which micro-batches are seen: an endless, seeded stream over epochs.

Micro-batch ``g`` of the stream is a pure function of (data, seed, g), so a resumed run that
knows its step reads exactly the batches the uninterrupted run would have read. Step ``s`` and
accumulation round ``a`` read ``g = s * accum + a``. ``batch_size`` is the global micro-batch: with
several processes, rank ``r`` of ``world`` trains on the ``r``-th contiguous share of its rows, so
the processes together see what one process would see.
"""

from __future__ import annotations

import math
from typing import Any

from finetune.batches import IGNORE, Encoded, collate, plan_epoch, prompt_group
from finetune.config import TrainConfig


class DataStream:
    """Seeded micro-batches of ``encoded`` for one process of ``world``."""

    def __init__(self, encoded: list[Encoded], config: TrainConfig, pad_id: int, world: int = 1, rank: int = 0):
        self.encoded, self.config, self.pad_id = encoded, config, pad_id
        self.world, self.rank = world, rank
        self._lengths = [len(e.input_ids) for e in encoded]
        self._groups = [prompt_group(e) for e in encoded] if config.group_by_prompt else None
        self._plans: dict[int, list[list[list[int]]]] = {}

    def plan(self, epoch: int) -> list[list[list[int]]]:
        """Micro-batches (rows of example indices) of ``epoch``."""
        if epoch not in self._plans:
            c = self.config
            self._plans[epoch] = plan_epoch(
                self._lengths, epoch, c.seed, c.batch_size, c.packing, c.seq_len, self._groups
            )
        return self._plans[epoch]

    def locate(self, index: int) -> tuple[int, int]:
        """(epoch, position in that epoch) of micro-batch ``index`` of the stream."""
        epoch = 0
        while index >= len(self.plan(epoch)):
            index -= len(self.plan(epoch))
            epoch += 1
        return epoch, index

    def micro_batch(self, step: int, round_: int) -> dict[str, Any]:
        """This process's share of the micro-batch of ``step``, accumulation round ``round_``, collated.

        A share left empty (a short last batch of an epoch) is one row with no trained token: the
        process still joins the gradient all-reduce, and adds nothing to it.
        """
        epoch, pos = self.locate(step * self.config.grad_accum + round_)
        rows = self.plan(epoch)[pos]
        per = math.ceil(len(rows) / self.world)
        share = rows[self.rank * per : (self.rank + 1) * per]
        batch = collate([[self.encoded[i] for i in row] for row in share or rows[:1]], self.pad_id, self.config.packing)
        if not share:
            batch["targets"].fill_(IGNORE)
            batch["n_tokens"] = 0
        return batch

    def total_steps(self) -> int:
        """``max_steps``, or the optimizer steps that cover ``epochs`` passes over the data."""
        c = self.config
        if c.max_steps is not None:
            return c.max_steps
        full, frac = int(c.epochs), c.epochs - int(c.epochs)
        micro = sum(len(self.plan(e)) for e in range(full)) + math.ceil(frac * len(self.plan(full)))
        return max(1, math.ceil(micro / c.grad_accum))

    def epoch_of(self, step: int) -> float:
        """Epochs done after ``step`` optimizer steps (for the log)."""
        index = step * self.config.grad_accum
        epoch, pos = self.locate(index)
        return round(epoch + pos / len(self.plan(epoch)), 3)
