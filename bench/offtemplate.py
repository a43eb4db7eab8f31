"""ReAct on the hand-written off-template tool questions (bench/data/offtemplate_tools.jsonl).

    python bench/offtemplate.py [--model M] [--base] [--limit N] [--max-steps 6] [--out results.jsonl]

The questions were written away from the training generators' sentence frames (never trained on): the
trained families worded as users word them, kinds the generators never make, and paraphrase groups (one
question in 3-4 wordings). Prints a markdown table per model: accuracy overall, on trained and untrained
families, per kind, paraphrase agreement (the share of groups whose answers all agree, and the mean
agreement over pairs of wordings), exceptions, malformed steps and s/question. ``--base`` runs the
embedded base GGUF without the adapter too. Answers are scored as ``agent eval qa`` scores them
(:func:`agent.core.answers.match_answer`: numbers exactly as fractions, words case-insensitively).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections import defaultdict
from fractions import Fraction
from itertools import combinations
from pathlib import Path
from typing import TextIO

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agent import load_model
from agent.core.answers import last_number, match_answer, normalize_words
from agent.core.embedded import embedded_model_path
from agent.core.react import ReActAgent, ReActConfig
from bench.react_tools import malformed
from tools import load_tools

DATA = Path(__file__).parent / "data" / "offtemplate_tools.jsonl"
NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:/\d+)?")  # a numeric gold answer, as agent.core.answers reads one


def load_rows(limit: int | None = None) -> list[dict]:
    rows = [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines() if line.strip()]
    return rows[:limit]


def answer_key(answer: str | None, gold: str) -> Fraction | str | None:
    """What two answers to one question must share to agree: the last number where the gold is a number (as
    ``match_answer`` reads it), else the normalised words."""
    if answer is None:
        return None
    if NUMBER.fullmatch(gold.replace(",", "").replace("$", "").strip()):
        return last_number(answer)
    return normalize_words(answer) or None


def run_model(spec: str | None, rows: list[dict], max_steps: int, out: TextIO | None) -> tuple[str, list[dict]]:
    """The model's name and one result record per question, in order (each also written to ``out`` at once)."""
    agent = ReActAgent(load_model(spec), load_tools(None), ReActConfig(max_steps=max_steps))
    results = []
    for r in rows:
        t0 = time.perf_counter()
        rec = {k: r[k] for k in ("id", "kind", "family", "paraphrase_of", "question")} | {"gold": r["answer"]}
        try:
            traj = agent.run(r["question"])
        except Exception as err:  # noqa: BLE001  # counted, not hidden: the bench reports exceptions
            print(f"exception on {r['id']}: {err!r}", file=sys.stderr)
            rec |= {"answer": None, "correct": False, "steps": 0, "malformed": 0, "exception": repr(err)}
        else:
            rec |= {
                "answer": traj.answer,
                "correct": match_answer(traj.answer, r["answer"]),
                "steps": len(traj.steps),
                "malformed": malformed(traj.steps, traj.answer is not None),
                "exception": None,
                "trace": traj.to_dict()["steps"],
            }
        rec["seconds"] = round(time.perf_counter() - t0, 2)
        mark = "ok " if rec["correct"] else "BAD"
        if out is not None:
            out.write(json.dumps({"model": agent.model.name} | rec, ensure_ascii=False) + "\n")
            out.flush()
        print(f"{mark} {r['id']:>5} {str(rec['answer'])[:24]!r:>26} gold {r['answer'][:20]!r:>22}", file=sys.stderr)
        results.append(rec)
    return agent.model.name, results


def agreement(results: list[dict]) -> tuple[int, int, float]:
    """(groups whose answers all agree, groups with 2+ wordings run, mean agreement over pairs of wordings)."""
    groups: dict[str, list[dict]] = defaultdict(list)
    for r in results:
        groups[r["paraphrase_of"] or r["id"]].append(r)
    whole = pairs = agreeing = 0
    groups = {k: g for k, g in groups.items() if len(g) >= 2}
    for g in groups.values():
        keys = [answer_key(r["answer"], r["gold"]) for r in g]
        same = [a is not None and a == b for a, b in combinations(keys, 2)]
        whole += all(same)
        pairs += len(same)
        agreeing += sum(same)
    return whole, len(groups), agreeing / max(1, pairs)


def share(results: list[dict]) -> str:
    n = len(results)
    return f"{sum(r['correct'] for r in results)}/{n} ({sum(r['correct'] for r in results) / max(1, n):.0%})"


def summary_row(name: str, results: list[dict]) -> str:
    by = defaultdict(list)
    for r in results:
        by[r["family"]].append(r)
    whole, groups, pairwise = agreement(results)
    secs = sum(r["seconds"] for r in results) / max(1, len(results))
    bad, steps = sum(r["malformed"] for r in results), sum(r["steps"] for r in results)
    crashes = sum(r["exception"] is not None for r in results)
    return (
        f"| {name} | {share(results)} | {share(by['trained'])} | {share(by['untrained'])} | "
        f"{whole}/{groups} ({whole / max(1, groups):.0%}) | {pairwise:.0%} | {crashes} | {bad}/{steps} | {secs:.1f} |"
    )


def kind_rows(name: str, results: list[dict]) -> list[str]:
    """One row per family: each kind's right/asked, compact."""
    cells: dict[str, dict[str, list[bool]]] = defaultdict(lambda: defaultdict(list))
    for r in results:
        cells[r["family"]][r["kind"]].append(r["correct"])
    return [
        f"| {name} | {family} | " + ", ".join(f"{k} {sum(v)}/{len(v)}" for k, v in sorted(kinds.items())) + " |"
        for family, kinds in sorted(cells.items())
    ]


def report(runs: list[tuple[str, list[dict]]]) -> str:
    head = ["model", "accuracy", "trained families", "untrained kinds", "paraphrase groups all agreeing"]
    head += ["pairwise agreement", "exceptions", "malformed steps", "s/question"]
    lines = [
        "| " + " | ".join(head) + " |",
        "|---" * len(head) + "|",
        *(summary_row(name, results) for name, results in runs),
        "",
        "| model | family | per kind (right/asked) |",
        "|---|---|---|",
        *(row for name, results in runs for row in kind_rows(name, results)),
    ]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default=None, help="model spec as `agent solve --model` takes it (default: shipped)")
    ap.add_argument("--base", action="store_true", help="also run the embedded base GGUF without the adapter")
    ap.add_argument("--limit", type=int, default=None, help="only the first N questions")
    ap.add_argument("--max-steps", type=int, default=6)
    ap.add_argument("--out", type=Path, default=None, help="write one JSON line per question and model")
    args = ap.parse_args()
    rows = load_rows(args.limit)
    specs = [args.model] + ([str(embedded_model_path())] if args.base else [])
    out = args.out.open("w", encoding="utf-8") if args.out else None
    try:
        runs = [run_model(spec, rows, args.max_steps, out) for spec in specs]
    finally:
        if out is not None:
            out.close()
    print(report(runs))


if __name__ == "__main__":
    main()
