"""The sandbox's seccomp filter: a small classic-BPF program, written with labels so it reads top to bottom.

What it refuses (EPERM unless said otherwise):
- the syscalls in ``REFUSED``: keyrings, perf, bpf, userfaultfd, io_uring, ptrace and cross-process
  memory access, and every way to make or change mounts and namespaces (``unshare``, ``setns``, ``mount``,
  ``pivot_root``, ``chroot``, the new mount API);
- ``socket(AF_UNIX, ...)``: read-only mounts do not stop ``connect()`` to a host socket;
- ``socketpair`` of any type but ``SOCK_STREAM``: a datagram pair can ``sendto()`` any socket path;
- ``clone3`` gets ENOSYS (its flags are in memory, out of BPF's reach; glibc then falls back to ``clone``);
- with ``no_processes``: ``fork``, ``vfork`` and a ``clone`` without ``CLONE_THREAD`` (threads still work);
- with ``own_pid``: signals to any process but this one (``kill``/``tgkill``/``rt_sigqueueinfo`` naming
  another pid, ``tkill``, ``pidfd_open``/``pidfd_send_signal``): for a run without a pid namespace;
- x32 syscalls; i386 ones (``int 0x80``) kill the process.
"""

from __future__ import annotations

import ctypes
import errno
import platform

# numbers shared by every architecture (the unified table from Linux 5.1 on)
_COMMON = {
    "pidfd_send_signal": 424, "io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427,
    "open_tree": 428, "move_mount": 429, "fsopen": 430, "fsconfig": 431, "fsmount": 432, "fspick": 433,
    "pidfd_open": 434, "clone3": 435, "mount_setattr": 442,
}  # fmt: skip
# audit arch, then syscall numbers by name (None: the architecture has no such call)
_TABLES = {
    "x86_64": (0xC000003E, {**_COMMON,
        "socket": 41, "socketpair": 53, "clone": 56, "fork": 57, "vfork": 58, "kill": 62, "tkill": 200,
        "tgkill": 234, "rt_sigqueueinfo": 129, "rt_tgsigqueueinfo": 297, "ptrace": 101, "process_vm_readv": 310,
        "process_vm_writev": 311, "add_key": 248, "request_key": 249, "keyctl": 250, "perf_event_open": 298,
        "bpf": 321, "userfaultfd": 323, "unshare": 272, "setns": 308, "mount": 165, "umount2": 166,
        "pivot_root": 155, "chroot": 161,
    }),
    "aarch64": (0xC00000B7, {**_COMMON,
        "socket": 198, "socketpair": 199, "clone": 220, "fork": None, "vfork": None, "kill": 129, "tkill": 130,
        "tgkill": 131, "rt_sigqueueinfo": 138, "rt_tgsigqueueinfo": 240, "ptrace": 117, "process_vm_readv": 270,
        "process_vm_writev": 271, "add_key": 217, "request_key": 218, "keyctl": 219, "perf_event_open": 241,
        "bpf": 280, "userfaultfd": 282, "unshare": 97, "setns": 268, "mount": 40, "umount2": 39,
        "pivot_root": 41, "chroot": 51,
    }),
}  # fmt: skip
REFUSED = (
    "add_key", "request_key", "keyctl", "perf_event_open", "bpf", "userfaultfd", "io_uring_setup",
    "io_uring_enter", "io_uring_register", "ptrace", "process_vm_readv", "process_vm_writev", "unshare", "setns",
    "mount", "umount2", "pivot_root", "chroot", "open_tree", "move_mount", "fsopen", "fsconfig", "fsmount",
    "fspick", "mount_setattr",
)  # fmt: skip

# classic BPF opcodes and seccomp return values
_LD, _JEQ, _JGE, _JSET, _AND, _RET = 0x20, 0x15, 0x35, 0x45, 0x54, 0x06
_ALLOW, _KILL = 0x7FFF0000, 0x80000000
_ERRNO = 0x00050000
_NR, _ARCH = 0, 4


def _arg(n: int) -> int:
    return 16 + 8 * n  # offset of the low 32 bits of argument n in struct seccomp_data (little endian)


