"""The python tool: output comes back, and each attack returns within seconds with a clear message.

Attacks run in three modes: our namespaces (the strong layers, where the kernel allows them),
bubblewrap (where it is installed) and the in-process guards and seccomp alone (what a machine
without namespaces gets). tests/test_sandbox_escapes.py has the round-two attacks.
"""

import ast
import os
import platform
import socket
import sys
import tempfile
import threading
import uuid

import pytest

from tools import get_tool
from tools.python import SandboxConfig, SandboxError, format_result, make_python_tool, run_sandboxed
from tools.sandbox import ROOT, bwrap, cgroups

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the sandbox uses Linux rlimits")
MODE_CONFIGS = {
    "builtin": {"executor": "builtin"},
    "bwrap": {"executor": "bwrap"},
    "guards-only": {"namespaces": False},
}
MODES = pytest.mark.parametrize("mode", list(MODE_CONFIGS))
NAMESPACE_MODES = pytest.mark.parametrize("mode", ["builtin", "bwrap"])


def run(code: str, mode: str = "builtin", **limits):
    if mode == "bwrap" and not bwrap.available(ROOT):
        pytest.skip("bubblewrap is not installed or cannot run here")
    config = SandboxConfig(**{"cpu_seconds": 1, "wall_seconds": 10, **MODE_CONFIGS[mode], **limits})
    result = run_sandboxed(code, config)
    return format_result(result, config), result


def test_print_works():
    assert "1024" in get_tool("python")(code="print(2**10)")


def test_exception_comes_back_as_its_traceback():
    text, result = run("def f():\n    return 1 / 0\nf()")
    assert result.returncode == 1
    assert text.startswith("Traceback (most recent call last):")
    assert 'File "<sandbox>", line 2, in f' in text
    assert text.rstrip().endswith("ZeroDivisionError: division by zero")
    assert "tools/python.py" not in text


def test_syntax_error_and_silent_code():
    assert "SyntaxError" in run("print(")[0]
    assert run("x = 1")[0] == "(no output: use print() to show results)"
    assert run("raise SystemExit(3)")[0] == "(no output; exit status 3)"


def test_fresh_working_directory_and_scrubbed_environment(monkeypatch):
    monkeypatch.setenv("SECRET_TOKEN", "hunter2")
    code = "import os\nopen('mine.txt', 'w').write('x')\nprint(os.getcwd())\nprint(sorted(os.environ))"
    text, _ = run(code)
    workdir, env = text.splitlines()
    assert not os.path.exists(workdir)  # removed afterwards
    assert "SECRET_TOKEN" not in env
    assert set(ast.literal_eval(env)) <= {"PATH", "LANG", "HOME", "TMPDIR", "OPENBLAS_NUM_THREADS"}
    assert "mine.txt" not in run("import os; print(os.listdir('.'))")[0]


@MODES
def test_infinite_loop_hits_the_cpu_limit(mode):
    text, result = run("print('started')\nwhile True:\n    pass", mode)
    assert "started" in text  # output printed before the kill survives
    assert "Error: timed out after 1 s (CPU limit)" in text
    assert result.seconds < 10


def test_sleeping_code_hits_the_wall_clock_limit():
    text, result = run("import os, time\nos.setsid() if os.getpid() == 1 else None\ntime.sleep(60)", wall_seconds=2)
    assert result.timed_out
    assert "Error: timed out after 2 s (wall-clock limit)" in text
    assert result.seconds < 5


@MODES
def test_allocating_8_gib_fails_with_memory_error(mode):
    text, result = run("data = bytearray(8 * 1024**3)\nprint('allocated')", mode)
    assert "allocated" not in text
    assert "MemoryError" in text
    assert "Error: memory limit of 1024 MiB exceeded." in text
    assert result.seconds < 10


@MODES
def test_fork_bomb_is_refused(mode):
    text, result = run("import os\nwhile True:\n    os.fork()", mode)
    assert "PermissionError: starting processes is disabled in this sandbox" in text
    assert result.seconds < 10
    assert "ok" in run("print('ok')")[0]  # and the machine still runs the next one


def test_fork_bomb_without_the_guard_is_contained_by_the_pids_limit(monkeypatch):
    made, make = [], cgroups.make

    def recording(*args):
        groups = make(*args)
        made.extend(groups.dirs)
        return groups

    monkeypatch.setattr(cgroups, "make", recording)
    text, result = run("import os\nwhile True:\n    os.fork()", allow_subprocess=True, max_processes=16)
    if not {"cgroup-pids", "cgroup-v2-pids"} & set(result.isolation) and os.geteuid() == 0:
        pytest.skip("root without a pids cgroup: only the in-process guard stops a fork bomb here")
    assert "BlockingIOError" in text or "killed" in text  # fork() failed: EAGAIN at the limit
    assert result.seconds < 10
    assert made or os.geteuid() != 0  # root: the limit is a pids cgroup (non-root: RLIMIT_NPROC)
    assert all(not os.path.exists(group) for _, group in made)  # removed: no process of the run is left


