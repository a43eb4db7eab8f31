"""What Tree-of-Thoughts success on the Game of 24 needs from its proposer and its judge (no model).

    python bench/game24_bounds.py [--puzzles 100] [--seeds 5] [--beam 5]

Simulates the search `agent eval game24` runs (BFS, three levels, ``--beam`` states kept per
level) on the held-out puzzles with two stand-ins, to show which part must improve:

* the proposer is *uniform*: each expansion draws ``n_generate`` moves at random among the legal
  ones (a model that knows nothing; one that prefers good moves does better); ``all`` is every
  legal move (``--proposer rules``);
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

from examples.recipes.build_data import DATA_DIR
from examples.recipes.game24_data import DEV_PUZZLES, key, moves, puzzles_of, reachable_states, solvable
from search.tasks.game24 import Game24

Nums = tuple[Fraction, ...]


def children(nums: Nums) -> list[Nums]:
    """The distinct states one legal move away."""
    return list(dict.fromkeys(m[3] for m in moves(nums)))


def search(puzzle: str, separation: float, n_generate: int, beam: int, rng: random.Random) -> bool:
    """One BFS run with the uniform proposer (every move when ``n_generate`` is 0) and the noisy
    judge; True when it reaches 24."""
    frontier = [key([Fraction(x) for x in puzzle.split()])]
    for depth in range(3):
        found: dict[Nums, None] = {}
        for state in frontier:
            options = children(state)
            picked = options if n_generate == 0 else [rng.choice(options) for _ in range(n_generate)]
            found.update(dict.fromkeys(picked))
        if depth == 2:
            return (Fraction(24),) in found
        score = {s: rng.gauss(separation if solvable(s) else 0.0, 1.0) for s in found}
        frontier = sorted(found, key=score.__getitem__, reverse=True)[:beam]
    return False


def separation_for(auc: float) -> float:
    """The mean gap of two unit normals whose ROC AUC is ``auc`` (AUC = Phi(d / sqrt 2))."""
    return 1e6 if auc >= 1.0 else math.sqrt(2) * statistics.NormalDist().inv_cdf(auc)


def print_overlap(csv_path: Path, puzzles: list[str]) -> None:
    """How many of these puzzles' 3- and 2-number states some training puzzle reaches too: what a judge
    that learned the training puzzles' states by heart can know about them."""
    task = Game24()
    seen = reachable_states(puzzles_of(csv_path, "train"), task)
    held = reachable_states(puzzles, task)
    print("| states of the held-out puzzles | 3 numbers | 3, solvable | 2 numbers | 2, solvable |")
    print("|---|---|---|---|---|")
    cells = []
    for size in (3, 2):
        for only_sure in (False, True):
            mine = [n for n in held if len(n) == size and (solvable(n) or not only_sure)]
            cells.append(f"{sum(n in seen for n in mine)}/{len(mine)} ({sum(n in seen for n in mine) / len(mine):.0%})")
    print("| also reached from a training puzzle | " + " | ".join(cells) + " |\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--csv", type=Path, default=DATA_DIR / "game24" / "24-dev.csv")
    ap.add_argument("--puzzles", type=int, default=DEV_PUZZLES, help="the last N puzzles (our held-out split)")
    ap.add_argument("--ranks", default=None, metavar="A-B", help="puzzles of these ranks instead (e.g. 801-900)")
    ap.add_argument("--near", action="store_true", help="the held-out 'near' split instead (ranks beside the test)")
    ap.add_argument(
        "--overlap",
        action="store_true",
        help="also print how many of the held-out puzzles' states a training puzzle reaches too",
    )
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--beam", type=int, default=5)
    ap.add_argument(
        "--n-generate",
        nargs="+",
        default=["8", "16", "32", "all"],
        help="proposals per expansion; 'all': every legal move (--proposer rules)",
    )
    ap.add_argument("--auc", type=float, nargs="+", default=[0.5, 0.75, 0.9, 0.97, 1.0])
    args = ap.parse_args()
    rows = list(csv.DictReader(args.csv.read_text(encoding="utf-8").splitlines()))
    if args.near:
        puzzles = puzzles_of(args.csv, "near")
        which = f"the near split ({len(puzzles)} puzzles)"
    elif args.ranks:
        lo, _, hi = args.ranks.partition("-")
        puzzles = [r["Puzzles"] for r in rows if int(lo) <= int(r["Rank"]) <= int(hi)]
        which = f"ranks {args.ranks} ({len(puzzles)} puzzles)"
    else:
        puzzles = [r["Puzzles"] for r in rows[-args.puzzles :]]
        which = f"last {len(puzzles)} puzzles"
    if args.overlap:
        print_overlap(args.csv, puzzles)
    print(f"uniform proposer, BFS b={args.beam}, {which} of {args.csv.name}, {args.seeds} seeds")
    print("| n_generate | " + " | ".join(f"judge AUC {a:g}" for a in args.auc) + " |")
    print("|---" * (len(args.auc) + 1) + "|")
    for label in args.n_generate:
        n = 0 if label == "all" else int(label)
        cells = []
        for auc in args.auc:
            rng = random.Random(f"{n}-{auc}")
            wins = sum(search(p, separation_for(auc), n, args.beam, rng) for _ in range(args.seeds) for p in puzzles)
            cells.append(f"{wins / (args.seeds * len(puzzles)):.0%}")
        print(f"| {label} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
