"""Sample the model's own ReAct trajectories on many questions at once (a GPU's job): the verifier's data.

    python -m examples.recipes.batch_sample --questions ../shared/data/gsm8k/train.jsonl --limit 6973 \\
        --adapter agent/data/default-adapter.gguf --samples 8 --workers 256 --out runs/bs [--max-seconds 300]

``--workers`` threads each take every ``workers``-th question and run ``agent eval``'s ``sc`` strategy on it
(the same records as ``agent eval --strategy sc``, every sample in ``trace.samples``), written to
``OUT/shard-K.jsonl`` as each question finishes (a rerun skips what is done). All the threads' model calls
go through one :class:`~agent.core.backends.batching.BatchingModel`, so the GPU sees batches of up to
``--max-batch`` prompts. The base (default: the embedded GGUF, dequantized) and the adapter (a GGUF LoRA
or a peft run's ``adapter/``) are merged into one transformers model. The transformers backend enforces no
grammar, so the ReAct steps are parsed as written (llama.cpp's grammar is not there to keep them in form).

Then ``python -m examples.recipes.verifier_fit OUT/shard-*.jsonl --out verifier.json`` fits the feature verifier
on them (the records are ``sc`` results, as ``agent eval`` writes them).
"""

from __future__ import annotations

import argparse
import logging
import threading
import time
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def load_merged(base: str | None, adapter: str | None, device: str) -> Any:
    """The base with ``adapter`` merged in, as a :class:`TransformersModel` on ``device``."""
    import torch

    from agent.core.backends.transformers_backend import TransformersModel
    from finetune.modeling import load_base_model, load_tokenizer

    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    model = load_base_model(base, dtype)
    if adapter:
        from peft import PeftModel

        path = Path(adapter)
        if path.suffix == ".gguf":
            import tempfile

            from finetune.lora_gguf import read_lora_gguf

            path = read_lora_gguf(path, Path(tempfile.mkdtemp()) / "adapter", model)
        model = PeftModel.from_pretrained(model, str(path)).merge_and_unload()
    name = Path(adapter).name if adapter else "base"
    return TransformersModel.from_loaded(model.to(device).eval(), load_tokenizer(base), name=name)


def sample_shards(model: Any, items: list, task: Any, args: argparse.Namespace) -> list[Path]:
    """Run the ``sc`` strategy over ``items`` in ``args.workers`` threads; the shard files."""
    from agent.app.evaluate import run_eval
    from agent.strategies.config import StrategyConfig
    from tools.base import load_tools

    tools = load_tools()
    config = StrategyConfig("sc", samples=args.samples, temperature=args.temperature, max_steps=args.max_steps)
    deadline = time.monotonic() + (args.max_seconds or float("inf"))
    paths = [args.out / f"shard-{k:03d}.jsonl" for k in range(args.workers)]
    errors: list[BaseException] = []

    def work(k: int) -> None:
        try:
            for item in items[k :: args.workers]:
                if time.monotonic() > deadline:
                    return
                run_eval(task, [item], model, config, paths[k], tools=tools)
        except BaseException as err:  # noqa: BLE001 - re-raised in the main thread
            errors.append(err)

    threads = [threading.Thread(target=work, args=(k,), daemon=True) for k in range(args.workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return [p for p in paths if p.exists()]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--questions", type=Path, required=True, help="a data file of the task (gsm8k/qa JSONL)")
    ap.add_argument("--task", default="gsm8k", choices=["gsm8k", "qa"])
    ap.add_argument("--base", default=None, help="HF dir or .gguf (default: the embedded model)")
    ap.add_argument("--adapter", default=None, help="a GGUF LoRA or a peft adapter dir")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--samples", type=int, default=8)
    ap.add_argument("--temperature", type=float, default=0.7)
    ap.add_argument("--max-steps", type=int, default=8)
    ap.add_argument("--workers", type=int, default=256, help="questions in flight at once")
    ap.add_argument("--max-batch", type=int, default=512, help="the most prompts in one model call")
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--offset", type=int, default=0, help="skip the first N questions")
    ap.add_argument("--max-seconds", type=float, default=None, help="start no new question after this")
    ap.add_argument("--device", default=None, help="cuda or cpu (default: cuda when there is one)")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    import torch

    from agent.app.evaluate import get_task
    from agent.app.evaluate.report import read_results
    from agent.core.backends.batching import BatchingModel

    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    task = get_task(args.task)
    items = task.load(args.questions)[args.offset :][: args.limit]
    args.out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    inner = load_merged(args.base, args.adapter, device)
    log.info(
        "model on %s in %.0f s; %d questions x %d samples", device, time.perf_counter() - t0, len(items), args.samples
    )
    t1 = time.perf_counter()
    with BatchingModel(inner, max_batch=args.max_batch) as model:
        paths = sample_shards(model, items, task, args)
        batches = model.batches
    records = [r for p in paths for r in read_results(p)]
    seconds = time.perf_counter() - t1
    log.info(
        "%d questions in %.0f s (%.2f q/s), %d batched calls of %.0f prompts on average; majority right %d",
        len(records),
        seconds,
        len(records) / max(seconds, 1e-9),
        len(batches),
        sum(batches) / max(1, len(batches)),
        sum(bool(r.get("correct")) for r in records),
    )


if __name__ == "__main__":
    main()
