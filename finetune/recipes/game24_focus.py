"""A Game of 24 round: teach the two Tree-of-Thoughts roles until they are learned, with replay.

    python -m finetune.recipes.game24_focus --out runs/g24/mix.jsonl --value-repeat 3 \\
        --replay data/tool_use.jsonl:300
    agent finetune --data runs/g24/mix.jsonl --out runs/g24/run --init-adapter PREVIOUS/adapter \\
        --epochs 1 --batch-size 16 --grad-accum 2 --group-by-prompt --lr 2e-4 --dev-fraction 0

One CPU epoch over the full mix leaves the value judge at chance (its loss stays near ln 2): it is
a lookup over a few thousand states and needs several passes (``--value-repeat``). Both roles are
short completions after one shared few-shot prompt, so with ``--group-by-prompt`` a pass costs
minutes (value: ~3 s per 32 examples on 2 cores; propose ~9 s; a tool-use replay batch ~30 s):

* *value*: every solvable 3- and 2-number state reachable from the training puzzles and
  ``--negatives`` times as many unsolvable ones (the task's short prompt -> `` sure``/`` impossible``);
* *propose*: every training puzzle and every solvable state reachable from one -> each of up to
  ``--moves`` moves that keep 24 reachable (the task's propose prompt -> one move);
* *replay*: records of other families (``FILE:COUNT``), so the tool-use skills are not forgotten.

Puzzles are the training split of ``24-dev.csv`` (``game24_data.split_puzzles``), as in build_data.
"""

from __future__ import annotations

import argparse
import json
import logging
import random
from pathlib import Path

from finetune.recipes.build_data import DATA_DIR
from finetune.recipes.game24_data import focus_mix, puzzles_of
from finetune.recipes.mix import take, write_mix

log = logging.getLogger(__name__)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, required=True, help="the mix, JSONL")
    ap.add_argument("--game24", type=Path, default=DATA_DIR / "game24" / "24-dev.csv")
    ap.add_argument("--negatives", type=float, default=2.0, help="unsolvable value states per solvable one")
    ap.add_argument("--moves", type=int, default=2, help="winning moves per state for propose")
    ap.add_argument(
        "--value-repeat", type=int, default=1, help="copies of each value example (the judge needs more passes)"
    )
    ap.add_argument("--replay", nargs="*", default=[], metavar="FILE:COUNT", help="records of other families")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    rng = random.Random(args.seed)
    by_kind = focus_mix(puzzles_of(args.game24, "train"), args.seed, args.negatives, args.moves)
    by_kind["value"] = by_kind["value"] * args.value_repeat
    lines = [json.dumps(r, ensure_ascii=False) for records in by_kind.values() for r in records]
    try:
        replay, counts = take(args.replay, rng)
    except (ValueError, FileNotFoundError) as err:
        raise SystemExit(str(err)) from err
    counts.update({k: len(v) for k, v in by_kind.items()})
    lines += replay
    write_mix(args.out, lines, rng)
    log.info("wrote %d records to %s: %s", len(lines), args.out, counts)


if __name__ == "__main__":
    main()