@MODES
def test_socket_to_a_loopback_server_does_not_connect(mode):
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(5)
        port = server.getsockname()[1]
        code = f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=2)\nprint('connected')"
        text, result = run(code, mode)
        server.settimeout(0.2)
        with pytest.raises(TimeoutError):
            server.accept()
    assert "connected" not in text
    assert any(why in text for why in ("Network is unreachable", "Connection refused", "network access is disabled"))
    assert result.seconds < 10


@MODES
def test_writing_outside_the_working_directory_fails(mode):
    targets = [f"/tmp/pwned_{uuid.uuid4().hex}" for _ in range(4)]
    code = f"""
import os, pathlib
attempts = [lambda: open({targets[0]!r}, 'w').write('x'), lambda: pathlib.Path({targets[1]!r}).write_text('x'),
            lambda: os.open({targets[2]!r}, os.O_CREAT | os.O_WRONLY), lambda: os.mkdir({targets[3]!r})]
for attempt in attempts:
    try:
        attempt()
        print('wrote')
    except OSError as err:
        print(type(err).__name__, err.strerror)
open('inside.txt', 'w').write('fine')
print(open('inside.txt').read())
"""
    text, _ = run(code, mode)
    assert "wrote" not in text
    assert text.count("Read-only file system") + text.count("writing outside the working directory") == 4
    assert text.rstrip().endswith("fine")
    assert not any(os.path.exists(t) for t in targets)


@MODES
def test_unix_socket_to_a_host_server_does_not_connect(mode, tmp_path):
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(tmp_path / "host.sock"))
        server.listen(1)
        code = (
            f"import socket\nsocket.socket(socket.AF_UNIX).connect({str(tmp_path / 'host.sock')!r})\nprint('connected')"
        )
        text, result = run(code, mode)
        server.settimeout(0.2)
        if "seccomp" not in result.isolation:
            pytest.skip("no seccomp filter on this machine: Unix sockets are not blocked")
        with pytest.raises(TimeoutError):
            server.accept()
    assert "PermissionError: [Errno 1] Operation not permitted" in text
    assert "connected" not in text
    assert "b'ok'" in run("import socket\na, b = socket.socketpair()\na.send(b'ok')\nprint(b.recv(2))", mode)[0]


def test_devices_and_disk_are_limited_with_a_mount_namespace():
    code = """
import os
print(open('/dev/urandom', 'rb').read(4).__len__(), open('/dev/null', 'w').write('x'))
try:
    open('/dev/kmsg', 'rb')
except OSError as err:
    print('kmsg', err.strerror)
try:
    for i in range(8):
        open(f'f{i}', 'wb').write(b'x' * (15 << 20))
except OSError as err:
    print('disk', err.strerror)
"""
    text, result = run(code, disk_bytes=32 << 20)
    if "readonly-fs" not in result.isolation:
        pytest.skip("no mount namespace here")
    assert text.startswith("4 1\n")
    assert "kmsg No such file or directory" in text  # the fresh root's /dev holds five devices
    assert "disk No space left on device" in text  # the tmpfs working directory is 32 MiB


def test_printing_50_mb_is_capped():
    text, result = run("print('x' * 50_000_000)")
    assert result.truncated
    assert result.output_chars == 50_000_001
    assert len(text) < 10_100
    assert text.endswith("[output truncated: 50000001 chars]")
    assert result.seconds < 10


def test_large_files_are_refused():
    text, _ = run("open('big', 'wb').write(b'x' * (64 << 20))")
    assert "File too large" in text


@MODES
def test_isolation_layers_are_reported(mode):
    _, result = run("pass", mode)
    layers = set(result.isolation)
    assert "rlimits" in layers and "guard-processes" in layers
    assert "netns" in layers or "guard-sockets" in layers
    assert "seccomp" in layers or platform.machine() not in ("x86_64", "aarch64")
    assert "readonly-fs" in layers or "guard-writes" in layers
    if mode == "guards-only":
        assert not layers & {"netns", "mountns", "pidns"}
        assert {"seccomp-no-processes", "seccomp-own-signals"} <= layers or "seccomp" not in layers
    else:
        assert {"pidns", "fresh-root", "readonly-fs"} <= layers


def test_subprocess_allowed_when_configured():
    text, _ = run("import subprocess, sys\nsubprocess.run([sys.executable, '-c', 'print(5)'])", allow_subprocess=True)
    assert text.strip() == "5"


def test_make_python_tool_uses_its_config():
    short = make_python_tool(SandboxConfig(max_output_chars=50))
    assert short.name == "python"
    assert "[output truncated: 501 chars]" in short(code="print('y' * 500)")


def test_concurrent_runs_do_not_mix():
    results: dict[int, str] = {}
    threads = [threading.Thread(target=lambda i=i: results.update({i: run(f"print({i} * 7)")[0]})) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == {i: f"{i * 7}\n" for i in range(3)}


def test_a_missing_interpreter_is_a_system_error_and_leaves_nothing_behind(monkeypatch):
    made, mkdtemp = [], tempfile.mkdtemp
    monkeypatch.setattr(tempfile, "mkdtemp", lambda **kw: made.append(mkdtemp(**kw)) or made[-1])
    monkeypatch.setattr(sys, "executable", "/nonexistent/python3")
    with pytest.raises(SandboxError, match="cannot start the python sandbox"):
        run_sandboxed("print(1)")
    assert made and not os.path.exists(made[0])
