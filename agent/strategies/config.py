"""One configuration for every strategy, validated once: :class:`StrategyConfig`.

Each field's ``metadata`` carries its command-line form (help text, choices, range, and which
commands take it); :mod:`agent.app.options` turns the fields into the options of both ``agent solve``
and ``agent eval``, so no option is declared twice. :meth:`StrategyConfig.resolved` applies the
defaults that depend on other options and refuses an unknown or conflicting combination in one
place, before any model loads.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any, Literal, get_args

StrategyName = Literal["direct", "cot", "react", "sc", "bon", "beam", "tot"]
STRATEGIES: tuple[str, ...] = get_args(StrategyName)
AGENTIC = ("react", "sc", "bon", "beam")  # strategies that run the ReAct loop with tools
STEP_SEARCH = ("bon", "beam")  # strategies that rank ReAct steps with a process reward model
SEARCH_TASKS = ("game24", "gsm8k", "generic")
SC_SAMPLES = 5  # sc: trajectories per question when --samples is not given
BON_SAMPLES = 8  # bon: trajectories per question when --samples is not given
BEAM_WIDTH, BEAM_EXPAND = 4, 4  # beam: states kept a depth, steps drawn per state
SAMPLED_TEMPERATURE = 0.7  # sc: the temperature when --temperature is not given


class ConfigError(ValueError):
    """Options that cannot go together (the message names them and says what to give instead)."""


def option(help: str, *, choices: tuple[str, ...] | None = None, range: tuple[float | None, float | None] | None = None,
           commands: tuple[str, ...] = ("solve", "eval"), flag: str | None = None, metavar: str | None = None) -> dict:
    """A field's command-line form (read by :mod:`agent.app.options`)."""
    return {"help": help, "choices": choices, "range": range, "commands": commands, "flag": flag, "metavar": metavar}


