"""One self-improvement round: the model answers training questions, its right trajectories train it again.

    python -m examples.recipes.self_improve --model BASE.gguf+ADAPTER.gguf --init-adapter runs/X/adapter \\
        --questions data/gsm8k_react.jsonl --task gsm8k --limit 300 --samples 2 --out runs/self1
    python -m examples.recipes.self_improve ... --tool-questions 300 --seed 7   # fresh synthetic tool questions

1. *sample*: ``agent eval`` (ReAct, temperature 0.7) on the questions, ``--samples`` times with
   different seeds; every trajectory goes to ``OUT/samples-K.jsonl`` as the harness writes it;
2. *keep*: the trajectories scored correct, each distinct one once (``OUT/kept.jsonl``); wrong,
   unfinished and error-carrying ones are dropped (:func:`finetune.formats.eval_record_example`);
3. *train*: go on training the adapter (``--init-adapter``) on the kept trajectories, plus
   ``--replay`` records of the original data so the round does not forget the rest.

The sampling is what costs on a CPU (about 2-10 s a question with llama.cpp); training on a few
hundred kept trajectories takes minutes.
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import time
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def tool_questions(n: int, seed: int) -> list[dict[str, str]]:
    """``n`` fresh synthetic tool questions (question/answer rows), spread over the tool-use families."""
    from examples.recipes.tool_problems import FAMILIES, HELD_OUT

    rng, rows, seen = random.Random(seed), [], set(HELD_OUT)
    makers = list(FAMILIES.values())
    while len(rows) < n:
        problem = makers[len(rows) % len(makers)](rng)
        if problem.question not in seen:
            seen.add(problem.question)
            rows.append({"question": problem.question, "answer": problem.answer})
    return rows


def sample(model_spec: str | None, questions: Path, task_name: str, out: Path, args: argparse.Namespace) -> list[Path]:
    """Step 1: ``args.samples`` ReAct runs over the questions; the result files."""
    from agent import load_model
    from agent.app.evaluate import get_task, run_eval
    from agent.strategies.config import StrategyConfig

    task = get_task(task_name)
    items = task.load(questions)[: args.limit]
    model = load_model(model_spec)
    files = []
    for k in range(args.samples):
        path = out / f"samples-{k}.jsonl"
        config = StrategyConfig("react", temperature=args.temperature, seed=1000 * k + args.seed, max_steps=args.max_steps)
        summary = run_eval(task, items, model, config, path)
        log.info("sample %d: %d/%d correct (%.1f s/question)", k, summary.correct, summary.n, summary.seconds_per_item)
        files.append(path)
    return files


def keep(files: list[Path], dest: Path) -> dict[str, int]:
    """Step 2: the distinct correct trajectories of ``files`` into ``dest``; counts."""
    from finetune.data import load_examples

    seen, lines, total = set(), [], 0
    for path in files:
        for line in path.read_text(encoding="utf-8").splitlines():
            total += 1
            rec = json.loads(line)
            if rec.get("correct") is not True:
                continue
            key = (rec.get("prompt") or rec["question"], json.dumps(rec.get("steps", rec.get("trace")), sort_keys=True))
            if key not in seen:
                seen.add(key)
                lines.append(line)
    dest.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    usable = len(load_examples(dest)) if lines else 0  # drops trajectories that carry an error step
    return {"trajectories": total, "correct_distinct": len(lines), "usable": usable}


def train_round(kept: Path, out: Path, args: argparse.Namespace) -> Any:
    """Step 3: go on training ``--init-adapter`` on the kept trajectories (and replayed records)."""
    from finetune import TrainConfig, train

    data = kept
    if args.replay and args.replay_count:
        rows = args.replay.read_text(encoding="utf-8").splitlines()
        random.Random(args.seed).shuffle(rows)
        data = out / "round.jsonl"
        data.write_text(kept.read_text(encoding="utf-8") + "".join(f"{r}\n" for r in rows[: args.replay_count]))
    config = TrainConfig(
        data=str(data),
        out=str(out / "run"),
        base=args.base,
        init_adapter=args.init_adapter,
        epochs=args.epochs,
        lr=args.lr,
        batch_size=args.batch_size,
        seq_len=args.seq_len,
        group_by_prompt=True,
        dev_fraction=0.0,
        eval_generations=0,
        save_every=50,
        seed=args.seed,
    )
    return train(config)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=None, help="model that samples (default: the embedded default model)")
    ap.add_argument("--init-adapter", default=None, help="the adapter to go on training (a run's adapter/ dir)")
    ap.add_argument("--base", default=None, help="base for training (default: the embedded SmolLM2 GGUF)")
    ap.add_argument("--questions", type=Path, default=None, help="question/answer JSONL (GSM8K rows or qa rows)")
    ap.add_argument("--task", choices=["gsm8k", "qa"], default="qa")
    ap.add_argument("--tool-questions", type=int, default=0, help="make this many fresh synthetic tool questions")
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--samples", type=int, default=1, help="ReAct runs per question (different seeds)")
    ap.add_argument("--temperature", type=float, default=0.7)
    ap.add_argument("--max-steps", type=int, default=6)
    ap.add_argument("--replay", type=Path, default=None, help="original training records mixed into the round")
    ap.add_argument("--replay-count", type=int, default=0)
    ap.add_argument("--epochs", type=float, default=1.0)
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--seq-len", type=int, default=1024)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--no-train", action="store_true", help="sample and keep only")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    args.out.mkdir(parents=True, exist_ok=True)

    t0 = time.time()
    questions = args.questions
    if args.tool_questions:
        questions = args.out / "questions.jsonl"
        rows = tool_questions(args.tool_questions, args.seed)
        questions.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    if questions is None:
        ap.error("give --questions FILE or --tool-questions N")
    files = sample(args.model, questions, args.task, args.out, args)
    counts = keep(files, args.out / "kept.jsonl")
    summary: dict[str, Any] = {**counts, "sample_seconds": round(time.time() - t0, 1)}
    log.info("kept: %s", counts)
    if not args.no_train and counts["usable"]:
        result = train_round(args.out / "kept.jsonl", args.out, args)
        summary.update(steps=result.steps, loss_first=result.losses[:3], loss_last=result.losses[-3:])
        summary.update(train_seconds=round(result.seconds, 1), adapter=result.adapter)
    summary["wall_seconds"] = round(time.time() - t0, 1)
    (args.out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
