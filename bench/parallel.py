"""Decode throughput of ``LlamaCppModel.complete_many``: N distinct prompts decoded as N sequences of one batch.

    python bench/parallel.py [--threads 2] [--sizes 1 2 4 8] [--tokens 64] [--model SPEC]

Prints a markdown table of generated tokens per second at each N and its ratio to N=1 (what
``agent eval --parallel N`` can gain at most; lockstep steps and new observations take some of it).
"""

from __future__ import annotations

import argparse
import os
import time


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=None, help="a .gguf file (default: the shipped default model)")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--sizes", type=int, nargs="+", default=[1, 2, 4, 8])
    ap.add_argument("--tokens", type=int, default=64)
    args = ap.parse_args()

    from agent.core.load import load_model

    model = load_model(args.model, n_threads=args.threads)
    model.reserve(max(args.sizes))
    system = {"role": "system", "content": "You are a helpful assistant. " * 40}
    prompts = [
        model.render([system, {"role": "user", "content": f"Tell me a long story about dragon number {i}."}])
        for i in range(max(args.sizes))
    ]
    print(
        f"| N | tokens | seconds | tokens/s | vs N=1 |  ({model.name}, {args.threads} threads)\n|---|---|---|---|---|"
    )
    base = None
    for n in args.sizes:
        model.complete_many(prompts[:n], max_tokens=1)  # the prompts into the cache first
        start = time.perf_counter()
        out = model.complete_many(prompts[:n], max_tokens=args.tokens, stop=["@@never@@"])
        seconds = time.perf_counter() - start
        tokens = sum(c.completion_tokens for c in out)
        rate = tokens / seconds
        base = base or rate
        print(f"| {n} | {tokens} | {seconds:.2f} | {rate:.1f} | {rate / base:.2f}x |")


if __name__ == "__main__":
    main()
