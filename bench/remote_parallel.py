"""Items per second of `agent eval --parallel N` against a local OpenAI-compatible server (issue 24).

Starts llama-cpp-python's own server (`python -m llama_cpp.server`) on loopback with the embedded model and the
shipped adapter, then evaluates the first `--items` GSM8K dev rows at N = 1 and N = 8 (greedy ReAct), and prints
items/s, the ratio and whether the answers agree. llama-cpp-python's server runs one request at a time behind
a lock, so N requests in flight wait their turn there: the ratio measures what the client's concurrency buys
against that server (a batching server, such as llama.cpp's own `llama-server --parallel N`, decodes them
together)::

    python bench/remote_parallel.py --data runs/data/gsm8k_dev.jsonl --items 16
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agent.app.evaluate.runner import run_eval
from agent.app.evaluate.tasks import get_task
from agent.core.backends.llama_server import LlamaServer
from agent.core.backends.openai_http import OpenAIModel
from agent.core.embedded import default_adapter_path, embedded_model_path
from agent.strategies.config import StrategyConfig


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=Path("runs/data/gsm8k_dev.jsonl"))
    parser.add_argument("--items", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2, help="the server's llama.cpp threads")
    args = parser.parse_args()
    task = get_task("gsm8k")
    items = task.load(args.data)[: args.items]
    rows, answers = [], {}
    with LlamaServer(embedded_model_path(), default_adapter_path(), threads=args.threads) as server, \
            tempfile.TemporaryDirectory() as tmp:
        for n in (1, 8):
            t0 = time.perf_counter()
            out = Path(tmp) / f"n{n}.jsonl"
            summary = run_eval(task, items, OpenAIModel(server.url, timeout=600), StrategyConfig("react"), out,
                               parallel=n)
            seconds = time.perf_counter() - t0
            answers[n] = {r["index"]: r["answer"] for r in map(json.loads, out.read_text().splitlines())}
            rows.append((n, len(items) / seconds, seconds, summary.correct))
    print("| N | items/s | seconds | right |\n| ---: | ---: | ---: | ---: |")
    for n, rate, seconds, right in rows:
        print(f"| {n} | {rate:.3f} | {seconds:.1f} | {right}/{len(items)} |")
    same = sum(answers[1][i] == answers[8][i] for i in answers[1])
    print(f"\nN=8 / N=1: {rows[1][1] / rows[0][1]:.2f}x items/s; greedy answers equal on {same}/{len(items)} items")


if __name__ == "__main__":
    main()
