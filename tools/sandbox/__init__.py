"""Linux isolation for the ``python`` tool: everything that runs inside the sandbox's processes.

:func:`tools.python.run_sandboxed` starts ``python -I`` on :func:`child_main` (see :data:`BOOT`),
directly or inside bubblewrap. Three processes, built like a container's:

- **the supervisor** (the child the tool started) joins the run's cgroups and unshares what the
  kernel allows (user when not root, network, mount, pid, ipc) and forks
- **the init**, pid 1 of the new pid namespace. It leaves the supervisor's session, dies with the
  supervisor (``PR_SET_PDEATHSIG``, which the code cannot reach: signals from inside a pid namespace
  do not reach its init, and ptrace is refused), builds the fresh root (:mod:`.filesystem`) and forks
- **the code's process**: rlimits, no capabilities, in-process guards for missing layers, the
  seccomp filter (:mod:`.seccomp`), then the code. When it exits the init exits, and the kernel
  kills everything left in the namespace; when the tool kills the supervisor, the same happens.

Without a pid namespace the supervisor runs the code itself, under a filter that refuses new
processes and signals to any other process. docs/SECURITY.md has the threat model.
"""

from __future__ import annotations

import atexit
import builtins
import contextlib
import ctypes
import functools
import io
import json
import os
import resource
import select
import signal
import subprocess
import sys
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from tools.sandbox import filesystem, seccomp

ROOT = str(Path(__file__).resolve().parents[2])  # the project root, put on the child's sys.path to import us
BOOT = "import sys; sys.path.insert(0, sys.argv[1]); from tools.sandbox import child_main; child_main(sys.argv[2])"
SETUP_FAILED = 125  # exit status of a child whose setup (not the code) failed
EXECUTORS = ("auto", "builtin", "bwrap")
_TRACEBACK_FRAMES = 5  # frames of a traceback shown to the model
_PR_SET_PDEATHSIG, _PR_SET_DUMPABLE = 1, 4


@dataclass(frozen=True)
class SandboxConfig:
    """Limits for one run (defaults are the ``python`` tool's)."""

    cpu_seconds: int = 10  # RLIMIT_CPU: the process is killed after this much CPU time
    wall_seconds: float = 15.0  # wall clock: then every process of the run is SIGKILLed
    memory_bytes: int = 1 << 30  # RLIMIT_AS per process; also the memory cgroup limit for all of them
    max_processes: int = 32  # pids cgroup and RLIMIT_NPROC (the kernel never applies RLIMIT_NPROC to root)
    max_file_bytes: int = 16 << 20  # RLIMIT_FSIZE: the largest file the code may write
    max_output_chars: int = 10_000  # text kept per stream; the rest is counted and dropped
    disk_bytes: int = 64 << 20  # size of the tmpfs working directory (with a mount namespace)
    namespaces: bool = True  # False: no unshare; only the in-process guards and seccomp stop network and writes
    cgroups: bool = True  # False: no cgroups (v2: a child of our group; v1: root only)
    allow_subprocess: bool = False  # False: fork, subprocess, multiprocessing fail (seccomp and a guard)
    seccomp: bool = True  # a syscall filter (see tools/sandbox/seccomp.py)
    executor: Literal["auto", "builtin", "bwrap"] = "auto"  # auto: bubblewrap where it is installed and works
    read_only_paths: tuple[str, ...] = ()  # more host paths the code may read (e.g. a data folder); default none

    def __post_init__(self) -> None:
        if self.executor not in EXECUTORS:
            raise ValueError(f"executor must be one of {', '.join(EXECUTORS)}, not {self.executor!r}")
        if self.executor == "bwrap" and not self.namespaces:
            raise ValueError("executor='bwrap' is namespaces; it cannot run with namespaces=False")
        object.__setattr__(self, "read_only_paths", tuple(os.path.abspath(p) for p in self.read_only_paths))


