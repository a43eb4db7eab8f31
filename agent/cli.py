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

LAZY = {
    "finetune": ("finetune.cli:finetune_cmd", "Fine-tune a model on reasoning traces (LoRA or full)."),
    "export": ("finetune.cli:export_cmd", "Export a fine-tuned run to GGUF (f16, q8_0, q4_k_m or a LoRA adapter)."),
    "eval": ("agent.evaluate.cli:eval_cmd", "Evaluate a model and strategy on gsm8k, game24 or qa data."),
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
@click.option(
    "--model",
    "model_spec",
    default=None,
    metavar="PATH|URL",
    help="GGUF file (base.gguf+adapter.gguf for a LoRA), HF dir, or OpenAI-compatible URL. "
    "Default: the embedded fine-tuned SmolLM2.",
)
@click.option(
    "--tools",
    "tools_spec",
    default=None,
    metavar="LIST",
    help="Comma list of tools or module:attr toolsets. Default: calculator,python.",
)
@click.option("--strategy", type=click.Choice(["react", "tot"]), default="react", show_default=True)
@click.option("--max-steps", type=click.IntRange(1, 100), default=8, show_default=True)
@click.option(
    "--samples",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="Self-consistency: run N trajectories and majority-vote the answer.",
)
@click.option(
    "--verifier",
    default=None,
    metavar="SPEC",
    help="With --samples: a learned verifier ('default': the shipped one, or a model spec) scores each "
    "trajectory and answers are voted by summed score.",
)
@click.option(
    "--temperature",
    type=click.FloatRange(0, 5),
    default=None,
    help="Sampling temperature (default 0, or 0.7 with --samples > 1).",
)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of the trace.")
@click.option(
    "--trace",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Append the run as one JSON line to this file.",
)
@click.option(
    "--task", type=click.Choice(["game24", "gsm8k", "generic"]), default="generic", show_default=True, help="ToT task."
)
@click.option("--algorithm", type=click.Choice(["bfs", "dfs", "mcts"]), default="bfs", show_default=True)
@click.option(
    "--beam", type=click.IntRange(1, 64), default=None, help="ToT breadth. Default: the task's (10 for game24, else 5)."
)
@click.option(
    "--n-generate",
    type=click.IntRange(1, 256),
    default=None,
    help="ToT proposal samples per expansion. Default: the task's (8 for game24 --proposer model).",
)
@click.option(
    "--evaluator",
    type=click.Choice(["value", "vote", "logprob"]),
    default=None,
    help="ToT state evaluator. Default: the task's (logprob for game24, value otherwise).",
)
@click.option(
    "--proposer",
    type=click.Choice(["model", "rules"]),
    default=None,
    help="ToT on game24: moves sampled from the model, or every legal move from the rules (the model still "
    "judges). Default: the task's (rules).",
)
@click.option(
    "--tree",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the ToT search tree as an offline HTML page (.html) or JSON (.json).",
)
def solve(
    question: str,
    model_spec: str | None,
    tools_spec: str | None,
    strategy: str,
    max_steps: int,
    samples: int,
    verifier: str | None,
    temperature: float | None,
    seed: int,
    as_json: bool,
    trace: Path | None,
    task: str,
    algorithm: str,
    beam: int | None,
    n_generate: int | None,
    evaluator: str | None,
    proposer: str | None,
    tree: Path | None,
) -> None:
    """Answer QUESTION with a ReAct agent (default) or a Tree-of-Thoughts search."""
    from agent.run import run_react, run_tot

    if not question.strip():
        raise click.UsageError('QUESTION is empty: say what to answer, e.g. agent solve "What is 17 * 23?"')
    if strategy == "tot" and verifier is not None:
        raise click.ClickException("--verifier is for the ReAct strategy with --samples")
    if strategy == "tot":
        run_tot(
            question,
            model_spec,
            task=task,
            algorithm=algorithm,
            beam=beam,
            n_generate=n_generate,
            evaluator=evaluator,
            proposer=proposer,
            tree=tree,
            seed=seed,
            temperature=temperature,
            as_json=as_json,
            trace=trace,
        )
    else:
        run_react(
            question,
            model_spec,
            tools_spec=tools_spec,
            max_steps=max_steps,
            samples=samples,
            temperature=temperature,
            seed=seed,
            as_json=as_json,
            trace=trace,
            verifier=verifier,
        )


def _error_line(message: str) -> str:
    """An error message as one printable line."""
    from agent.text import for_terminal

    return " ".join(for_terminal(message).splitlines())


def _never_raise_on_print() -> None:
    """Text that the terminal's encoding lacks (a lone surrogate, or any non-ASCII on an ASCII terminal) is
    printed as a backslash escape rather than raising ``UnicodeEncodeError`` (in logging too)."""
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper):
            stream.reconfigure(errors="backslashreplace")


def main() -> None:
    """Console entry point: known errors print one line and exit non-zero."""
    from agent.errors import USER_ERRORS

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
