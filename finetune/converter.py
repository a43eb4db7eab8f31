"""llama.cpp's own GGUF converters, fetched once from the llama-cpp-python sdist the runtime was built from.

The sdist of the installed llama-cpp-python (``importlib.metadata``) vendors the llama.cpp it runs, and with it
``convert_hf_to_gguf.py``, its ``conversion/`` package (one module per architecture),
``convert_lora_to_gguf.py`` and ``gguf-py/``: the GGUF they write is the one this runtime reads. pip fetches the
sdist once; only those files are kept, in a cache folder. They run in a subprocess with their own ``gguf-py``
first on ``PYTHONPATH`` (the ``gguf`` on PyPI lags the llama.cpp it is cut from).

Environment:
    AGENT_LLAMA_CONVERTER: the converter's folder (default ``$XDG_CACHE_HOME/cot-agent/llama-cpp-converter-<version>``):
        used as it is when it holds the files (a llama.cpp checkout of that version will do), else fetched into.
    AGENT_LLAMA_SDIST: a ``llama_cpp_python-<version>.tar.gz`` on disk, extracted instead of asking pip (offline).
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path

from finetune.errors import ExportError

logger = logging.getLogger(__name__)

CONVERTER_ENV = "AGENT_LLAMA_CONVERTER"
SDIST_ENV = "AGENT_LLAMA_SDIST"
HF_TO_GGUF = "convert_hf_to_gguf.py"
LORA_TO_GGUF = "convert_lora_to_gguf.py"
# what is kept of the sdist's vendor/llama.cpp/ (2 MB of 76); the Qwen2 vocabulary is llama.cpp's own tokenizer
# test file, the one real Qwen2 tokenizer on an offline machine (tests build a tiny Qwen2 on it)
KEPT = (HF_TO_GGUF, LORA_TO_GGUF, "conversion/", "gguf-py/gguf/", "models/ggml-vocab-qwen2.gguf")
NEEDED = (HF_TO_GGUF, LORA_TO_GGUF, "conversion/__init__.py", "gguf-py/gguf/__init__.py")
# runs converter jobs in one process (torch and transformers are imported once): sys.argv is each job
_DRIVER = "import json, runpy, sys\nfor sys.argv in json.loads(sys.argv[1]):\n    runpy.run_path(sys.argv[0], run_name='__main__')\n"


def llama_cpp_version() -> str:
    """The installed llama-cpp-python's version, the sdist whose converter matches the runtime."""
    try:
        return metadata.version("llama-cpp-python")
    except metadata.PackageNotFoundError as err:
        raise ExportError("exporting GGUF needs llama-cpp-python (pip install llama-cpp-python)") from err


def converter_dir(version: str | None = None) -> Path:
    """Where the converter lives: ``$AGENT_LLAMA_CONVERTER``, else a folder per version in the user's cache."""
    if os.environ.get(CONVERTER_ENV):
        return Path(os.environ[CONVERTER_ENV]).expanduser()
    root = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(root) / "cot-agent" / f"llama-cpp-converter-{version or llama_cpp_version()}"


def pip_download_command(version: str, dest: str | Path) -> list[str]:
    """The pip command that fetches the sdist (76 MB; pip's cache keeps it for the next time)."""
    fetch = ["download", f"llama-cpp-python=={version}", "--no-binary", "llama-cpp-python", "--no-deps"]
    return [sys.executable, "-m", "pip", *fetch, "-d", str(dest)]


def ensure_converter() -> Path:
    """The folder holding llama.cpp's converters, fetched and extracted on first use.

    Raises:
        ExportError: the files are not there and cannot be had (offline, pip fails); the message says what to run.
    """
    version = llama_cpp_version()
    dest = converter_dir(version)
    if all((dest / name).exists() for name in NEEDED):
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dest.parent, prefix=".fetch-") as tmp:
        sdist = Path(os.environ[SDIST_ENV]).expanduser() if os.environ.get(SDIST_ENV) else _download(version, tmp, dest)
        staged = Path(tmp) / "converter"
        _extract(sdist, version, staged)
        if dest.exists():  # a partial folder (or one a concurrent fetch just finished): ours replaces it
            shutil.rmtree(dest, ignore_errors=True)
        try:
            staged.rename(dest)
        except OSError:
            if not all((dest / name).exists() for name in NEEDED):
                raise
    logger.info("llama.cpp %s converter cached in %s", version, dest)
    return dest


