"""Training throughput: our trainer vs TRL's SFTTrainer, same model, data, batch, seq_len and LoRA.

Runs three trainings in one process and prints a markdown table of real (non-padding) tokens
per second: ours, TRL ``SFTTrainer`` (prompt-completion data, loss on the completion only,
``packing=False``), and ours with packing (rows ``--pack-factor`` times longer and as many
times fewer, so a step holds about as many tokens and several examples share a row).

    python bench/train.py                          # CPU: the embedded SmolLM2, 32 GSM8K rows, 8 steps
    python bench/train.py --device cuda --rows all --steps 200 --batch-size 16
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "gsm8k" / "train.jsonl"


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default=str(DEFAULT_DATA), help="GSM8K-style JSONL (question/answer rows).")
    p.add_argument("--rows", default="32", help="Rows used from the data file, or 'all'.")
    p.add_argument("--base", default=None, help="HF dir or .gguf; default the embedded SmolLM2.")
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    p.add_argument("--steps", type=int, default=8)
    p.add_argument("--batch-size", type=int, default=2)
    p.add_argument("--seq-len", type=int, default=1024)
    p.add_argument("--lora-r", type=int, default=16)
    p.add_argument(
        "--pack-factor",
        type=int,
        default=2,
        help="Packed run: rows this many times seq_len, batch this many times smaller.",
    )
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default).")
    return p.parse_args()


def write_rows(args: argparse.Namespace, tmp: Path) -> Path:
    lines = Path(args.data).read_text().splitlines()
    if args.rows != "all":
        lines = lines[: int(args.rows)]
    path = tmp / "rows.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


def run_ours(args: argparse.Namespace, data: Path, out: Path, packing: bool) -> dict:
    """Our trainer; packed rows are ``pack_factor`` times longer and as many times fewer (same tokens per step)."""
    from finetune import TrainConfig, train

    k = args.pack_factor if packing else 1
    cfg = TrainConfig(
        data=str(data),
        out=str(out),
        base=args.base,
        lora_r=args.lora_r,
        max_steps=args.steps,
        batch_size=max(1, args.batch_size // k),
        seq_len=args.seq_len * k,
        packing=packing,
        dev_fraction=0.0,
        eval_generations=0,
        save_every=0,
    )
    result = train(cfg)
    return {"tokens_per_second": result.tokens_per_second, "seconds": result.seconds, "loss": result.losses[-1]}


def trl_dataset(data: Path):
    """The same examples as ours, as TRL prompt-completion conversations."""
    from datasets import Dataset

    from finetune import load_examples

    examples = load_examples(data)
    return Dataset.from_list(
        [
            {"prompt": ex.prompt_messages(), "completion": [{"role": "assistant", "content": ex.target()}]}
            for ex in examples
        ]
    )


def run_trl(args: argparse.Namespace, data: Path, out: Path) -> dict:
    import torch
    from peft import LoraConfig
    from trl import SFTConfig, SFTTrainer

    from finetune.modeling import load_base_model, load_tokenizer, torch_dtype

    dtype = torch_dtype("auto", args.device)
    model = load_base_model(args.base, dtype)
    tokenizer = load_tokenizer(args.base)
    config = SFTConfig(
        output_dir=str(out),
        max_steps=args.steps,
        per_device_train_batch_size=args.batch_size,
        gradient_accumulation_steps=1,
        max_length=args.seq_len,
        packing=False,
        completion_only_loss=True,
        learning_rate=2e-4,
        lr_scheduler_type="cosine",
        warmup_steps=0.03,
        logging_steps=1,
        save_strategy="no",
        report_to=[],
        seed=0,
        use_cpu=args.device == "cpu",
        bf16=dtype == torch.bfloat16,
        include_num_input_tokens_seen="non_padding",
        dataloader_num_workers=0,
        disable_tqdm=True,
    )
    lora = LoraConfig(
        r=args.lora_r, lora_alpha=32, lora_dropout=0.05, target_modules="all-linear", task_type="CAUSAL_LM"
    )
    trainer = SFTTrainer(
        model=model, args=config, train_dataset=trl_dataset(data), processing_class=tokenizer, peft_config=lora
    )
    t0 = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - t0
    tokens = trainer.state.num_input_tokens_seen
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    from accelerate.state import AcceleratorState

    AcceleratorState._reset_state(reset_partial_state=True)  # the Trainer's bf16 state must not outlive it
    return {"tokens_per_second": round(tokens / seconds, 1), "seconds": round(seconds, 2), "loss": losses[-1]}


def table(rows: dict[str, dict], args: argparse.Namespace) -> str:
    ref = rows["TRL SFTTrainer"]["tokens_per_second"]
    title = (
        f"device {args.device}, {args.steps} steps, batch {args.batch_size}, seq_len {args.seq_len}, "
        f"LoRA r={args.lora_r}, rows {args.rows}; packing: {args.pack_factor}x longer rows, "
        f"{args.pack_factor}x fewer"
    )
    lines = [title, "", "| trainer | tokens/s | vs TRL | train s | last loss |", "| --- | ---: | ---: | ---: | ---: |"]
    for name, r in rows.items():
        lines.append(
            f"| {name} | {r['tokens_per_second']:.0f} | {r['tokens_per_second'] / ref:.2f}x | "
            f"{r['seconds']:.1f} | {r['loss']:.3f} |"
        )
    return "\n".join(lines)


def main() -> None:
    args = parse_args()
    if args.device == "cpu":
        os.environ["CUDA_VISIBLE_DEVICES"] = ""  # before torch: our trainer's Accelerator must not see a GPU
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        data = write_rows(args, Path(tmp))
        rows = {
            "ours": run_ours(args, data, Path(tmp) / "ours", packing=False),
            "TRL SFTTrainer": run_trl(args, data, Path(tmp) / "trl"),
            "ours, packing": run_ours(args, data, Path(tmp) / "packed", packing=True),
        }
    print(table(rows, args))
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
