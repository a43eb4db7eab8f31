"""Round two of the python tool's attacks: each test reproduces one escape that once worked.

1. code that clears PR_SET_PDEATHSIG and calls setsid() outlived its call (no cgroups, non-root);
2. a datagram socketpair sent bytes to a host socket path;
3. the code could read whatever the caller can (/etc/shadow, /root, the home folder, the project);
4. kill(0, SIGSTOP) and friends reached the supervisor outside the pid namespace.
The lifetime tests run as root and, through setpriv, as the unprivileged uid 65534.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import uuid
from pathlib import Path

import pytest

import tools.python as python_tool
from tools.python import SandboxConfig, SandboxError, format_result, run_sandboxed
from tools.sandbox import ROOT, bwrap

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the sandbox is Linux only")
MODE_CONFIGS = {
    "builtin": {"executor": "builtin"},
    "bwrap": {"executor": "bwrap"},
    "guards-only": {"namespaces": False},
}
WALL = 2.0


def config_for(mode: str, **limits) -> SandboxConfig:
    if mode == "bwrap" and not bwrap.available(ROOT):
        pytest.skip("bubblewrap is not installed or cannot run here")
    return SandboxConfig(**{"cpu_seconds": 5, "wall_seconds": WALL, **MODE_CONFIGS[mode], **limits})


def alive_with_name(name: str) -> list[int]:
    """Pids of live processes whose comm is ``name`` (what the attack code names itself)."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        if Path(f"/proc/{pid}/comm").exists() and f"({name})" in stat and stat.split(") ")[1][0] != "Z":
            found.append(int(pid))
    return found


def escape_code(name: str, fork: bool) -> str:
    """Name itself, clear PDEATHSIG, leave the session (in a forked daemon when ``fork``), then sleep."""
    return textwrap.dedent(f"""
        import ctypes, os, time
        libc = ctypes.CDLL(None)
        if {fork} and os.fork() != 0:
            os._exit(0)
        libc.prctl(15, {name.encode()!r}, 0, 0, 0)  # PR_SET_NAME
        libc.prctl(1, 0, 0, 0, 0)  # PR_SET_PDEATHSIG: none
        try:
            os.setsid()
        except OSError:
            pass
        print('escaping', flush=True)
        time.sleep(60)
    """)


def check_nothing_survives(name: str, seconds: float) -> None:
    assert seconds < WALL + 1.5  # the call ends at its wall limit, not when a held pipe closes
    deadline = time.monotonic() + 1.0
    while alive_with_name(name) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert alive_with_name(name) == []


LIFETIME = [(m, c, f) for m in MODE_CONFIGS for c in (True, False) for f in (False, True)]


@pytest.mark.parametrize("mode,cgroups,fork", LIFETIME)
def test_code_that_leaves_its_session_does_not_outlive_the_call(mode, cgroups, fork):
    name = f"esc{uuid.uuid4().hex[:8]}"
    config = config_for(mode, cgroups=cgroups, allow_subprocess=fork)
    try:
        result = run_sandboxed(escape_code(name, fork), config)
    except SandboxError as err:  # no pid namespace and no cgroup: processes are refused, not lost
        assert fork and mode == "guards-only" and "needs a pid namespace or a cgroup" in str(err)
        return
    assert "escaping" in result.stdout or fork  # a forked daemon's output may be cut by the kill
    check_nothing_survives(name, result.seconds)


@pytest.fixture(scope="module")
def unprivileged_root(tmp_path_factory):
    """A copy of the ``tools`` package that uid 65534 can read (the checkout may lie in a private home)."""
    root = tmp_path_factory.mktemp("unprivileged")
    shutil.copytree(Path(ROOT, "tools"), root / "tools", ignore=shutil.ignore_patterns("__pycache__"))
    for path in [root, *root.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    for parent in root.parents:  # pytest's base folder is private to its user
        if parent == Path(tempfile.gettempdir()):
            break
        parent.chmod(parent.stat().st_mode | 0o011)
    return str(root)


def _unprivileged_python(root: str) -> str | None:
    """An interpreter that uid 65534 can run the sandbox with (else None)."""
    if os.geteuid() != 0 or not shutil.which("setpriv"):
        return None
    for python in (sys.executable, "/usr/bin/python3"):
        probe = subprocess.run(
            ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", python, "-c",
             f"import sys; sys.path.insert(0, {root!r}); import tools.python as t; t.run_sandboxed('pass')"],
            check=False, capture_output=True, timeout=60, cwd="/",
        )  # fmt: skip
        if probe.returncode == 0:
            return python
    return None


