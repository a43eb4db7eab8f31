"""Self-improvement traces checked step by step against the gold program (process-supervised rejection sampling).

    python -m finetune.recipes.guided_sample --questions ../shared/data/gsm8k/train.jsonl --start 0 --limit 400 \\
        --k 8 --out runs/gs/traces.jsonl
    agent finetune --data runs/gs/traces.jsonl --init-adapter agent/data/default-adapter.gguf ...

For each GSM8K training question the model draws ``k`` candidates for its next ReAct step, in one batch. A
candidate is kept when its tool result is one of the gold solution's annotated results that the trace has not
reached yet; once the gold answer is reached, a candidate is kept when it gives that answer as the Final Answer
(if none does, the trace ends with the runtime's usual ``I know the answer.`` step, which teaches stopping
there). Among the kept candidates the result the model drew most often wins (ties: the first drawn), so the trace
stays on the model's own likeliest right path. A question whose step keeps no candidate is dropped.

Whole-trajectory rejection sampling (``self_improve.py``, ``verifier_data.py --kept``) keeps any sample whose final
number is right, wrong chains that land on it by luck included, and a 135M model's samples are right ~4 % of the
time; here every step is right by the gold program and a step needs only one of ``k`` candidates right.

Each kept trace is one JSON line in the runtime's trajectory format (``agent finetune --data`` trains it, the
Observations masked); every question tried goes to ``OUT.done`` so a rerun skips it.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from collections import Counter
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

from agent.react import ReActAgent
from agent.steps import Step, Trajectory
from finetune.recipes.gsm8k_programs import DEV_ROWS, Solution, load_gsm8k, parse_solution
from finetune.recipes.traces import FINAL_THOUGHT, same_number, tool_step

log = logging.getLogger(__name__)


@dataclass
class Guided:
    """The outcome of one question: the trace when every step found a right candidate."""

    trace: Trajectory | None
    calls: int = 0  # model calls (each one batch of k)
    why: str = ""  # why the question was dropped
    kept_per_step: list[int] = field(default_factory=list)  # right candidates at each step
    gold_steps: int = 0  # reference steps taken where no candidate was right (``fallback``)


def _reached(values: list[Fraction], traj: Trajectory) -> list[Fraction]:
    """The gold values some observation of ``traj`` already shows."""
    seen = [s.observation for s in traj.steps if s.observation is not None and s.error is None]
    return [v for v in values if any(same_number(o, v) for o in seen)]


def right_candidates(sol: Solution, traj: Trajectory, steps: list[Step]) -> list[Step]:
    """The candidate steps that keep ``traj`` on the gold program (see the module docstring)."""
    gold = Fraction(sol.gold)
    values = [c.result for c in sol.calcs] + [gold]
    reached = _reached(values, traj)
    if gold in reached:
        return [s for s in steps if s.answer is not None and same_number(s.answer, gold)]
    open_values = [v for v in values if v not in reached]
    return [
        s
        for s in steps
        if s.error is None
        and s.action is not None
        and s.observation is not None
        and any(same_number(s.observation, v) for v in open_values)
    ]


def _pick(kept: list[Step]) -> Step:
    """The kept step whose result (or answer) the model drew most often; ties go to the first drawn."""
    keys = [s.answer if s.answer is not None else s.observation for s in kept]
    best = Counter(keys).most_common(1)[0][0]
    return kept[keys.index(best)]


def gold_step(sol: Solution, traj: Trajectory) -> Step | None:
    """The reference solution's first computation that ``traj`` has not reached, as a calculator step."""
    reached = _reached([c.result for c in sol.calcs], traj)
    calc = next((c for c in sol.calcs if c.result not in reached), None)
    return None if calc is None else tool_step(calc.thought, "calculator", {"expression": calc.expr})


