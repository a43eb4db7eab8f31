"""Self-consistency: run N sampled trajectories and majority-vote their answers.

The N first steps share one prompt, so they are drawn as one batch of N parallel
sequences (one ``complete(n=N)`` call); each trajectory then goes on by itself, its prompt
prefix still cached by the backend.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from fractions import Fraction

from agent.core.react import ReActAgent
from agent.core.steps import Trajectory
from agent.strategies.config import SAMPLED_TEMPERATURE


def normalize_answer(answer: str | None) -> str | None:
    """A canonical form for voting: the last number (exact), else the lower-cased words."""
    if answer is None:
        return None
    text = answer.replace(",", "").replace("$", "").strip()
    nums = re.findall(r"-?\d+(?:\.\d+)?(?:/\d+)?", text)
    if nums:
        value = Fraction(nums[-1])
        return str(value.numerator) if value.denominator == 1 else str(float(value))
    words = re.sub(r"[^\w\s-]", "", text.lower()).split()
    return " ".join(words) or None


def majority_vote(answers: list[str | None]) -> tuple[str | None, dict[str, int]]:
    """The most common answer (ties go to the earliest) and the vote counts."""
    keys = [normalize_answer(a) for a in answers]
    counts = Counter(k for k in keys if k is not None)
    if not counts:
        return None, {}
    best = max(counts, key=lambda k: (counts[k], -keys.index(k)))
    original = next(a for a, k in zip(answers, keys) if k == best)
    return original, dict(counts)


@dataclass
class Vote:
    """The result of a self-consistency run."""

    answer: str | None
    trajectories: list[Trajectory]
    votes: dict[str, int] = field(default_factory=dict)

    @property
    def best(self) -> Trajectory:
        """The first trajectory that voted for the winning answer (else the first)."""
        key = normalize_answer(self.answer)
        return next((t for t in self.trajectories if normalize_answer(t.answer) == key), self.trajectories[0])


def self_consistency(agent: ReActAgent, question: str, samples: int, earlier: Sequence[Trajectory] = ()) -> Vote:
    """Run ``samples`` trajectories at the agent's temperature and vote.

    ``earlier`` are trajectories of a smaller run of the same question and settings: they stand in
    for its first samples and only the rest are drawn, with the seeds a whole run gives them
    (sample ``i``'s first step draws with ``seed + i``, its later steps with ``seed + 1000 * (i + 1)``),
    so a run grown from 16 to 32 samples draws what a run of 32 draws (on llama.cpp, up to float rounding where
    the backend's cache reuse differs: a check on one GSM8K item matched 31 of 32 samples).
    """
    if samples < 1:
        raise ValueError(f"samples must be at least 1, got {samples}")
    cfg = agent.config
    if cfg.temperature == 0 and samples > 1:
        cfg = replace(cfg, temperature=SAMPLED_TEMPERATURE)
    trajs = list(earlier[:samples])
    start, new = len(trajs), samples - len(trajs)
    if new == 0:
        answer, votes = majority_vote([t.answer for t in trajs])
        return Vote(answer, trajs, votes)
    seed = None if cfg.seed is None else cfg.seed + start
    first = agent.propose(Trajectory(question=question), new, cfg.temperature, seed)  # cfg differs only in temperature
    for i, text in enumerate(first.texts, start):
        runner = ReActAgent(
            agent.model,
            list(agent.tools.values()),
            replace(cfg, seed=None if cfg.seed is None else cfg.seed + 1000 * (i + 1)),
            on_step=agent.on_step,
        )
        traj = runner.run(question, first=text)
        traj.steps[0].tokens = first.completion_tokens // new
        traj.stats["tokens"] = sum(s.tokens for s in traj.steps)
        trajs.append(traj)
    answer, votes = majority_vote([t.answer for t in trajs])
    return Vote(answer, trajs, votes)
