"""Linux isolation for the ``python`` tool: everything that runs inside the child process.

:func:`tools.python.run_sandboxed` starts ``python -I`` on :func:`child_main` (see :data:`BOOT`).
The child joins the run's cgroups, unshares what the kernel allows (network, mount, pid, ipc
namespaces) and forks the process that runs the code: pid 1 of the new pid namespace, so all it
starts dies with it. That process mounts a small tmpfs as its working directory, remounts every
other filesystem read-only and nodev, sets rlimits, drops all capabilities, installs in-process
guards for the layers that are missing, loads a seccomp filter, reports the active layers on the
status pipe and runs the code. docs/SECURITY.md has the threat model.
"""

from __future__ import annotations

import atexit
import builtins
import contextlib
import ctypes
import errno
import functools
import io
import json
import os
import platform
import re
import resource
import signal
import subprocess
import sys
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = str(Path(__file__).resolve().parents[1])  # the project root, put on the child's sys.path to import us
BOOT = "import sys; sys.path.insert(0, sys.argv[1]); from tools.sandbox import child_main; child_main(sys.argv[2])"
SETUP_FAILED = 125  # exit status of a child whose setup (not the code) failed
_TRACEBACK_FRAMES = 5  # frames of a traceback shown to the model


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
    namespaces: bool = True  # False: no unshare; only the in-process guards stop network and writes
    cgroups: bool = True  # False: no cgroups (needs root and cgroup v1 pids/memory controllers anyway)
    allow_subprocess: bool = False  # False: os.fork, subprocess, multiprocessing raise PermissionError
    seccomp: bool = True  # a syscall filter: no Unix-socket clients, io_uring, bpf, keyrings, perf, userfaultfd


def child_main(spec_json: str) -> None:
    """Entry point of the child interpreter (never returns)."""
    try:
        spec = json.loads(spec_json)
        config = SandboxConfig(**spec["config"])
        code = sys.stdin.buffer.read().decode("utf-8", "surrogateescape")
        os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
        sys.path.remove(ROOT)
        active = [f"cgroup-{ctrl}" for ctrl, path in spec["cgroups"] if _join_cgroup(path)]
        active += _unshare(config.namespaces)
        if "pidns" not in active:
            _prepare_and_run(code, config, spec, active)
        pid = os.fork()  # pid 1 of the new namespace: when it exits, the kernel kills all it started
        if pid == 0:
            _prepare_and_run(code, config, spec, active)
    except Exception as err:  # noqa: BLE001 - report any setup failure to the parent, never run the code
        sys.stderr.write(f"sandbox setup failed: {type(err).__name__}: {err}\n")
        os._exit(SETUP_FAILED)
    os.close(spec["status"])
    _, status, usage = os.wait4(pid, 0)
    sig = os.WTERMSIG(status) if os.WIFSIGNALED(status) else 0
    if sig == signal.SIGKILL and usage.ru_utime + usage.ru_stime >= 0.8 * config.cpu_seconds:  # rusage lags
        sig = signal.SIGXCPU  # pid 1 of a namespace ignores SIGXCPU and dies at the hard limit instead
    if sig:
        if sig not in (signal.SIGKILL, signal.SIGSTOP):
            signal.signal(sig, signal.SIG_DFL)
        os.kill(os.getpid(), sig)
    os._exit(os.waitstatus_to_exitcode(status) & 0xFF)


def _prepare_and_run(code: str, config: SandboxConfig, spec: dict, active: list[str]) -> None:
    """Lock this process down, report which layers are active, then run the code (never returns)."""
    workdir = spec["workdir"]
    if "pidns" in active:
        _libc().prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG: die with the waiting parent
    if "mountns" in active:
        active += _lock_filesystem(workdir, proc="pidns" in active, disk_bytes=config.disk_bytes)
    os.chdir(workdir)
    active += _set_limits(config, in_userns="userns" in active, pid1="pidns" in active)
    active += _drop_privileges()
    if not config.allow_subprocess:
        active += _block_processes()
    if "netns" not in active:
        active += _block_sockets()
    if "readonly-fs" not in active:
        active += _guard_writes(workdir)
    if config.seccomp:
        active += _seccomp()
    with os.fdopen(spec["status"], "w") as status:
        status.write(json.dumps(active))
    for name in [m for m in sys.modules if m == "tools" or m.startswith("tools.")]:
        del sys.modules[name]
    _exec_user_code(code)


# ---- Linux mechanisms: each is best effort and returns the names of the layers it activated ----

_CLONE = {"netns": 0x40000000, "mountns": 0x00020000, "pidns": 0x20000000, "ipcns": 0x08000000}
_MS_RDONLY, _MS_NODEV, _MS_REMOUNT, _MS_BIND, _MS_REC, _MS_PRIVATE = 1, 4, 32, 4096, 16384, 1 << 18
_DEVICES = ("/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom")
_MS_KEEP = {"nosuid": 2, "nodev": 4, "noexec": 8, "noatime": 1024, "nodiratime": 2048, "relatime": 1 << 21}


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
    if "mountns" in done and libc.mount(b"none", b"/", None, _MS_REC | _MS_PRIVATE, None) != 0:
        done.remove("mountns")  # mounts could propagate to the host: never touch them
    return done


