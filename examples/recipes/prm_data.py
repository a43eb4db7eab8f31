"""Step labels for a process reward model, from the model's own rollouts (issue 23).

For each question: ``--samples`` ReAct trajectories at T=0.7 (one batch for their first steps), then each
step of each trajectory is labelled by ``--k`` rollouts from its prefix (:func:`agent.strategies.rollouts.
rollout_labels`). Where the question is a GSM8K train row, the on-reference label (the step's tool result is
a value of the reference solution) is written beside it. Two files:

- ``--out`` (JSONL, one line per trajectory): question, gold, the steps, per step ``share``, ``rollouts``,
  ``on_reference``; the input of ``bench/prm_auc.py``. Resumable: questions already in it are skipped.
- ``--records`` (JSONL): one ``agent finetune`` record per step, ``{"prompt", "completion": " good" | " bad"}``
  (:func:`agent.strategies.prm.prm_record`; good = some rollout reached the gold answer).

Run it on training questions only (for example ``bench/data/verifier_questions.jsonl``, GSM8K train rows the
shipped model was not trained on); label dev questions only to measure a PRM, never to train one::

    python -m examples.recipes.prm_data bench/data/verifier_questions.jsonl --out runs/prm/train.jsonl \\
        --records runs/prm/records.jsonl --samples 4 --k 4 --limit 100

Seeded and sequential (one item at a time, one llama.cpp thread count): the same command on the same
machine draws the same rollouts.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from agent.core.jsonl import append_jsonl, read_jsonl
from agent.core.steps import Trajectory
from agent.strategies.prm import prm_record
from agent.strategies.rollouts import on_reference, reference_values, rollout_labels
from examples.recipes.build_data import DATA_DIR

log = logging.getLogger(__name__)
GSM8K_TRAIN = DATA_DIR / "gsm8k" / "train.jsonl"


def solutions(path: Path = GSM8K_TRAIN) -> dict[str, str]:
    """GSM8K train question -> its reference solution (empty where the file is absent)."""
    if not path.is_file():
        return {}
    return {r["question"].strip(): r["answer"] for r in read_jsonl(path)}


def label_question(agent, question: str, gold: str, samples: int, k: int, seed: int,
                   reference: str | None) -> list[dict]:
    """The labelled trajectories of one question (see the module docstring)."""
    from agent.strategies.consistency import self_consistency

    values = reference_values(reference) if reference else None
    out = []
    for j, traj in enumerate(self_consistency(agent, question, samples).trajectories):
        labels = rollout_labels(agent, traj, gold, k=k, seed=seed + 100_000 * (j + 1))
        out.append({
            "question": question, "gold": gold, "sample": j, "answer": traj.answer,
            "steps": [s.to_dict() for s in traj.steps],
            "labels": [{"share": lab.share, "rollouts": lab.rollouts, "tokens": lab.tokens,
                        "on_reference": None if values is None else on_reference(s, values)}
                       for lab, s in zip(labels, traj.steps)],
        })
    return out


def main(argv: list[str] | None = None) -> None:
    from tqdm import tqdm

    from agent.app.evaluate.tasks import get_task
    from agent.core.load import load_model
    from agent.core.react import ReActAgent, ReActConfig
    from tools import load_tools

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("questions", type=Path, help="GSM8K-format JSONL (question, answer with '#### N')")
    parser.add_argument("--out", type=Path, required=True, help="labelled trajectories (JSONL, appended)")
    parser.add_argument("--records", type=Path, help="agent finetune records (JSONL, appended)")
    parser.add_argument("--model", default=None, help="model spec (default: the embedded fine-tuned SmolLM2)")
    parser.add_argument("--samples", type=int, default=4, help="trajectories per question")
    parser.add_argument("--k", type=int, default=4, help="rollouts per step")
    parser.add_argument("--limit", type=int, default=None, help="the first N questions")
    parser.add_argument("--max-steps", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)

    items = get_task("gsm8k").load(args.questions)[: args.limit]
    done = {r["question"] for r in read_jsonl(args.out)} if args.out.is_file() else set()
    refs = solutions()
    model = load_model(args.model)
    for item in tqdm([i for i in items if i.question not in done], desc="prm labels", unit="question"):
        seed = args.seed + 1_000_000 * item.index
        agent = ReActAgent(model, load_tools(), ReActConfig(max_steps=args.max_steps, temperature=0.7, seed=seed))
        rows = label_question(agent, item.question, item.gold or "", args.samples, args.k, seed,
                              refs.get(item.question.strip()))
        for row in rows:
            append_jsonl(args.out, row)
            if args.records is not None:
                traj = Trajectory.from_dict({"question": row["question"], "steps": row["steps"]})
                for i, lab in enumerate(row["labels"]):
                    append_jsonl(args.records, prm_record(row["question"], traj.steps[: i + 1], lab["share"] > 0))
    print(json.dumps({"out": str(args.out), "questions": len(items), "skipped": len(done & {i.question for i in items})}))


if __name__ == "__main__":
    main()
