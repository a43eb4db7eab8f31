"""The run record: what every strategy returns, ``agent solve --json`` prints, ``--trace`` appends,
``agent eval`` writes (plus its score) and ``agent finetune`` and the verifier fit read.

One JSON object, schema version :data:`RECORD_VERSION`::

    {"version": 1,
     "question": "...",                 # what the agent was asked, as the model read it
     "answer": "42" | null,
     "strategy": "react",               # direct | cot | react | sc | tot
     "variant": "sc(samples=8)",        # the strategy with its non-default options
     "model": "...", "tools": ["calculator", "python"], "seed": 0,
     "steps": [Step, ...],              # the trajectory that gave the answer (sc: the chosen sample;
                                        #   direct, cot: one step, the completion as its thought; tot: [])
     "tokens": 0, "prompt_tokens": 0, "seconds": 0.0,
     "stats": {...},                    # counters (tot: the search's, e.g. "nodes")
     "samples": [{"answer", "steps", "score"?}],   # sc only: every sampled trajectory
     "votes": {...}, "weighted": {...},            # sc only: answer -> count / summed verifier score
     "tree": {"best_path": [...], "nodes": [...], "edges": [...]},   # tot only: node-link JSON
     # written by agent eval:
     "task": "gsm8k", "index": 3, "gold": "18", "correct": true, "prompt": "...",
     "faithfulness": {"checked": 2, "correct": 2} | null}

Files written before the version field keep reading: :func:`read_record` takes a ``--trace``
trajectory line (``question``/``steps``/``answer``/``stats``), an old eval line (``trace`` holding
the steps, or for sc ``{"best", "samples", "votes"}``) and an old ToT record (``best_path``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from agent.core.steps import Step, Trajectory

RECORD_VERSION = 1


@dataclass
class Sample:
    """One sampled trajectory of a self-consistency run."""

    answer: str | None
    steps: list[Step]
    score: float | None = None  # the verifier's, when one weighted the votes

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"answer": self.answer, "steps": [s.to_dict() for s in self.steps]}
        if self.score is not None:
            d["score"] = round(self.score, 4)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Sample:
        return cls(d.get("answer"), [Step.from_dict(s) for s in d.get("steps") or []], d.get("score"))

    def trajectory(self, question: str) -> Trajectory:
        return Trajectory(question, self.steps, self.answer, stats={"tokens": sum(s.tokens for s in self.steps)})


@dataclass
class RunRecord:
    """One run of one strategy on one question (see the module docstring for the JSON form)."""

    question: str
    answer: str | None
    strategy: str
    variant: str = ""
    model: str = ""
    tools: list[str] = field(default_factory=list)
    seed: int = 0
    steps: list[Step] = field(default_factory=list)
    tokens: int = 0
    prompt_tokens: int = 0
    seconds: float = 0.0
    stats: dict[str, Any] = field(default_factory=dict)
    samples: list[Sample] | None = None
    votes: dict[str, int] | None = None
    weighted: dict[str, float] | None = None
    tree: dict[str, Any] | None = None
    chain: str | None = field(default=None, repr=False)  # the reasoning text checked for faithfulness (not written)

    @property
    def n_steps(self) -> int:
        """ReAct steps over all samples, the search path's length, or 1 for one completion."""
        if self.samples is not None:
            return sum(len(s.steps) for s in self.samples)
        if self.tree is not None:
            return len(self.tree.get("best_path") or [])
        return len(self.steps)

    def trajectory(self) -> Trajectory:
        """The answer's trajectory, as the ReAct loop records it."""
        return Trajectory(self.question, list(self.steps), self.answer, self.model, list(self.tools),
                          {"tokens": self.tokens, **self.stats})

    def sample_trajectories(self) -> list[Trajectory]:
        return [s.trajectory(self.question) for s in self.samples or []]

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "version": RECORD_VERSION,
            "question": self.question,
            "answer": self.answer,
            "strategy": self.strategy,
            "variant": self.variant or self.strategy,
            "model": self.model,
            "tools": list(self.tools),
            "seed": self.seed,
            "steps": [s.to_dict() for s in self.steps],
            "n_steps": self.n_steps,
            "tokens": self.tokens,
            "prompt_tokens": self.prompt_tokens,
            "seconds": round(self.seconds, 3),
            "stats": self.stats,
        }
        if self.samples is not None:
            d["samples"] = [s.to_dict() for s in self.samples]
        for name in ("votes", "weighted", "tree"):
            if getattr(self, name) is not None:
                d[name] = getattr(self, name)
        return d


