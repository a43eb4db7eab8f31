"""``agent eval TASK --data FILE ...`` and ``agent eval report RESULTS.jsonl ...``.

The CLI parses options and calls :func:`agent.app.evaluate.run_eval`; it owns the terminal (a
progress bar and the summary on stderr, ``--json`` on stdout). Nothing heavy is imported
until a command runs.
"""

from __future__ import annotations

import contextlib
import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import click

from agent.app.evaluate.tasks import TASKS, get_task
from agent.app.evaluate.types import Summary
from agent.app.options import config_options, json_option, pop_config
from agent.core.text import dumps, for_terminal
from agent.strategies.config import AGENTIC, StrategyConfig


def _slug(spec: str | None) -> str:
    """A file-name-safe name for a model spec (``None``: the embedded default)."""
    if not spec:
        return "default"
    name = spec.split("://", 1)[1].split("/", 1)[0] if "://" in spec else Path(spec.removeprefix("fake:")).stem
    return re.sub(r"[^\w.-]+", "-", name).strip("-")[:60] or "model"


def _options(fn: Callable) -> Callable:
    """The options every task command takes: the data and where results go, then the strategy's
    (generated from :class:`~agent.strategies.config.StrategyConfig`, as ``agent solve``'s are)."""
    options = [
        click.option(
            "--data",
            type=click.Path(dir_okay=False, path_type=Path),
            required=True,
            help="The data file (gsm8k, qa: JSONL; game24: the ToT CSV).",
        ),
        click.option("--limit", type=click.IntRange(1), default=None, help="Only the first N items."),
        config_options(StrategyConfig, "eval"),
        click.option(
            "--out",
            type=click.Path(dir_okay=False, path_type=Path),
            default=None,
            help="Results JSONL (items already in it are skipped). Default: runs/eval/TASK-STRATEGY-MODEL.jsonl.",
        ),
        click.option(
            "--parallel",
            type=click.IntRange(1, 16),
            default=1,
            show_default=True,
            help="Run N items at once. A local model: greedy react, cot, direct, their calls decoded as one batch "
            "(1.5x the items per second on 2 CPU cores at N=4; answers differ on some items by llama.cpp's batch "
            "rounding). An OpenAI-compatible server (--model http://...): any strategy, N requests in flight.",
        ),
        json_option("the summary"),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


@contextlib.contextmanager
def _progress(total: int, label: str) -> Iterator[Callable[[dict[str, Any], bool], None]]:
    """A progress bar on stderr showing accuracy so far (silent when tqdm is not installed)."""
    try:
        from tqdm import tqdm
    except ImportError:
        yield lambda rec, skipped: None
        return
    seen = [0, 0]
    with tqdm(total=total, desc=label, unit="item", file=sys.stderr, dynamic_ncols=True) as bar:

        def update(rec: dict[str, Any], skipped: bool) -> None:
            seen[0] += 1
            seen[1] += bool(rec.get("correct"))
            bar.set_postfix(acc=f"{seen[1] / seen[0]:.1%}", refresh=False)
            bar.update(1)

        yield update


def _show(summary: Summary, as_json: bool) -> None:
    if as_json:
        click.echo(dumps(summary.to_dict()))
        return
    faith = "-" if summary.faithfulness is None else f"{summary.faithfulness:.1%} of {summary.n_checked} steps"
    line = (
        f"{summary.task} / {summary.strategy} / {summary.model}: accuracy {summary.accuracy:.1%} "
        f"({summary.correct}/{summary.n}), {summary.tokens_per_item:.0f} tokens/item, "
        f"{summary.seconds_per_item:.2f} s/item, faithfulness {faith}"
        + (
            f" ({summary.extra['parallel']} at once: {summary.extra['wall_seconds_per_item']:.2f} s of wall time per item)"
            if "parallel" in summary.extra
            else ""
        )
    )
    click.echo(for_terminal(line))
    click.echo(for_terminal(f"results: {summary.out}"), err=True)


def _evaluate(
    task_name: str,
    data: Path,
    config: StrategyConfig,
    limit: int | None,
    out: Path | None,
    as_json: bool,
    parallel: int = 1,
) -> None:
    from agent.app.evaluate.runner import check_parallel, resolve, run_eval
    from agent.core.errors import USER_ERRORS
    from agent.core.load import load_model
    from tools.base import load_tools

    task = get_task(task_name)
    if not data.is_file():
        raise click.ClickException(f"data file not found: {data}")
    try:
        items = task.load(data)[:limit]
        if not items:
            raise click.ClickException(f"{data}: no records to evaluate")
        config = resolve(config, task)  # conflicting options refused before the model loads
        check_parallel(config, parallel)  # before the model loads too
        out = out or Path("runs/eval") / f"{task.name}-{config.strategy}-{_slug(config.model)}.jsonl"
        tools = load_tools(config.tools) if config.strategy in AGENTIC else None
        model = load_model(config.model)
        with _progress(len(items), f"{task.name}/{config.strategy}") as on_record:
            summary = run_eval(task, items, model, config, out, tools=tools, on_record=on_record, parallel=parallel)
    except (*USER_ERRORS, OSError, UnicodeDecodeError) as err:
        raise click.ClickException(str(err)) from err
    except ImportError as err:
        raise click.ClickException(
            f"the {config.strategy or task.default_strategy} strategy cannot import what it needs: {err}"
        ) from err
    _show(summary, as_json)


def _task_command(name: str) -> click.Command:
    @click.command(name, help=f"Evaluate on {name}: {type(TASKS[name]).__doc__}")
    @_options
    def command(**options: Any) -> None:
        config = pop_config(StrategyConfig, options)
        _evaluate(name, config=config, **options)

    return command


@click.command("report")
@click.argument("results", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--md",
    "--out-md",
    "md",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the markdown table here (default: print it).",
)
@click.option(
    "--png",
    "--out-png",
    "png",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write a bar plot of accuracy by model and strategy here.",
)
@click.option(
    "--curve",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the test-time compute curve here: accuracy against generated tokens per question, one line "
    "per strategy (its variants are the points).",
)
def report_cmd(results: tuple[Path, ...], md: Path | None, png: Path | None, curve: Path | None) -> None:
    """Compare result files: accuracy, n, tokens/item and s/item per (task, model, strategy)."""
    from agent.app.evaluate.report import bar_plot, compute_curve, group_results, markdown_table

    missing = [str(p) for p in results if not p.is_file()]
    if missing:
        raise click.ClickException(f"results file not found: {', '.join(missing)}")
    try:
        summaries = group_results(results)
        if not summaries:
            raise click.ClickException(f"no result records in {', '.join(map(str, results))}")
        table = markdown_table(summaries)
        if md is None:
            click.echo(table, nl=False)
        else:
            md.parent.mkdir(parents=True, exist_ok=True)
            md.write_text(table, encoding="utf-8")
        if png is not None:
            bar_plot(summaries, png)
        if curve is not None:
            compute_curve(summaries, curve)
    except (OSError, RuntimeError, UnicodeDecodeError) as err:
        raise click.ClickException(str(err)) from err


@click.group("eval", no_args_is_help=True)
def eval_cmd() -> None:
    """Evaluate a model and strategy on a data set, or compare result files.

    \b
    agent eval TASK --data FILE [--model M] [--strategy direct|cot|react|sc|tot] [--limit N]
                    [--samples K] [--out results.jsonl] [--json]
    agent eval report RESULTS.jsonl... [--md table.md] [--png plot.png]
    """


for _name in TASKS:
    eval_cmd.add_command(_task_command(_name))
eval_cmd.add_command(report_cmd)
