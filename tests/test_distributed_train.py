"""Two processes under ``accelerate launch`` (gloo on the CPU): the one-process loss curve at the same global batch,
one writer of checkpoints and log, and a resume that goes on exactly.

Tolerance: the two processes each sum the gradient of half the batch and gloo adds the halves, where one process
sums the whole batch in one order; rows are also padded to their own half's width. In float32 that moves the
losses of 6 Adam steps at lr 1e-2 by 2.3e-6 at most (measured, on losses near 10). The test allows 1e-4:
40 times that, and still far below what a different global batch or unaveraged gradients would give (1e-2 and
more from step 2 on). A resumed two-process run repeats the same sums in the same order: equal to 1e-6.
"""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from test_finetune_train import SUMS  # the small data of the training tests

torch = pytest.importorskip("torch")
pytest.importorskip("peft")
pytest.importorskip("accelerate")

ROOT = Path(__file__).resolve().parent.parent
TOLERANCE = 1e-4  # max abs difference, one process against two (measured: 2.3e-6)
SETTINGS = {"max_steps": 6, "batch_size": 4, "seq_len": 128, "lr": 1e-2, "dev_fraction": 0.0, "save_every": 3}
SCRIPT = """import json, sys
from accelerate import PartialState
from finetune import TrainConfig, train
result = train(TrainConfig(**json.loads(sys.argv[1])))
if PartialState().is_main_process:
    print(json.dumps(result.to_dict()))
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _launch(*args: str) -> dict:
    """Two processes on the CPU (``accelerate launch --cpu`` would start one); the main one's JSON summary."""
    launch = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2"]
    launch += ["--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "ACCELERATE_USE_CPU": "1"}
    done = subprocess.run(
        [*launch, "--main_process_port", str(_free_port()), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 1, done.stdout  # one summary: the main process's
    return json.loads(lines[0])


def _config(tiny_model, data, out, **kw) -> dict:
    return {"data": str(data), "out": str(out), "base": str(tiny_model), **SETTINGS, **kw}


@pytest.fixture
def data(tmp_path) -> Path:
    path = tmp_path / "train.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in SUMS))
    return path


def test_a_batch_the_processes_cannot_share_and_a_one_process_cpu_launch_are_refused(monkeypatch):
    from finetune.run import _check_processes

    _check_processes(4, 2)
    with pytest.raises(ValueError, match="global batch: 3 rows cannot be shared by 2 processes"):
        _check_processes(3, 2)
    monkeypatch.setenv("ACCELERATE_USE_CPU", "True")  # what `accelerate launch --cpu --num_processes 2` sets
    monkeypatch.setenv("MASTER_PORT", "29500")
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    with pytest.raises(ValueError, match="starts one process"):
        _check_processes(4, 1)


@pytest.mark.slow
def test_two_processes_train_the_one_process_curve_write_once_and_resume(tiny_model, data, tmp_path):
    from finetune import TrainConfig, train

    torch.set_num_threads(1)
    one = train(TrainConfig(**_config(tiny_model, data, tmp_path / "one")))
    out = tmp_path / "two"
    cli = ["-m", "agent.app.cli", "finetune", "--data", str(data), "--out", str(out), "--base", str(tiny_model)]
    cli += ["--max-steps", "6", "--batch-size", "4", "--seq-len", "128", "--lr", "1e-2", "--dev-fraction", "0"]
    two = _launch(*cli, "--save-every", "3", "--json")
    assert two["steps"] == 6 and len(two["losses"]) == 6
    diff = max(abs(a - b) for a, b in zip(one.losses, two["losses"]))
    assert diff < TOLERANCE, (diff, one.losses, two["losses"])
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["step-3", "step-6"]  # no second writer's
    log = [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == list(range(1, 7))  # one line a step: one writer
    assert [r["loss"] for r in log] == two["losses"] and (out / "adapter" / "adapter_config.json").is_file()

    # stopped after step 3, then resumed: the uninterrupted two-process curve (dropout on: each rank's RNG is restored)
    script = tmp_path / "train_script.py"
    script.write_text(SCRIPT)
    full = _launch(str(script), json.dumps(_config(tiny_model, data, tmp_path / "full", lora_dropout=0.1)))
    cut_cfg = _config(tiny_model, data, tmp_path / "cut", lora_dropout=0.1)
    cut = _launch(str(script), json.dumps({**cut_cfg, "stop_after": 3}))
    assert not cut["finished"] and cut["steps"] == 3 and not (tmp_path / "cut" / "adapter").exists()
    resumed = _launch(str(script), json.dumps({**cut_cfg, "resume": True}))
    assert resumed["resumed_from"] == 3 and resumed["steps"] == 6
    assert resumed["losses"] == pytest.approx(full["losses"], abs=1e-6)
    steps = [json.loads(line)["step"] for line in (tmp_path / "cut" / "train_log.jsonl").read_text().splitlines()]
    assert steps == list(range(1, 7))
