"""Solve a Game of 24 puzzle with Tree-of-Thoughts search and write the tree as a web page.

    python examples/tot_game24.py "4 9 10 13" --algorithm bfs --beam 10 --tree tree.html

Every legal move is tried (the game's rules propose) and the model (the embedded SmolLM2-135M by
default, whose adapter was trained to judge) ranks the states by its P(sure); ``--proposer model
--evaluator value`` is the paper's setting, where the model also proposes. The answer is checked
afterwards, for the report only.
"""

import argparse
import json

from agent.core.load import load_model
from search import solve
from search.tasks.game24 import validate
from search.tree import save


def main() -> None:
    parser = argparse.ArgumentParser(description="Game of 24 with Tree of Thoughts")
    parser.add_argument("puzzle", nargs="?", default="4 9 10 13")
    parser.add_argument("--model", default=None, help="a .gguf file; default: the embedded model")
    parser.add_argument("--algorithm", default="bfs", choices=["bfs", "dfs", "mcts"])
    parser.add_argument("--evaluator", default="logprob", choices=["logprob", "value", "vote"])
    parser.add_argument("--proposer", default="rules", choices=["rules", "model"])
    parser.add_argument("--beam", type=int, default=None, help="default: the task's (10 for game24)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--tree", default="tree.html", help="where to write the tree (.html, .json or .graphml)")
    args = parser.parse_args()

    model = load_model(args.model, n_threads=args.threads)
    result = solve(
        args.puzzle,
        task="game24",
        model=model,
        algorithm=args.algorithm,
        evaluator=args.evaluator,
        beam=args.beam,
        task_options={"propose_by": args.proposer},
    )
    print("path:")
    for step in result.best_path:
        print("  " + step)
    print(f"answer: {result.answer}  (correct: {bool(result.answer) and validate(args.puzzle, result.answer)})")
    print(json.dumps(result.stats, indent=1))
    print(f"tree: {save(result.tree, args.tree)}")


if __name__ == "__main__":
    main()
