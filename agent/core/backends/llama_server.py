"""A local OpenAI-compatible server: llama-cpp-python's own ``llama_cpp.server`` on loopback, in a child process.

For a teacher to distil from, the tests of the HTTP backend and the concurrency benchmark. It serves one
request at a time (the server holds a lock around its model), which is what the benchmark measures against.

Example (not run here: it starts a process)::

    with LlamaServer(model_path, adapter=adapter_path) as server:
        OpenAIModel(server.url).complete("Hi", max_tokens=4)
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Self

from agent.core.model import ModelError

# the server's own Llama loads with or without llama.cpp's extra buffer types as this machine's probe found
_LAUNCH = (
    "import runpy; from agent.core.backends.llama_machine import follow_extra_bufts_in_high_level_api as f; "
    "f(); runpy.run_module('llama_cpp.server', run_name='__main__')"
)


class LlamaServer:
    """``llama_cpp.server`` for ``model`` (and a LoRA ``adapter``) on a free loopback port; ``url`` once started.

    Raises:
        ModelError: the server is not installed (``pip install 'llama-cpp-python[server]'``), exits, or does not
            answer within ``start_timeout`` seconds.
    """

    def __init__(self, model: str | Path, adapter: str | Path | None = None, *, n_ctx: int = 4096,
                 threads: int | None = None, start_timeout: float = 120.0):
        self.model, self.adapter = Path(model), Path(adapter) if adapter else None
        self.n_ctx, self.threads, self.start_timeout = n_ctx, threads, start_timeout
        self.proc: subprocess.Popen | None = None
        self.url = ""

    def __enter__(self) -> Self:
        import importlib.util

        if importlib.util.find_spec("uvicorn") is None:
            raise ModelError("llama_cpp.server needs its extra: pip install 'llama-cpp-python[server]'")
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        args = [sys.executable, "-c", _LAUNCH, "--model", str(self.model), "--host", "127.0.0.1", "--port",
                str(port), "--n_ctx", str(self.n_ctx), "--verbose", "false"]
        if self.adapter is not None:
            args += ["--lora_path", str(self.adapter)]
        if self.threads:
            args += ["--n_threads", str(self.threads)]
        from agent.core.backends.llama_machine import ExtraBufts

        env = {**os.environ, "AGENT_LLAMA_EXTRA_BUFTS": "1" if ExtraBufts.enabled() else "0"}
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
        self.url = f"http://127.0.0.1:{port}"
        deadline = time.time() + self.start_timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise ModelError("llama_cpp.server exited: " + self.proc.stderr.read().decode()[-500:])
            try:
                with urllib.request.urlopen(self.url + "/v1/models", timeout=2) as r:
                    json.loads(r.read())
                    return self
            except OSError:
                time.sleep(0.5)
        self.__exit__()
        raise ModelError(f"llama_cpp.server did not start within {self.start_timeout:.0f} s")

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.proc = None


__all__ = ["LlamaServer"]
