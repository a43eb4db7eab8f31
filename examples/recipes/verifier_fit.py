"""Fit the feature verifier (:class:`agent.strategies.verify.FeatureVerifier`) on the model's own labelled samples.

    agent eval gsm8k --data train_questions.jsonl --strategy sc --samples 8 --out runs/ver/samples.jsonl
    python -m examples.recipes.verifier_fit runs/ver/samples*.jsonl --out agent/data/verifier.json

Every sampled trajectory of the ``sc`` results (``samples``; older files: ``trace.samples``) gets the features of
:mod:`agent.strategies.features` and a label (its answer equals the gold one). A logistic regression on standardised
features, the two classes weighted equally (right samples are rare) and a small L2 penalty, is fit by
gradient descent. Before the final fit on everything, a ``--folds``-fold cross-validation *by question*
prints what the verifier buys on questions it did not see: right answers by majority vote, by votes
weighted by its scores, by its single best-scored sample, the ceiling (some sample is right), and the
ROC AUC of its scores.
"""

from __future__ import annotations

import argparse
import json
import logging
import random
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)


def labelled(results: list[dict[str, Any]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Features (samples x FEATURES), labels and question ids of every sample of the sc records."""
    from agent.core.record import sample_trajectories
    from agent.strategies.consistency import normalize_answer
    from agent.strategies.features import FEATURES, trajectory_features

    rows, labels, groups = [], [], []
    for q, rec in enumerate(results):
        trajs = sample_trajectories(rec)
        if not trajs:
            raise ValueError(f"record {rec.get('index')}: no trace.samples (an sc results file is needed)")
        question = trajs[0].question
        gold = normalize_answer(rec.get("gold"))
        for t, f in zip(trajs, trajectory_features(question, trajs)):
            rows.append([f[k] for k in FEATURES])
            labels.append(float(gold is not None and normalize_answer(t.answer) == gold))
            groups.append(q)
    return np.array(rows), np.array(labels), np.array(groups)


def fit(x: np.ndarray, y: np.ndarray, l2: float = 1e-2, steps: int = 3000, lr: float = 0.5) -> dict[str, Any]:
    """Class-balanced L2 logistic regression on standardised features: weights, bias, mean, std."""
    if y.min() == y.max():
        raise ValueError("the samples need both right and wrong ones to fit a verifier")
    mean, std = x.mean(0), x.std(0)
    std[std == 0] = 1.0
    xs = (x - mean) / std
    weight = np.where(y == 1, (1 - y.mean()) / y.mean(), 1.0)
    weight /= weight.mean()
    w, b = np.zeros(x.shape[1]), 0.0
    for _ in range(steps):
        err = (1 / (1 + np.exp(-(xs @ w + b))) - y) * weight
        w -= lr * (xs.T @ err / len(y) + l2 * w)
        b -= lr * err.mean()
    return {"weights": w, "bias": b, "mean": mean, "std": std}


def predict(model: dict[str, Any], x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-(((x - model["mean"]) / model["std"]) @ model["weights"] + model["bias"])))


def cross_validate(results: list[dict[str, Any]], folds: int, seed: int) -> dict[str, float]:
    """Majority, weighted and best-of-N right answers and the AUC, each question scored by a fit without it."""
    from agent.core.record import sample_trajectories
    from agent.strategies.consistency import majority_vote, normalize_answer
    from agent.strategies.verify import weighted_vote

    x, y, groups = labelled(results)
    order = list(range(len(results)))
    random.Random(seed).shuffle(order)
    out = {"questions": len(results), "majority": 0, "weighted": 0, "best": 0, "ceiling": 0}
    scored: list[tuple[float, float]] = []
    for k in range(folds):
        held = set(order[k::folds])
        model = fit(x[~np.isin(groups, list(held))], y[~np.isin(groups, list(held))])
        for q in held:
            rec, rows = results[q], groups == q
            answers = [t.answer for t in sample_trajectories(rec)]
            scores = predict(model, x[rows])
            gold = normalize_answer(rec.get("gold"))
            out["majority"] += normalize_answer(majority_vote(answers)[0]) == gold
            out["weighted"] += normalize_answer(weighted_vote(answers, list(scores))[0]) == gold
            out["best"] += bool(y[rows][int(np.argmax(scores))])
            out["ceiling"] += bool(y[rows].max())
            scored += list(zip(scores.tolist(), y[rows].tolist()))
    pos = np.array([s for s, t in scored if t])
    neg = np.array([s for s, t in scored if not t])
    out["auc"] = float(((pos[:, None] > neg[None]) + 0.5 * (pos[:, None] == neg[None])).mean()) if len(pos) else 0.0
    return out


def write_table(path: Path, results: list[dict[str, Any]], x: np.ndarray, y: np.ndarray) -> None:
    """One JSON line per sample, in fit order: its question, answer, label and features (rounded to 9 places,
    so the bytes depend on the samples' text only)."""
    from agent.core.record import sample_trajectories
    from agent.strategies.features import FEATURES

    rows = [(t.question, t.answer) for rec in results for t in sample_trajectories(rec)]
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        for (question, answer), feats, label in zip(rows, x.tolist(), y.tolist()):
            row = {"question": question, "answer": answer, "right": bool(label),
                   "features": {k: round(v, 9) for k, v in zip(FEATURES, feats)}}
            f.write(json.dumps(row, sort_keys=True) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("results", nargs="+", type=Path, help="sc results files (agent eval ... --strategy sc)")
    ap.add_argument("--out", type=Path, required=True, help="the verifier JSON (agent/data/verifier.json ships)")
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--table", type=Path, default=None,
                    help="also write the labelled feature rows the fit reads (JSONL): the verifier round's data, "
                         "whose sha256 its config records (the samples files hold timings; this does not)")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    from agent.app.evaluate.report import read_results
    from agent.strategies.features import FEATURES

    results = [r for p in args.results for r in read_results(p)]
    try:
        cv = cross_validate(results, args.folds, args.seed) if args.folds > 1 else {}
        x, y, _ = labelled(results)
        model = fit(x, y)
    except (KeyError, ValueError) as err:
        raise SystemExit(str(err)) from err
    verifier = {
        "weights": dict(zip(FEATURES, model["weights"].round(6).tolist())),
        "bias": round(float(model["bias"]), 6),
        "mean": dict(zip(FEATURES, model["mean"].round(6).tolist())),
        "std": dict(zip(FEATURES, model["std"].round(6).tolist())),
        "trained_on": {"samples": len(y), "right": int(y.sum()), "questions": len(results)},
        "cross_validation": cv,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(verifier, indent=1) + "\n", encoding="utf-8")
    if args.table:
        write_table(args.table, results, x, y)
    log.info("cross-validation by question: %s", json.dumps(cv))
    log.info("wrote %s (%d samples, %d right)", args.out, len(y), int(y.sum()))


if __name__ == "__main__":
    main()
