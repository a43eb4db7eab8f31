"""Loading a GGUF in a child process first, so what would abort llama.cpp in ours raises instead."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

from agent.core.backends import llama_machine
from agent.core.backends.llama_machine import ExtraBufts
from agent.core.model import ModelError

logger = logging.getLogger(__name__)

_PROBED: set[tuple] = set()  # (path, size, mtime) of files whose probe ran cleanly in this process
PROBE = (
    "import sys; from agent.core.backends.llama_cpp import LlamaCppModel as M; "
    "M(sys.argv[1], adapter=sys.argv[2] or None, n_ctx=64, n_threads=1, n_seq_max=1, probe=False, "
    "prompt_cache=False, extra_bufts=sys.argv[3] == '1').complete('Hello there, world.', max_tokens=1)"
)


def probe_gguf(model: Path, adapter: Path | None, timeout: float = 300) -> None:
    """Load ``model`` (and ``adapter``) and decode a short prompt in a child process first.

    llama.cpp aborts the whole process on some corrupt files (a ``GGML_ASSERT`` on a bad
    hyperparameter such as ``block_count = 0``) instead of returning an error; the probe
    turns such a crash into a :class:`ModelError`. Files are probed once per process, and once
    per machine when the probe runs clean (the verdict is remembered, see
    :mod:`agent.core.backends.llama_machine`). A clean failure in the child is left to the in-process
    load to report. A crash that goes away without the extra buffer types is this machine's,
    not the file's: they are turned off for the process (:class:`ExtraBufts`).

    Raises:
        ModelError: the child crashed or hung.
    """
    files = [p for p in (model, adapter) if p]
    key = tuple((str(p.resolve()), p.stat().st_size, p.stat().st_mtime_ns) for p in files)
    if key in _PROBED:
        return
    if llama_machine.known_clean(files, ExtraBufts.enabled()):
        _PROBED.add(key)
        return
    done = _probe_child(model, adapter, ExtraBufts.enabled(), timeout)
    if done.returncode < 0 and ExtraBufts.enabled():
        retry = _probe_child(model, adapter, False, timeout)
        if retry.returncode >= 0:
            logger.warning(
                "llama.cpp crashed with its extra CPU buffer types (AMX/repacking) on this machine; "
                "running without them, and remembering that for this machine in %s",
                llama_machine.verdict_file(),
            )
            ExtraBufts.mark_broken()
            done = retry
    if done.returncode < 0:
        lines = [line for line in done.stderr.splitlines() if "GGML_ASSERT" in line or "error" in line.lower()]
        reason = lines[-1].strip() if lines else f"killed by signal {-done.returncode}"
        reason = reason[reason.find("GGML_ASSERT") :] if "GGML_ASSERT" in reason else reason
        raise ModelError(
            f"{' with '.join(map(str, files))}: llama.cpp crashes on this GGUF ({reason}); "
            "the file is corrupt or was exported wrongly: export it again"
        )
    if done.returncode == 0:
        _PROBED.add(key)
        llama_machine.remember_clean(files, ExtraBufts.enabled())


def _probe_child(model: Path, adapter: Path | None, extra_bufts: bool, timeout: float):
    root = str(Path(__file__).resolve().parents[3])
    env = {
        **os.environ,
        "GGML_NO_BACKTRACE": "1",
        "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")])),
    }
    command = [sys.executable, "-c", PROBE, str(model), str(adapter or ""), "1" if extra_bufts else "0"]
    try:
        return subprocess.run(command, check=False, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired as err:
        raise ModelError(f"{model}: llama.cpp hung for {timeout:.0f} s loading this GGUF; export it again") from err
