"""Tree-of-Thoughts benchmarks on Game of 24 with the embedded llama.cpp model.

``speed``: the same ToT BFS search (same puzzles, seed and settings) run twice in one
process: once on the backend as it is (the KV cache of the longest common prompt prefix is
reused and the ``n`` samples of a call are drawn as one batch), once through a wrapper that
works the way the reference ToT code does (every call recomputes its whole prompt and the
``n`` samples are ``n`` separate calls), handed the first run's texts so that it grows the
same tree. Reports node expansions per second.

``accuracy``: ToT BFS on the first puzzles of ``24-dev.csv`` through :func:`search.solve`,
model-only (the model proposes and judges); success is checked afterwards by
:func:`search.tasks.game24.validate`. Writes one tree page per puzzle.

Usage:
    python bench/tot.py speed --puzzles 2
    python bench/tot.py accuracy --puzzles 20 --out /tmp/tot-trees
"""

from __future__ import annotations

import argparse
import csv
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agent.core.load import load_model
from agent.core.model import Completion
from search import solve
from search.tree import save as save_tree

DEV = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "game24" / "24-dev.csv"


class Recorder:
    """Passes calls through to the model and keeps each call's prompt and completion."""

    def __init__(self, inner):
        self.inner, self.name, self.log = inner, inner.name, []

    def render(self, messages, add_generation_prompt=True):
        return self.inner.render(messages, add_generation_prompt=add_generation_prompt)

    def count_tokens(self, text):
        return self.inner.count_tokens(text)

    def complete(self, prompt, **kwargs) -> Completion:
        out = self.inner.complete(prompt, **kwargs)
        self.log.append((prompt, out))
        return out


class RecomputeModel(Recorder):
    """The reference way to call a model: no prefix cache, ``n`` samples as ``n`` calls.

    Sample ``i`` is drawn with seed ``seed + i``, as the batched backend draws it. Given the
    ``replay`` log of a run on the batched backend, every call is still computed in full, but
    the search is handed the texts that run got, so both runs grow the same tree (batched
    and one-at-a-time decoding differ in the last bits, which can change a sampled token).
    """

    def __init__(self, inner, replay: list | None = None):
        super().__init__(inner)
        self.name = inner.name + " (recompute)"
        self.replay = list(replay or [])

    def _forget(self) -> None:
        import llama_cpp

        # the backend has no public reset; drop sequence 0's cache so the next call evaluates its whole prompt
        llama_cpp.llama_memory_clear(self.inner._mem, True)
        self.inner._cache = []

    def complete(self, prompt, *, n=1, seed=None, **kwargs) -> Completion:
        start, outs = time.perf_counter(), []
        for i in range(n):
            self._forget()
            outs.append(self.inner.complete(prompt, n=1, seed=None if seed is None else seed + i, **kwargs))
        texts = [o.texts[0] for o in outs]
        if len(self.log) < len(self.replay) and self.replay[len(self.log)][0] == prompt:
            texts = self.replay[len(self.log)][1].texts
        out = Completion(
            texts=texts,
            prompt_tokens=sum(o.prompt_tokens for o in outs),
            completion_tokens=sum(o.completion_tokens for o in outs),
            seconds=time.perf_counter() - start,
            logprobs=[o.logprobs[0] for o in outs] if outs[0].logprobs else None,
            finish_reasons=[o.finish_reasons[0] for o in outs],
        )
        self.log.append((prompt, out))
        return out


def puzzles(count: int, skip: int = 0) -> list[str]:
    with DEV.open() as f:
        rows = list(csv.DictReader(f))
    return [r["Puzzles"] for r in rows[skip : skip + count]]


