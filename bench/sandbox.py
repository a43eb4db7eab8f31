"""Median wall time of the ``python`` tool for ``print(1)``: this checkout against a baseline commit, same run.

    python bench/sandbox.py [--baseline REF] [--runs 30] [--executors builtin bwrap]

Each configuration runs in its own interpreter, interleaved round by round with the baseline (a
``git worktree`` of REF in a temporary folder), so machine noise hits both alike. Prints a markdown
table: median and p90 seconds per call, the ratio to the baseline, and the layers that were active.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROBE = """
import json, sys, time
sys.path.insert(0, sys.argv[1])
from tools.python import SandboxConfig, run_sandboxed
kwargs = json.loads(sys.argv[2])
config = SandboxConfig(**kwargs)
times, layers = [], ()
for _ in range(int(sys.argv[3])):
    start = time.perf_counter()
    result = run_sandboxed("print(1)", config)
    times.append(time.perf_counter() - start)
    assert result.stdout == "1\\n", result
    layers = result.isolation
print(json.dumps({"times": times, "layers": list(layers)}))
"""


def measure(tree: Path, kwargs: dict, runs: int) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", PROBE, str(tree), json.dumps(kwargs), str(runs)],
        capture_output=True, text=True, check=True, cwd=tree,
    )  # fmt: skip
    return json.loads(out.stdout.splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--baseline", default="b88a3ba", help="git ref of the baseline (default: before round two)")
    ap.add_argument("--runs", type=int, default=30, help="calls per configuration")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds; runs are split between them")
    ap.add_argument("--executors", nargs="+", default=["builtin", "bwrap"])
    args = ap.parse_args()

    base = Path(tempfile.mkdtemp(prefix="bench-sandbox-"))
    subprocess.run(["git", "worktree", "add", "--detach", str(base), args.baseline], cwd=ROOT, check=True,
                   capture_output=True)  # fmt: skip
    configs = {"baseline (namespaces)": (base, {})}
    for executor in args.executors:
        if executor == "bwrap" and not shutil.which("bwrap"):
            print(f"(skipped {executor}: bwrap is not installed)", file=sys.stderr)
            continue
        configs[f"{executor} (namespaces)"] = (ROOT, {"executor": executor})
    configs["baseline (guards only)"] = (base, {"namespaces": False})
    configs["builtin (guards only)"] = (ROOT, {"namespaces": False})
    try:
        samples: dict[str, list[float]] = {name: [] for name in configs}
        layers: dict[str, list[str]] = {}
        per_round = max(1, args.runs // args.rounds)
        for _ in range(args.rounds):
            for name, (tree, kwargs) in configs.items():
                found = measure(tree, {"cpu_seconds": 10, **kwargs}, per_round)
                samples[name] += found["times"]
                layers[name] = found["layers"]
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(base)], check=False, cwd=ROOT, capture_output=True)
    print(f"| configuration | median s | p90 s | vs baseline | layers |  ({len(samples[name])} calls each)")
    print("|---|---|---|---|---|")
    for name, times in samples.items():
        median = statistics.median(times)
        p90 = statistics.quantiles(times, n=10)[-1]
        baseline = samples["baseline (guards only)" if "guards" in name else "baseline (namespaces)"]
        ratio = median / statistics.median(baseline)
        print(f"| {name} | {median:.3f} | {p90:.3f} | {ratio:.2f}x | {len(layers[name])}: {', '.join(layers[name])} |")


if __name__ == "__main__":
    main()