def _download(version: str, tmp: str, dest: Path) -> Path:
    logger.info("fetching the llama-cpp-python %s sdist for llama.cpp's converter (76 MB, once)", version)
    command = pip_download_command(version, tmp)
    try:
        proc = subprocess.run(command, capture_output=True, text=True, timeout=1800, check=False)
        reason = _last_error(proc.stderr + proc.stdout) if proc.returncode else ""
    except (OSError, subprocess.TimeoutExpired) as err:
        reason = str(err)
    found = sorted(Path(tmp).glob("llama_cpp_python-*.tar.gz"))
    if reason or not found:
        shown = " ".join(pip_download_command(version, "DIR")[1:]).replace(sys.executable, "python")
        raise ExportError(
            f"llama.cpp's GGUF converter is not in {dest} and pip could not fetch it ({reason or 'no sdist saved'}): "
            f"run `python {shown}` where PyPI is reachable and set {SDIST_ENV}=DIR/llama_cpp_python-{version}.tar.gz, "
            f"or put {', '.join(KEPT[:4])} of that sdist's vendor/llama.cpp in {dest} (or point {CONVERTER_ENV} at them)"
        )
    return found[0]


def _extract(sdist: Path, version: str, staged: Path) -> None:
    """Unpack the kept files of ``<sdist>/vendor/llama.cpp`` into ``staged``."""
    prefix = f"llama_cpp_python-{version}/vendor/llama.cpp/"
    try:
        with tarfile.open(sdist, "r:gz") as tar:
            members = [m for m in tar.getmembers() if m.isfile() and m.name.startswith(prefix)]
            members = [m for m in members if m.name[len(prefix) :].startswith(KEPT)]
            for member in members:
                member.name = member.name[len(prefix) :]
            safe = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}  # Python >= 3.10.12
            tar.extractall(staged, members=members, **safe)
    except (OSError, tarfile.TarError) as err:
        raise ExportError(f"cannot read the llama-cpp-python sdist {sdist}: {err}") from err
    missing = [name for name in NEEDED if not (staged / name).exists()]
    if missing:
        raise ExportError(f"{sdist} is not the llama-cpp-python {version} sdist: no vendor/llama.cpp/{missing[0]}")


def hf_to_gguf(model_dir: Path, out: Path, outtype: str, name: str) -> list[str]:
    """The job that converts an HF model folder (config, weights, tokenizer) to a GGUF model."""
    args = [str(model_dir), "--outfile", str(out), "--outtype", outtype, "--model-name", name]
    return [HF_TO_GGUF, *args]


def lora_to_gguf(adapter_dir: Path, base_dir: Path, out: Path) -> list[str]:
    """The job that converts a peft LoRA folder to a GGUF adapter; ``base_dir`` needs only the base's config.json."""
    return [LORA_TO_GGUF, str(adapter_dir), "--base", str(base_dir), "--outfile", str(out), "--outtype", "f16"]


def run_converters(jobs: Sequence[Sequence[str]], what: str) -> None:
    """Run converter jobs (from :func:`hf_to_gguf`, :func:`lora_to_gguf`) in order, in one subprocess.

    Raises:
        ExportError: a job failed; the message holds the converter's own error line.
    """
    import json

    home = ensure_converter()
    argv = [[str(home / job[0]), *job[1:]] for job in jobs]
    paths = [str(home / "gguf-py"), str(home), os.environ.get("PYTHONPATH", "")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in paths if p), "HF_HUB_OFFLINE": "1"}
    env.pop("NO_LOCAL_GGUF", None)
    logger.info("llama.cpp converter on %s: %s", what, ", ".join(Path(job[0]).name for job in argv))
    proc = subprocess.run(
        [sys.executable, "-c", _DRIVER, json.dumps(argv)], capture_output=True, text=True, env=env, check=False
    )
    logger.debug("converter output:\n%s", proc.stderr + proc.stdout)
    if proc.returncode != 0:
        raise ExportError(f"llama.cpp's converter failed on {what}: {_last_error(proc.stderr + proc.stdout)}")


def _last_error(output: str) -> str:
    """The line that says what went wrong: the exception, or the last ERROR log line."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    for pattern in (r"^[\w.]*(Error|Exception)\b.*", r"^ERROR\b.*"):
        found = [line for line in lines if re.match(pattern, line)]
        if found:
            return found[-1][:400]
    return lines[-1][:400] if lines else "no output"