@pytest.mark.parametrize("mode,fork", [(m, f) for m in MODE_CONFIGS for f in (False, True)])
def test_as_an_unprivileged_uid_nothing_outlives_the_call(mode, fork, unprivileged_root):
    python = _unprivileged_python(unprivileged_root)
    if python is None:
        pytest.skip("needs root, setpriv and an interpreter that uid 65534 can run")
    if mode == "bwrap" and not bwrap.available(ROOT):
        pytest.skip("bubblewrap is not installed or cannot run here")
    name = f"esc{uuid.uuid4().hex[:8]}"
    script = textwrap.dedent(f"""
        import json, sys
        sys.path.insert(0, {unprivileged_root!r})
        from tools.python import SandboxConfig, SandboxError, run_sandboxed
        config = SandboxConfig(wall_seconds={WALL}, allow_subprocess={fork}, **{MODE_CONFIGS[mode]!r})
        try:
            r = run_sandboxed(sys.stdin.read(), config)
            print(json.dumps({{"uid": __import__("os").getuid(), "seconds": r.seconds, "layers": r.isolation}}))
        except SandboxError as err:
            print(json.dumps({{"refused": str(err)}}))
    """)
    done = subprocess.run(
        ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", python, "-c", script],
        input=escape_code(name, fork), check=False, capture_output=True, text=True, timeout=60, cwd="/",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.splitlines()[-1])
    if "refused" in report:  # no user namespace for this uid and no cgroup: no processes
        assert fork and "needs a pid namespace or a cgroup" in report["refused"]
        return
    assert report["uid"] == 65534
    check_nothing_survives(name, report["seconds"])


@pytest.mark.parametrize("mode", list(MODE_CONFIGS))
def test_ctypes_fork_is_refused_by_seccomp(mode):
    config = config_for(mode)
    code = "import ctypes\nprint('fork', ctypes.CDLL(None, use_errno=True).fork(), ctypes.get_errno())"
    result = run_sandboxed(code, config)
    if "seccomp-no-processes" not in result.isolation:
        pytest.skip("no seccomp filter on this machine")
    assert result.stdout == "fork -1 1\n"  # EPERM; no second process printed anything