def child_main(spec_json: str) -> None:
    """Entry point of the sandbox's first interpreter, the supervisor (never returns)."""
    try:
        spec = json.loads(spec_json)
        config = SandboxConfig(**spec["config"])
        code = sys.stdin.buffer.read().decode("utf-8", "surrogateescape")
        os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
        os.environ.pop("PWD", None)  # set by bwrap and sh; the code gets only the tool's environment
        sys.path.remove(ROOT)
        active = [f"cgroup-{layer}" for layer in spec["cgroup_layers"]]
        if spec["executor"] == "bwrap":  # bwrap made the namespaces and the root; we are its pid 1
            _init(code, config, spec, [*active, *BWRAP_LAYERS])
        if not all([_join_cgroup(group) for group in spec["cgroups"]]):  # noqa: C419 - join every one
            active = []
        active += _unshare(config.namespaces)
        if "pidns" not in active:
            if config.allow_subprocess and not any(a.startswith("cgroup-") for a in active):
                raise OSError("allow_subprocess=True needs a pid namespace or a cgroup to end the processes")
            if "mountns" in active:
                active += _filesystem(spec["workdir"], config, proc=False)
            os.close(spec["exit"])  # the tool sees our own exit status
            _lock_down_and_run(code, config, spec, active)
        alive_r, alive_w = os.pipe()  # held open by the supervisor: EOF means it is gone
        pid = os.fork()
        if pid == 0:
            os.close(alive_w)
            _init(code, config, spec, active, alive_r)
    except Exception as err:  # noqa: BLE001 - report any setup failure to the parent, never run the code
        sys.stderr.write(f"sandbox setup failed: {type(err).__name__}: {err}\n")
        os._exit(SETUP_FAILED)
    for fd in (spec["status"], spec["exit"]):
        os.close(fd)
    _, status = os.waitpid(pid, 0)
    os._exit(SETUP_FAILED if os.waitstatus_to_exitcode(status) == SETUP_FAILED else 0)


BWRAP_LAYERS = ["bwrap", "netns", "mountns", "pidns", "ipcns", "fresh-root", "private-proc", "tmpfs-workdir",
                "readonly-fs"]  # fmt: skip


def _init(code: str, config: SandboxConfig, spec: dict, active: list[str], alive_r: int | None = None) -> None:
    """Pid 1 of the namespace: run the code's process, write its wait status to the tool (never returns).

    Signals from inside a pid namespace do not reach its init, and it dies with the supervisor
    (bwrap: with bwrap), so nothing the code does can keep the namespace alive.
    """
    if alive_r is not None:  # ours, not bwrap's (which has done all three)
        os.setsid()  # out of the supervisor's process group: kill(0, ...) from the code cannot name it
        _libc().prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if select.select([alive_r], [], [], 0)[0]:  # EOF: the supervisor died before the line above
            os._exit(SETUP_FAILED)
        os.close(alive_r)
        active = [*active, "init-pid1"]
        if "mountns" in active:
            active += _filesystem(spec["workdir"], config, proc=True)
    _libc().prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0)
    child = os.fork()
    if child == 0:
        os.close(spec["exit"])
        _lock_down_and_run(code, config, spec, active)
    os.close(spec["status"])
    for fd in (1, 2):  # what the code's processes print is theirs; the init holds no pipe open
        os.dup2(os.open(os.devnull, os.O_WRONLY), fd)
    while True:  # reap orphans until the code's process ends; then the namespace goes with us
        pid, status = os.wait()
        if pid == child:
            break
    os.write(spec["exit"], str(status).encode())
    os._exit(0)


def _filesystem(workdir: str, config: SandboxConfig, proc: bool) -> list[str]:
    """The fresh root where it can be built, else the host's tree read-only."""
    try:
        return filesystem.fresh_root(workdir, ROOT, config.read_only_paths, proc, config.disk_bytes)
    except OSError as err:
        sys.stderr.write(f"sandbox: no fresh root ({err}); the host's files stay readable\n")
        return filesystem.lock_filesystem(workdir, proc, config.disk_bytes)


def _lock_down_and_run(code: str, config: SandboxConfig, spec: dict, active: list[str]) -> None:
    """Lock this process down, report which layers are active, then run the code (never returns)."""
    os.chdir(spec["workdir"])
    active += _set_limits(config, in_userns="userns" in active)
    active += _drop_privileges()
    if not config.allow_subprocess:
        active += _block_processes()
    if "netns" not in active:
        active += _block_sockets()
    if "readonly-fs" not in active:
        active += _guard_writes(spec["workdir"])
    if config.seccomp:
        own_pid = None if "pidns" in active else os.getpid()
        active += seccomp.install(no_processes=not config.allow_subprocess, own_pid=own_pid)
    with os.fdopen(spec["status"], "w") as status:
        status.write(json.dumps(active))
    for name in [m for m in sys.modules if m == "tools" or m.startswith("tools.")]:
        del sys.modules[name]
    _exec_user_code(code)


