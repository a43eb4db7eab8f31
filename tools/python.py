"""The ``python`` tool: run model-written code in a separate, limited process.

The parent (this module) makes a working directory and the run's cgroups (:mod:`tools.sandbox.cgroups`),
starts ``python -I`` on :func:`tools.sandbox.child_main` (directly, or inside bubblewrap), feeds it the
code on stdin, collects what it prints, and kills every process of the run when it ends or runs out of
wall-clock time. The isolation layers themselves live in :mod:`tools.sandbox`.
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
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import asdict, dataclass
from typing import Any

from tools.base import Tool, tool
from tools.sandbox import BOOT, ROOT, SETUP_FAILED, SandboxConfig, bwrap, cgroups

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
    executor = _executor(config)
    workdir = tempfile.mkdtemp(prefix="agent-python-")
    etc_dir = tempfile.mkdtemp(prefix="agent-python-etc-") if executor == "bwrap" else None
    proc, groups, status_r, exit_r, captures = None, cgroups.Groups(), None, None, []
    try:
        if config.cgroups:
            groups = cgroups.make(f"agent-python-{uuid.uuid4().hex[:12]}", config.max_processes, config.memory_bytes)
        (status_r, status_w), (exit_r, exit_w) = os.pipe(), os.pipe()
        try:
            proc = _start(code, config, executor, workdir, etc_dir, groups, status_w, exit_w)
        finally:
            os.close(status_w)
            os.close(exit_w)
        captures = [_Capture(os.dup(p.fileno()), config.max_output_chars) for p in (proc.stdout, proc.stderr)]
        for c in captures:
            c.start()
        timed_out = _feed_and_wait(proc, code, config.wall_seconds)
    finally:
        if proc is not None:
            _end(proc, groups)
        isolation = (_read_status(status_r) if status_r is not None else None) or []
        code_status = _read_status(exit_r) if exit_r is not None else None  # from the namespace's init
        cgroups.remove(groups)
        for folder in (workdir, etc_dir):
            if folder:
                shutil.rmtree(folder, ignore_errors=True)
    for c in captures:
        c.join(timeout=2.0)
    out, err = captures
    if not isolation and (proc.returncode == SETUP_FAILED or err.text.startswith("bwrap:")):
        raise SandboxError(f"the python sandbox failed to start: {err.text.strip()[-500:]}")
    returncode = proc.returncode if code_status is None else os.waitstatus_to_exitcode(code_status)
    return SandboxResult(
        stdout=out.text, stderr=err.text, returncode=returncode, timed_out=timed_out,
        truncated=out.total > out.kept or err.total > err.kept, seconds=time.monotonic() - start,
        isolation=tuple(isolation), output_chars=out.total + err.total,
    )  # fmt: skip


def _executor(config: SandboxConfig) -> str:
    """The executor a run gets: ``auto`` is bubblewrap where it is installed and works, else ours."""
    if config.executor == "bwrap" and not shutil.which("bwrap"):
        raise SandboxError("executor='bwrap' but bwrap is not installed (apt-get install bubblewrap)")
    if config.executor == "auto":
        return "bwrap" if config.namespaces and bwrap.available(ROOT) else "builtin"
    return config.executor


def _start(code: str, config: SandboxConfig, executor: str, workdir: str, etc_dir: str | None,
           groups: cgroups.Groups, status_w: int, exit_w: int) -> subprocess.Popen:  # fmt: skip
    """Start the sandbox's supervisor (directly, or inside bwrap) in a session of its own."""
    dirs = [d for _, d in groups.dirs]
    spec = {"workdir": workdir, "config": asdict(config), "cgroups": dirs, "cgroup_layers": groups.layers,
            "status": status_w, "exit": exit_w, "executor": executor}  # fmt: skip
    argv = [sys.executable, "-I", "-c", BOOT, ROOT, json.dumps(spec)]
    if not os.access(sys.executable, os.X_OK):
        raise SandboxError(f"cannot start the python sandbox ({sys.executable}): not an executable file")
    if executor == "bwrap":
        bwrap.write_etc(etc_dir)
        argv = bwrap.command(argv, workdir, etc_dir, dirs, ROOT, config.read_only_paths, config.disk_bytes)
    try:
        return subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=workdir,
            env=_environment(workdir), pass_fds=(status_w, exit_w), start_new_session=True,
        )  # fmt: skip
    except OSError as err:
        raise SandboxError(f"cannot start the python sandbox ({argv[0]}): {err}") from err


def _end(proc: subprocess.Popen, groups: cgroups.Groups) -> None:
    """SIGKILL the supervisor by pid (its namespace's init dies with it) and its group, then the cgroups."""
    with contextlib.suppress(OSError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.kill()  # by pid too: code without a pid namespace may have left the process group
    cgroups.kill(groups)
    proc.wait()


def _feed_and_wait(proc: subprocess.Popen, code: str, wall_seconds: float) -> bool:
    """Send the code on stdin and wait; True when the wall-clock limit ran out."""
    try:
        proc.stdin.write(code.encode("utf-8", "surrogateescape"))
        proc.stdin.close()
    except BrokenPipeError:
        log.debug("sandbox child exited before reading its code")
    try:
        return not _exited_within(proc, wall_seconds)
    finally:
        proc.stdout.close()
        proc.stderr.close()


def _exited_within(proc: subprocess.Popen, seconds: float) -> bool:
    """Wait for ``proc`` to exit, at most ``seconds``: woken by a pidfd at once (Popen.wait polls, <= 50 ms late)."""
    try:
        pidfd = os.pidfd_open(proc.pid)
    except (AttributeError, OSError):  # no pidfd (Linux < 5.3): poll
        try:
            proc.wait(timeout=seconds)
            return True
        except subprocess.TimeoutExpired:
            return False
    try:
        exited = bool(select.select([pidfd], [], [], seconds)[0])
    finally:
        os.close(pidfd)
    if exited:
        proc.wait()
    return exited


def _read_status(fd: int) -> Any:
    """What the sandbox wrote on a status pipe (JSON), or None; closes ``fd``."""
    os.set_blocking(fd, False)
    try:
        data = os.read(fd, 1 << 16)
    except BlockingIOError:
        data = b""
    finally:
        os.close(fd)
    try:
        return json.loads(data) if data else None
    except ValueError:
        return None


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
