"""The ``agent`` command line. It parses options and calls the library; nothing imports it.

Sub-commands that need torch (``finetune``, ``export``) or the search are imported only
when they run, so ``agent --help`` stays instant.
"""

from __future__ import annotations

import importlib
import io
import logging
import sys
from pathlib import Path

import click

from agent.app.options import config_options, json_option, pop_config
from agent.strategies.config import ConfigError, StrategyConfig

LAZY = {
    "finetune": ("agent.app.train_cli:finetune_cmd", "Fine-tune a model on reasoning traces (LoRA or full)."),
    "export": ("agent.app.train_cli:export_cmd", "Export a fine-tuned run to GGUF (f16, q8_0, q4_k_m or a LoRA adapter)."),
    "eval": ("agent.app.evaluate.cli:eval_cmd", "Evaluate a model and strategy on gsm8k, game24 or qa data."),
}


class LazyGroup(click.Group):
    """A group whose heavy sub-commands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *LAZY])

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in LAZY:
            module, _, attr = LAZY[name][0].partition(":")
            try:
                return getattr(importlib.import_module(module), attr)
            except ImportError as err:
                missing = getattr(err, "name", None) or str(err)
                return _missing_extra(name, missing)
        return super().get_command(ctx, name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, self.commands[name].get_short_help_str(60)) for name in super().list_commands(ctx)]
        rows += [(name, help_) for name, (_, help_) in LAZY.items()]
        with formatter.section("Commands"):
            formatter.write_dl(sorted(rows))


def _missing_extra(name: str, missing: str) -> click.Command:
    @click.command(name, context_settings={"ignore_unknown_options": True})
    @click.argument("args", nargs=-1, type=click.UNPROCESSED)
    def cmd(args: tuple[str, ...]) -> None:
        raise click.ClickException(f"'agent {name}' needs {missing}: pip install 'cot-agent[train]'")

    return cmd


@click.group(cls=LazyGroup)
@click.option("-v", "--verbose", count=True, help="More logging (-v info, -vv debug).")
def cli(verbose: int) -> None:
    """ReAct and Tree-of-Thoughts agents on small chain-of-thought fine-tuned models, offline on a CPU."""
    logging.basicConfig(
        level=[logging.WARNING, logging.INFO, logging.DEBUG][min(verbose, 2)],
        format="%(levelname)s %(name)s: %(message)s",
    )


@cli.command()
@click.argument("question")
@config_options(StrategyConfig, "solve")
@json_option("the run record instead of the trace")
@click.option(
    "--trace",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Append the run record as one JSON line to this file.",
)
@click.option(
    "--tree",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="tot: write the search tree as an offline HTML page (.html) or JSON (.json).",
)
def solve(question: str, as_json: bool, trace: Path | None, tree: Path | None, **options: object) -> None:
    """Answer QUESTION with a strategy: ReAct with tools (default), self-consistency, or a Tree-of-Thoughts search."""
    from agent.app.solve import solve_question

    if not question.strip():
        raise click.UsageError('QUESTION is empty: say what to answer, e.g. agent solve "What is 17 * 23?"')
    try:
        config = pop_config(StrategyConfig, options).resolved()  # conflicts refused before any model loads
    except ConfigError as err:
        raise click.UsageError(str(err)) from err
    if tree is not None and config.strategy != "tot":
        raise click.UsageError("--tree draws a Tree-of-Thoughts search: give --strategy tot")
    solve_question(question, config, as_json=as_json, trace=trace, tree=tree)


def _error_line(message: str) -> str:
    """An error message as one printable line."""
    from agent.core.text import for_terminal

    return " ".join(for_terminal(message).splitlines())


def _never_raise_on_print() -> None:
    """Text that the terminal's encoding lacks (a lone surrogate, or any non-ASCII on an ASCII terminal) is
    printed as a backslash escape rather than raising ``UnicodeEncodeError`` (in logging too)."""
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper):
            stream.reconfigure(errors="backslashreplace")


def main() -> None:
    """Console entry point: known errors print one line and exit non-zero."""
    from agent.core.errors import USER_ERRORS

    _never_raise_on_print()
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except click.ClickException as err:
        err.message = _error_line(err.message)
        err.show()
        sys.exit(err.exit_code)
    except USER_ERRORS as err:
        click.echo(_error_line(f"Error: {err}"), err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        sys.exit(130)


if __name__ == "__main__":
    main()

__all__ = ["cli", "main"]
