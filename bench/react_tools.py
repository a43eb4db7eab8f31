"""ReAct on 40 tool-requiring questions of our own (bench/data/tool_questions_40.jsonl).

    python bench/react_tools.py [--model M] [--limit N] [--max-steps 6]

Prints a markdown table: runs, exceptions, runs within max-steps, malformed steps, accuracy, s/question.
"""

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agent import load_model
from agent.core.react import ReActAgent, ReActConfig
from agent.strategies.consistency import normalize_answer
from tools import load_tools

DATA = Path(__file__).parent / "data" / "tool_questions_40.jsonl"


def malformed(steps, answered: bool) -> int:
    bad = 0
    for i, s in enumerate(steps):
        last = i == len(steps) - 1 and answered
        if (s.error and s.error.type in ("parse", "unknown_tool")) or (s.action is None and not last):
            bad += 1
    return bad


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=None)
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--max-steps", type=int, default=6)
    args = ap.parse_args()
    rows = [json.loads(line) for line in DATA.open()][: args.limit]
    agent = ReActAgent(load_model(args.model), load_tools(None), ReActConfig(max_steps=args.max_steps))
    crashes = within = bad = steps = correct = 0
    t0 = time.perf_counter()
    for r in rows:
        try:
            traj = agent.run(r["question"])
        except Exception as err:  # noqa: BLE001  # counted, not hidden: the bench reports exceptions
            print(f"exception on {r['question']!r}: {err!r}", file=sys.stderr)
            crashes += 1
            continue
        within += len(traj.steps) <= args.max_steps
        bad += malformed(traj.steps, traj.answer is not None)
        steps += len(traj.steps)
        ok = normalize_answer(traj.answer) == normalize_answer(r["answer"])
        correct += ok
        print(
            f"{'ok ' if ok else 'BAD'} {traj.answer!r:>16} gold {r['answer']:>12}  {r['question'][:60]}",
            file=sys.stderr,
        )
    secs = (time.perf_counter() - t0) / max(1, len(rows))
    print("| model | runs | exceptions | within max-steps | malformed steps | accuracy | s/question |")
    print("|---|---|---|---|---|---|---|")
    print(
        f"| {agent.model.name} | {len(rows)} | {crashes} | {within}/{len(rows)} | {bad}/{steps} | "
        f"{correct}/{len(rows)} ({correct / max(1, len(rows)):.0%}) | {secs:.1f} |"
    )


if __name__ == "__main__":
    main()
