"""What Tree-of-Thoughts success on the Game of 24 needs from its proposer and its judge (no model).

    python bench/game24_bounds.py [--puzzles 100] [--seeds 5] [--beam 5]

Simulates the search `agent eval game24` runs (BFS, three levels, ``--beam`` states kept per
level) on the held-out puzzles with two stand-ins, to show which part must improve:

* the proposer is *uniform*: each expansion draws ``n_generate`` moves at random among the legal
  ones (a model that knows nothing; one that prefers good moves does better);
* the judge scores a solvable state ``N(d, 1)`` and an unsolvable one ``N(0, 1)``, with ``d`` set so
  that its ROC AUC (the chance a solvable state outranks an unsolvable one; what
  ``bench/game24_judge.py --auc`` measures for a real model) is the column's value.

Prints a markdown table of success rates, rows ``n_generate``, columns judge AUC.
"""

import argparse
import csv
import math
import random
import statistics
import sys
from fractions import Fraction
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from finetune.recipes.build_data import DATA_DIR
from finetune.recipes.game24_data import DEV_PUZZLES, key, moves, solvable

Nums = tuple[Fraction, ...]


def children(nums: Nums) -> list[Nums]:
    """The distinct states one legal move away."""
    return list(dict.fromkeys(m[3] for m in moves(nums)))


def search(puzzle: str, separation: float, n_generate: int, beam: int, rng: random.Random) -> bool:
    """One BFS run with the uniform proposer and the noisy judge; True when it reaches 24."""
    frontier = [key([Fraction(x) for x in puzzle.split()])]
    for depth in range(3):
        found: dict[Nums, None] = {}
        for state in frontier:
            options = children(state)
            found.update({rng.choice(options): None for _ in range(n_generate)})
        if depth == 2:
            return (Fraction(24),) in found
        score = {s: rng.gauss(separation if solvable(s) else 0.0, 1.0) for s in found}
        frontier = sorted(found, key=score.__getitem__, reverse=True)[:beam]
    return False


def separation_for(auc: float) -> float:
    """The mean gap of two unit normals whose ROC AUC is ``auc`` (AUC = Phi(d / sqrt 2))."""
    return 1e6 if auc >= 1.0 else math.sqrt(2) * statistics.NormalDist().inv_cdf(auc)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--csv", type=Path, default=DATA_DIR / "game24" / "24-dev.csv")
    ap.add_argument("--puzzles", type=int, default=DEV_PUZZLES, help="the last N puzzles (our held-out split)")
    ap.add_argument("--ranks", default=None, metavar="A-B", help="puzzles of these ranks instead (e.g. 801-900)")
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--beam", type=int, default=5)
    ap.add_argument("--n-generate", type=int, nargs="+", default=[8, 16, 32, 64])
    ap.add_argument("--auc", type=float, nargs="+", default=[0.5, 0.75, 0.9, 0.97, 1.0])
    args = ap.parse_args()
    rows = list(csv.DictReader(args.csv.read_text(encoding="utf-8").splitlines()))
    if args.ranks:
        lo, _, hi = args.ranks.partition("-")
        puzzles = [r["Puzzles"] for r in rows if int(lo) <= int(r["Rank"]) <= int(hi)]
        which = f"ranks {args.ranks} ({len(puzzles)} puzzles)"
    else:
        puzzles = [r["Puzzles"] for r in rows[-args.puzzles :]]
        which = f"last {len(puzzles)} puzzles"
    print(f"uniform proposer, BFS b={args.beam}, {which} of {args.csv.name}, {args.seeds} seeds")
    print("| n_generate | " + " | ".join(f"judge AUC {a:g}" for a in args.auc) + " |")
    print("|---" * (len(args.auc) + 1) + "|")
    for n in args.n_generate:
        cells = []
        for auc in args.auc:
            rng = random.Random(f"{n}-{auc}")
            wins = sum(search(p, separation_for(auc), n, args.beam, rng) for _ in range(args.seeds) for p in puzzles)
            cells.append(f"{wins / (args.seeds * len(puzzles)):.0%}")
        print(f"| {n} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
