"""The ``python`` tool: run model-written code in a separate, limited process.

The parent (this module) makes a working directory and (as root) pids/memory cgroups, starts
``python -I`` on :func:`tools.sandbox.child_main`, feeds it the code on stdin, collects what it
prints, and kills every process of the run when it ends or runs out of wall-clock time. The child
side, the Linux isolation layers, lives in :mod:`tools.sandbox`.
``SandboxResult.isolation`` names the layers that were active; docs/SECURITY.md has the threat model.

Example:
    >>> run_sandboxed("print(2**10)").stdout
    '1024\\n'
"""

from __future__ import annotations

import codecs
import contextlib
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path

from tools.base import Tool, tool
from tools.sandbox import BOOT, ROOT, SETUP_FAILED, SandboxConfig

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SandboxResult:
    """What a run printed and how it ended."""

    stdout: str
    stderr: str
    returncode: int  # negative: killed by that signal (e.g. -SIGXCPU for the CPU limit)
    timed_out: bool  # the wall-clock limit was hit
    truncated: bool  # some output was dropped (see max_output_chars)
    seconds: float
    isolation: tuple[str, ...] = ()  # the layers that were active, e.g. ("netns", "readonly-fs", ...)
    output_chars: int = 0  # total characters printed, kept or not


class SandboxError(RuntimeError):
    """The sandbox itself failed to start (a system failure, not a mistake in the code)."""


class _Capture(threading.Thread):
    """Drain a pipe, keeping the first ``limit`` characters and counting the rest."""

    def __init__(self, fd: int, limit: int) -> None:
        super().__init__(daemon=True)
        self.fd, self.limit, self.parts, self.kept, self.total = fd, limit, [], 0, 0

    def run(self) -> None:
        decoder = codecs.getincrementaldecoder("utf-8")("replace")
        while chunk := os.read(self.fd, 1 << 16):
            text = decoder.decode(chunk)
            self.total += len(text)
            if self.kept < self.limit:
                self.parts.append(text[: self.limit - self.kept])
                self.kept += len(self.parts[-1])
        os.close(self.fd)

    @property
    def text(self) -> str:
        return "".join(self.parts)


def _environment(workdir: str) -> dict[str, str]:
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "HOME": workdir,
        "TMPDIR": workdir,
        "OPENBLAS_NUM_THREADS": "1",  # BLAS thread pools reserve address space against RLIMIT_AS
    }


def run_sandboxed(code: str, config: SandboxConfig | None = None) -> SandboxResult:
    """Run ``code`` in a limited child process and collect what it prints.

    Raises:
        SandboxError: the sandbox itself could not start (a system failure, not the code's).
    """
    config = config or SandboxConfig()
    start = time.monotonic()
    workdir = tempfile.mkdtemp(prefix="agent-python-")
    proc, groups, status_r = None, [], None
    try:
        if config.cgroups:
            groups = _make_cgroups(f"agent-python-{uuid.uuid4().hex[:12]}", config)
        status_r, status_w = os.pipe()
        try:
            spec = {"workdir": workdir, "config": asdict(config), "cgroups": groups, "status": status_w}
            proc = subprocess.Popen(
                [sys.executable, "-I", "-c", BOOT, ROOT, json.dumps(spec)],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                cwd=workdir, env=_environment(workdir), pass_fds=(status_w,), start_new_session=True,
            )  # fmt: skip
        except OSError as err:
            raise SandboxError(f"cannot start the python sandbox ({sys.executable}): {err}") from err
        finally:
            os.close(status_w)
        captures = [_Capture(os.dup(p.fileno()), config.max_output_chars) for p in (proc.stdout, proc.stderr)]
        for c in captures:
            c.start()
        timed_out = _feed_and_wait(proc, code, config.wall_seconds)
    finally:
        if proc is not None:
            _kill_everything(proc.pid, groups)
            proc.wait()
        isolation = _read_status(status_r) if status_r is not None else []
        _remove_cgroups(groups)
        shutil.rmtree(workdir, ignore_errors=True)
    for c in captures:
        c.join(timeout=2.0)
    out, err = captures
    if proc.returncode == SETUP_FAILED and not isolation:
        raise SandboxError(f"the python sandbox failed to start: {err.text.strip()[-500:]}")
    return SandboxResult(
        stdout=out.text, stderr=err.text, returncode=proc.returncode, timed_out=timed_out,
        truncated=out.total > out.kept or err.total > err.kept, seconds=time.monotonic() - start,
        isolation=tuple(isolation), output_chars=out.total + err.total,
    )  # fmt: skip