def _lock_filesystem(workdir: str, proc: bool, disk_bytes: int) -> list[str]:
    """In our private mount namespace: a tmpfs working directory, every other mount read-only and nodev.

    Only /dev/null, /dev/zero, /dev/full, /dev/random and /dev/urandom stay usable as devices.
    """
    libc, done = _libc(), []
    if proc and libc.mount(b"proc", b"/proc", b"proc", 2 | 4 | 8, None) == 0:
        done.append("private-proc")
    options = f"size={disk_bytes},mode=700".encode()
    if libc.mount(b"tmpfs", workdir.encode(), b"tmpfs", 2 | 4, options) != 0:  # nosuid, nodev
        return done
    for device in _DEVICES:
        libc.mount(device.encode(), device.encode(), None, _MS_BIND, None)
    root_ok = False
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        fields = line.split()
        target = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), fields[4])
        if target == workdir:
            continue
        keep = sum(_MS_KEEP.get(opt, 0) for opt in fields[5].split(","))
        nodev = 0 if target in _DEVICES else _MS_NODEV
        ok = libc.mount(None, target.encode(), None, _MS_REMOUNT | _MS_BIND | _MS_RDONLY | nodev | keep, None) == 0
        root_ok = root_ok or (target == "/" and ok)
    return [*done, "tmpfs-workdir", "readonly-fs"] if root_ok else [*done, "tmpfs-workdir"]


def _set_limits(config: SandboxConfig, in_userns: bool, pid1: bool) -> list[str]:
    """rlimits; pid 1 of a namespace ignores SIGXCPU, so there the CPU limit is a hard SIGKILL."""
    nproc = config.max_processes
    if os.geteuid() != 0 and not in_userns:  # RLIMIT_NPROC counts all of this user's tasks
        nproc += sum(len(os.listdir(f"/proc/{p}/task")) for p in os.listdir("/proc") if _owned(p))
    cpu = config.cpu_seconds
    limits = {
        resource.RLIMIT_CPU: (cpu, cpu if pid1 else cpu + 1),
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
        return ["no-new-privs"]
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


# syscall numbers: (audit arch, socket, then the syscalls refused outright)
_SYSCALLS = {
    "x86_64": (0xC000003E, 41, (248, 249, 250, 298, 321, 323, 425, 426, 427)),
    "aarch64": (0xC00000B7, 198, (217, 218, 219, 241, 280, 282, 425, 426, 427)),
}  # add_key, request_key, keyctl, perf_event_open, bpf, userfaultfd, io_uring_setup/enter/register


def _seccomp() -> list[str]:
    """A seccomp filter: EPERM for socket(AF_UNIX, ...), the syscalls above and x32; i386 calls kill.

    Unix sockets are refused because read-only mounts do not stop connect() to a host socket (say,
    docker.sock); socketpair() (asyncio's self-pipe) still works.
    """
    if platform.machine() not in _SYSCALLS:
        return []
    arch, socket_nr, refused = _SYSCALLS[platform.machine()]
    ld, jeq, jge, ret = 0x20, 0x15, 0x35, 0x06  # BPF_LD|W|ABS, BPF_JMP|JEQ|K, BPF_JMP|JGE|K, BPF_RET|K
    allow, deny, kill = 0x7FFF0000, 0x00050000 | errno.EPERM, 0x80000000
    n = len(refused)
    deny_at = 5 + n + 4  # index of the final "deny" instruction
    prog = [(ld, 0, 0, 4), (jeq, 1, 0, arch), (ret, 0, 0, kill), (ld, 0, 0, 0), (jge, deny_at - 5, 0, 0x40000000)]
    prog += [(jeq, deny_at - (6 + i), 0, nr) for i, nr in enumerate(refused)]
    prog += [(jeq, 0, 2, socket_nr), (ld, 0, 0, 16), (jeq, 1, 0, 1), (ret, 0, 0, allow), (ret, 0, 0, deny)]

    class Filter(ctypes.Structure):
        _fields_ = [("code", ctypes.c_uint16), ("jt", ctypes.c_uint8), ("jf", ctypes.c_uint8), ("k", ctypes.c_uint32)]

    class Program(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(Filter))]

    filters = (Filter * len(prog))(*(Filter(*ins) for ins in prog))
    program = Program(len(prog), filters)
    ok = _libc().prctl(22, 2, ctypes.byref(program), 0, 0) == 0  # PR_SET_SECCOMP, SECCOMP_MODE_FILTER
    return ["seccomp"] if ok else []


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