def guided_trace(
    agent: ReActAgent,
    sol: Solution,
    k: int,
    temperature: float,
    seed: int,
    max_steps: int | None = None,
    fallback: bool = False,
) -> Guided:
    """Walk ``sol``'s question step by step, each step the model's own among ``k`` drawn candidates.

    ``fallback``: where no candidate is right, take the reference solution's next step instead of dropping the
    question (the model then learns the step it missed, in a context of its own earlier steps).
    """
    limit = max_steps or min(agent.config.max_steps, len(sol.calcs) + 2)
    traj = Trajectory(question=sol.question, model=getattr(agent.model, "name", ""), tools=list(agent.tools))
    out = Guided(trace=None)
    gold = Fraction(sol.gold)
    for i in range(limit):
        texts = agent.propose(traj, k, temperature, seed=seed + 1000 * i).texts
        out.calls += 1
        drawn = [agent.take(traj, t) for t in dict.fromkeys(texts)]
        kept = right_candidates(sol, traj, drawn)
        out.kept_per_step.append(len(kept))
        if not kept:
            if any(v == gold for v in _reached([gold], traj)):  # the answer is there; the model would not stop
                kept = [Step(thought=FINAL_THOUGHT, answer=sol.gold)]
            elif fallback and (reference := gold_step(sol, traj)) is not None:
                kept = [reference]
                out.gold_steps += 1
            else:
                out.why = f"step {i + 1}: none of {len(drawn)} distinct candidates right"
                return out
        step = _pick(kept)
        step.tokens, step.seconds = 0, 0.0
        traj.steps.append(step)
        if step.answer is not None:
            traj.answer = step.answer
            traj.stats = {"correct": True, "steps": len(traj.steps), "guided": True, "gold_steps": out.gold_steps}
            out.trace = traj
            return out
    out.why = f"no answer within {limit} steps"
    return out


def _done(path: Path) -> set[str]:
    return set(path.read_text(encoding="utf-8").splitlines()) if path.is_file() else set()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--questions", required=True, help="GSM8K JSONL (question, answer with <<...>> annotations)")
    p.add_argument("--start", type=int, default=0, help="first row to use")
    p.add_argument("--limit", type=int, default=200, help="rows to try")
    p.add_argument("--model", default=None, help="model spec (default: the shipped default model)")
    p.add_argument("--k", type=int, default=8, help="candidates drawn for each step")
    p.add_argument("--temperature", type=float, default=0.8)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--fallback",
        action="store_true",
        help="take the reference step where no candidate is right (no question dropped)",
    )
    p.add_argument("--out", required=True, help="kept traces (JSONL); OUT.done lists the questions tried")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    from tqdm.auto import tqdm

    from agent.model import load_model
    from tools.base import load_tools

    rows = load_gsm8k(args.questions)
    end = args.start + args.limit
    if len(rows) > DEV_ROWS and end > len(rows) - DEV_ROWS:  # the GSM8K train file: its last rows are our dev split
        log.warning("rows past %d are the dev split: they are left out", len(rows) - DEV_ROWS)
        end = len(rows) - DEV_ROWS
    rows = rows[args.start : end]
    out, done_path = Path(args.out), Path(args.out + ".done")
    out.parent.mkdir(parents=True, exist_ok=True)
    done = _done(done_path)
    model = load_model(args.model)
    agent = ReActAgent(model, load_tools(["calculator", "python"]))
    kept = tried = calls = gold_steps = 0
    t0 = time.perf_counter()
    bar = tqdm(rows, desc="guided", unit="q")
    for n, row in enumerate(bar):
        key = row["question"].replace("\n", " ")
        if key in done:
            continue
        sol = parse_solution(row)
        if sol is not None:
            seed = args.seed + 100_000 * (args.start + n)
            g = guided_trace(agent, sol, args.k, args.temperature, seed=seed, fallback=args.fallback)
            tried, calls, gold_steps = tried + 1, calls + g.calls, gold_steps + g.gold_steps
            if g.trace is not None:
                kept += 1
                record: dict[str, Any] = {**g.trace.to_dict(), "gold": sol.gold}
                with out.open("a", encoding="utf-8") as f:
                    f.write(json.dumps(record, ensure_ascii=False) + "\n")
        with done_path.open("a", encoding="utf-8") as f:
            f.write(key + "\n")
        bar.set_postfix(kept=kept, tried=tried, s_per_q=f"{(time.perf_counter() - t0) / max(tried, 1):.1f}")
    log.info(
        "kept %d of %d questions (%d model calls of %d candidates; %d reference steps)",
        kept,
        tried,
        calls,
        args.k,
        gold_steps,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
