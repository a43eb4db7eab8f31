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
    """What a fine-tuning run does. The options of ``agent finetune`` are generated from the fields that carry
    ``metadata["help"]`` (:mod:`agent.app.options`)."""

    data: str = field(
        default="",
        metadata={
            "help": "Training file: GSM8K rows, the project schema, chat messages, run records (--trace, agent eval results) or ToT trees.",
            "required": True,
            "path": {"dir_okay": False},
        },
    )  # training file; its format is recognised from the fields (finetune.data.load_examples)
    out: str = field(
        default="runs/finetune",
        metadata={"help": "Run directory to write.", "required": True, "path": {"file_okay": False}},
    )  # output dir: adapter/ or model/, tokenizer/, base.json, train_log.jsonl, checkpoints/
    base: str | None = field(
        default=None, metadata={"help": "HF model dir or .gguf file. Default: the embedded SmolLM2."}
    )  # None: the embedded SmolLM2 GGUF (dequantized); else an HF model dir or a .gguf file
    gold: str | None = field(
        default=None,
        metadata={
            "help": "question/answer rows (e.g. GSM8K): keep only --trace trajectories whose answer matches.",
            "path": {"dir_okay": False},
        },
    )  # question/answer rows: --trace trajectories are kept only where the answer matches
    style: str = field(
        default="react",
        metadata={
            "help": "How GSM8K rows become examples: calculator ReAct traces or one chain-of-thought.",
            "choices": ("react", "chain"),
        },
    )  # how GSM8K rows are rendered: "react" (calculator calls, the runtime's format) or "chain"
    init_adapter: str | None = field(
        default=None,
        metadata={
            "help": "Go on training this LoRA adapter (a run's adapter/ dir, or a GGUF LoRA such as the shipped default).",
            "path": {"exists": True},
        },
    )  # a peft adapter dir (a run's adapter/) or a GGUF LoRA to go on training
    lora_r: int = field(
        default=16, metadata={"help": "LoRA rank (default 16).", "cli_default": None}
    )  # LoRA rank: 16 is plenty for a format + reasoning style on a 135M model
    lora_alpha: int = 32  # scale alpha/r = 2, the usual choice
    lora_dropout: float = 0.0  # 0: no dropped copy of every adapted layer's input (memory, speed); 0.05 regularises
    lora_targets: str = "all-linear"  # every linear projection (q,k,v,o,gate,up,down); not the output head
    full: bool = field(
        default=False, metadata={"help": "Train every weight instead of a LoRA adapter."}
    )  # True: train every weight (more memory, saves model/ instead of adapter/)
    epochs: float = field(
        default=1.0, metadata={"help": "Passes over the data (default 1).", "cli_default": None}
    )  # passes over the training split, when max_steps is not set
    max_steps: int | None = field(
        default=None, metadata={"help": "Optimizer steps (instead of --epochs)."}
    )  # optimizer steps; overrides epochs (short runs, tests)
    max_seconds: float | None = field(
        default=None,
        metadata={"help": "Stop after this much training time and save the run as it is (a lent machine's limit)."},
    )  # stop training after this much step time and save the run (a lent GPU's limit)
    lr: float | None = field(
        default=None, metadata={"help": "Peak learning rate (default 2e-4 LoRA, 5e-5 full)."}
    )  # None: 2e-4 with LoRA, 5e-5 for full fine-tuning
    batch_size: int = field(
        default=4,
        metadata={"help": "Sequences per micro-batch (rows when packing), all processes together: the global batch."},
    )  # global: under `accelerate launch --num_processes N` each process takes batch_size / N rows (N must divide it)
    grad_accum: int = field(
        default=1, metadata={"help": "Micro-batches per optimizer step."}
    )  # micro-batches per optimizer step: effective batch = batch_size * grad_accum, any process count
    seq_len: int = field(
        default=1024, metadata={"help": "Longest sequence; longer examples are cut."}
    )  # longest sequence; longer examples are cut, ones with no answer left are dropped
    warmup_ratio: float = 0.03  # share of steps with linearly rising LR, so Adam's moments settle first
    min_lr_ratio: float = 0.1  # cosine decays to this share of lr instead of 0: the last steps still learn
    weight_decay: float = 0.0  # LoRA weights start at zero: decay only pulls them back; try 0.01 for full
    max_grad_norm: float = 1.0  # clip gradients: one odd batch cannot wreck the run
    seed: int = field(
        default=0, metadata={"help": "Seeds LoRA init, dropout and data order."}
    )  # seeds LoRA init, dropout, data order: two runs with one seed give the same losses
    eval_every: int = field(
        default=0, metadata={"help": "Steps between dev evaluations (0: end)."}
    )  # steps between dev evaluations; 0: only at the end
    dev_fraction: float = field(
        default=0.05, metadata={"help": "Data held out for evaluation."}
    )  # share of the data held out for dev loss and answer accuracy (0: none)
    eval_generations: int = field(
        default=2, metadata={"help": "Dev questions answered greedily."}
    )  # dev questions answered greedily (ReAct with real tools): ~1 min each on a CPU
    save_every: int = field(
        default=100, metadata={"help": "Steps between checkpoints (0: none)."}
    )  # steps between checkpoints; 0: none (a run without checkpoints cannot resume)
    keep_checkpoints: int = 2  # older checkpoints are deleted; the newest ones are enough to resume
    resume: bool = field(
        default=False, metadata={"help": "Continue exactly from the newest checkpoint in OUT/checkpoints."}
    )  # continue from the newest checkpoint in out/checkpoints, exactly
    packing: bool = field(
        default=False, metadata={"help": "Pack several examples per row.", "flag": "--packing/--no-packing"}
    )  # several examples per row (no cross-attention): fewer pad tokens, faster
    group_by_prompt: bool = field(
        default=False,
        metadata={
            "help": "Batch examples of one prompt template together, so their shared prompt runs once per batch."
        },
    )  # batches of examples with one prompt template, so share_prefix runs it once
    share_prefix: bool = True  # run a prompt prefix all rows share (the system prompt) once per batch, not per row
    gradient_checkpointing: bool = field(
        default=False, metadata={"help": "Less memory, slower."}
    )  # recompute activations in backward: less memory, ~30% slower
    dtype: str = field(
        default="auto",
        metadata={
            "help": "Weights' dtype. auto: bf16 on a GPU that has it; on a CPU float32, with bf16 autocast where the CPU has bf16 matrix units (AMX, AVX512-BF16; AGENT_CPU_BF16=0 turns that off).",
            "choices": ("auto", "float32", "bfloat16", "float16"),
        },
    )  # "auto": bf16 on a GPU that has it; on a CPU, float32 weights (bf16 autocast with AMX etc.)
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