@pytest.mark.parametrize("mode", list(MODE_CONFIGS))
def test_a_datagram_socketpair_cannot_reach_a_host_socket(mode, tmp_path):
    path = str(tmp_path / "log.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as listener:
        listener.bind(path)
        os.chmod(tmp_path, 0o777)
        os.chmod(path, 0o777)
        code = textwrap.dedent(f"""
            import socket
            try:
                a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
                a.sendto(b'leak', {path!r})
                print('sent')
            except OSError as err:
                print(type(err).__name__, err.errno)
            a, b = socket.socketpair()
            a.send(b'ok')
            print(b.recv(2))
        """)
        result = run_sandboxed(code, config_for(mode))
        listener.settimeout(0.3)
        with pytest.raises(TimeoutError):
            listener.recv(16)
    if "seccomp" not in result.isolation:
        pytest.skip("no seccomp filter on this machine")
    assert "sent" not in result.stdout
    assert "PermissionError 1" in result.stdout
    assert result.stdout.rstrip().endswith("b'ok'")  # a stream pair (asyncio's self-pipe) still works


@pytest.fixture
def planted_secrets():
    """A secret in the home folder (as root, also in /root); the project tree has its own files."""
    home = Path.home()
    made = []
    for folder in {home, Path("/root")} if os.geteuid() == 0 else {home}:
        if os.access(folder, os.W_OK):
            secret = folder / f".agent-sandbox-secret-{uuid.uuid4().hex[:8]}"
            secret.write_text("hunter2")
            made.append(secret)
    yield made
    for secret in made:
        secret.unlink(missing_ok=True)


@pytest.mark.parametrize("mode", ["builtin", "bwrap"])
def test_reading_the_callers_files_fails(mode, planted_secrets):
    targets = ["/etc/shadow", "/etc/gshadow", str(Path(ROOT, "pyproject.toml")), str(Path(ROOT, "tests")),
               str(Path.home() / ".ssh"), *map(str, planted_secrets)]  # fmt: skip
    code = textwrap.dedent(f"""
        import os
        for target in {targets!r}:
            try:
                print(target, 'READ', os.listdir(target) if os.path.isdir(target) else open(target).read()[:20])
            except OSError as err:
                print(target, 'refused', err.strerror)
        for folder in ('/root', '/home', {str(Path.home())!r}):
            try:
                print(folder, 'holds', sorted(os.listdir(folder)))
            except OSError as err:
                print(folder, 'refused', err.strerror)
        print('etc', sorted(os.listdir('/etc')))
    """)
    result = run_sandboxed(code, config_for(mode))
    assert "fresh-root" in result.isolation
    assert " READ " not in result.stdout
    assert result.stdout.count("refused No such file or directory") >= len(targets)
    assert "hunter2" not in result.stdout
    for line in result.stdout.splitlines():
        if " holds " in line:  # a folder on the way to the Python installation (pyenv in a home) holds only that
            assert all(".agent-sandbox-secret" not in entry for entry in line.split(" holds ")[1].split(","))
    etc = result.stdout.split("etc ")[-1]
    assert "'shadow'" not in etc and "'passwd'" in etc and "'ssh'" not in etc


def test_reading_a_configured_folder_works(tmp_path):
    (tmp_path / "data.txt").write_text("42")
    config = config_for("builtin", read_only_paths=(str(tmp_path),))
    code = f"print(open({str(tmp_path / 'data.txt')!r}).read())\nopen({str(tmp_path / 'x')!r}, 'w')"
    text = format_result(run_sandboxed(code, config), config)
    assert text.startswith("42\n")
    assert "Read-only file system" in text


@pytest.mark.parametrize("mode", list(MODE_CONFIGS))
def test_signals_reach_only_the_codes_own_processes(mode):
    ready = threading.Event()
    received: list[int] = []
    sentinel_code = "import signal, time\nsignal.signal(signal.SIGWINCH, lambda *a: print('hit', flush=True))\n"
    sentinel_code += "print('ready', flush=True)\ntime.sleep(30)"
    sentinel = subprocess.Popen([sys.executable, "-c", sentinel_code], stdout=subprocess.PIPE, text=True)
    try:
        assert sentinel.stdout.readline() == "ready\n"
        threading.Thread(target=lambda: received.append(len(sentinel.stdout.readline())), daemon=True).start()
        ready.set()
        code = textwrap.dedent(f"""
            import os, signal
            for target in (-1, {sentinel.pid}, os.getppid() or 1, {os.getpid()}):
                try:
                    os.kill(target, signal.SIGWINCH)  # harmless where it lands: ignored by default
                    print(target, 'sent')
                except OSError as err:
                    print(target, type(err).__name__)
        """)
        result = run_sandboxed(code, config_for(mode))
        time.sleep(0.3)
        assert received == []  # the sentinel, a process of the caller's, got nothing
        assert f"{sentinel.pid} sent" not in result.stdout and f"{os.getpid()} sent" not in result.stdout
    finally:
        sentinel.kill()
        sentinel.wait()


@pytest.mark.parametrize("mode", ["builtin", "bwrap"])  # guards-only: the code is the supervisor's only process
def test_sigstop_to_its_group_does_not_stop_the_supervisor(mode, monkeypatch):
    started, start = [], python_tool._start
    monkeypatch.setattr(python_tool, "_start", lambda *a: started.append(start(*a)) or started[-1])
    states: list[str] = []

    def watch() -> None:
        time.sleep(1.0)
        states.append(Path(f"/proc/{started[0].pid}/stat").read_text().split(") ")[1][0])

    watcher = threading.Thread(target=watch)
    watcher.start()
    config = config_for(mode, wall_seconds=3)
    result = run_sandboxed("import os, signal\nos.kill(0, signal.SIGSTOP)\nprint('woke')", config)
    watcher.join()
    assert states and states[0] != "T"  # the supervisor kept running; only the code stopped
    assert result.timed_out and result.seconds < 4.5
    assert "timed out after 3 s (wall-clock limit)" in format_result(result, config)


def test_sigterm_to_its_group_reports_the_codes_own_death():
    config = config_for("builtin")
    result = run_sandboxed("import os, signal\nos.kill(0, signal.SIGTERM)", config)
    assert result.returncode == -signal.SIGTERM
    assert format_result(result, config) == "Error: the code was killed by SIGTERM."
