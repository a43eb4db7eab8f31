"""Seconds an `agent export` takes: llama.cpp's converters (this tree) against our old Llama-only writer (a ref).

Each export runs in a fresh process, as `agent export` does (imports included), ``--repeats`` times, interleaved;
medians are reported, with the CPU seconds of the process and its children (the converter's subprocess).

1. a tiny random Llama (hidden 64, 2 layers, the SmolLM2 vocabulary), an HF folder: ``f16``;
2. the embedded SmolLM2-135M (Q4_1 GGUF) with the shipped LoRA (``agent/data/default-adapter.gguf`` read back into
   a peft run whose base.json names the GGUF): ``lora`` (the adapter alone) and ``f16`` (dequantized and merged).

``--baseline REF`` (e.g. ``91ea692``, the last commit with finetune/gguf_writer.py) exports the same inputs from a
``git worktree`` of REF. The converter is the one in the user's cache (``finetune.converter``), fetched first.

Usage:
    python bench/export.py [--repeats 3] [--baseline REF]

Prints a markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXPORT = "import sys\nfrom finetune.export import export_model\nexport_model(sys.argv[1], sys.argv[2], sys.argv[3])\n"


def tiny_llama(folder: Path) -> Path:
    """The tests' tiny random Llama with the embedded SmolLM2's tokenizer."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from agent.core.embedded import embedded_model_path

    gguf = embedded_model_path()
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, tie_word_embeddings=True,
    )  # fmt: skip
    torch.manual_seed(0)
    LlamaForCausalLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def shipped_run(folder: Path) -> Path:
    """A run directory: the shipped GGUF LoRA as a peft adapter on the embedded SmolLM2 GGUF."""
    import torch
    from transformers import AutoTokenizer

    from agent.core.embedded import default_adapter_path, embedded_model_path
    from finetune.lora_gguf import read_lora_gguf
    from finetune.modeling import load_base_model

    gguf = embedded_model_path()
    read_lora_gguf(default_adapter_path(), folder / "adapter", load_base_model(str(gguf), torch.float32))
    AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name).save_pretrained(folder / "tokenizer")
    (folder / "base.json").write_text(json.dumps({"base": str(gguf.parent), "gguf_file": gguf.name}))
    return folder


def export_seconds(tree: Path, src: Path, out: Path, outtype: str) -> tuple[float, float]:
    """Wall and CPU seconds of one export in a fresh process importing ``tree``'s finetune."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(tree), os.environ.get("PYTHONPATH")]))}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", EXPORT, str(src), str(out), outtype], cwd=tree, env=env,
                          capture_output=True, text=True, check=False)  # fmt: skip
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise RuntimeError(f"export {outtype} of {src} in {tree} failed:\n{proc.stderr[-3000:]}")
    shutil.rmtree(out, ignore_errors=True)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--baseline", default=None, metavar="REF", help="a git ref with the old writer, e.g. 91ea692")
    args = parser.parse_args()

    from finetune.converter import ensure_converter

    ensure_converter()
    scratch = Path(tempfile.mkdtemp(prefix="export-bench-"))
    trees = {"converter (this tree)": ROOT}
    try:
        if args.baseline:
            folder = scratch / "baseline"
            subprocess.run(["git", "worktree", "add", "--detach", str(folder), args.baseline], cwd=ROOT, check=True,
                           capture_output=True)  # fmt: skip
            trees[f"our writer ({args.baseline})"] = folder
        cases = {
            "tiny Llama (3.2M), f16": (tiny_llama(scratch / "tiny"), "f16"),
            "SmolLM2-135M + shipped LoRA, lora": (shipped_run(scratch / "shipped"), "lora"),
            "SmolLM2-135M + shipped LoRA, f16 (merged)": (scratch / "shipped", "f16"),
        }
        times: dict[tuple[str, str], list[tuple[float, float]]] = {(c, t): [] for c in cases for t in trees}
        for _ in range(args.repeats):
            for case, (src, outtype) in cases.items():
                for name, tree in trees.items():
                    times[case, name].append(export_seconds(tree, src, scratch / "out", outtype))
        report(cases, trees, times, args.repeats)
    finally:
        if args.baseline:
            subprocess.run(["git", "worktree", "remove", "--force", str(scratch / "baseline")], cwd=ROOT, check=False)
        shutil.rmtree(scratch, ignore_errors=True)


def report(cases: dict, trees: dict, times: dict, repeats: int) -> None:
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"`agent export` seconds, medians of {repeats} fresh processes, {os.cpu_count()} CPUs, load {load:.1f}\n")
    print("| input, outtype | " + " | ".join(f"{t}: wall (CPU)" for t in trees) + " |")
    print("|---|" + "---|" * len(trees))
    for case in cases:
        cells = []
        for tree in trees:
            wall = statistics.median(w for w, _ in times[case, tree])
            cpu = statistics.median(c for _, c in times[case, tree])
            cells.append(f"{wall:.1f} ({cpu:.1f})")
        print(f"| {case} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
