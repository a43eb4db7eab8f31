"""Fine-tune the embedded SmolLM2 on GSM8K ReAct traces with the Python API, then export it.

    python examples/finetune_gsm8k.py ../shared/data/gsm8k/train.jsonl runs/gsm8k --rows 48 --steps 16

Each GSM8K row becomes a ReAct trajectory: every ``<<48/2=24>>`` annotation is a calculator
call whose Observation the real calculator computes, ending in ``Final Answer: N``. The run
directory holds the LoRA adapter; ``export_model`` turns it into a GGUF for ``agent solve``.
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

from finetune import TrainConfig, load_examples, save_examples, train


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("data", help="GSM8K train.jsonl ({question, answer} rows)")
    p.add_argument("out", help="run directory")
    p.add_argument("--rows", type=int, default=48, help="how many (shuffled) rows to train on")
    p.add_argument("--steps", type=int, default=16)
    p.add_argument(
        "--export", choices=["f16", "q8_0", "q4_k_m", "lora"], default=None, help="also write a GGUF of this type"
    )
    args = p.parse_args()

    examples = load_examples(args.data, style="react")
    random.Random(0).shuffle(examples)
    train_file = save_examples(examples[: args.rows], Path(args.out) / "train.jsonl")
    print(examples[0].target())  # what the model learns to write

    result = train(
        TrainConfig(data=str(train_file), out=args.out, max_steps=args.steps, batch_size=4, eval_generations=2)
    )
    print(
        f"loss {result.losses[0]:.3f} -> {result.losses[-1]:.3f} in {result.steps} steps, "
        f"{result.tokens_per_second:.0f} tokens/s; dev accuracy {result.dev_accuracy}; adapter {result.adapter}"
    )
    if args.export:
        from finetune import export_model

        print("GGUF:", export_model(args.out, str(Path(args.out) / "export"), args.export))


if __name__ == "__main__":
    main()
