"""Training data for the learned verifier (:mod:`agent.verify`): the model's own samples, labelled by the gold answer.

    agent eval gsm8k --data train_questions.jsonl --strategy sc --samples 8 --out runs/ver/samples.jsonl
    python -m finetune.recipes.verifier_data runs/ver/samples*.jsonl --gold runs/g6/react_unseen.jsonl \\
        --out runs/ver/data
    agent finetune --data runs/ver/data/train.jsonl --init-adapter agent/data/default-adapter.gguf ...

Every sampled trajectory of an ``sc`` results file (its ``trace.samples``) becomes one record
``{"prompt": verifier_prompt, "completion": " correct" | " wrong"}``, right when its answer equals the
gold one; a trajectory seen twice (same prompt text) is kept once. Right samples are rare for a small
model, so ``--gold`` adds the reference ReAct trace of each sampled question as one more right example
(``--gold-extra N`` adds N more from other questions of that file), and ``--max-wrong`` caps the wrong
samples per question. Questions are split into train and dev (``--dev-fraction``) so that
``bench/verifier.py`` can measure the verifier on questions it never saw. ``--kept FILE`` also writes each
distinct right sample as a trace row: the same samples are self-improvement data for the policy.
"""

from __future__ import annotations

import argparse
import json
import logging
import random
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def _label(correct: bool) -> str:
    from agent.verify import LABELS

    return LABELS[0] if correct else LABELS[1]


def sample_records(result: dict[str, Any]) -> list[tuple[str, bool]]:
    """(verifier prompt, right?) for each distinct sampled trajectory of one ``sc`` results record."""
    from agent.consistency import normalize_answer
    from agent.evaluate.strategies import sample_trajectories
    from agent.verify import verifier_prompt

    trajs = sample_trajectories(result)
    if not trajs:
        raise ValueError(f"record {result.get('index')}: no trace.samples (an sc results file is needed)")
    gold = normalize_answer(result.get("gold"))
    seen: dict[str, bool] = {}
    for t in trajs:
        prompt = verifier_prompt(t.question, t.steps, t.answer)
        seen.setdefault(prompt, gold is not None and normalize_answer(t.answer) == gold)
    return list(seen.items())


def right_trajectories(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each distinct right, error-free sampled trajectory as a runtime trace row (self-improvement data:
    ``agent finetune --data kept.jsonl`` trains on them)."""
    from agent.consistency import normalize_answer

    rows, seen = [], set()
    for rec in results:
        gold = normalize_answer(rec.get("gold"))
        for sample in rec["trace"]["samples"]:
            steps = sample["steps"]
            if gold is None or normalize_answer(sample.get("answer")) != gold or any(s.get("error") for s in steps):
                continue
            question = rec.get("prompt") or rec["question"]
            key = json.dumps([question, [(s.get("thought"), s.get("action")) for s in steps]], sort_keys=True)
            if key not in seen:
                seen.add(key)
                tools = rec.get("tools") or ["calculator", "python"]
                row = {"question": question, "steps": steps, "answer": sample["answer"], "tools": tools}
                rows.append({**row, "stats": {"correct": True}, "gold": rec.get("gold")})
    return rows


def gold_record(trace: dict[str, Any]) -> tuple[str, bool]:
    """A reference ReAct trace (a ``gsm8k_react.jsonl`` row) as a right example."""
    from agent.steps import Step
    from agent.verify import verifier_prompt

    return verifier_prompt(trace["question"], [Step.from_dict(s) for s in trace["steps"]], trace["answer"]), True


def build(
    results: list[dict[str, Any]], gold: dict[str, dict[str, Any]], args: argparse.Namespace
) -> tuple[list[dict[str, str]], list[dict[str, str]], dict[str, int]]:
    """The train and dev records and counts."""
    rng = random.Random(args.seed)
    questions = sorted({r["question"] for r in results})
    rng.shuffle(questions)
    dev_q = set(questions[: int(len(questions) * args.dev_fraction)])
    train: list[dict[str, str]] = []
    dev: list[dict[str, str]] = []
    counts = {"right": 0, "wrong": 0, "gold": 0, "questions": len(questions), "dev_questions": len(dev_q)}
    for rec in results:
        pairs = sample_records(rec)
        right = [p for p in pairs if p[1]]
        wrong = [p for p in pairs if not p[1]]
        rng.shuffle(wrong)
        if rec["question"] in dev_q:
            dev += [{"prompt": p, "completion": _label(ok)} for p, ok in pairs]  # dev: every sample, as sampled
            continue
        if rec["question"] in gold:
            right.append(gold_record(gold[rec["question"]]))
            counts["gold"] += 1
        chosen = right + wrong[: args.max_wrong]
        counts["right"] += len(right)
        counts["wrong"] += min(len(wrong), args.max_wrong)
        train += [{"prompt": p, "completion": _label(ok)} for p, ok in chosen]
    used = {r["question"] for r in results}
    extra = [t for q, t in gold.items() if q not in used]
    rng.shuffle(extra)
    for trace in extra[: args.gold_extra]:
        prompt, _ = gold_record(trace)
        train.append({"prompt": prompt, "completion": _label(True)})
        counts["gold"] += 1
        counts["right"] += 1
    rng.shuffle(train)
    return train, dev, counts


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("results", nargs="+", type=Path, help="sc results files (agent eval ... --strategy sc)")
    ap.add_argument("--out", type=Path, required=True, help="writes train.jsonl, dev.jsonl and summary.json here")
    ap.add_argument("--gold", type=Path, default=None, help="reference ReAct traces (gsm8k_react.jsonl rows)")
    ap.add_argument("--gold-extra", type=int, default=0, help="right examples from gold traces of other questions")
    ap.add_argument("--max-wrong", type=int, default=4, help="wrong samples kept per question")
    ap.add_argument("--dev-fraction", type=float, default=0.1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--kept", type=Path, default=None, help="also write the right samples here as trace rows")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    from agent.evaluate.report import read_results

    results = [r for path in args.results for r in read_results(path)]
    gold: dict[str, dict[str, Any]] = {}
    if args.gold is not None:
        for line in args.gold.read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                gold.setdefault(row["question"], row)
    try:
        train, dev, counts = build(results, gold, args)
    except (KeyError, ValueError) as err:
        raise SystemExit(str(err)) from err
    args.out.mkdir(parents=True, exist_ok=True)
    for name, rows in (("train", train), ("dev", dev)):
        text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
        (args.out / f"{name}.jsonl").write_text(text, encoding="utf-8")
    counts.update(train=len(train), dev=len(dev))
    if args.kept is not None:
        kept = right_trajectories(results)
        args.kept.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in kept), encoding="utf-8")
        counts["kept"] = len(kept)
    (args.out / "summary.json").write_text(json.dumps(counts, indent=1) + "\n", encoding="utf-8")
    log.info("verifier data in %s: %s", args.out, counts)


if __name__ == "__main__":
    main()
