"""Build the training data of the shipped CoT model: ``python -m examples.recipes.build_data --out data/``.

Writes one JSONL file per family (ReAct trajectories or chat prompt/completion records), the
held-out development splits (never trained on), and a README with sizes and licences. Pure
Python: no model is needed; observations come from the real ``calculator`` and ``python`` tools.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import sys
import time
from pathlib import Path
from typing import Any

from examples.recipes import varied_problems
from examples.recipes.game24_data import (
    DEV_PUZZLES,
    focus_mix,
    game24_examples,
    load_puzzles,
    puzzle_column,
    split_puzzles,
    value_all,
)
from examples.recipes.gsm8k_programs import DEV_ROWS, gsm8k_react, split_dev
from examples.recipes.gsm8k_reinstantiate import gsm8k_reinstantiated
from examples.recipes.numbers import template
from examples.recipes.tool_problems import tool_traces
from examples.recipes.traces import TOOLS, write_jsonl

log = logging.getLogger(__name__)

DATA_DIR = Path(os.environ.get("COT_AGENT_DATA", "/work/shared/data"))  # where train.jsonl and 24-dev.csv live
LICENCES = (
    "GSM8K: MIT licence, Copyright (c) 2021 OpenAI (github.com/openai/grade-school-math).",
    "Game of 24 puzzles: MIT licence, Copyright (c) 2023 Shunyu Yao (github.com/princeton-nlp/tree-of-thought-llm).",
)
DESCRIPTIONS = {
    "gsm8k_react.jsonl": "GSM8K training rows as ReAct traces: one calculator call per annotated line",
    "gsm8k_reinstantiated.jsonl": "GSM8K problems re-instantiated with new numbers, recomputed step by step",
    "tool_use.jsonl": "synthetic tool-use problems (calculator and python), answers computed by code",
    "tool_use_varied.jsonl": "tool-use problems told many ways (frames, synonyms, fact order, distractors) and "
    "program-fallback kinds; the Thought states the plan (varied_problems.py, program_problems.py)",
    "game24_propose.jsonl": "Game of 24 propose prompt (raw) -> one move that keeps 24 reachable",
    "game24_value.jsonl": "Game of 24 short value prompt (raw) -> sure/impossible",
    "game24_value_paper.jsonl": "Game of 24 paper's value prompt (raw) -> reasoning lines, then sure/impossible",
    "game24_answer.jsonl": "Game of 24 last-step prompt -> the expression the three moves build",
    "game24_judge.jsonl": "Game of 24 answer-judging prompt -> sure/impossible",
    "game24_value_focus.jsonl": "Game of 24 short value prompt over every solvable state and twice as many unsolvable",
    "game24_propose_focus.jsonl": "Game of 24 propose prompt over every puzzle and solvable state -> up to 2 winning moves",
    "game24_value_all.jsonl": "Game of 24 short value prompt over every state a search judges (solvable ones twice)",
}


def _system_chars() -> int:
    from agent.core.prompts import render_react_prompt
    from tools import load_tools

    return len(render_react_prompt("", load_tools(TOOLS))[0]["content"])


def token_estimate(records: list[dict[str, Any]], system_chars: int) -> tuple[int, int]:
    """(all tokens, trained tokens) by characters / 4: the prompt (a trace's system prompt and question, or the
    chat turns before the answer) plus the assistant's text, and that text alone."""
    from agent.core.steps import Trajectory

    total = target = 0
    for rec in records:
        if "messages" in rec:
            total += sum(len(m["content"]) for m in rec["messages"])
            target += len(rec["messages"][-1]["content"])
        elif "prompt" in rec:
            total += len(rec["prompt"]) + len(rec["completion"])
            target += len(rec["completion"])
        else:
            text = len(Trajectory.from_dict(rec).render())
            total += system_chars + len(rec["question"]) + text
            target += text
    return total // 4, target // 4