def _feed_and_wait(proc: subprocess.Popen, code: str, wall_seconds: float) -> bool:
    """Send the code on stdin and wait; True when the wall-clock limit ran out."""
    try:
        proc.stdin.write(code.encode("utf-8", "surrogateescape"))
        proc.stdin.close()
    except BrokenPipeError:
        log.debug("sandbox child exited before reading its code")
    try:
        proc.wait(timeout=wall_seconds)
        return False
    except subprocess.TimeoutExpired:
        return True
    finally:
        proc.stdout.close()
        proc.stderr.close()


def _read_status(fd: int) -> list[str]:
    os.set_blocking(fd, False)
    try:
        data = os.read(fd, 1 << 16)
    except BlockingIOError:
        data = b""
    finally:
        os.close(fd)
    try:
        return list(json.loads(data)) if data else []
    except ValueError:
        return []


# ---- cgroups (v1, root only): created and emptied by the parent, joined by the child ----

_CGROUP_LIMIT_FILES = {"pids": "pids.max", "memory": "memory.limit_in_bytes"}


def _make_cgroups(name: str, config: SandboxConfig) -> list[tuple[str, str]]:
    """Create cgroup v1 ``pids`` and ``memory`` groups under our own (root only); [(controller, dir)]."""
    if os.geteuid() != 0 or not os.path.exists("/proc/self/cgroup"):
        return []
    made = []
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        for ctrl in set(controllers.split(",")) & _CGROUP_LIMIT_FILES.keys():
            group = Path("/sys/fs/cgroup", ctrl, path.lstrip("/"), name)
            limit = config.max_processes if ctrl == "pids" else config.memory_bytes
            try:
                group.mkdir()
                (group / _CGROUP_LIMIT_FILES[ctrl]).write_text(str(limit))
                made.append((ctrl, str(group)))
            except OSError as err:
                log.debug("no %s cgroup for the sandbox: %s", ctrl, err)
                _remove_cgroups([(ctrl, str(group))], tries=1)
    return made


def _kill_everything(pgid: int, groups: list[tuple[str, str]]) -> None:
    """SIGKILL the process group, then every process left in the run's cgroups."""
    with contextlib.suppress(OSError):
        os.killpg(pgid, signal.SIGKILL)
    for _, group in groups:
        for _ in range(200):
            try:
                pids = [int(p) for p in Path(group, "cgroup.procs").read_text().split()]
            except OSError:
                break
            if not pids:
                break
            for pid in pids:
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.005)


def _remove_cgroups(groups: list[tuple[str, str]], tries: int = 100) -> None:
    for _, group in groups:
        for _ in range(tries):
            try:
                os.rmdir(group)
                break
            except FileNotFoundError:
                break
            except OSError:
                time.sleep(0.01)


def format_result(result: SandboxResult, config: SandboxConfig) -> str:
    """The observation the model reads: output, then one line on how a killed run ended."""
    cap = config.max_output_chars
    stdout = result.stdout[: max(cap - len(result.stderr), cap // 2)]  # keep room for a traceback
    text = (stdout + result.stderr)[:cap]
    if result.truncated or len(text) < len(result.stdout) + len(result.stderr):
        text += f"\n[output truncated: {result.output_chars} chars]"
    note = ""
    if result.timed_out:
        note = f"Error: timed out after {config.wall_seconds:g} s (wall-clock limit); the code was stopped."
    elif result.returncode == -signal.SIGXCPU:
        note = f"Error: timed out after {config.cpu_seconds} s (CPU limit); the code was stopped."
    elif result.returncode == -signal.SIGKILL:
        note = "Error: the code was killed (CPU, memory or process limit)."
    elif result.returncode < 0:
        note = f"Error: the code was killed by {signal.Signals(-result.returncode).name}."
    elif result.stderr.rstrip().endswith("MemoryError"):
        note = f"Error: memory limit of {config.memory_bytes // (1 << 20)} MiB exceeded."
    elif result.returncode > 0 and not text.strip():
        note = f"(no output; exit status {result.returncode})"
    if note:
        return f"{text.rstrip()}\n{note}".lstrip()
    return text if text.strip() else "(no output: use print() to show results)"


def make_python_tool(config: SandboxConfig | None = None) -> Tool:
    """A ``python`` tool with other limits, e.g. ``make_python_tool(SandboxConfig(cpu_seconds=2))``."""
    config = config or SandboxConfig()

    def python(code: str) -> str:
        """Run Python 3 code and return what it prints (stdout and stderr).

        The code runs in a fresh process with no network, a temporary working directory (the only
        writable place), and limits on CPU time, memory and processes. Use print() to see results.

        Args:
            code: a complete Python program.
        """
        return format_result(run_sandboxed(code, config), config)

    return tool(python)


python = make_python_tool()
