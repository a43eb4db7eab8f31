"""Scores from result files: a summary per (task, model, strategy), a markdown table and a bar plot.

A result file is the JSONL the runner writes, one record per item. A line cut short by a
crash is skipped with a warning, so a half-written file still reports what it holds.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from agent.app.evaluate.types import Summary
from agent.strategies.config import STRATEGIES

log = logging.getLogger(__name__)


def read_results(path: str | Path) -> list[dict[str, Any]]:
    """The records of one result file; unreadable lines (a crash mid-write) are skipped with a warning."""
    records, bad = [], []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                bad.append(n)
                continue
            if isinstance(rec, dict) and "question" in rec and "correct" in rec:
                records.append(rec)
            else:
                bad.append(n)
    if bad:
        log.warning("%s: skipped %d unreadable line(s): %s", path, len(bad), ", ".join(map(str, bad[:10])))
    return records


def summarize(records: list[dict[str, Any]], out: str | None = None) -> Summary:
    """Accuracy, tokens and seconds per item, and faithfulness over ``records`` of one run."""
    first = records[0] if records else {}
    n = len(records)
    checked = sum(int((r.get("faithfulness") or {}).get("checked", 0)) for r in records)
    right = sum(int((r.get("faithfulness") or {}).get("correct", 0)) for r in records)
    roles = sorted({_roles(r) for r in records} - {""})
    return Summary(
        task=str(first.get("task", "")),
        strategy=str(first.get("strategy", "")),
        model=str(first.get("model", "")),
        n=n,
        correct=sum(bool(r.get("correct")) for r in records),
        tokens_per_item=sum(float(r.get("tokens") or 0) for r in records) / n if n else 0.0,
        seconds_per_item=sum(float(r.get("seconds") or 0) for r in records) / n if n else 0.0,
        faithfulness=right / checked if checked else None,
        n_checked=checked,
        out=out,
        roles=", ".join(roles),
    )


def _roles(record: dict[str, Any]) -> str:
    """``"proposer / judge"`` of one record (records older than these labels have none)."""
    stats = record.get("stats") or {}
    if "proposer" not in stats:
        return ""
    return f"{stats['proposer']} / {stats.get('judge', 'unknown')}"


def group_results(paths: Iterable[str | Path]) -> list[Summary]:
    """One summary per (task, model, strategy with its options) over all files, sorted by task, model and strategy."""
    groups: dict[tuple[str, str, str], dict[tuple, dict]] = {}
    for path in paths:
        for rec in read_results(path):
            variant = rec.get("variant") or rec.get("strategy", "")  # strategy and its non-default options
            if rec.get("seed"):  # another seed is another run
                variant = f"{variant} seed={rec['seed']}"
            key = (str(rec.get("task", "")), str(rec.get("model", "")), str(variant))
            groups.setdefault(key, {})[(rec.get("index"), rec.get("question"))] = rec  # a rerun's record wins
    order = {s: i for i, s in enumerate(STRATEGIES)}
    keys = sorted(groups, key=lambda k: (k[0], k[1], order.get(k[2].split("(")[0], len(order)), k[2]))
    return [dataclasses.replace(summarize(list(groups[k].values())), strategy=k[2]) for k in keys]


def markdown_table(summaries: list[Summary]) -> str:
    """A markdown table: task, model, strategy, who proposed / judged, accuracy, n, tokens/item, s/item, faithfulness."""
    rows = [
        "| task | model | strategy | proposed / judged | accuracy | n | tokens/item | s/item | faithfulness |",
        "| --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for s in summaries:
        faith = "-" if s.faithfulness is None else f"{s.faithfulness:.1%} ({s.n_checked})"
        rows.append(
            f"| {s.task} | {s.model} | {s.strategy} | {s.roles or '-'} | {s.accuracy:.1%} | {s.n} | {s.tokens_per_item:.0f} "
            f"| {s.seconds_per_item:.2f} | {faith} |"
        )
    return "\n".join(rows) + "\n"


def bar_plot(summaries: list[Summary], path: str | Path) -> Path:
    """Accuracy bars per strategy, one colour per model, one panel per task (like Table 2 of ToT)."""
    plt = _pyplot()
    tasks = sorted({s.task for s in summaries})
    colours = {m: f"C{i % 10}" for i, m in enumerate(dict.fromkeys(s.model for s in summaries))}
    fig, axes = plt.subplots(1, max(len(tasks), 1), figsize=(4.5 * max(len(tasks), 1), 3.6), squeeze=False)
    for ax, task in zip(axes[0], tasks):
        rows = [s for s in summaries if s.task == task]
        strategies = list(dict.fromkeys(s.strategy for s in rows))
        models = list(dict.fromkeys(s.model for s in rows))
        width = 0.8 / len(models)
        for j, model in enumerate(models):
            acc = {s.strategy: 100 * s.accuracy for s in rows if s.model == model}
            ran = [i for i, st in enumerate(strategies) if st in acc]  # no bar (not a 0) where it did not run
            xs = [i + (j - (len(models) - 1) / 2) * width for i in ran]
            heights = [acc[strategies[i]] for i in ran]
            bars = ax.bar(xs, heights, width, label=model, color=colours[model])
            ax.bar_label(bars, fmt="%.0f", fontsize="x-small")
        ax.set_xticks(range(len(strategies)), strategies, rotation=20, ha="right", fontsize="small")
        ax.set_title(task)
        ax.set_ylabel("accuracy (%)")
        ax.set_ylim(0, 100)
    handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in colours.values()]  # one legend under all panels
    fig.tight_layout()
    fig.legend(
        handles, list(colours), loc="upper center", bbox_to_anchor=(0.5, 0), ncol=1, fontsize="small", frameon=False
    )
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return path


def compute_curve(summaries: list[Summary], path: str | Path) -> Path:
    """Accuracy against generated tokens per question (log scale), one panel per (task, model): what each
    extra token buys. Variants of one strategy (e.g. sc with 4, 8, 16 samples) are one line; each point
    is labelled with its variant's options. Compare runs on the same items (the legend gives each n)."""
    plt = _pyplot()
    panels = list(dict.fromkeys((s.task, s.model) for s in summaries))
    fig, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels), 4.0), squeeze=False)
    for ax, (task, model) in zip(axes[0], panels):
        rows = [s for s in summaries if (s.task, s.model) == (task, model)]
        families = list(dict.fromkeys(_family(s.strategy) for s in rows))
        for i, family in enumerate(families):
            points = sorted((s for s in rows if _family(s.strategy) == family), key=lambda s: s.tokens_per_item)
            xs = [max(s.tokens_per_item, 1.0) for s in points]
            ys = [100 * s.accuracy for s in points]
            sizes = sorted({s.n for s in points})
            ax.plot(xs, ys, marker="o", color=f"C{i % 10}", label=f"{family} (n={'/'.join(map(str, sizes))})")
            for s, x, y in zip(points, xs, ys):
                options = s.strategy.partition("(")[2].rstrip(")")
                if options:
                    ax.annotate(options, (x, y), textcoords="offset points", xytext=(4, 4), fontsize="xx-small")
        ax.set_xscale("log")
        ax.set_xlabel("generated tokens per question")
        ax.set_ylabel("accuracy (%)")
        ax.set_title(f"{task}, {model}", fontsize="small")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize="x-small")
    return _save(fig, plt, path)


def _family(variant: str) -> str:
    """The line a variant belongs to: its strategy, with the judge that picks its answer (sc with a verifier is
    another line than majority-voted sc; bon and beam with another PRM too)."""
    name, _, options = variant.partition("(")
    judges = [o.strip(" )") for o in options.split(",") if o.strip().startswith(("verifier=", "prm="))]
    return " ".join([name.split(" ")[0], *judges])


def _pyplot():
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as err:
        raise RuntimeError("the plot needs matplotlib: pip install matplotlib") from err
    return plt


def _save(fig, plt, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return path
