"""``agent finetune`` and ``agent export``: parse options, call the library, print one clear line on a user error.

Importing this module does not import torch; the commands do, when they run.
"""

from __future__ import annotations

import json

import click

_OUTTYPES = ("f16", "q8_0", "q4_k_m", "lora")


@click.command("finetune")
@click.option(
    "--data",
    required=True,
    type=click.Path(dir_okay=False),
    help="Training file: GSM8K rows, the project schema, chat messages, --trace output or ToT trees.",
)
@click.option("--base", default=None, help="HF model dir or .gguf file. Default: the embedded SmolLM2.")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Run directory to write.")
@click.option("--lora-r", type=int, default=None, help="LoRA rank (default 16).")
@click.option(
    "--init-adapter",
    type=click.Path(exists=True),
    default=None,
    help="Go on training this LoRA adapter (a run's adapter/ dir, or a GGUF LoRA such as the shipped default).",
)
@click.option("--full", is_flag=True, help="Train every weight instead of a LoRA adapter.")
@click.option("--epochs", type=float, default=None, help="Passes over the data (default 1).")
@click.option("--max-steps", type=int, default=None, help="Optimizer steps (instead of --epochs).")
@click.option(
    "--max-seconds",
    type=float,
    default=None,
    help="Stop after this much training time and save the run as it is (a lent machine's limit).",
)
@click.option("--lr", type=float, default=None, help="Peak learning rate (default 2e-4 LoRA, 5e-5 full).")
@click.option("--batch-size", type=int, default=4, show_default=True)
@click.option("--grad-accum", type=int, default=1, show_default=True, help="Micro-batches per optimizer step.")
@click.option("--seq-len", type=int, default=1024, show_default=True)
@click.option("--packing/--no-packing", default=False, show_default=True, help="Pack several examples per row.")
@click.option(
    "--group-by-prompt",
    is_flag=True,
    help="Batch examples of one prompt template together, so their shared prompt runs once per batch.",
)
@click.option(
    "--gold",
    type=click.Path(dir_okay=False),
    default=None,
    help="question/answer rows (e.g. GSM8K): keep only --trace trajectories whose answer matches.",
)
@click.option(
    "--style",
    type=click.Choice(["react", "chain"]),
    default="react",
    show_default=True,
    help="How GSM8K rows become examples: calculator ReAct traces or one chain-of-thought.",
)
@click.option("--save-every", type=int, default=100, show_default=True, help="Steps between checkpoints (0: none).")
@click.option("--eval-every", type=int, default=0, show_default=True, help="Steps between dev evaluations (0: end).")
@click.option("--dev-fraction", type=float, default=0.05, show_default=True, help="Data held out for evaluation.")
@click.option("--eval-generations", type=int, default=2, show_default=True, help="Dev questions answered greedily.")
@click.option("--gradient-checkpointing", is_flag=True, help="Less memory, slower.")
@click.option(
    "--dtype",
    type=click.Choice(["auto", "float32", "bfloat16", "float16"]),
    default="auto",
    show_default=True,
    help="Weights' dtype. auto: bf16 on a GPU that has it; on a CPU float32, with bf16 autocast where the CPU "
    "has bf16 matrix units (AMX, AVX512-BF16; AGENT_CPU_BF16=0 turns that off).",
)
@click.option("--resume", is_flag=True, help="Continue exactly from the newest checkpoint in OUT/checkpoints.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the run summary as one JSON object (the last line).")
def finetune_cmd(
    data: str,
    base: str | None,
    out: str,
    lora_r: int | None,
    full: bool,
    epochs: float | None,
    max_steps: int | None,
    as_json: bool,
    **options,
) -> None:
    """Fine-tune a model on reasoning traces (LoRA by default)."""
    if full and lora_r is not None:
        raise click.UsageError("--lora-r and --full exclude each other")
    if full and options.get("init_adapter"):
        raise click.UsageError("--init-adapter and --full exclude each other")
    if epochs is not None and max_steps is not None:
        raise click.UsageError("give --epochs or --max-steps, not both")
    from finetune.config import TrainConfig
    from finetune.data import DataError
    from finetune.train import train

    try:
        config = TrainConfig(
            data=data,
            out=out,
            base=base,
            lora_r=16 if lora_r is None else lora_r,
            full=full,
            epochs=1.0 if epochs is None else epochs,
            max_steps=max_steps,
            **options,
        )
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
