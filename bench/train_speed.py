"""CPU training speed by precision: float32 against float32 weights under bf16 autocast (`--dtype auto`
on a CPU with AMX or AVX512-BF16), the same model, data and batches, steps interleaved so both see the same noise.

    python bench/train_speed.py [--data runs/data/gsm8k_react.jsonl] [--steps 6] [--batch-size 8]

Prints a markdown table: tokens per second of each, the loss of each, and the ratio. The default data is
the first 200 GSM8K ReAct traces (`python -m examples.recipes.build_data`); any `agent finetune` file works.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=str(ROOT / "runs" / "data" / "gsm8k_react.jsonl"))
    ap.add_argument("--rows", type=int, default=200)
    ap.add_argument("--init-adapter", default=str(ROOT / "agent" / "data" / "default-adapter.gguf"))
    ap.add_argument("--steps", type=int, default=6, help="timed steps of each (after one warm-up step)")
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--seq-len", type=int, default=1024)
    args = ap.parse_args()
    os.environ["AGENT_CPU_BF16"] = "1"  # what `auto` does on a CPU with bf16 units; forced so the table always has it

    from finetune.config import TrainConfig
    from finetune.modeling import cpu_has_native_bf16
    from finetune.train import Run

    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data.jsonl"
        with open(args.data, encoding="utf-8") as f:
            data.write_text("".join(line for _, line in zip(range(args.rows), f)))
        runs = {}
        for dtype in ("float32", "auto"):
            config = TrainConfig(
                data=str(data),
                out=str(Path(tmp) / dtype),
                init_adapter=args.init_adapter,
                batch_size=args.batch_size,
                seq_len=args.seq_len,
                group_by_prompt=True,
                dev_fraction=0.0,
                eval_generations=0,
                max_steps=args.steps + 1,
                dtype=dtype,
            )
            runs[dtype] = Run(config)
        seconds = dict.fromkeys(runs, 0.0)
        tokens = dict.fromkeys(runs, 0)
        losses: dict[str, list[float]] = {k: [] for k in runs}
        for step in range(args.steps + 1):
            for name, run in runs.items():
                t0 = time.perf_counter()
                loss, n = run.train_step()
                if step:  # the first step warms caches and allocators
                    seconds[name] += time.perf_counter() - t0
                    tokens[name] += n
                losses[name].append(loss)
    rate = {k: tokens[k] / seconds[k] for k in runs}
    native = "yes" if os.environ.pop("AGENT_CPU_BF16") and cpu_has_native_bf16() else "no"
    print(f"CPU bf16 units (AMX / AVX512-BF16): {native}; threads: {os.cpu_count()}; {args.steps} steps each\n")
    print("| precision | tokens/s | mean loss | ratio |")
    print("|---|---|---|---|")
    for name, label in (("float32", "float32"), ("auto", "float32 weights, bf16 autocast")):
        mean = sum(losses[name]) / len(losses[name])
        print(f"| {label} | {rate[name]:.0f} | {mean:.4f} | {rate[name] / rate['float32']:.2f}x |")


if __name__ == "__main__":
    main()