# ---- Linux mechanisms: each is best effort and returns the names of the layers it activated ----

_CLONE = {"netns": 0x40000000, "mountns": 0x00020000, "pidns": 0x20000000, "ipcns": 0x08000000}


@functools.cache
def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def _join_cgroup(group: str) -> bool:
    try:
        Path(group, "cgroup.procs").write_text(str(os.getpid()))
        return True
    except OSError:
        return False


def _unshare(enabled: bool) -> list[str]:
    """New namespaces for this process (pid: for its children); a user namespace first when not root."""
    if not enabled or not sys.platform.startswith("linux"):
        return []
    libc, done, uid, gid = _libc(), [], os.geteuid(), os.getegid()
    if uid != 0 and libc.unshare(0x10000000) == 0:  # CLONE_NEWUSER, mapping us to root inside it
        with contextlib.suppress(OSError):
            Path("/proc/self/setgroups").write_text("deny")
            Path("/proc/self/uid_map").write_text(f"0 {uid} 1")
            Path("/proc/self/gid_map").write_text(f"0 {gid} 1")
            done.append("userns")
    done += [name for name, flag in _CLONE.items() if libc.unshare(flag) == 0]
    if "mountns" in done and libc.mount(b"none", b"/", None, filesystem.MS_REC | filesystem.MS_PRIVATE, None) != 0:
        done.remove("mountns")  # mounts could propagate to the host: never touch them
    return done


def _set_limits(config: SandboxConfig, in_userns: bool) -> list[str]:
    """rlimits (the code's process is never pid 1, so SIGXCPU at the soft CPU limit ends it)."""
    nproc = config.max_processes
    if os.geteuid() != 0 and not in_userns:  # RLIMIT_NPROC counts all of this user's tasks
        nproc += sum(len(os.listdir(f"/proc/{p}/task")) for p in os.listdir("/proc") if _owned(p))
    cpu = config.cpu_seconds
    limits = {
        resource.RLIMIT_CPU: (cpu, cpu + 1),
        resource.RLIMIT_AS: (config.memory_bytes, config.memory_bytes),
        resource.RLIMIT_FSIZE: (config.max_file_bytes, config.max_file_bytes),
        resource.RLIMIT_NPROC: (nproc, nproc),
        resource.RLIMIT_CORE: (0, 0),
    }
    for which, value in limits.items():
        resource.setrlimit(which, value)
    return ["rlimits"]


def _owned(pid: str) -> bool:
    try:
        return pid.isdigit() and os.stat(f"/proc/{pid}").st_uid == os.geteuid()
    except OSError:
        return False


def _drop_privileges() -> list[str]:
    """No new privileges; and for root, an empty capability bounding set and no capabilities."""
    libc = _libc()
    libc.prctl(38, 1, 0, 0, 0)  # PR_SET_NO_NEW_PRIVS: setuid binaries cannot raise privileges
    if _capabilities() == 0:
        return ["no-new-privs", "no-capabilities"]
    libc.prctl(28, 0x2F, 0, 0, 0)  # PR_SET_SECUREBITS: NOROOT, NO_SETUID_FIXUP, KEEP_CAPS_LOCKED (+locks)
    for cap in range(64):
        if libc.prctl(24, cap, 0, 0, 0) != 0:  # PR_CAPBSET_DROP until the kernel knows no more caps
            break
    libc.prctl(47, 4, 0, 0, 0)  # PR_CAP_AMBIENT_CLEAR_ALL
    header, data = (ctypes.c_uint32 * 2)(0x20080522, 0), (ctypes.c_uint32 * 6)()
    libc.capset(header, data)
    return ["no-new-privs", "no-capabilities"] if _capabilities() == 0 else ["no-new-privs"]


def _capabilities() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("CapEff:"):
            return int(line.split()[1], 16)
    return 0


def _refuse(what: str) -> Callable[..., Any]:
    def refuse(*_args: Any, **_kwargs: Any) -> Any:
        raise PermissionError(f"{what} is disabled in this sandbox")

    return refuse


