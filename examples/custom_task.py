"""Write your own search task: reach a target number from 1 with the moves "+1" and "*2".

A task is any object with the methods of :class:`search.Task`; no base class to inherit.
Run it offline with a scripted model, or with the embedded model::

    python examples/custom_task.py 10            # scripted model: instant
    python examples/custom_task.py 10 --embedded # SmolLM2-135M proposes and judges

The task says who proposes (``proposer = "model"``: the model samples every move). With
``--verifier`` a program judges states instead of the model: the run is then reported with
``stats["judge"] == "program"``, not model-only (``stats["model_only"]`` is false).
"""

import argparse
import re
from dataclasses import dataclass

from agent.core.backends.fake import ScriptedModel
from search import Query, State, solve
from search.tree import save

PROPOSE = """Reach the target from 1. Each move is "+1" or "*2".
Target: 6
Now: 3
Move: *2
Target: $target
Now: $now
Move:"""

VALUE = """Can the target be reached from now with a few "+1" and "*2" moves? (sure/likely/impossible)
Target: 6, now: 3: sure
Target: 6, now: 9: impossible
Target: 20, now: 4: likely
Target: $target, now: $now:"""


@dataclass
class Doubling:
    name: str = "doubling"
    max_depth: int = 8
    n_generate: int = 4  # one move per sample, four samples per expansion
    proposer = "model"  # who writes the moves (reported in stats["proposer"]); "rules" if a program listed them

    def initial_state(self, question: str) -> State:
        return State(question.strip())

    def now(self, state: State) -> int:
        return int(state.steps[-1].split("= ")[1]) if state.steps else 1

    def propose(self, model, state, n, *, temperature, seed):
        prompt = PROPOSE.replace("$target", state.question).replace("$now", str(self.now(state)))
        out = model.complete(
            prompt,
            stop=["\n"],
            grammar='root ::= " " ("+1" | "*2")',
            n=n,
            max_tokens=4,
            temperature=temperature,
            seed=seed,
        )
        moves = {m.group(0) for t in out.texts if (m := re.search(r"\+1|\*2", t))}
        now = self.now(state)
        return sorted(f"{now} {m} = {now + 1 if m == '+1' else now * 2}" for m in moves)

    def apply(self, state, step):
        return state.then(step)

    def is_terminal(self, state):
        return self.now(state) >= int(state.question)

    def answer(self, state):
        return "1 " + " ".join(s.split()[1] for s in state.steps) if self.is_terminal(state) else None

    def value_prompt(self, state):
        prompt = VALUE.replace("$target", state.question).replace("$now", str(self.now(state)))
        return Query(prompt, grammar='root ::= " " ("sure" | "likely" | "impossible")', max_tokens=4)

    def vote_prompt(self, states):
        choices = "\n".join(f"Choice {i}: now {self.now(s)}" for i, s in enumerate(states, 1))
        return Query(f"Target {states[0].question}. Which is closest?\n{choices}\nThe best choice is", max_tokens=4)

    def validate(self, question, answer):  # for the report only
        return answer is not None and eval_chain(answer) == int(question)


def eval_chain(answer: str) -> int:
    value = 1
    for move in re.findall(r"[+*][12]", answer):
        value = value + 1 if move == "+1" else value * 2
    return value


def closeness(question: str, state: State) -> float:
    """A verifier: 1 on target, less the further off (overshooting is hopeless)."""
    now, target = Doubling().now(state), int(question)
    return 0.0 if now > target else 1.0 / (1 + target - now)


def scripted(prompt: str) -> str:
    """A stand-in model: proposes both moves, says 'sure' unless the target was passed."""
    if prompt.endswith("Move:"):
        scripted.turn = getattr(scripted, "turn", 0) + 1
        return " *2" if scripted.turn % 2 else " +1"
    target, now = map(int, re.findall(r"Target: (\d+), now: (\d+):$", prompt)[0])
    return " impossible" if now > target else " sure" if now * 2 >= target // 2 else " likely"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("target", nargs="?", default="10")
    parser.add_argument("--embedded", action="store_true", help="use the embedded model instead of a scripted one")
    parser.add_argument("--verifier", action="store_true", help="judge states with a program, not the model")
    args = parser.parse_args()
    if args.embedded:
        from agent.core.load import load_model

        model = load_model(None, n_threads=1)
    else:
        model = ScriptedModel(scripted)
    result = solve(
        args.target,
        task=Doubling(),
        model=model,
        algorithm="bfs",
        beam=3,
        n_evaluate=1,
        evaluator=closeness if args.verifier else "value",
    )
    print("answer:", result.answer, "| correct:", result.stats["valid"])
    print("path:", result.best_path)
    print({k: result.stats[k] for k in ("nodes", "model_calls", "proposer", "judge", "evaluator", "model_only")})
    print("tree:", save(result.tree, "custom_task_tree.html"))


if __name__ == "__main__":
    main()