@dataclass(frozen=True)
class StrategyConfig:
    """How to answer: the model, the tools, the strategy and its settings."""

    strategy: str | None = field(default=None, metadata=option(
        "direct: the answer only; cot: prose chain of thought; react: Thought/Action/Observation with tools; "
        "sc: self-consistency over sampled react runs; bon: best of N sampled react runs by a process reward "
        "model; beam: step-level beam search over react steps, judged by the PRM; tot: Tree-of-Thoughts "
        "search. Default: react "
        "(sc when --samples > 1; agent eval: the task's, tot for game24).", choices=STRATEGIES))
    model: str | None = field(default=None, metadata=option(
        "GGUF file (base.gguf+adapter.gguf for a LoRA), HF dir, OpenAI-compatible URL or fake:FILE.json. "
        "Default: the embedded fine-tuned SmolLM2.", flag="--model", metavar="SPEC"))
    tools: str | None = field(default=None, metadata=option(
        "react, sc: comma list of tools or module:attr toolsets. Default: calculator,python.", metavar="LIST"))
    max_steps: int = field(default=8, metadata=option("react, sc, bon, beam: the most ReAct steps.", range=(1, 100)))
    grammar: bool = field(default=True, metadata=option(
        "react, sc, bon, beam: constrain each step with the ReAct grammar where the backend takes one. "
        "--no-grammar for a server whose grammar sampling is slow (llama_cpp.server: about 20x) or absent.",
        flag="--grammar/--no-grammar"))
    samples: int | None = field(default=None, metadata=option(
        f"sc: trajectories per question, majority-voted (default {SC_SAMPLES}; with react, N > 1 means sc). "
        "agent eval: a bigger run into the same --out reuses a smaller one's samples. "
        f"bon: trajectories ranked by the PRM (default {BON_SAMPLES}).", range=(1, 64)))
    verifier: str | None = field(default=None, metadata=option(
        "sc: a learned verifier ('default': the shipped one, or a model spec) scores each sampled trajectory, "
        "and each answer gets the sum of its trajectories' scores instead of a count.", metavar="SPEC"))
    temperature: float | None = field(default=None, metadata=option(
        f"Sampling temperature. Default: 0 (greedy), {SAMPLED_TEMPERATURE} for sc, bon and beam, the search's own "
        "for tot.",
        range=(0, 5)))
    seed: int = field(default=0, metadata=option("Seed (agent eval: item i gets seed + i)."))
    max_tokens: int = field(default=384, metadata=option("direct, cot: the longest completion.", range=(1, 4096)))
    task: str = field(default="generic", metadata=option(
        "tot: the search task (agent eval takes it from its task).", choices=SEARCH_TASKS, commands=("solve",)))
    algorithm: str | None = field(default=None, metadata=option(
        "tot: the search algorithm (default bfs).", choices=("bfs", "dfs", "mcts")))
    beam: int | None = field(default=None, metadata=option(
        f"tot: states kept per level. Default: the task's (10 for game24, else 5). beam: beams kept a depth "
        f"(default {BEAM_WIDTH}).", range=(1, 64)))
    expand: int | None = field(default=None, metadata=option(
        f"beam: next steps drawn per beam, in one batch (default {BEAM_EXPAND}).", range=(1, 64)))
    prm: str | None = field(default=None, metadata=option(
        "bon, beam: the process reward model that scores each step: 'default' (the shipped PRM adapter, or "
        "the feature verifier where none ships; the record's stats.prm names which), 'features', a .json "
        "feature verifier or a model spec.", metavar="SPEC"))
    aggregate: str | None = field(default=None, metadata=option(
        "bon, beam: a trajectory's score from its steps' (default min).", choices=("min", "last", "product")))
    budget: int | None = field(default=None, metadata=option(
        "beam: the most tokens generated per question (default: no limit but --max-steps).", range=(1, 10**7)))
    n_generate: int | None = field(default=None, metadata=option(
        "tot: proposal samples per expansion. Default: the task's (8 for game24 --proposer model).", range=(1, 256)))
    evaluator: str | None = field(default=None, metadata=option(
        "tot: the state evaluator. Default: the task's (logprob for game24, value otherwise).",
        choices=("value", "vote", "logprob")))
    proposer: str | None = field(default=None, metadata=option(
        "tot on game24: moves sampled from the model, or every legal move from the rules (the model still "
        "judges). Default: the task's (rules).", choices=("model", "rules")))

    def __post_init__(self) -> None:
        for f in fields(self):
            value, meta = getattr(self, f.name), f.metadata
            if value is None:
                continue
            if meta.get("choices") and value not in meta["choices"]:
                raise ConfigError(f"{f.name} must be one of {', '.join(meta['choices'])}, got {value!r}")
            low, high = meta.get("range") or (None, None)
            if (low is not None and value < low) or (high is not None and value > high):
                raise ConfigError(f"{f.name} must be in [{low}, {high}], got {value}")

    def filled(self, default_strategy: str = "react") -> StrategyConfig:
        """The configuration with the defaults that depend on other options filled in (nothing checked)."""
        strategy = self.strategy or ("sc" if (self.samples or 1) > 1 else default_strategy)
        if strategy == "react" and (self.samples or 1) > 1:
            strategy = "sc"
        cfg = replace(self, strategy=strategy)
        if strategy == "sc":
            cfg = replace(cfg, samples=self.samples or SC_SAMPLES)
        if strategy in STEP_SEARCH:
            cfg = replace(cfg, prm=self.prm or "default", aggregate=self.aggregate or "min")
        if strategy == "bon":
            cfg = replace(cfg, samples=self.samples or BON_SAMPLES)
        if strategy == "beam":
            cfg = replace(cfg, beam=self.beam or BEAM_WIDTH, expand=self.expand or BEAM_EXPAND)
        if strategy == "tot":
            cfg = replace(cfg, algorithm=self.algorithm or "bfs")
        return cfg

    def resolved(self, default_strategy: str = "react") -> StrategyConfig:
        """:meth:`filled`, then checked as a whole: the one place options are refused.

        Raises:
            ConfigError: options that cannot go together, e.g. ``--verifier`` without samples to vote,
                ``--proposer`` outside a Game of 24 search, search options for a strategy that does not search.
        """
        cfg = self.filled(default_strategy)
        strategy = cfg.strategy
        if strategy == "sc" and self.verifier is not None and (cfg.samples or 0) < 2:
            raise ConfigError("--verifier weights the votes of sampled trajectories: give --samples 2 or more")
        if strategy not in ("sc", "bon") and self.samples not in (None, 1):
            raise ConfigError(f"--samples is for sc (self-consistency over react) and bon, not --strategy {strategy}")
        given = [f"--{n}" for n in ("prm", "aggregate") if getattr(self, n) is not None]
        if given and strategy not in STEP_SEARCH:
            raise ConfigError(f"{', '.join(given)} {'is' if len(given) == 1 else 'are'} for --strategy bon or "
                              f"beam, not {strategy}")
        given = [f"--{n}" for n in ("expand", "budget") if getattr(self, n) is not None]
        if given and strategy != "beam":
            raise ConfigError(f"{', '.join(given)} {'is' if len(given) == 1 else 'are'} for --strategy beam, "
                              f"not {strategy}")
        if self.verifier is not None and strategy != "sc":
            raise ConfigError("--verifier is for sc: give --samples 2 or more (it weights the votes of sampled "
                              "trajectories)")
        if strategy == "tot":
            if self.proposer is not None and self.task != "game24":
                raise ConfigError("--proposer is for --strategy tot on game24 (agent solve: --task game24), the "
                                  "only task with move rules")
        else:
            searched = ("algorithm", "n_generate", "evaluator", "proposer") if strategy == "beam" else (
                "algorithm", "beam", "n_generate", "evaluator", "proposer")
            given = [f"--{n.replace('_', '-')}" for n in searched if getattr(self, n) is not None]
            if given:
                raise ConfigError(f"{', '.join(given)} {'is' if len(given) == 1 else 'are'} for --strategy tot, "
                                  f"not {strategy}")
        return cfg

    @property
    def temperature_or_default(self) -> float:
        """The temperature a react or sc run samples at."""
        if self.temperature is not None:
            return self.temperature
        return SAMPLED_TEMPERATURE if self.strategy in ("sc", *STEP_SEARCH) else 0.0

    @property
    def variant(self) -> str:
        """The resolved strategy with its non-default options, e.g. ``tot(logprob, n_generate=16)``: how
        results are grouped and how a rerun finds what it already did."""
        cfg = self.filled()
        defaults = StrategyConfig(cfg.strategy).filled()
        names = {
            "react": ("max_steps", "grammar", "temperature"),
            "sc": ("samples", "verifier", "max_steps", "grammar", "temperature"),
            "bon": ("samples", "prm", "aggregate", "max_steps", "grammar", "temperature"),
            "beam": ("beam", "expand", "prm", "aggregate", "budget", "max_steps", "grammar", "temperature"),
            "tot": ("algorithm", "evaluator", "proposer", "beam", "n_generate", "temperature"),
        }.get(cfg.strategy or "", ("max_tokens", "temperature"))
        parts = []
        for name in names:
            value = getattr(cfg, name)
            if value != getattr(defaults, name):
                if name in ("algorithm", "evaluator"):  # tot(logprob) reads as it always did
                    parts.append(str(value))
                else:
                    parts.append(f"{name}={value}" if isinstance(value, (str, bool)) else f"{name}={value:g}")
        return f"{cfg.strategy}({', '.join(parts)})" if parts else str(cfg.strategy)

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


__all__ = ["AGENTIC", "STEP_SEARCH", "STRATEGIES", "ConfigError", "StrategyConfig", "StrategyName", "option"]
