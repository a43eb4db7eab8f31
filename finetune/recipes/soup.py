"""Average LoRA adapters of one lineage (a "model soup" of runs that share a base), exactly, as one adapter.

    python -m finetune.recipes.soup --out runs/soup/s56 runs/g5/touch runs/g6/touch[:0.5]
    agent export runs/soup/s56 --outtype lora --out runs/soup/s56-adapter.gguf

Each run's weight update is ``scale * B @ A``; the soup's is the weighted sum of those (weights default to equal
and are used as given). It is written as one LoRA of rank ``sum(r)``: ``A`` stacks the runs' ``A`` matrices,
``B`` the weighted ``B`` matrices side by side, and ``lora_alpha`` keeps ``alpha / r`` (so the scale) unchanged.
The runs must share the base, the target modules and ``alpha / r``. ``--out`` gets ``adapter/``, and the first
run's ``tokenizer/`` and ``base.json``, so it exports like a trained run.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path


def _adapter_dir(run: Path) -> Path:
    return run / "adapter" if (run / "adapter" / "adapter_config.json").is_file() else run


def soup(runs: list[tuple[Path, float]], out: Path) -> Path:
    """Write the weighted sum of ``runs``' LoRA updates to ``out`` (see the module docstring); returns ``out``.

    Raises:
        ValueError: runs whose modules, scale or base differ.
    """
    import torch
    from safetensors.torch import load_file, save_file

    dirs = [_adapter_dir(run) for run, _ in runs]
    configs = [json.loads((d / "adapter_config.json").read_text()) for d in dirs]
    weights = [load_file(str(d / "adapter_model.safetensors")) for d in dirs]
    first = configs[0]
    for d, c, w in zip(dirs, configs, weights):
        if set(w) != set(weights[0]):
            raise ValueError(f"{d}: its LoRA modules differ from {dirs[0]}'s")
        if c["lora_alpha"] / c["r"] != first["lora_alpha"] / first["r"]:
            raise ValueError(f"{d}: alpha/r differs from {dirs[0]}'s; the soup keeps one scale")
    merged = {}
    for name in weights[0]:
        if "lora_A" in name:
            merged[name] = torch.cat([w[name].float() for w in weights], 0)
        elif "lora_B" in name:
            merged[name] = torch.cat([w[name].float() * k for w, (_, k) in zip(weights, runs)], 1)
        else:
            raise ValueError(f"{dirs[0]}: {name} is not a LoRA matrix; only plain LoRA adapters can be averaged")
    rank = sum(c["r"] for c in configs)
    config = {**first, "r": rank, "lora_alpha": first["lora_alpha"] / first["r"] * rank}
    (out / "adapter").mkdir(parents=True, exist_ok=True)
    save_file(merged, str(out / "adapter" / "adapter_model.safetensors"))
    (out / "adapter" / "adapter_config.json").write_text(json.dumps(config, indent=2))
    run0 = runs[0][0]
    if (run0 / "tokenizer").is_dir():
        shutil.copytree(run0 / "tokenizer", out / "tokenizer", dirs_exist_ok=True)
    if (run0 / "base.json").is_file():
        shutil.copy(run0 / "base.json", out / "base.json")
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("runs", nargs="+", help="run directories (or adapter/ folders), each RUN or RUN:WEIGHT")
    p.add_argument("--out", required=True)
    args = p.parse_args(argv)
    parsed = []
    for spec in args.runs:
        path, _, weight = spec.partition(":")
        parsed.append((Path(path), float(weight) if weight else None))
    equal = 1 / len(parsed)
    runs = [(path, equal if w is None else w) for path, w in parsed]
    print(soup(runs, Path(args.out)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
