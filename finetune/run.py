"""One training run: model, optimizer and data stream, stepped with plain torch and ``accelerate``.

``accelerate`` picks the devices and runs DDP (``accelerate launch --multi_gpu --num_processes N``; on a machine
without a GPU, or with ``ACCELERATE_USE_CPU=1``, the N processes train on the CPU over gloo). ``batch_size`` is the
global batch: each process trains on ``batch_size / N`` rows of it, so the loss curve is the one-process curve.
:func:`finetune.loop.run_training` drives a :class:`Run` to its end and :func:`finetune.train.train`
puts the two together.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import random
from contextlib import nullcontext
from pathlib import Path
from typing import Any

from finetune.batches import IGNORE, Encoded, encode_all
from finetune.config import TrainConfig
from finetune.data import load_examples, load_gold
from finetune.schema import Example


def split_dev(examples: list[Example], fraction: float, seed: int) -> tuple[list[Example], list[Example]]:
    """(train, dev): a seeded ``fraction`` of the examples held out (at least one, never all)."""
    if fraction <= 0 or len(examples) < 2:
        return examples, []
    order = list(range(len(examples)))
    random.Random(f"dev:{seed}").shuffle(order)
    n_dev = min(len(examples) - 1, max(1, round(fraction * len(examples))))
    dev = set(order[:n_dev])
    return [e for i, e in enumerate(examples) if i not in dev], [examples[i] for i in sorted(dev)]


def fingerprint(encoded: list[Encoded]) -> str:
    """A hash of the token ids and labels: a resumed run must see the same data."""
    h = hashlib.sha256()
    for e in encoded:
        h.update(json.dumps([e.input_ids, e.labels]).encode())
    return h.hexdigest()[:16]


def lr_lambda(total: int, warmup_ratio: float, min_ratio: float):
    """Linear warmup to 1, then cosine decay to ``min_ratio`` at ``total`` steps."""
    warmup = math.ceil(warmup_ratio * total)

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / (warmup + 1)
        progress = min(1.0, (step - warmup) / max(1, total - warmup))
        return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))

    return factor


def _cpu_workers() -> bool:
    """True for processes started by torchrun (``accelerate launch --multi_gpu``) on a machine without a GPU:
    ``accelerate`` would otherwise give each of them a world of one (N separate runs), not gloo on the CPU."""
    import torch

    return int(os.environ.get("WORLD_SIZE", "1")) > 1 and not torch.cuda.is_available()


def _check_processes(batch_size: int, processes: int) -> None:
    """Refuse a global batch the processes cannot share, and ``accelerate launch --cpu --num_processes N``,
    which without ``--mpirun_hostfile`` starts one process."""
    asked_many = "MASTER_PORT" in os.environ and os.environ.get("ACCELERATE_USE_CPU", "").lower() in ("1", "true")
    if processes == 1 and asked_many and "WORLD_SIZE" not in os.environ:
        raise ValueError(
            "accelerate launch --cpu --num_processes N starts one process (without mpirun); for N processes on "
            "the CPU run ACCELERATE_USE_CPU=1 accelerate launch --multi_gpu --num_processes N ..."
        )
    if batch_size % processes:
        raise ValueError(
            f"--batch-size is the global batch: {batch_size} rows cannot be shared by {processes} processes "
            f"(give a multiple of {processes})"
        )


class Run:
    """One training run: model, optimizer, data stream and the bookkeeping to resume it exactly."""

    def __init__(self, config: TrainConfig):
        import torch
        from accelerate import Accelerator

        from finetune.loss import TokenLoss
        from finetune.modeling import build_model, cpu_autocast, load_tokenizer, torch_dtype
        from finetune.stream import DataStream

        self.config, self.out = config, Path(config.out)
        # full fine-tuning keeps float32 weights and autocasts to bf16 on a GPU; LoRA loads the base in bf16 instead.
        # None (not "no") leaves an `accelerate launch --mixed_precision` choice, or an existing state, alone
        self.acc = Accelerator(mixed_precision="bf16" if config.full and self._bf16_gpu() else None, cpu=_cpu_workers())
        _check_processes(config.batch_size, self.acc.num_processes)
        # On a CPU with bf16 matrix units (AMX, AVX512-BF16), `--dtype auto` keeps float32 weights (exact optimizer
        # updates) and autocasts the products to bf16 here, not through accelerate's once-per-process state.
        self.cpu_bf16 = cpu_autocast(config.dtype, self.acc.device.type)
        self.precision = "bf16 autocast" if self.cpu_bf16 else ""  # else the weights' dtype, once they exist
        gold = load_gold(config.gold) if config.gold else None
        examples = load_examples(config.data, style=config.style, gold=gold)  # first: a data error needs no model
        random.seed(config.seed)
        torch.manual_seed(config.seed)
        self.tokenizer = load_tokenizer(config.base)
        train_ex, self.dev_examples = split_dev(examples, config.dev_fraction, config.seed)
        self.encoded = encode_all(train_ex, self.tokenizer, config.seq_len)
        self.dev_encoded = encode_all(self.dev_examples, self.tokenizer, config.seq_len) if self.dev_examples else []
        self.fingerprint = fingerprint(self.encoded + self.dev_encoded)
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else self.tokenizer.eos_token_id
        self.pad_id = pad or 0
        self.stream = DataStream(self.encoded, config, self.pad_id, self.acc.num_processes, self.acc.process_index)
        self.total = self.stream.total_steps()
        self.model = build_model(config, torch_dtype(config.dtype, self.acc.device.type))
        self.params = [p for p in self.model.parameters() if p.requires_grad]
        self.precision = self.precision or str(next(self.model.parameters()).dtype).removeprefix("torch.")
        optimizer = torch.optim.AdamW(self.params, lr=config.learning_rate, weight_decay=config.weight_decay)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lr_lambda(self.total, config.warmup_ratio, config.min_lr_ratio)
        )
        loss_fn = TokenLoss(self.model, share_prefix=config.share_prefix and not config.gradient_checkpointing)
        self.loss_fn, self.optimizer = self.acc.prepare(loss_fn, optimizer)
        self.losses: list[float] = []
        self.evals: list[dict[str, Any]] = []
        self.step = 0

    @staticmethod
    def _bf16_gpu() -> bool:
        import torch

        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()

    def _autocast(self) -> Any:
        import torch

        return torch.autocast("cpu", dtype=torch.bfloat16) if self.cpu_bf16 else nullcontext()

    def _device_batch(self, batch: dict[str, Any]) -> dict[str, Any]:
        keys = ("input_ids", "targets", "attention_mask", "position_ids")
        moved = {k: batch[k].to(self.acc.device) for k in keys if k in batch}
        return {**moved, "prefix_len": batch.get("prefix_len", 0)}

    def _loss(self, batch: dict[str, Any]) -> Any:
        with self._autocast():
            return self.loss_fn(**self._device_batch(batch))

    def train_step(self) -> tuple[float, int]:
        """One optimizer step over ``grad_accum`` micro-batches; returns (mean token loss, real tokens)."""
        import torch

        accum, world = self.config.grad_accum, self.acc.num_processes
        batches = [self.stream.micro_batch(self.step, a) for a in range(accum)]
        n_train = sum(int((b["targets"] != IGNORE).sum()) for b in batches)
        if world > 1:  # DDP averages the processes' gradients: scale each by world / (trained tokens of all)
            n_train = int(self.acc.reduce(torch.tensor([n_train], device=self.acc.device), reduction="sum"))
        loss_sum = 0.0
        self.loss_fn.train()
        for a, batch in enumerate(batches):
            with self.acc.no_sync(self.loss_fn) if a < accum - 1 else nullcontext():
                loss = self._loss(batch)
                self.acc.backward(loss * world / n_train)
            loss_sum += float(loss.detach())
        if self.config.max_grad_norm:
            self.acc.clip_grad_norm_(self.params, self.config.max_grad_norm)
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.step += 1
        totals = torch.tensor([loss_sum, sum(b["n_tokens"] for b in batches)], dtype=torch.float64)
        totals = self.acc.reduce(totals.to(self.acc.device), reduction="sum").cpu()
        return float(totals[0] / n_train), int(totals[1])

    def evaluate(self) -> dict[str, Any]:
        """Dev loss and answer accuracy now (main process computes accuracy; all compute loss)."""
        from finetune.batches import collate
        from finetune.evaluate import answer_accuracy, dev_loss

        if not self.dev_encoded:
            return {}
        size = self.config.batch_size
        batches = [
            collate([[e] for e in self.dev_encoded[k : k + size]], self.pad_id, False)
            for k in range(0, len(self.dev_encoded), size)
        ]
        self.loss_fn.eval()
        result: dict[str, Any] = {
            "step": self.step,
            "dev_loss": dev_loss(lambda b: (self._loss(b), int((b["targets"] != IGNORE).sum())), batches),
        }
        if self.config.eval_generations and self.acc.is_main_process:
            model = self.acc.unwrap_model(self.loss_fn).model
            result["dev_accuracy"] = answer_accuracy(
                self.dev_examples, model, self.tokenizer, self.config.eval_generations
            )
        self.acc.wait_for_everyone()
        self.evals.append(result)
        return result

    def state(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "micro_batches_read": self.step * self.config.grad_accum,
            "losses": self.losses,
            "evals": self.evals,
            "fingerprint": self.fingerprint,
            "config": self.config.to_dict(),
        }


__all__ = ["Run", "fingerprint", "lr_lambda", "split_dev"]