def read_record(d: dict[str, Any]) -> RunRecord:
    """A run record from its JSON form, including the formats written before the version field.

    Raises:
        ValueError: a version newer than this code reads, or no question.
    """
    version = d.get("version", 0)
    if not isinstance(version, int) or version > RECORD_VERSION:
        raise ValueError(f"run record version {version!r}: this cot-agent reads versions up to {RECORD_VERSION}; "
                         "upgrade it")
    question = d.get("prompt") or d.get("question")
    if not isinstance(question, str):
        raise ValueError("a run record needs its question")  # noqa: TRY004 (a bad file, reported as such)
    common = {
        "question": question,
        "answer": d.get("answer"),
        "strategy": str(d.get("strategy") or ("tot" if "best_path" in d else "react")),
        "variant": str(d.get("variant") or d.get("strategy") or ""),
        "model": str(d.get("model") or ""),
        "tools": list(d.get("tools") or []),
        "seed": int(d.get("seed") or 0),
        "tokens": int(d.get("tokens") or (d.get("stats") or {}).get("tokens") or 0),
        "prompt_tokens": int(d.get("prompt_tokens") or 0),
        "seconds": float(d.get("seconds") or 0.0),
    }
    if version >= 1:
        samples = d.get("samples")
        return RunRecord(
            **common,
            steps=[Step.from_dict(s) for s in d.get("steps") or []],
            stats=dict(d.get("stats") or {}),
            samples=None if samples is None else [Sample.from_dict(s) for s in samples],
            votes=d.get("votes"),
            weighted=d.get("weighted"),
            tree=d.get("tree"),
        )
    # before version 1: an eval line keeps the run in "trace", a ToT record its path in "best_path"
    trace = d.get("trace")
    if isinstance(trace, dict) and "samples" in trace:  # sc
        return RunRecord(**common, steps=[Step.from_dict(s) for s in trace.get("best") or []],
                         samples=[Sample.from_dict(s) for s in trace["samples"]], votes=trace.get("votes"),
                         weighted=trace.get("weighted"))
    if isinstance(trace, dict) and "best_path" in trace:  # tot, in an eval file
        return RunRecord(**common, stats=dict(trace.get("stats") or {}),
                         tree={"best_path": list(trace["best_path"])})
    if "best_path" in d:  # tot, from agent solve --trace
        return RunRecord(**common, stats=dict(d.get("stats") or {}), tree={"best_path": list(d["best_path"])})
    if isinstance(trace, list):  # react, in an eval file
        return RunRecord(**common, steps=[Step.from_dict(s) for s in trace])
    if isinstance(trace, str):  # direct or cot, in an eval file
        return RunRecord(**common, steps=[Step(thought=trace, answer=d.get("answer"))])
    return RunRecord(**common, steps=[Step.from_dict(s) for s in d.get("steps") or []],
                     stats=dict(d.get("stats") or {}))




def sample_trajectories(record: dict[str, Any]) -> list[Trajectory]:
    """The sampled trajectories of an sc record, any version (``[]`` for any other record)."""
    try:
        return read_record(record).sample_trajectories()
    except ValueError:
        return []


__all__ = ["RECORD_VERSION", "RunRecord", "Sample", "read_record", "sample_trajectories"]
