"""How well a model's Game of 24 proposals cover the winning moves, against a uniform random proposer.

    python bench/game24_proposals.py [--model SPEC] [--states 30] [--n 16] [--temperatures 0.7 1.0 1.5]

From solvable 3-number states one move from the held-out puzzles (the last ``--puzzles`` of 24-dev.csv,
never trained on), each expansion draws ``--n`` proposals exactly as the search does (the task's propose
prompt and legal-move grammar, one batched call). Prints, per temperature: distinct moves per expansion,
the share of them that keep 24 reachable, and the expansions with at least one such move; the ``uniform``
row draws the same number of moves uniformly among the legal ones.
"""

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agent import load_model
from examples.recipes.build_data import DATA_DIR
from examples.recipes.game24_data import key, load_puzzles, reachable_states, solvable
from search.tasks.game24 import Game24, legal_moves, parse_move


def tally(states, task, draw) -> tuple[float, int, int, int]:
    """(distinct moves per expansion, good moves, moves, expansions with a good move) over ``states``."""
    distinct = good = hits = 0
    for i, state in enumerate(states):
        numbers = task.numbers(state)
        moves = draw(i, state)
        wins = [solvable(key(parse_move(numbers, m)[1])) for m in moves]
        distinct, good, hits = distinct + len(moves), good + sum(wins), hits + any(wins)
    return distinct / len(states), good, distinct, hits


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=None)
    ap.add_argument("--states", type=int, default=30)
    ap.add_argument("--puzzles", type=int, default=100)
    ap.add_argument("--n", type=int, default=16, help="proposals per expansion")
    ap.add_argument("--temperatures", type=float, nargs="+", default=[0.7, 1.0, 1.5])
    ap.add_argument("--csv", type=Path, default=DATA_DIR / "game24" / "24-dev.csv")
    args = ap.parse_args()
    task = Game24()
    _, puzzles = load_puzzles(args.csv)
    found = reachable_states(puzzles[-args.puzzles :], task)
    states = [s for n, s in found.items() if len(n) == 3 and solvable(n)]
    random.Random(0).shuffle(states)
    states = states[: args.states]
    model = load_model(args.model)
    print(f"{getattr(model, 'name', args.model)}: {len(states)} solvable held-out states, {args.n} proposals each")
    print("| proposer | distinct moves / expansion | good moves | expansions with a good move | seconds |")
    print("|---|---|---|---|---|")
    rng = random.Random(1)

    def uniform(i, state):
        legal = legal_moves(task.numbers(state))
        return list(dict.fromkeys(rng.choice(legal) for _ in range(args.n)))

    rows = [("uniform", uniform)]
    for t in args.temperatures:
        rows.append((f"model T={t:g}", lambda i, s, t=t: task.propose(model, s, args.n, temperature=t, seed=i)))
    for name, draw in rows:
        t0 = time.perf_counter()
        per, good, total, hits = tally(states, task, draw)
        print(
            f"| {name} | {per:.1f} | {good}/{total} ({good / max(total, 1):.0%}) | {hits}/{len(states)} "
            f"| {time.perf_counter() - t0:.0f} |"
        )


if __name__ == "__main__":
    main()
