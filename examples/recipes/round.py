"""Rebuild one training round from its config: the data (checked byte for byte), then training and export.

    python -m examples.recipes.round examples/recipes/rounds/varied-v1.json --data-only   # data, sha256 checked
    python -m examples.recipes.round examples/recipes/rounds/varied-v1.json               # + agent finetune, export
    python -m examples.recipes.round examples/recipes/rounds/varied-v1.json --resume      # go on after a stop

A round config (JSON) holds:

* ``steps``: the data steps in order, each ``{"module": "examples.recipes.mix", "args": [...]}`` (run as
  ``python -m MODULE ARGS``) or ``{"command": ["agent", "eval", ...]}``; seeds are in the args, and
  ``"env"`` sets variables for the step (``{"AGENT_THREADS": "1"}``: seeded model rollouts redraw exactly);
* ``data``: the files the steps write that training reads, each ``{"path": ..., "sha256": ...}``; a ``null``
  sha256 marks a file that cannot be rebuilt byte for byte (model rollouts, code since changed: see ``note``);
* ``train``: each training stage in order: a list of ``agent finetune`` arguments, or a step as above;
  ``export``: ``agent export``'s arguments (both empty when the data steps make the product, as the verifier's);
* ``note``: how the round was made and what in it cannot be rebuilt.

In every string ``{work}`` is the round's folder (``--work``, default ``runs/rounds/NAME``) and ``{runs}`` the
folder above it, where earlier rounds' outputs live. Training runs only when every recorded sha256 matches.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import logging
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

REQUIRED = ("name", "steps", "data", "train", "export", "note")


class RoundError(Exception):
    """A round config that is wrong, a step that failed, or data that did not rebuild byte for byte."""


@dataclass(frozen=True)
class Step:
    """One data step: ``python -m module *args`` or a command (``agent eval ...``)."""

    module: str | None = None
    command: tuple[str, ...] = ()
    args: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()  # set for this step (AGENT_THREADS=1: model rollouts redraw exactly)

    def argv(self, subst: dict[str, str]) -> list[str]:
        head = [sys.executable, "-m", self.module] if self.module else list(self.command)
        return [_fill(a, subst) for a in (*head, *self.args)]


@dataclass(frozen=True)
class Round:
    """A parsed round config (see the module docstring)."""

    name: str
    steps: tuple[Step, ...]
    data: tuple[tuple[str, str | None], ...]  # (path, sha256 or None)
    train: tuple[tuple[str, ...] | Step, ...]
    export: tuple[str, ...]
    note: str
    extra: dict[str, Any] = field(default_factory=dict)


def _fill(text: str, subst: dict[str, str]) -> str:
    for key, value in subst.items():
        text = text.replace("{" + key + "}", value)
    return text


def load_round(path: Path) -> Round:
    """Parse and check a round config.

    Raises:
        RoundError: missing keys, a step naming no module or command, a module that does not exist,
            a sha256 that is not 64 hex digits.
    """
    try:
        cfg = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise RoundError(f"{path}: cannot read the round config ({err})") from err
    missing = [k for k in REQUIRED if k not in cfg]
    if missing:
        raise RoundError(f"{path}: missing {missing}")
    steps = [_step(path, f"step {i}", raw) for i, raw in enumerate(cfg["steps"])]
    data = []
    for item in cfg["data"]:
        sha = item.get("sha256")
        if sha is not None and (len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha)):
            raise RoundError(f"{path}: {item.get('path')}: sha256 {sha!r} is not 64 hex digits")
        data.append((item["path"], sha))
    train = [
        _step(path, f"train stage {i}", s) if isinstance(s, dict) else tuple(map(str, s))
        for i, s in enumerate(cfg["train"])
    ]
    extra = {k: v for k, v in cfg.items() if k not in REQUIRED}
    return Round(
        cfg["name"],
        tuple(steps),
        tuple(data),
        tuple(train),
        tuple(map(str, cfg["export"])),
        cfg["note"],
        extra,
    )


def _step(path: Path, where: str, raw: dict[str, Any]) -> Step:
    if bool(raw.get("module")) == bool(raw.get("command")):
        raise RoundError(f"{path}: {where} needs a module or a command (one of them)")
    if raw.get("module") and importlib.util.find_spec(raw["module"]) is None:
        raise RoundError(f"{path}: {where}: no module {raw['module']!r}")
    env = raw.get("env", {})
    if not isinstance(env, dict):
        raise RoundError(f"{path}: {where}: env must be an object of variable names to values")
    return Step(raw.get("module"), tuple(raw.get("command", ())), tuple(map(str, raw.get("args", ()))),
                tuple((str(k), str(v)) for k, v in sorted(env.items())))


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _run(argv: list[str], env: tuple[tuple[str, str], ...] = ()) -> None:
    log.info("$ %s%s", "".join(f"{k}={v} " for k, v in env), " ".join(argv))
    if shutil.which(argv[0]) is None and not Path(argv[0]).exists():
        raise RoundError(f"{argv[0]}: not found (install the project: pip install -e '.[train]')")
    done = subprocess.run(argv, check=False, env={**os.environ, **dict(env)} if env else None)
    if done.returncode:
        raise RoundError(f"step failed (exit {done.returncode}): {' '.join(argv)}")


def build_data(rnd: Round, work: Path, resume: bool = False) -> dict[str, str]:
    """Run the data steps and check each data file's sha256; returns path -> sha256. With ``resume``, data
    already built with every recorded sha256 is kept as it is.

    Raises:
        RoundError: a failed step, a missing file, or a sha256 other than the recorded one.
    """
    subst = {"work": str(work), "runs": str(work.parent)}
    work.mkdir(parents=True, exist_ok=True)
    built = resume and bool(rnd.data) and all(
        sha is not None and Path(_fill(raw, subst)).is_file() and sha256_of(Path(_fill(raw, subst))) == sha
        for raw, sha in rnd.data
    )
    if built:
        log.info("the data is built and matches every recorded sha256: its steps are not run again")
    for step in () if built else rnd.steps:
        _run(step.argv(subst), step.env)
    got: dict[str, str] = {}
    for raw, want in rnd.data:
        path = Path(_fill(raw, subst))
        if not path.is_file() and want is None:
            log.warning("%s: not rebuilt by the steps (it cannot be: see the config's note)", path)
            continue
        if not path.is_file():
            raise RoundError(f"{path}: not written by the round's steps")
        got[str(path)] = sha = sha256_of(path)
        if want is None:
            log.warning(
                "%s: sha256 %s; the config records none (it cannot be rebuilt byte for byte: see its note)", path, sha
            )
        elif sha != want:
            raise RoundError(f"{path}: sha256 {sha}, the config records {want}: the data did not rebuild byte for byte")
        else:
            log.info("%s: sha256 %s, as recorded", path, sha)
    return got


def finetune_argv(stage: tuple[str, ...], subst: dict[str, str], resume: bool) -> list[str]:
    """``agent finetune`` for one stage; with ``resume``, ``--resume`` when its run has checkpoints (a run that
    wrote its adapter may still have steps left: ``--max-seconds`` saves one too; a finished one resumes at its
    last step and only saves again)."""
    args = [_fill(a, subst) for a in stage]
    out = Path(args[args.index("--out") + 1]) if "--out" in args else None
    if resume and out is not None and any((out / "checkpoints").glob("step-*")):
        args.append("--resume")
    return ["agent", "finetune", *args]


def train_and_export(rnd: Round, work: Path, unchecked: bool = False, resume: bool = False) -> None:
    """``agent finetune`` for each stage (or its step), then ``agent export``; ``resume`` goes on from where an
    interrupted run stopped (see :func:`finetune_argv`).

    Raises:
        RoundError: data without a recorded sha256 (unless ``unchecked``), or a failed stage.
    """
    if not unchecked and (not rnd.data or any(sha is None for _, sha in rnd.data)):
        raise RoundError(
            f"round {rnd.name}: some of its data has no recorded sha256, so training would not remake what "
            "shipped (--unchecked trains anyway; see the config's note)"
        )
    subst = {"work": str(work), "runs": str(work.parent)}
    for stage in rnd.train:
        if isinstance(stage, Step):
            _run(stage.argv(subst), stage.env)
        else:
            _run(finetune_argv(stage, subst, resume))
    if rnd.export:
        _run(["agent", "export", *(_fill(a, subst) for a in rnd.export)])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m examples.recipes.round", description=__doc__.split("\n")[0])
    ap.add_argument("config", type=Path, help="a round config (examples/recipes/rounds/NAME.json)")
    ap.add_argument("--data-only", action="store_true", help="rebuild and check the data; no training")
    ap.add_argument("--unchecked", action="store_true", help="train even where no sha256 is recorded")
    ap.add_argument("--work", type=Path, default=None, help="the round's folder (default runs/rounds/NAME)")
    ap.add_argument("--resume", action="store_true",
                    help="go on after an interruption: keep data that matches its sha256, resume training from "
                         "the newest checkpoint of each stage")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        rnd = load_round(args.config)
        work = args.work or Path("runs/rounds") / rnd.name
        shas = build_data(rnd, work, args.resume)
        print(json.dumps({"round": rnd.name, "sha256": shas}))
        if not args.data_only:
            train_and_export(rnd, work, args.unchecked, args.resume)
    except RoundError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
