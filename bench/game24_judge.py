"""How well a model judges Game of 24 states and proposes moves, on puzzles held out from training.

    python bench/game24_judge.py [--model SPEC] [--states 200] [--split dev|near] [--auc] [--no-moves]

States are the distinct 3- and 2-number states one or two moves from the puzzles of a held-out split
of 24-dev.csv (never in the training data; ``dev``: the last 100 rows, the hardest; ``near``: the ranks
beside the paper's test range, see ``examples.recipes.game24_data.split_puzzles``), half solvable, labelled by the exact solver. For each,
the task's own value prompt (greedy, the task's grammar) must say ``sure`` for a solvable state and
``impossible`` otherwise; and the task's propose prompt (greedy, legal-move grammar) should pick a
move that keeps 24 reachable. Prints a markdown table: judge accuracy (all, 3-number and 2-number
states), recall on solvable and unsolvable states, with ``--auc`` the ranking quality of the
``logprob`` evaluator's score P(sure) (ROC AUC: the chance a solvable state outranks an unsolvable
one, which is what a beam needs), good-move rate, seconds.
"""

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agent import load_model
from agent.app.evaluate.metrics import roc_auc
from examples.recipes.build_data import DATA_DIR
from examples.recipes.game24_data import key, puzzles_of, reachable_states, solvable
from search.evaluators import LogprobScorer, read_label
from search.meter import ask
from search.tasks.game24 import Game24, parse_move


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=None)
    ap.add_argument("--states", type=int, default=200)
    ap.add_argument("--split", choices=["dev", "near"], default="dev", help="the held-out puzzles")
    ap.add_argument("--csv", type=Path, default=DATA_DIR / "game24" / "24-dev.csv")
    ap.add_argument("--auc", action="store_true", help="also score states by P(sure) (the logprob evaluator)")
    ap.add_argument("--no-moves", action="store_true", help="skip the proposer check")
    args = ap.parse_args()
    task = Game24()
    found = reachable_states(puzzles_of(args.csv, args.split), task)
    rng = random.Random(0)
    sure = [s for n, s in found.items() if solvable(n)]
    impossible = [s for n, s in found.items() if not solvable(n)]
    half = args.states // 2
    states = rng.sample(sure, min(half, len(sure))) + rng.sample(impossible, min(half, len(impossible)))
    model = load_model(args.model)
    t0 = time.perf_counter()
    right = {True: 0, False: 0}
    total = {True: 0, False: 0}
    by_size = {2: [0, 0], 3: [0, 0]}
    scored: list[tuple[float, bool]] = []
    scorer = LogprobScorer(model, task) if args.auc else None
    good_moves = proposed = 0
    for state in states:
        numbers = task.numbers(state)
        label = solvable(key(numbers))
        said = read_label(ask(model, task.value_prompt(state), n=1, temperature=0.0).texts[0])
        total[label] += 1
        right[label] += (said == "sure") == label
        by_size[len(numbers)][0] += (said == "sure") == label
        by_size[len(numbers)][1] += 1
        if scorer:
            scored.append((scorer.score(state.question, state), label))
        if (
            label and len(numbers) > 2 and not args.no_moves
        ):  # from a solvable state, does the proposer keep it solvable?
            (move,) = task.propose(model, state, 1, temperature=0.0, seed=0)[:1] or (None,)
            proposed += 1
            moved = parse_move(numbers, move) if move else None
            good_moves += bool(moved) and solvable(key(moved[1]))
    secs = time.perf_counter() - t0
    n = sum(total.values())
    sizes = " | ".join(f"{by_size[k][0]}/{by_size[k][1]}" for k in (3, 2))
    auc = f"{roc_auc(scored):.3f}" if scored else "-"
    moves = "-" if args.no_moves else f"{good_moves}/{proposed}"
    print(
        "| model | states | judge accuracy | 3 numbers | 2 numbers | sure recall | impossible recall "
        "| P(sure) AUC | good first move | seconds |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    print(
        f"| {getattr(model, 'name', args.model)} | {n} | {(right[True] + right[False]) / n:.1%} | {sizes} "
        f"| {right[True]}/{total[True]} | {right[False]}/{total[False]} | {auc} | {moves} | {secs:.0f} |"
    )


if __name__ == "__main__":
    main()
