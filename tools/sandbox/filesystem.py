"""What the sandboxed code sees of the filesystem: a fresh root that holds only what is allowed.

:func:`fresh_root` (in a private mount namespace) builds a new root on a small tmpfs and
``pivot_root``\\ s into it, as bubblewrap and nsjail do. Nothing exists there but:

- read-only binds of the system software folders (``/usr``, and ``/bin``, ``/lib*``, ``/sbin`` as the
  host has them: folders or symlinks), the Python installation (its prefixes and ``sys.path`` folders,
  never the project tree) and any ``SandboxConfig.read_only_paths``;
- a generated ``/etc``: ``passwd`` and ``group`` with only root and nobody, ``hosts`` with localhost,
  and copies of a few public files (``ld.so.cache``, ``localtime``, ``os-release``, ...);
- ``/dev`` with null, zero, full, random, urandom and the fd links; its own ``/proc`` (with a pid
  namespace); the tmpfs working directory, the only writable place.

So ``/etc/shadow``, home folders, ``/root``, ``/tmp``, the project and every host socket are absent.
Where a fresh root cannot be made, :func:`lock_filesystem` remounts the host's tree read-only instead.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import re
import sys
from pathlib import Path

MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT = 1, 2, 4, 8, 32
MS_BIND, MS_REC, MS_PRIVATE = 4096, 16384, 1 << 18
MNT_DETACH = 2
DEVICES = ("/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom")
SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
ETC_COPIES = ("ld.so.cache", "localtime", "os-release", "nsswitch.conf", "mime.types", "protocols", "services")
ETC_WRITTEN = {
    "passwd": "root:x:0:0:root:/nonexistent:/usr/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n",
    "group": "root:x:0:\nnogroup:x:65534:\n",
    "hosts": "127.0.0.1 localhost\n::1 localhost\n",
}  # fmt: skip
_MS_KEEP = {"nosuid": MS_NOSUID, "nodev": MS_NODEV, "noexec": MS_NOEXEC, "noatime": 1024, "nodiratime": 2048,
            "relatime": 1 << 21}  # fmt: skip
_ROOT_TMPFS = b"size=8m,mode=755"


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    def enc(s: str | None) -> bytes | None:
        return None if s is None else s.encode()

    if _libc().mount(enc(source), enc(target), enc(fstype), flags, enc(data)) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"mount {source} on {target}: {os.strerror(err)}")


def spellings(project_root: str, extra: tuple[str, ...] = ()) -> list[str]:
    """The paths the code may read as the interpreter spells them: the system folders, the Python
    installation (prefixes, the interpreter's folder, ``sys.path`` outside the project) and ``extra``."""
    executable = os.path.dirname(sys.executable), os.path.dirname(os.path.realpath(sys.executable))
    names = [*SYSTEM_DIRS, sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix, *executable, *extra]
    names += [p for p in sys.path if p and os.path.isdir(p) and not _inside(p, project_root)]
    return [n for n in dict.fromkeys(names) if n and os.path.exists(n)]


def allowed_paths(project_root: str, extra: tuple[str, ...] = ()) -> list[str]:
    """The same paths resolved, none inside another: what gets bound (symlinked spellings are mirrored)."""
    kept: list[str] = []
    for path in sorted({os.path.realpath(p) for p in spellings(project_root, extra)}):
        if path != "/" and not any(_inside(path, k) for k in kept):
            kept.append(path)
    return kept


def _inside(path: str, folder: str) -> bool:
    path, folder = os.path.realpath(path), os.path.realpath(folder)
    return os.path.commonpath([path, folder]) == folder


def etc_files() -> dict[str, bytes]:
    """The generated ``/etc``: file name -> contents."""
    files = {name: text.encode() for name, text in ETC_WRITTEN.items()}
    for name in ETC_COPIES:
        with contextlib.suppress(OSError):
            files[name] = Path("/etc", name).read_bytes()
    return files


def fresh_root(workdir: str, project_root: str, extra: tuple[str, ...], proc: bool, disk_bytes: int) -> list[str]:
    """Pivot into a new root holding only the allowed paths; raises OSError (nothing is half-visible then)."""
    new = workdir  # the host's (empty) working directory is the mount point of the new root
    allowed = allowed_paths(project_root, extra)
    if any(_inside(workdir, path) for path in allowed):
        raise OSError(f"the working directory {workdir} lies inside an allowed path")
    _mount("tmpfs", new, "tmpfs", MS_NOSUID | MS_NODEV, _ROOT_TMPFS.decode())
    try:
        for path in allowed:
            os.makedirs(new + path, exist_ok=True)
            _mount(path, new + path, None, MS_BIND | MS_REC)
        for link, target in symlinks(spellings(project_root, extra)):
            if not os.path.lexists(new + link):
                os.makedirs(os.path.dirname(new + link), exist_ok=True)
                os.symlink(target, new + link)
        _make_etc(new + "/etc")
        _make_dev(new + "/dev")
        os.makedirs(new + "/proc")
        if proc:
            _mount("proc", new + "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
        os.makedirs(new + workdir, exist_ok=True)
        _mount("tmpfs", new + workdir, "tmpfs", MS_NOSUID | MS_NODEV, f"size={disk_bytes},mode=700")
        os.chdir(new)
        if _libc().pivot_root(b".", b".") != 0:  # the old root now lies over the new one: detach it
            raise OSError(ctypes.get_errno(), "pivot_root failed")
        _libc().umount2(b".", MNT_DETACH)
    except OSError:
        os.chdir("/")
        _libc().umount2(new.encode(), MNT_DETACH)
        raise
    os.chdir("/")
    _remount_read_only(keep_writable=workdir)
    return ["fresh-root", *(["private-proc"] if proc else []), "tmpfs-workdir", "readonly-fs"]


def symlinks(names: list[str]) -> list[tuple[str, str]]:
    """The symlinks on the way to each name, as (link, target) in creation order (e.g. /lib -> usr/lib)."""
    links: dict[str, str] = {}
    todo = list(names)
    while todo:
        name = todo.pop(0)
        current = ""
        for part in Path(name).parts[1:]:
            current = f"{current}/{part}"
            if os.path.islink(current):
                links.setdefault(current, os.readlink(current))
                target = os.path.join(os.path.dirname(current), os.readlink(current))
                todo.append(os.path.normpath(target + name[len(current) :]))  # chains: /a -> b, /b/c -> d
                break
    return list(links.items())


def _make_etc(etc: str) -> None:
    os.makedirs(etc)
    for name, data in etc_files().items():
        Path(etc, name).write_bytes(data)


def _make_dev(dev: str) -> None:
    os.makedirs(dev)
    for device in DEVICES:
        Path(dev, os.path.basename(device)).touch()
        _mount(device, dev + device[len("/dev") :], None, MS_BIND)
    for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"),
                         ("stderr", "/proc/self/fd/2")):  # fmt: skip
        os.symlink(target, f"{dev}/{name}")


def lock_filesystem(workdir: str, proc: bool, disk_bytes: int) -> list[str]:
    """Fallback in a private mount namespace: a tmpfs working directory, the host's tree read-only and nodev.

    Only the five devices stay usable. The code can still *read* what the caller can.
    """
    done = []
    if proc:
        with contextlib.suppress(OSError):
            _mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
            done.append("private-proc")
    try:
        _mount("tmpfs", workdir, "tmpfs", MS_NOSUID | MS_NODEV, f"size={disk_bytes},mode=700")
    except OSError:
        return done
    for device in DEVICES:
        with contextlib.suppress(OSError):
            _mount(device, device, None, MS_BIND)
    root_ok = _remount_read_only(keep_writable=workdir)
    return [*done, "tmpfs-workdir", *(["readonly-fs"] if root_ok else [])]


def _remount_read_only(keep_writable: str) -> bool:
    """Remount every mount but ``keep_writable`` read-only (nodev except the devices); True if / is."""
    root_ok = False
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        fields = line.split()
        target = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), fields[4])
        if target == keep_writable:
            continue
        keep = sum(_MS_KEEP.get(opt, 0) for opt in fields[5].split(","))
        nodev = 0 if target in DEVICES else MS_NODEV
        try:
            _mount(None, target, None, MS_REMOUNT | MS_BIND | MS_RDONLY | nodev | keep)
            root_ok = root_ok or target == "/"
        except OSError:
            continue
    return root_ok
