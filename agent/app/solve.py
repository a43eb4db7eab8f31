"""What ``agent solve`` does: build the model and tools, run one strategy, show the trace, print the run record."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from agent.core.jsonl import append_jsonl
from agent.core.record import RunRecord
from agent.core.steps import Step
from agent.core.text import dumps, for_terminal
from agent.strategies.config import AGENTIC, StrategyConfig


def show_step(step: Step) -> None:
    """Print one step of the trace as it happens (what the model and tools wrote cannot drive the terminal)."""
    out = sys.stderr
    click.secho(for_terminal(f"Thought: {step.thought}"), fg="cyan", file=out)
    if step.action is not None:
        click.secho(for_terminal(f"Action: {step.action.tool} {dumps(step.action.args)}"), fg="yellow", file=out)
    if step.observation is not None:
        click.secho(for_terminal(f"Observation: {step.observation}"), fg="red" if step.error else "green", file=out)
    if step.answer is not None:
        click.secho(for_terminal(f"Final Answer: {step.answer}"), bold=True, file=out)


def show_answer(answer: object) -> None:
    """Print the answer on stdout, cleaned like the trace."""
    click.echo(for_terminal(str(answer)) if answer is not None else "(no answer)")


def solve_question(
    question: str, config: StrategyConfig, *, as_json: bool = False, trace: Path | None = None, tree: Path | None = None
) -> RunRecord:
    """``agent solve``: load the tools and the model, run the strategy, show the trace and print the record
    (``--json``) or the answer; ``--trace`` appends the record to a file."""
    from agent.core.load import load_model
    from agent.strategies.programs import Run, run_strategy
    from tools.base import load_tools

    cfg = config.resolved()
    tools = load_tools(cfg.tools) if cfg.strategy in AGENTIC else None
    model = load_model(cfg.model)
    on_step = None if as_json or cfg.strategy not in AGENTIC else show_step
    record = run_strategy(question, cfg, Run(model, tools, on_step=on_step, tree_out=tree))
    if trace is not None:
        append_jsonl(trace, record.to_dict())
    if as_json:
        click.echo(dumps(record.to_dict(), default=str))
    else:
        if record.tree is not None:
            for i, step in enumerate(record.tree.get("best_path") or [], 1):
                click.secho(for_terminal(f"{i}. {step}"), fg="cyan", err=True)
        elif cfg.strategy in ("direct", "cot"):
            click.secho(for_terminal(record.steps[0].thought), fg="cyan", err=True)
        show_answer(record.answer)
    return record
