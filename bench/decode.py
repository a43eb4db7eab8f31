"""Decode speed of the llama.cpp backend, measured in one run on one prompt.

1. Greedy single-sample tokens/s of ``LlamaCppModel.complete`` against raw
   ``llama_cpp.Llama.create_completion`` with the same model files (base and adapter), prompt and
   settings (interleaved repeats, median): the overhead of our wrapper (positive: ours is slower).
2. Aggregate tokens/s of ``complete(n=8)`` drawn as one batch of parallel sequences
   against 8 sequential ``n=1`` calls.

Usage:
    python bench/decode.py [--model FILE.gguf|gemma3-270m] [--adapter LORA.gguf] [--repeats 5] [--threads N]

Prints a markdown table.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

PROMPT = [{"role": "user", "content": "Write a long, detailed story about a dragon who learns to bake bread."}]


def bench_single(model, raw, prompt: str, repeats: int, max_tokens: int) -> tuple[float, float]:
    """Median tokens/s of ours and of raw create_completion, greedy, interleaved."""
    ours, theirs = [], []
    model.complete(prompt, max_tokens=4)  # warm both caches with the prompt
    raw.create_completion(prompt, max_tokens=4, temperature=0.0)
    for _ in range(repeats):
        out = model.complete(prompt, max_tokens=max_tokens, temperature=0.0)
        ours.append(out.completion_tokens / out.seconds)
        start = time.perf_counter()
        res = raw.create_completion(prompt, max_tokens=max_tokens, temperature=0.0)
        theirs.append(res["usage"]["completion_tokens"] / (time.perf_counter() - start))
    return statistics.median(ours), statistics.median(theirs)


def bench_batch(model, prompt: str, n: int, max_tokens: int, rounds: int) -> tuple[float, float]:
    """Median aggregate tokens/s of n samples in one batch, and of n sequential calls (interleaved rounds)."""
    batched, sequential = [], []
    for r in range(rounds):
        out = model.complete(prompt, n=n, max_tokens=max_tokens, temperature=0.8, seed=100 * r)
        batched.append(out.completion_tokens / out.seconds)
        tokens, seconds = 0, 0.0
        for i in range(n):
            out = model.complete(prompt, max_tokens=max_tokens, temperature=0.8, seed=100 * r + i)
            tokens, seconds = tokens + out.completion_tokens, seconds + out.seconds
        sequential.append(tokens / seconds)
    return statistics.median(batched), statistics.median(sequential)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None,
                        help="a .gguf file or a short name (gemma3-270m); default: the embedded model + shipped adapter")
    parser.add_argument("--adapter", default=None, help="a GGUF LoRA on --model (both sides get it)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds of the batch comparison")
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--n-ctx", type=int, default=2048)
    args = parser.parse_args()

    import llama_cpp

    from agent.core.backends.llama_batch import follow_extra_bufts_in_high_level_api
    from agent.core.backends.llama_cpp import LlamaCppModel
    from agent.core.embedded import NAMED_MODELS, named_model_path

    path = str(named_model_path(args.model)) if args.model in NAMED_MODELS else args.model
    model = LlamaCppModel(path, adapter=args.adapter, n_ctx=args.n_ctx, n_threads=args.threads)  # probes this machine
    follow_extra_bufts_in_high_level_api()
    raw = llama_cpp.Llama(  # the same files: the base and, for the embedded model, the shipped adapter
        str(model.path),
        lora_path=str(model.adapter) if model.adapter else None,
        n_ctx=args.n_ctx,
        n_threads=args.threads,
        n_threads_batch=args.threads,
        verbose=False,
    )
    prompt = model.render(PROMPT)
    ours, theirs = bench_single(model, raw, prompt, args.repeats, 128)
    raw.close()
    batch, sequential = bench_batch(model, prompt, 8, 64, args.rounds)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"Model `{model.name}`, {args.threads} threads, n_ctx {args.n_ctx}, prompt {model.count_tokens(prompt)} tokens, "
        f"{os.cpu_count()} CPUs, load average {load:.1f} at the end\n"
    )
    print("| measure | value |")
    print("|---|---|")
    print(f"| raw `Llama.create_completion`, greedy, 128 tokens (median of {args.repeats}) | {theirs:.1f} tok/s |")
    print(f"| `LlamaCppModel.complete`, greedy, 128 tokens (median of {args.repeats}) | {ours:.1f} tok/s |")
    print(f"| wrapper overhead (positive: ours slower) | {100 * (theirs - ours) / theirs:+.1f} % |")
    print(f"| `complete(n=8)`, T=0.8, 64 tokens, one batch (median of {args.rounds}) | {batch:.1f} tok/s aggregate |")
    print(
        f"| 8 sequential `complete(n=1)`, T=0.8, 64 tokens (median of {args.rounds}) | {sequential:.1f} tok/s aggregate |"
    )
    print(f"| batch speed-up | {batch / sequential:.2f}x |")


if __name__ == "__main__":
    main()