def make_families(
    train_rows: list[dict[str, Any]],
    train_puzzles: list[str],
    *,
    reinstantiate: int,
    seed: int,
    tool_items: int,
    workers: int,
    only: set[str] | None = None,
) -> tuple[dict[str, list[dict[str, Any]]], dict[str, str]]:
    """Every family's records by file name (or the ``only`` files), and a note per file on how it was made.

    Each family draws from its own seeded generator, so a file built alone is byte for byte the file of a full build.
    """
    want = (lambda *names: True) if only is None else (lambda *names: bool(only.intersection(names)))
    families: dict[str, list[dict[str, Any]]] = {}
    notes: dict[str, str] = {}
    t0 = time.perf_counter()
    if want("gsm8k_react.jsonl", "gsm8k_reinstantiated.jsonl"):
        react, solutions, dropped = gsm8k_react(train_rows)
        families["gsm8k_react.jsonl"] = react
        notes["gsm8k_react.jsonl"] = f"{len(react)} of {len(train_rows)} rows; dropped: {dict(dropped)}"
    if want("gsm8k_reinstantiated.jsonl"):
        new, why = gsm8k_reinstantiated(solutions, reinstantiate, seed)
        families["gsm8k_reinstantiated.jsonl"] = new
        notes["gsm8k_reinstantiated.jsonl"] = (
            f"{why['problems with instances']} of {len(solutions)} problems gave instances (up to {reinstantiate} each)"
        )
    log.info("GSM8K families in %.1f s", time.perf_counter() - t0)
    for name, kinds in (("tool_use.jsonl", None), ("tool_use_varied.jsonl", varied_problems.FAMILIES)):
        if want(name):
            families[name], counts = tool_traces(tool_items, seed, workers, families=kinds)
            notes[name] = ", ".join(f"{k} {v}" for k, v in counts.items())
    kinds = ("propose", "answer", "judge", "value", "value_paper")
    if want(*(f"game24_{kind}.jsonl" for kind in kinds)):
        by_kind, labels = game24_examples(train_puzzles, seed)
        for kind, records in by_kind.items():
            families[f"game24_{kind}.jsonl"] = records
        notes["game24_value.jsonl"] = f"labels: {labels['value:sure']} sure, {labels['value:impossible']} impossible"
        notes["game24_judge.jsonl"] = f"labels: {labels['judge:sure']} sure, {labels['judge:impossible']} impossible"
    if want("game24_value_focus.jsonl", "game24_propose_focus.jsonl"):
        focus = focus_mix(train_puzzles, seed)  # the judge as a lookup over all states: repeat it (shipped.REPEAT)
        families["game24_value_focus.jsonl"], families["game24_propose_focus.jsonl"] = focus["value"], focus["propose"]
    if want("game24_value_all.jsonl"):
        families["game24_value_all.jsonl"] = value_all(train_puzzles, random.Random(seed))
    families = {k: v for k, v in families.items() if only is None or k in only}
    return families, notes


def build(
    out: Path,
    *,
    gsm8k: Path,
    game24: Path,
    reinstantiate: int = 20,
    seed: int = 0,
    tool_items: int = 400,
    workers: int = 4,
    n_dev_rows: int = DEV_ROWS,
    n_dev_puzzles: int = DEV_PUZZLES,
    only: list[str] | None = None,
) -> dict[str, dict[str, Any]]:
    """Write every family under ``out``; returns ``{file: {"records", "tokens", "bytes", ...}}``.

    The last ``n_dev_rows`` GSM8K rows and the last ``n_dev_puzzles`` puzzles are only copied out as
    development splits, never used for training. ``only`` (file names) builds just those families.
    """
    unknown = sorted(set(only or ()) - set(DESCRIPTIONS))
    if unknown:
        raise ValueError(f"unknown family file(s) {unknown}; known: {sorted(DESCRIPTIONS)}")
    out.mkdir(parents=True, exist_ok=True)
    raw = [line for line in gsm8k.read_text(encoding="utf-8").splitlines() if line.strip()]
    train_rows, dev_rows = split_dev([json.loads(line) for line in raw], n_dev_rows)
    (out / "gsm8k_dev.jsonl").write_text("\n".join(raw[-n_dev_rows:]) + "\n", encoding="utf-8")  # byte for byte
    dev_questions = {template(r["question"]) for r in dev_rows}  # also catches dev questions with new numbers
    lines, _ = load_puzzles(game24)
    splits = split_puzzles(lines, n_dev_puzzles)
    for split in ("dev", "near"):
        (out / f"game24_{split}.csv").write_text("\n".join([lines[0], *splits[split]]) + "\n", encoding="utf-8")
    train_puzzles = puzzle_column(lines[0], splits["train"])

    families, notes = make_families(
        train_rows,
        train_puzzles,
        reinstantiate=reinstantiate,
        seed=seed,
        tool_items=tool_items,
        workers=workers,
        only=None if only is None else set(only),
    )
    summary: dict[str, dict[str, Any]] = {}
    system_chars = _system_chars()
    for name, records in families.items():
        kept = [r for r in records if "question" not in r or template(r["question"]) not in dev_questions]
        if len(kept) != len(records):
            log.warning("%s: dropped %d records made from a dev question", name, len(records) - len(kept))
        write_jsonl(out / name, kept)
        tokens, target = token_estimate(kept, system_chars)
        summary[name] = {
            "records": len(kept),
            "tokens": tokens,
            "target_tokens": target,
            "bytes": (out / name).stat().st_size,
            "note": notes.get(name, ""),
        }
    write_readme(
        out,
        summary,
        reinstantiate=reinstantiate,
        seed=seed,
        train_puzzles=len(train_puzzles),
        dev_rows=len(dev_rows),
        dev_puzzles=len(splits["dev"]),
        near_puzzles=len(splits["near"]),
    )
    return summary