CLONE_THREAD, AF_UNIX, SOCK_STREAM, SOCK_TYPE_MASK = 0x10000, 1, 1, 0xF


def program(machine: str, no_processes: bool, own_pid: int | None) -> list[tuple[int, int, int, int]]:
    """The filter for ``machine`` as (code, jt, jf, k) instructions; raises KeyError for other machines."""
    arch, nr = _TABLES[machine]
    rules: list[tuple] = [(_LD, _ARCH), ("jeq", arch, None, "kill"), (_LD, _NR), ("jge", 0x40000000, "deny", None)]
    rules += [("jeq", nr[name], "deny", None) for name in REFUSED]
    rules += [("jeq", nr["clone3"], "enosys", None), ("jeq", nr["socket"], "socket", None)]
    rules += [("jeq", nr["socketpair"], "socketpair", None)]
    if no_processes:
        rules += [("jeq", nr[name], "deny", None) for name in ("fork", "vfork") if nr[name] is not None]
        rules += [("jeq", nr["clone"], "clone", None)]
    if own_pid is not None:
        rules += [("jeq", nr[name], "deny", None) for name in ("tkill", "pidfd_open", "pidfd_send_signal")]
        rules += [("jeq", nr[name], "signal", None) for name in ("kill", "tgkill", "rt_sigqueueinfo")]
        rules += [("jeq", nr["rt_tgsigqueueinfo"], "signal", None)]
    rules += [(_RET, _ALLOW)]
    rules += ["socket", (_LD, _arg(0)), ("jeq", AF_UNIX, "deny", "allow")]
    rules += ["socketpair", (_LD, _arg(1)), (_AND, SOCK_TYPE_MASK), ("jeq", SOCK_STREAM, "allow", "deny")]
    rules += ["clone", (_LD, _arg(0)), ("jset", CLONE_THREAD, "allow", "deny")]
    if own_pid is not None:  # kill(0) is our own process group: with no other process, ourselves
        rules += ["signal", (_LD, _arg(0)), ("jeq", 0, "allow", None), ("jeq", own_pid, "allow", "deny")]
    rules += ["allow", (_RET, _ALLOW), "deny", (_RET, _ERRNO | errno.EPERM)]
    rules += ["enosys", (_RET, _ERRNO | errno.ENOSYS), "kill", (_RET, _KILL)]
    return _assemble(rules)


def _assemble(rules: list) -> list[tuple[int, int, int, int]]:
    """Resolve labels: a string marks a place; ``(op, k, then, else)`` jumps there (None: the next one)."""
    labels, index = {}, 0
    for rule in rules:
        if isinstance(rule, str):
            labels[rule] = index
        else:
            index += 1
    ops = {"jeq": _JEQ, "jge": _JGE, "jset": _JSET}
    out: list[tuple[int, int, int, int]] = []
    for rule in rules:
        if isinstance(rule, str):
            continue
        here = len(out) + 1
        if rule[0] in ops:
            name, k, then, other = rule
            jt = labels[then] - here if then else 0
            jf = labels[other] - here if other else 0
            if not (0 <= jt < 256 and 0 <= jf < 256):
                raise ValueError(f"seccomp jump out of range at instruction {len(out)}")
            out.append((ops[name], jt, jf, k))
        else:
            out.append((rule[0], 0, 0, rule[1]))
    return out


def install(no_processes: bool, own_pid: int | None) -> list[str]:
    """Load the filter on this thread (and its future children); the layer names it activated."""
    machine = platform.machine()
    if machine not in _TABLES:
        return []
    prog = program(machine, no_processes, own_pid)

    class Filter(ctypes.Structure):
        _fields_ = [("code", ctypes.c_uint16), ("jt", ctypes.c_uint8), ("jf", ctypes.c_uint8), ("k", ctypes.c_uint32)]

    class Program(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(Filter))]

    filters = (Filter * len(prog))(*(Filter(*ins) for ins in prog))
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(22, 2, ctypes.byref(Program(len(prog), filters)), 0, 0) != 0:  # PR_SET_SECCOMP, FILTER
        return []
    layers = ["seccomp"]
    if no_processes:
        layers.append("seccomp-no-processes")
    if own_pid is not None:
        layers.append("seccomp-own-signals")
    return layers
