"""The bubblewrap executor: the same fresh root, built by ``bwrap`` (Flatpak's well-audited sandbox).

bwrap makes the namespaces, the root (the same allow-list as :mod:`.filesystem`), its own pid 1 and
a new session; the sandbox's supervisor runs as that namespace's pid 1 (``--as-pid-1``) and does
the init's part (:func:`tools.sandbox._init`), and ``--die-with-parent`` ends it all when the tool
kills bwrap. The code's process adds rlimits, no capabilities, guards and the seccomp filter.
A ``/bin/sh`` line joins the run's cgroups first (bwrap's children cannot see ``/sys/fs/cgroup``).
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from tools.sandbox import filesystem

_JOIN = 'while [ "$1" != -- ]; do echo $$ > "$1/cgroup.procs" || exit 125; shift; done; shift; exec "$@"'


def command(argv: list[str], workdir: str, etc_dir: str, cgroup_dirs: list[str], project_root: str,
            read_only_paths: tuple[str, ...], disk_bytes: int) -> list[str]:  # fmt: skip
    """The bwrap command line that runs ``argv`` in the fresh root (``etc_dir`` holds the generated /etc)."""
    cmd = ["bwrap", "--unshare-all", "--die-with-parent", "--new-session", "--as-pid-1", "--cap-drop", "ALL"]
    for path in filesystem.allowed_paths(project_root, read_only_paths):
        cmd += ["--ro-bind", path, path]
    for link, target in filesystem.symlinks(filesystem.spellings(project_root, read_only_paths)):
        cmd += ["--symlink", target, link]
    tools = str(Path(project_root, "tools"))  # the supervisor imports tools.sandbox from here (source only)
    cmd += ["--ro-bind", tools, tools, "--ro-bind", etc_dir, "/etc", "--proc", "/proc"]
    for device in filesystem.DEVICES:
        cmd += ["--dev-bind", device, device]
    for name in ("fd", "stdin", "stdout", "stderr"):
        cmd += ["--symlink", "/proc/self/fd" + {"fd": "", "stdin": "/0", "stdout": "/1", "stderr": "/2"}[name],
                f"/dev/{name}"]  # fmt: skip
    cmd += ["--size", str(disk_bytes), "--perms", "0700", "--tmpfs", workdir, "--chdir", workdir]
    cmd += ["--unsetenv", "PWD", "--remount-ro", "/", "--", *argv]  # PWD: set by the sh that joins cgroups
    if cgroup_dirs:
        cmd = ["/bin/sh", "-c", _JOIN, "sh", *cgroup_dirs, "--", *cmd]
    return cmd


def write_etc(folder: str) -> None:
    """The generated /etc (see :func:`tools.sandbox.filesystem.etc_files`) as files in ``folder``."""
    for name, data in filesystem.etc_files().items():
        Path(folder, name).write_bytes(data)


@functools.cache
def available(project_root: str) -> bool:
    """True where bwrap is installed and can build the sandbox here (probed once per process)."""
    if not shutil.which("bwrap"):
        return False
    with tempfile.TemporaryDirectory(prefix="agent-bwrap-probe-") as tmp:
        workdir, etc = os.path.join(tmp, "work"), os.path.join(tmp, "etc")
        os.mkdir(workdir)
        os.mkdir(etc)
        write_etc(etc)
        argv = [sys.executable, "-I", "-c", "print('ok')"]
        cmd = command(argv, workdir, etc, [], project_root, (), 1 << 20)
        try:
            done = subprocess.run(
                cmd, check=False, capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL
            )
        except (OSError, subprocess.TimeoutExpired):
            return False
    return done.returncode == 0 and done.stdout == "ok\n"
