"""``agent finetune`` and ``agent export``: parse options, call the library, print one clear line on a user error.

The finetune options are generated from :class:`finetune.config.TrainConfig`. Importing this module does
not import torch; the commands do, when they run.
"""

from __future__ import annotations

import json
from typing import Any

import click

from agent.app.options import config_options, json_option, pop_config
from finetune.config import TrainConfig

_OUTTYPES = ("f16", "bf16", "q8_0", "q4_k_m", "lora")  # finetune.export.OUTTYPES (a test keeps them equal; importing it here would slow agent --help)


@click.command("finetune")
@config_options(TrainConfig, "finetune")
@json_option("the run summary (the last line)")
def finetune_cmd(as_json: bool, **options: Any) -> None:
    """Fine-tune a model on reasoning traces (LoRA by default)."""
    given = {name[4:] for name, value in options.items() if value is not None}
    if options["cfg_full"] and "lora_r" in given:
        raise click.UsageError("--lora-r and --full exclude each other")
    if options["cfg_full"] and "init_adapter" in given:
        raise click.UsageError("--init-adapter and --full exclude each other")
    if {"epochs", "max_steps"} <= given:
        raise click.UsageError("give --epochs or --max-steps, not both")
    from finetune.data import DataError
    from finetune.train import train

    try:
        config = pop_config(TrainConfig, options)
        result = train(config)
    except (DataError, ValueError, FileNotFoundError) as err:
        raise click.ClickException(str(err)) from err
    from accelerate import PartialState

    if not PartialState().is_main_process:
        return  # under `accelerate launch`, one summary
    if as_json:
        click.echo(json.dumps(result.to_dict(), ensure_ascii=False))
        return
    first, last = (result.losses[0], result.losses[-1]) if result.losses else (float("nan"), float("nan"))
    click.echo(
        f"{result.steps} steps, loss {first:.4f} -> {last:.4f}, {result.tokens_per_second:.0f} tokens/s "
        f"({result.precision}); "
        f"wrote {result.adapter or result.model}"
    )


@click.command("export")
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.option("--out", required=True, help="The .gguf file to write (or a directory).")
@click.option("--outtype", type=click.Choice(_OUTTYPES), default="f16", show_default=True)
@click.option(
    "--checkpoint",
    "step",
    default=None,
    metavar="STEP|latest",
    help="Export this checkpoint of the run (training may still be going on) instead of its final weights.",
)
def export_cmd(run_dir: str, out: str, outtype: str, step: str | None) -> None:
    """Export a fine-tuned run to GGUF for llama.cpp."""
    import tempfile

    from finetune.checkpoint import snapshot_run
    from finetune.export import ExportError, export_model

    if step is not None and step != "latest" and not step.isdigit():
        raise click.BadParameter(f"a step number or 'latest', not {step!r}", param_hint="--checkpoint")
    try:
        if step is None:
            path = export_model(run_dir, out, outtype)
        else:
            with tempfile.TemporaryDirectory() as tmp:
                snapshot = snapshot_run(run_dir, tmp, None if step == "latest" else int(step))
                path = export_model(str(snapshot), out, outtype)
    except (ExportError, ValueError) as err:
        raise click.ClickException(str(err)) from err
    click.echo(str(path))