def write_readme(out: Path, summary: dict[str, dict[str, Any]], **settings: Any) -> None:
    """``README.md``: what each file holds, its size, how it was made, the licences."""
    rows = [
        f"| `{name}` | {s['records']:,} | {s['tokens']:,} | {s['target_tokens']:,} | {s['bytes'] / 1e6:.1f} MB "
        f"| {DESCRIPTIONS[name]}. {s['note']} |"
        for name, s in summary.items()
    ]
    flags = " ".join(f"--{k} {v}" for k, v in settings.items() if k in ("reinstantiate", "seed"))
    text = "\n".join(
        [
            "# Training data of the CoT fine-tuned default model",
            "",
            (
                f"Made by `python -m examples.recipes.build_data --out {out} {flags}` (no model involved; tool "
                "observations come from the project's own `calculator` and `python` tools)."
            ),
            "",
            "| file | records | tokens (chars/4) | trained tokens | size | what |",
            "| --- | --- | --- | --- | --- | --- |",
            *rows,
            "",
            (
                f"Held out, never trained on: `gsm8k_dev.jsonl` (the last {settings['dev_rows']} rows of GSM8K "
                f"train.jsonl, unchanged), `game24_dev.csv` (the last {settings['dev_puzzles']} puzzles of "
                f"24-dev.csv, the hardest) and `game24_near.csv` ({settings['near_puzzles']} puzzles ranked "
                "851-900 and 1001-1050, beside the Tree-of-Thoughts paper's test range 901-1000, as hard as it); "
                f"training used the other {settings['train_puzzles']}. Do not point the trainer at these files."
            ),
            "",
            "## Licences",
            "",
            *[f"- {line}" for line in LICENCES],
            "- The generated problems, traces and labels: MIT, like this project.",
            "",
        ]
    )
    (out / "README.md").write_text(text, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m examples.recipes.build_data", description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument("--reinstantiate", type=int, default=20, metavar="K", help="new instances per GSM8K problem")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--tool-items", type=int, default=400, help="problems per tool-use family")
    parser.add_argument("--workers", type=int, default=4, help="threads running the python sandbox")
    parser.add_argument("--only", nargs="+", metavar="FILE", help="build only these family files (same bytes)")
    parser.add_argument("--gsm8k", type=Path, default=DATA_DIR / "gsm8k" / "train.jsonl")
    parser.add_argument("--game24", type=Path, default=DATA_DIR / "game24" / "24-dev.csv")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    for path in (args.gsm8k, args.game24):
        if not path.is_file():
            print(f"error: {path} not found (pass --gsm8k/--game24 or set COT_AGENT_DATA)", file=sys.stderr)
            return 2
    t0 = time.perf_counter()
    if args.only:
        unknown = sorted(set(args.only) - set(DESCRIPTIONS))
        if unknown:
            print(f"error: unknown family file(s) {unknown}; known: {sorted(DESCRIPTIONS)}", file=sys.stderr)
            return 2
    summary = build(
        args.out,
        gsm8k=args.gsm8k,
        game24=args.game24,
        reinstantiate=args.reinstantiate,
        seed=args.seed,
        tool_items=args.tool_items,
        workers=args.workers,
        only=args.only,
    )
    width = max(map(len, summary))
    for name, s in summary.items():
        print(
            f"{name:<{width}}  {s['records']:>7,} records  ~{s['tokens']:>11,} tokens  "
            f"(~{s['target_tokens']:>10,} trained)  {s['note']}"
        )
    total = {k: sum(s[k] for s in summary.values()) for k in ("records", "tokens", "target_tokens")}
    print(
        f"{'total':<{width}}  {total['records']:>7,} records  ~{total['tokens']:>11,} tokens  "
        f"(~{total['target_tokens']:>10,} trained)  in {time.perf_counter() - t0:.0f} s -> {args.out}"
    )
    (args.out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
