"""Training settings: one dataclass whose fields say why, checked once.

Example:
    >>> cfg = TrainConfig(data="train.jsonl", out="runs/cot", max_steps=16)
    >>> cfg.learning_rate  # LoRA default
    0.0002
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Dtype = Literal["auto", "float32", "bfloat16", "float16"]
DTYPES: tuple[str, ...] = ("auto", "float32", "bfloat16", "float16")
LORA_LR = 2e-4  # LoRA trains few fresh weights: a large step is safe
FULL_LR = 5e-5  # full fine-tuning moves pretrained weights: 4x smaller keeps them from drifting


@dataclass
class TrainConfig:
    """What a fine-tuning run does. CLI options of ``agent finetune`` map onto these fields."""

    data: str = ""  # training file; its format is recognised from the fields (finetune.data.load_examples)
    out: str = "runs/finetune"  # output dir: adapter/ or model/, tokenizer/, base.json, train_log.jsonl, checkpoints/
    base: str | None = None  # None: the embedded SmolLM2 GGUF (dequantized); else an HF model dir or a .gguf file
    gold: str | None = None  # question/answer rows: --trace trajectories are kept only where the answer matches
    style: str = "react"  # how GSM8K rows are rendered: "react" (calculator calls, the runtime's format) or "chain"
    init_adapter: str | None = None  # a peft adapter dir (a run's adapter/) or a GGUF LoRA to go on training
    lora_r: int = 16  # LoRA rank: 16 is plenty for a format + reasoning style on a 135M model
    lora_alpha: int = 32  # scale alpha/r = 2, the usual choice
    lora_dropout: float = 0.0  # 0: no dropped copy of every adapted layer's input (memory, speed); 0.05 regularises
    lora_targets: str = "all-linear"  # every linear projection (q,k,v,o,gate,up,down); not the output head
    full: bool = False  # True: train every weight (more memory, saves model/ instead of adapter/)
    epochs: float = 1.0  # passes over the training split, when max_steps is not set
    max_steps: int | None = None  # optimizer steps; overrides epochs (short runs, tests)
    max_seconds: float | None = None  # stop training after this much step time and save the run (a lent GPU's limit)
    lr: float | None = None  # None: 2e-4 with LoRA, 5e-5 for full fine-tuning
    batch_size: int = 4  # sequences per micro-batch (rows when packing)
    grad_accum: int = 1  # micro-batches per optimizer step: effective batch = batch_size * grad_accum * GPUs
    seq_len: int = 1024  # longest sequence; longer examples are cut, ones with no answer left are dropped
    warmup_ratio: float = 0.03  # share of steps with linearly rising LR, so Adam's moments settle first
    min_lr_ratio: float = 0.1  # cosine decays to this share of lr instead of 0: the last steps still learn
    weight_decay: float = 0.0  # LoRA weights start at zero: decay only pulls them back; try 0.01 for full
    max_grad_norm: float = 1.0  # clip gradients: one odd batch cannot wreck the run
    seed: int = 0  # seeds LoRA init, dropout, data order: two runs with one seed give the same losses
    eval_every: int = 0  # steps between dev evaluations; 0: only at the end
    dev_fraction: float = 0.05  # share of the data held out for dev loss and answer accuracy (0: none)
    eval_generations: int = 2  # dev questions answered greedily (ReAct with real tools): ~1 min each on a CPU
    save_every: int = 100  # steps between checkpoints; 0: none (a run without checkpoints cannot resume)
    keep_checkpoints: int = 2  # older checkpoints are deleted; the newest ones are enough to resume
    resume: bool = False  # continue from the newest checkpoint in out/checkpoints, exactly
    packing: bool = False  # several examples per row (no cross-attention): fewer pad tokens, faster
    group_by_prompt: bool = False  # batches of examples with one prompt template, so share_prefix runs it once
    share_prefix: bool = True  # run a prompt prefix all rows share (the system prompt) once per batch, not per row
    gradient_checkpointing: bool = False  # recompute activations in backward: less memory, ~30% slower
    dtype: str = "auto"  # "auto": bf16 on a GPU that has it; on a CPU, float32 weights (bf16 autocast with AMX etc.)
    log_every: int = 1  # steps between loss log lines (train_log.jsonl and the --json losses)
    stop_after: int | None = field(default=None, repr=False)  # stop (as if killed) after this step: tests resume

    def __post_init__(self) -> None:
        checks = [
            (self.lora_r > 0, f"lora_r must be positive, got {self.lora_r}"),
            (self.epochs > 0, f"epochs must be positive, got {self.epochs}"),
            (self.max_steps is None or self.max_steps > 0, f"max_steps must be positive, got {self.max_steps}"),
            (self.max_seconds is None or self.max_seconds > 0, f"max_seconds must be positive, got {self.max_seconds}"),
            (self.batch_size > 0 and self.grad_accum > 0, "batch_size and grad_accum must be positive"),
            (self.seq_len >= 16, f"seq_len must be at least 16, got {self.seq_len}"),
            (0 <= self.warmup_ratio < 1, f"warmup_ratio must be in [0, 1), got {self.warmup_ratio}"),
            (0 <= self.dev_fraction < 1, f"dev_fraction must be in [0, 1), got {self.dev_fraction}"),
            (self.lr is None or self.lr > 0, f"lr must be positive, got {self.lr}"),
            (self.dtype in DTYPES, f"unknown dtype {self.dtype!r}: choose one of {', '.join(DTYPES)}"),
            (self.style in ("react", "chain"), f"unknown style {self.style!r}: choose react or chain"),
            (min(self.eval_every, self.save_every, self.eval_generations) >= 0, "eval/save counts must be >= 0"),
            (self.log_every > 0 and self.keep_checkpoints > 0, "log_every and keep_checkpoints must be positive"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)

    @property
    def learning_rate(self) -> float:
        """The peak learning rate: ``lr`` or the default for LoRA / full fine-tuning."""
        return self.lr if self.lr is not None else FULL_LR if self.full else LORA_LR

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def same_run(self, other: dict[str, Any]) -> list[str]:
        """Fields that change the loss curve and differ from a checkpoint's config (resume must match)."""
        keys = (
            "base",
            "init_adapter",
            "gold",
            "style",
            "lora_r",
            "lora_alpha",
            "lora_dropout",
            "lora_targets",
            "full",
            "batch_size",
            "grad_accum",
            "seq_len",
            "seed",
            "packing",
            "dev_fraction",
            "lr",
            "warmup_ratio",
            "min_lr_ratio",
            "weight_decay",
            "epochs",
            "max_steps",
            "share_prefix",
            "group_by_prompt",
        )
        mine = self.to_dict()
        return [k for k in keys if k in other and other[k] != mine[k]]
