"""Step-level ROC AUC of process reward models, against rollout labels (issue 23).

Reads labelled trajectories (``examples/recipes/prm_data.py --out``, made on held-out dev questions) and scores
every step with each scorer: ``features`` (the shipped feature verifier read as a step scorer, the baseline),
and any ``--prm SPEC`` (a PRM adapter or model spec). A step is positive when some rollout from it reached the
gold answer (Math-Shepherd's hard label; ``--soft`` takes share >= 0.5). Where on-reference labels exist, their
agreement with the rollout labels is printed too. A table::

    python bench/prm_auc.py runs/prm/dev.jsonl --prm runs/prm/prm.gguf
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agent.app.evaluate.metrics import roc_auc
from agent.core.jsonl import read_jsonl
from agent.core.steps import Step
from agent.strategies.prm import CachedScorer, load_prm


def steps_of(paths: list[Path]) -> list[tuple[str, list[Step], dict]]:
    """(question, steps up to and including this one, its label) for every labelled step."""
    out = []
    for path in paths:
        for row in read_jsonl(path):
            steps = [Step.from_dict(s) for s in row["steps"]]
            out += [(row["question"], steps[: i + 1], lab) for i, lab in enumerate(row["labels"])]
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("labelled", nargs="+", type=Path)
    parser.add_argument("--prm", action="append", default=[], help="a PRM spec to score with (repeatable)")
    parser.add_argument("--soft", action="store_true", help="positive: share >= 0.5 (default: share > 0)")
    args = parser.parse_args(argv)

    steps = steps_of(args.labelled)
    positive = [(lab["share"] >= 0.5) if args.soft else (lab["share"] > 0) for _, _, lab in steps]
    print(f"{len(steps)} steps of {len({q for q, _, _ in steps})} questions, {sum(positive)} positive "
          f"({'share >= 0.5' if args.soft else 'share > 0'})\n")
    print("| scorer | judge | step AUC | final-step AUC | s/step |")
    print("| --- | --- | ---: | ---: | ---: |")
    for spec in ["features", *args.prm]:
        scorer = CachedScorer(load_prm(spec))
        t0 = time.perf_counter()
        scores = [scorer.score(q, s) for q, s, _ in steps]
        secs = (time.perf_counter() - t0) / max(1, len(steps))
        final = [(x, y) for x, y, (_, s, _) in zip(scores, positive, steps) if s[-1].answer is not None]
        print(f"| {scorer.name} | {scorer.judge} | {roc_auc(zip(scores, positive)):.3f} | "
              f"{roc_auc(final):.3f} | {secs:.3f} |")
    ref = [(lab["on_reference"], y) for (_, _, lab), y in zip(steps, positive) if lab.get("on_reference") is not None]
    if ref:
        agree = sum(r == y for r, y in ref) / len(ref)
        print(f"\non-reference label agrees with the rollout label on {agree:.1%} of {len(ref)} steps")


if __name__ == "__main__":
    main()
