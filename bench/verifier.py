"""How much a learned verifier buys over majority voting, on sampled trajectories already in an sc results file.

    python bench/verifier.py RESULTS.jsonl... --verifier SPEC [--verifier SPEC2 ...] [--limit N]

RESULTS are ``agent eval gsm8k --strategy sc`` files (every sample is in ``trace.samples``), so the
expensive part, sampling, is done once and each verifier only scores. For each verifier it prints one
row: majority vote, votes weighted by the verifier's scores (what ``agent eval --verifier`` does), the
single best-scored sample (the GSM8K paper's rule), the ceiling (some sample is right: pass@N), and the
ROC AUC of the scores over all samples (the chance a right sample outscores a wrong one).
``--verifier none`` gives the majority row only.

    python bench/verifier.py RESULTS.jsonl --verifier default --subsets 4 8 16 32

prints how accuracy grows with the number of samples: for each K, majority and verifier-weighted votes over
random K-sample subsets of each record's samples (averaged over ``--draws`` draws; all of them when K is all).

    python bench/verifier.py --records runs/ver/data/dev.jsonl --verifier SPEC

scores labelled verifier records instead (the ``dev.jsonl`` of ``finetune/recipes/verifier_data.py``, removed, in git history up to 6fafe95: the samples of
training questions held out from the verifier's training) and prints their ROC AUC and accuracy at 0.5.
"""

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agent.app.evaluate.metrics import roc_auc
from agent.app.evaluate.report import read_results
from agent.core.jsonl import read_jsonl
from agent.core.record import sample_trajectories
from agent.strategies.consistency import majority_vote, normalize_answer
from agent.strategies.verify import LABELS, ModelVerifier, label_odds, load_verifier, weighted_vote


def rerank(records: list[dict], spec: str) -> dict:
    """Majority, weighted, best-of-N and ceiling counts for one verifier over the records."""
    verifier = None if spec == "none" else load_verifier(spec)
    row = {"verifier": spec, "n": len(records), "majority": 0, "weighted": 0, "best": 0, "ceiling": 0}
    scored: list[tuple[float, bool]] = []
    t0 = time.perf_counter()
    for rec in records:
        gold = normalize_answer(rec["gold"])
        answers = [t.answer for t in sample_trajectories(rec)]
        right = [normalize_answer(a) == gold for a in answers]
        row["ceiling"] += any(right)
        row["majority"] += normalize_answer(majority_vote(answers)[0]) == gold
        if verifier is None:
            continue
        trajs = sample_trajectories(rec)
        scores = verifier.score_all(trajs[0].question, trajs)
        scored += list(zip(scores, right))
        row["weighted"] += normalize_answer(weighted_vote(answers, scores)[0]) == gold
        row["best"] += right[max(range(len(scores)), key=scores.__getitem__)]
    row["auc"] = roc_auc(scored) if scored else float("nan")
    row["s_per_item"] = (time.perf_counter() - t0) / max(1, len(records))
    return row


def subset_curve(records: list[dict], spec: str, sizes: list[int], draws: int, seed: int = 0) -> list[dict]:
    """Mean majority / weighted / ceiling counts over random ``k``-sample subsets, for each ``k`` in ``sizes``."""
    verifier = None if spec == "none" else load_verifier(spec)
    rng = random.Random(seed)
    items = [(normalize_answer(rec["gold"]), sample_trajectories(rec)) for rec in records]
    rows = []
    for k in sizes:
        if any(len(trajs) < k for _, trajs in items):
            raise SystemExit(f"--subsets {k}: some records hold fewer than {k} samples")
        total = {"majority": 0.0, "weighted": 0.0, "ceiling": 0.0}
        full = all(len(trajs) == k for _, trajs in items)
        for _ in range(1 if full else draws):
            for gold, trajs in items:
                pick = sorted(rng.sample(range(len(trajs)), k))
                sub = [trajs[i] for i in pick]
                answers = [t.answer for t in sub]
                total["majority"] += normalize_answer(majority_vote(answers)[0]) == gold
                total["ceiling"] += any(normalize_answer(a) == gold for a in answers)
                if verifier is not None:
                    scores = verifier.score_all(sub[0].question, sub)
                    total["weighted"] += normalize_answer(weighted_vote(answers, scores)[0]) == gold
        rows.append({"k": k, **{key: v / (1 if full else draws) for key, v in total.items()}})
    return rows


def score_records(path: Path, spec: str) -> None:
    """AUC and accuracy at 0.5 of a verifier on labelled ``{"prompt", "completion"}`` records."""
    verifier = load_verifier(spec)
    if not isinstance(verifier, ModelVerifier):
        raise SystemExit(f"--records scores prompts with a model verifier, not {spec}")
    rows = list(read_jsonl(path))
    t0 = time.perf_counter()
    scored = [(label_odds(verifier.model, r["prompt"]), r["completion"] == LABELS[0]) for r in rows]
    right = sum((s >= 0.5) == y for s, y in scored)
    print(
        f"| {spec} | {len(rows)} ({sum(y for _, y in scored)} right) | AUC {roc_auc(scored):.3f} "
        f"| accuracy {right}/{len(rows)} | {(time.perf_counter() - t0) / max(1, len(rows)):.2f} s/record |"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("results", nargs="*", type=Path)
    ap.add_argument("--records", type=Path, default=None, help="labelled verifier records instead of results")
    ap.add_argument("--verifier", action="append", default=None, help="model spec, 'default' or 'none' (repeatable)")
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--variant", default=None, help="only records of this run, e.g. 'sc(samples=32, verifier=default)'")
    ap.add_argument("--subsets", type=int, nargs="+", default=None, help="accuracy over random K-sample subsets")
    ap.add_argument("--draws", type=int, default=20, help="--subsets: random subsets per record and K")
    args = ap.parse_args()
    if args.records is not None:
        for spec in args.verifier or ["default"]:
            score_records(args.records, spec)
        return
    records = [r for p in args.results for r in read_results(p) if sample_trajectories(r)]
    records = [r for r in records if args.variant in (None, r.get("variant"))]
    records = records[: args.limit]
    if not records:
        raise SystemExit("no sc records with trace.samples in these files")
    if args.subsets:
        spec = (args.verifier or ["default"])[-1]
        print(f"| samples | majority | weighted by {spec} | ceiling (pass@K) |\n|---|---|---|---|")
        for r in subset_curve(records, spec, args.subsets, args.draws):
            n = len(records)
            print(f"| {r['k']} | {r['majority']:.1f}/{n} | {r['weighted']:.1f}/{n} | {r['ceiling']:.1f}/{n} |")
        return
    print("| verifier | n | majority | weighted | best-of-N | ceiling (pass@N) | AUC | s/item |")
    print("|---|---|---|---|---|---|---|---|")
    for spec in args.verifier or ["none"]:
        r = rerank(records, spec)
        pct = {k: f"{r[k]}/{r['n']} ({r[k] / r['n']:.0%})" for k in ("majority", "weighted", "best", "ceiling")}
        if spec == "none":
            pct["weighted"] = pct["best"] = "-"
        print(
            f"| {spec} | {r['n']} | {pct['majority']} | {pct['weighted']} | {pct['best']} | {pct['ceiling']} "
            f"| {r['auc']:.3f} | {r['s_per_item']:.1f} |"
        )


if __name__ == "__main__":
    main()
