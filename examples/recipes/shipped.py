"""The recipe of the shipped default model: mix the built data, train a LoRA within a time budget.

    python -m examples.recipes.build_data --out data/               # the data, made by code
    python -m examples.recipes.shipped --data-dir data/ --out runs/shipped --budget-seconds 300
    agent export runs/shipped/main --outtype lora --out agent/data/default-adapter.gguf

On a GPU the whole recipe fits in one call of a few minutes (bf16); on a CPU give it hours
(``--budget-seconds 14400``) or fewer examples. The budget is turned into a step count by a short
probe run, so the cosine schedule ends where the budget does.

``--judge-epochs N`` adds a second stage: the Game of 24 judge learns ``game24_value_all.jsonl`` (every
state a search over a training puzzle judges, ~38k short prompts) for N passes, starting from the
first stage's adapter, with ``--judge-replay`` records of the first stage's mix (on the CPU, judging
alone took tool questions from 90 % to 72.5 %; docs/RESULTS.md). The
judge is a lookup that needs several passes (one left it at chance), and most states of unseen
puzzles are among the training puzzles' states (``bench/game24_bounds.py --near --overlap``).
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import shutil
import time
from pathlib import Path

log = logging.getLogger(__name__)

# family file -> how many records of it go into the mix (None: all of them)
MIX: dict[str, int | None] = {
    "gsm8k_react.jsonl": None,
    "gsm8k_reinstantiated.jsonl": 24000,
    "tool_use.jsonl": None,
    "game24_propose_focus.jsonl": None,
    "game24_value_focus.jsonl": None,
    "game24_value_paper.jsonl": 1000,
    "game24_answer.jsonl": 1000,
    "game24_judge.jsonl": 1000,
}
JUDGE_DATA = "game24_value_all.jsonl"  # the second stage's data (--judge-epochs)
# family file -> copies in the mix: the value judge is a lookup over a few thousand states, learned only
# after several passes (one CPU epoch left it at chance; ten passes over the 2-number states taught it)
REPEAT: dict[str, int] = {"game24_value_focus.jsonl": 8, "game24_propose_focus.jsonl": 2}


def mix(
    data_dir: Path,
    out: Path,
    seed: int,
    scale: float = 1.0,
    only: list[str] | None = None,
    caps: dict[str, int | None] | None = None,
    repeats: dict[str, int] | None = None,
    extra: list[Path] = (),
) -> dict[str, int]:
    """Write the shuffled training mix to ``out``; returns records per family.

    ``caps`` and ``repeats`` override :data:`MIX` and :data:`REPEAT` per family file (a cap of 0 leaves
    a family out); ``extra`` files (self-improvement trajectories, say) go in whole.
    """
    rng = random.Random(seed)
    lines, counts = [], {}
    caps = {**MIX, **(caps or {})}
    repeats = {**REPEAT, **(repeats or {})}
    sources = [(data_dir / name, cap) for name, cap in caps.items()] + [(Path(p), None) for p in extra]
    for path, cap in sources:
        name = path.name
        if (only is not None and name not in only and path.parent == data_dir) or cap == 0:
            continue
        if not path.exists():
            raise FileNotFoundError(f"{path}: missing; build it with python -m examples.recipes.build_data")
        rows = path.read_text(encoding="utf-8").splitlines()
        rng.shuffle(rows)
        keep = len(rows) if cap is None else min(cap, len(rows))
        rows = rows[: max(1, int(keep * scale))] * repeats.get(name, 1)
        counts[name] = len(rows)
        lines += rows
    rng.shuffle(lines)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return counts


def judge_mix(data_dir: Path, main_mix: Path, out: Path, replay: int, seed: int) -> Path:
    """The judge stage's data: every record of ``JUDGE_DATA`` and ``replay`` records of the first stage's mix."""
    path = data_dir / JUDGE_DATA
    if not path.exists():
        raise FileNotFoundError(f"{path}: missing; build it with python -m examples.recipes.build_data")
    rng = random.Random(seed + 1)
    judge = path.read_text(encoding="utf-8").splitlines()
    rows = main_mix.read_text(encoding="utf-8").splitlines()
    lines = judge + rng.sample(rows, min(replay, len(rows)))
    rng.shuffle(lines)
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    log.info("judge stage: %d judge records + %d replayed", len(judge), len(lines) - len(judge))
    return out


def steps_for_budget(cfg_kwargs: dict, budget: float, probe_steps: int, max_epochs: float) -> tuple[int, float]:
    """Steps that fit ``budget`` seconds, from a short probe run of the same settings (and its speed)."""
    from finetune import TrainConfig, train

    probe_out = Path(cfg_kwargs["out"]).with_name("probe")
    probe = train(
        TrainConfig(
            **{
                **cfg_kwargs,
                "out": str(probe_out),
                "max_steps": probe_steps,
                "save_every": 0,
                "dev_fraction": 0.0,
                "eval_generations": 0,
            }
        )
    )
    per_step = probe.seconds / max(1, probe.steps)
    epoch_steps = probe.examples / cfg_kwargs["batch_size"]
    steps = int(min(budget / per_step, max_epochs * epoch_steps))
    shutil.rmtree(probe_out, ignore_errors=True)
    log.info("probe: %.3f s/step, %.0f tokens/s -> %d steps", per_step, probe.tokens_per_second, steps)
    return max(probe_steps, steps), probe.tokens_per_second


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", type=Path, required=True)
    ap.add_argument("--out", type=Path, default=Path("runs/shipped"))
    ap.add_argument("--base", default=None, help="base GGUF or HF dir (default: the embedded SmolLM2)")
    ap.add_argument("--budget-seconds", type=float, default=300.0)
    ap.add_argument("--max-epochs", type=float, default=2.0)
    ap.add_argument("--scale", type=float, default=1.0, help="share of each family to use (quick CPU runs)")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--seq-len", type=int, default=1024)  # GSM8K ReAct traces run to ~1,100
    ap.add_argument("--packing", action="store_true", help="pack examples into rows instead of grouping by prompt")
    ap.add_argument("--lora-r", type=int, default=32)
    ap.add_argument("--lr", type=float, default=3e-4)
    ap.add_argument("--probe-steps", type=int, default=12)
    ap.add_argument("--steps", type=int, default=None, help="train exactly this many steps (no probe run)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--init-adapter", default=None, help="go on training this adapter (a run's adapter/ dir or a GGUF LoRA)"
    )
    ap.add_argument("--only", nargs="*", default=None, help="mix only these family files (default: all of MIX)")
    ap.add_argument("--cap", nargs="*", default=[], metavar="FILE=N", help="records of a family (0: none)")
    ap.add_argument("--repeat", nargs="*", default=[], metavar="FILE=N", help="copies of a family in the mix")
    ap.add_argument("--extra", nargs="*", type=Path, default=[], help="more training files, mixed in whole")
    ap.add_argument("--max-seconds", type=float, default=None, help="stop the first stage after this long")
    ap.add_argument("--judge-max-seconds", type=float, default=None, help="stop the judge stage after this long")
    ap.add_argument("--copy-to", type=Path, default=None, help="copy the adapter (fp16, split < 15 MB) here")
    ap.add_argument("--copy-main-to", type=Path, default=None, help="copy the first stage's adapter here too")
    ap.add_argument("--judge-epochs", type=float, default=0.0, help="then train the judge on value_all (passes)")
    ap.add_argument("--judge-batch-size", type=int, default=64)
    ap.add_argument(
        "--judge-replay",
        type=int,
        default=3000,
        help="records of the first stage's mix replayed in the judge stage (judging alone costs tool skill)",
    )
    ap.add_argument("--judge-lr", type=float, default=4e-4)
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")

    t0 = time.time()
    data = args.out / "mix.jsonl"
    caps = {k: int(v) for k, v in (item.split("=", 1) for item in args.cap)}
    repeats = {k: int(v) for k, v in (item.split("=", 1) for item in args.repeat)}
    counts = mix(args.data_dir, data, args.seed, args.scale, args.only, caps, repeats, args.extra)
    log.info("mix: %s", counts)
    cfg = {
        "data": str(data),
        "out": str(args.out / "main"),
        "base": args.base,
        "lora_r": args.lora_r,
        "lora_alpha": 2 * args.lora_r,
        "lr": args.lr,
        "batch_size": args.batch_size,
        "seq_len": args.seq_len,
        "seed": args.seed,
        "warmup_ratio": 0.03,
        "group_by_prompt": not args.packing,  # one template per batch: the few-shot / system prompt runs once
        "packing": args.packing,  # or rows of several examples: no padding (faster on a GPU, bench/train.py)
        "init_adapter": args.init_adapter,
    }
    if args.steps:
        steps, probe_tps = args.steps, None
    else:  # the probe includes warm-up, so it under-estimates the speed (H200: 26.5k vs 49.6k tokens/s)
        steps, probe_tps = steps_for_budget(cfg, args.budget_seconds, args.probe_steps, args.max_epochs)
    from finetune import TrainConfig, train

    result = train(
        TrainConfig(
            **cfg,
            max_steps=steps,
            max_seconds=args.max_seconds,
            save_every=max(50, steps // 4),
            dev_fraction=0.01,
            eval_generations=0,
        )
    )
    summary = {
        "counts": counts,
        "steps": result.steps,
        "examples": result.examples,
        "losses_first": result.losses[:5],
        "losses_last": result.losses[-5:],
        "dev_loss": result.dev_loss,
        "train_seconds": result.seconds,
        "tokens_per_second": result.tokens_per_second,
        "probe_tokens_per_second": probe_tps,
        "out_of_time": result.out_of_time,
        "wall_seconds": time.time() - t0,
        "config": cfg,
    }
    adapter = Path(result.adapter)
    if args.copy_main_to:  # the first stage is safe even if the judge stage runs out of the call's time
        copy_adapter(adapter, args.copy_main_to, None)
    if args.judge_epochs > 0:
        judge_data = judge_mix(args.data_dir, data, args.out / "judge_mix.jsonl", args.judge_replay, args.seed)
        stage = {"data": str(judge_data), "out": str(args.out / "judge"), "init_adapter": str(adapter)}
        stage |= {"lr": args.judge_lr, "batch_size": args.judge_batch_size}  # the first stage's settings otherwise
        judge = train(
            TrainConfig(
                **{**cfg, **stage},
                epochs=args.judge_epochs,
                max_seconds=args.judge_max_seconds,
                save_every=0,
                dev_fraction=0.0,
                eval_generations=0,
            )
        )
        adapter = Path(judge.adapter)
        summary["judge"] = {
            "steps": judge.steps,
            "examples": judge.examples,
            "losses_first": judge.losses[:5],
            "losses_last": judge.losses[-5:],
            "train_seconds": judge.seconds,
            "out_of_time": judge.out_of_time,
        }
        summary["wall_seconds"] = time.time() - t0
    (args.out / "summary.json").write_text(json.dumps(summary, indent=1))
    log.info("summary: %s", json.dumps(summary))
    if args.copy_to:
        copy_adapter(adapter, args.copy_to, summary)


def copy_adapter(adapter: Path, dest: Path, summary: dict | None, chunk: int = 15 * 2**20) -> None:
    """Copy a peft adapter as fp16, split into chunks under 16 MB (join with ``cat part* > file``)."""
    import torch
    from safetensors.torch import load_file, save_file

    dest.mkdir(parents=True, exist_ok=True)
    weights = {k: v.to(torch.float16).contiguous() for k, v in load_file(adapter / "adapter_model.safetensors").items()}
    tmp = dest / "adapter_model.fp16.safetensors"
    save_file(weights, str(tmp))
    blob = tmp.read_bytes()
    tmp.unlink()
    for i in range(0, len(blob), chunk):
        (dest / f"adapter.part{i // chunk}").write_bytes(blob[i : i + chunk])
    shutil.copy(adapter / "adapter_config.json", dest / "adapter_config.json")
    if summary is not None:
        (dest / "summary.json").write_text(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