def speed(args) -> None:
    model = load_model(args.model, n_threads=args.threads)
    chosen = puzzles(args.puzzles, args.skip)
    solve(chosen[0], model=model, beam=1, max_depth=1, seed=99, task_options={"propose_by": args.proposer})  # warm up: load weights, fill caches
    rows, trees = [], {}
    fast = Recorder(model)
    runs = (
        ("prefix reuse + batched samples", lambda: fast),
        ("full recompute, sequential samples", lambda: RecomputeModel(model, replay=fast.log)),
    )
    for label, make in runs:
        totals = {key: 0 for key in ("nodes", "expanded", "model_calls", "prompt_tokens", "completion_tokens")}
        totals["seconds"] = 0.0
        m = make()
        trees[label] = []
        for pz in chosen:
            result = solve(pz, model=m, algorithm="bfs", beam=args.beam, seed=args.seed, evaluator=args.evaluator,
                           task_options={"propose_by": args.proposer})
            trees[label].append(sorted(d for _, d in result.tree.nodes(data="state")))
            for key in totals:
                totals[key] += result.stats[key]
            print(
                f"  {label}: {pz} -> {result.stats['expanded']} expansions in {result.stats['seconds']:.1f} s",
                file=sys.stderr,
            )
        rows.append((label, totals))
    print(
        f"\nToT BFS (b={args.beam}) on {len(chosen)} Game of 24 puzzles ({', '.join(chosen)}), "
        f"model {model.name}, {args.threads} thread(s), seed {args.seed}\n"
    )
    print(
        "| calls made with | nodes | expansions | model calls | prompt tokens evaluated | completion tokens "
        "| seconds | expansions / s |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for label, t in rows:
        print(
            f"| {label} | {t['nodes']} | {t['expanded']} | {t['model_calls']} | {t['prompt_tokens']} | "
            f"{t['completion_tokens']} | {t['seconds']:.1f} | {t['expanded'] / t['seconds']:.3f} |"
        )
    fast_rate, slow_rate = (t["expanded"] / t["seconds"] for _, t in rows)
    same = trees[rows[0][0]] == trees[rows[1][0]]
    print(
        f"\nspeed-up: {fast_rate / slow_rate:.2f}x expansions per second (target >= 3x); same trees in both runs: "
        f"{'yes' if same else 'no'} (the recompute run does all its own work but is handed the texts of the "
        "first run, so both search the same tree)"
    )


def accuracy(args) -> None:
    model = load_model(args.model, n_threads=args.threads)
    out = Path(args.out or tempfile.mkdtemp(prefix="tot-trees-"))
    out.mkdir(parents=True, exist_ok=True)
    options = {"answer_by": args.answer_by, "propose_by": args.proposer}
    print("| # | puzzle | answer | valid | nodes | model calls | seconds |\n|---:|---|---|---|---:|---:|---:|")
    solved, seconds, roles = 0, 0.0, set()
    chosen = puzzles(args.puzzles, args.skip)
    for i, pz in enumerate(chosen, 1):
        result = solve(
            pz,
            model=model,
            algorithm=args.algorithm,
            beam=args.beam,
            seed=args.seed,
            evaluator=args.evaluator,
            task_options=options,
        )
        s = result.stats
        roles.add(f"proposer {s['proposer']}, judge {s['judge']}, model_only {s['model_only']}")
        solved += bool(s["valid"])
        seconds += s["seconds"]
        save_tree(result.tree, out / f"{i:02d}-{pz.replace(' ', '_')}.html")
        print(
            f"| {i} | {pz} | {result.answer or '-'} | {'yes' if s['valid'] else 'no'} | {s['nodes']} | "
            f"{s['model_calls']} | {s['seconds']:.1f} |",
            flush=True,
        )
    print(
        f"\n{args.algorithm.upper()} b={args.beam}, evaluator {args.evaluator} ({'; '.join(sorted(roles))}), "
        f"answer by {args.answer_by}: solved {solved}/{len(chosen)} = {solved / len(chosen):.0%}, "
        f"{seconds / len(chosen):.1f} s per puzzle; trees in {out}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("mode", choices=["speed", "accuracy"])
    parser.add_argument("--model", default=None, help="a .gguf path; default: the embedded model")
    parser.add_argument("--puzzles", type=int, default=None, help="how many puzzles (speed: 2, accuracy: 20)")
    parser.add_argument("--skip", type=int, default=0, help="start after this many rows of 24-dev.csv")
    parser.add_argument("--beam", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1, help="llama.cpp threads (1 is fastest on a busy 2-core box)")
    parser.add_argument("--algorithm", default="bfs", choices=["bfs", "dfs", "mcts"])
    parser.add_argument("--evaluator", default="value", choices=["value", "vote"])
    parser.add_argument("--answer-by", default="model", choices=["model", "steps"])
    parser.add_argument("--proposer", default="model", choices=["model", "rules"],
                        help="who proposes the moves (default: the model, the paper's setting)")
    parser.add_argument("--out", default=None, help="accuracy: folder for the tree pages (default: a temp dir)")
    args = parser.parse_args()
    args.puzzles = args.puzzles or (2 if args.mode == "speed" else 20)
    (speed if args.mode == "speed" else accuracy)(args)


if __name__ == "__main__":
    main()