def _block_processes() -> list[str]:
    """Make os.fork, os.system, subprocess and multiprocessing raise PermissionError."""
    import _posixsubprocess

    refuse = _refuse("starting processes")
    for name in ("fork", "forkpty", "system", "popen", "posix_spawn", "posix_spawnp"):
        if hasattr(os, name):
            setattr(os, name, refuse)
    _posixsubprocess.fork_exec = subprocess._fork_exec = refuse  # type: ignore[attr-defined]
    subprocess._USE_POSIX_SPAWN = False  # type: ignore[attr-defined]
    return ["guard-processes"]


def _block_sockets() -> list[str]:
    """Make ``socket.socket`` refuse IPv4/IPv6 (``_socket`` and ctypes get around it: best effort only)."""
    import socket

    refuse = _refuse("network access")

    class NoInetSocket(socket.socket):
        def __init__(self, family: int = -1, type: int = -1, proto: int = -1, fileno: int | None = None) -> None:
            if fileno is None and family in (-1, socket.AF_INET, socket.AF_INET6):
                refuse()
            super().__init__(family, type, proto, fileno)

    socket.socket = NoInetSocket  # type: ignore[misc]
    return ["guard-sockets"]


def _guard_writes(workdir: str) -> list[str]:
    """Wrap open/os.open and the os functions that change files: outside ``workdir`` they raise."""
    root = os.path.realpath(workdir)

    def check(path: Any) -> None:
        if isinstance(path, int):
            return
        real = os.path.realpath(os.fsdecode(path))
        if real != root and not real.startswith(root + os.sep) and real != os.devnull:
            raise PermissionError(13, "writing outside the working directory is disabled in this sandbox", real)

    def opener(real_open: Callable[..., Any]) -> Callable[..., Any]:
        def guarded(file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
            if any(c in str(mode) for c in "wax+"):
                check(file)
            return real_open(file, mode, *args, **kwargs)

        return guarded

    def os_opener(real_open: Callable[..., Any]) -> Callable[..., Any]:
        def guarded(path: Any, flags: int, *args: Any, **kwargs: Any) -> Any:
            if flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND):
                check(path)
            return real_open(path, flags, *args, **kwargs)

        return guarded

    def changer(real: Callable[..., Any]) -> Callable[..., Any]:
        def guarded(*args: Any, **kwargs: Any) -> Any:
            for path in args[:2]:
                if isinstance(path, (str, bytes, os.PathLike)):
                    check(path)
            return real(*args, **kwargs)

        return guarded

    builtins.open = io.open = opener(io.open)
    os.open = os_opener(os.open)
    for name in ("remove", "unlink", "rmdir", "mkdir", "rename", "replace", "symlink", "link", "chmod", "chown",
                 "truncate", "utime", "mkfifo", "mknod"):  # fmt: skip
        setattr(os, name, changer(getattr(os, name)))
    return ["guard-writes"]


def _exec_user_code(code: str) -> None:
    """Run the code as ``__main__``; an exception prints the last frames of its traceback (never returns)."""
    name = "<sandbox>"  # not put in linecache: tracebacks name the line without echoing the code back
    sys.argv = [name]
    for stream in (sys.stdout, sys.stderr):
        stream.reconfigure(line_buffering=True)  # what was printed survives a kill
    status = 0
    try:
        exec(compile(code, name, "exec"), {"__name__": "__main__", "__builtins__": builtins})  # noqa: S102
    except SystemExit as stop:
        status = stop.code if isinstance(stop.code, int) else 0 if stop.code is None else 1
        if not isinstance(stop.code, int) and stop.code is not None:
            print(stop.code, file=sys.stderr)
    except BaseException as err:  # noqa: BLE001 - the model reads its own exceptions
        report = traceback.TracebackException(type(err), err, err.__traceback__.tb_next)
        frames = [f for f in report.stack if f.filename != __file__][-_TRACEBACK_FRAMES:]  # hide the guards
        report.stack = traceback.StackSummary.from_list(frames)
        sys.stderr.write("".join(report.format()))
        status = 1
    with contextlib.suppress(Exception):
        threading._shutdown()  # type: ignore[attr-defined]  # wait for non-daemon threads, as at exit
        atexit._run_exitfuncs()
        sys.stdout.flush()
        sys.stderr.flush()
    os._exit(status & 0xFF)
