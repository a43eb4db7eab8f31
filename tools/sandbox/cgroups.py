"""The run's cgroups, made and emptied by the tool's process (the sandbox's supervisor only joins them).

- **cgroup v2**, where a child of our own group can be made (root, or a delegated subtree): one group
  with ``pids.max`` and ``memory.max`` where those controllers can be enabled, and always
  ``cgroup.kill``, which ends every process in it at once (Linux 5.14+).
- **cgroup v1** (root only): a ``pids`` and a ``memory`` group; ending them is a kill loop over
  ``cgroup.procs``.

:func:`make` returns the groups with the layer names they give; :func:`kill` and :func:`remove`
take them back. Every step is best effort: no cgroup is a host fact, not an error.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)
_V1_LIMIT_FILES = {"pids": "pids.max", "memory": "memory.limit_in_bytes"}


@dataclass
class Groups:
    """The run's cgroups: (kind, directory) pairs and the layers they give, e.g. ("v2", ...), "v2-kill"."""

    dirs: list[tuple[str, str]] = field(default_factory=list)
    layers: list[str] = field(default_factory=list)


def make(name: str, max_processes: int, memory_bytes: int) -> Groups:
    """A v2 group under our own where possible; v1 pids/memory groups (root) for the controllers it lacks."""
    groups = Groups()
    v2 = _v2_parent()
    if v2 is not None:
        _make_v2(Path(v2, name), max_processes, memory_bytes, groups)
    missing = {"pids", "memory"} - {layer[3:] for layer in groups.layers}  # controllers v2 did not give
    if missing and os.geteuid() == 0:  # a hybrid host keeps its controllers on v1
        _make_v1(name, missing, max_processes, memory_bytes, groups)
    return groups


def _v2_parent() -> str | None:
    """Our own cgroup v2 directory, if a cgroup2 filesystem is mounted and we are in it."""
    try:
        own = next(line[3:] for line in Path("/proc/self/cgroup").read_text().splitlines() if line.startswith("0::"))
        mounts = Path("/proc/self/mountinfo").read_text().splitlines()
    except (OSError, StopIteration):
        return None
    for line in mounts:
        left, _, right = line.partition(" - ")
        fields = left.split()
        if right.split()[:1] == ["cgroup2"] and os.path.commonpath([own, fields[3]]) == fields[3]:
            return os.path.join(fields[4], os.path.relpath(own, fields[3]))
    return None


def _make_v2(group: Path, max_processes: int, memory_bytes: int, groups: Groups) -> None:
    try:
        group.mkdir()
    except OSError as err:
        log.debug("no cgroup v2 group for the sandbox: %s", err)
        return
    groups.dirs.append(("v2", str(group)))
    if (group / "cgroup.kill").exists():
        groups.layers.append("v2-kill")
    for controller, limit_file, limit in (("pids", "pids.max", max_processes), ("memory", "memory.max", memory_bytes)):
        with contextlib.suppress(OSError):  # EBUSY when our group holds processes (no internal processes)
            (group.parent / "cgroup.subtree_control").write_text(f"+{controller}")
        try:
            (group / limit_file).write_text(str(limit))
            groups.layers.append(f"v2-{controller}")
        except OSError:
            log.debug("no %s controller in the sandbox's cgroup v2 group", controller)


def _make_v1(name: str, controllers: set[str], max_processes: int, memory_bytes: int, groups: Groups) -> None:
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return
    for line in lines:
        _, mounted, path = line.split(":", 2)
        for ctrl in sorted(set(mounted.split(",")) & controllers):
            group = Path("/sys/fs/cgroup", ctrl, path.lstrip("/"), name)
            try:
                group.mkdir()
                (group / _V1_LIMIT_FILES[ctrl]).write_text(str(max_processes if ctrl == "pids" else memory_bytes))
                groups.dirs.append((ctrl, str(group)))
                groups.layers.append(ctrl)
            except OSError as err:
                log.debug("no %s cgroup for the sandbox: %s", ctrl, err)
                remove(Groups([(ctrl, str(group))]), tries=1)


def kill(groups: Groups) -> None:
    """SIGKILL every process in the groups and wait (up to ~1 s) until they are empty."""
    for kind, group in groups.dirs:
        if kind == "v2":
            with contextlib.suppress(OSError):
                Path(group, "cgroup.kill").write_text("1")
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


def remove(groups: Groups, tries: int = 100) -> None:
    for _, group in groups.dirs:
        for _ in range(tries):
            try:
                os.rmdir(group)
                break
            except FileNotFoundError:
                break
            except OSError:
                time.sleep(0.01)
