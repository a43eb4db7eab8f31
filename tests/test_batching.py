"""Many agents, one batch: the batching model, the transformers backend's batched completion, batch sampling."""

import argparse
import threading

import pytest

from agent.app.evaluate import get_task
from agent.app.evaluate.report import read_results
from agent.core.backends.batching import BatchingModel
from agent.core.backends.fake import ScriptedModel
from agent.core.model import ModelError
from examples.recipes.batch_sample import sample_shards


class Recorder(ScriptedModel):
    """Answers every prompt with its last word upper-cased; remembers each batch it was given."""

    def __init__(self, fail: bool = False):
        super().__init__(lambda p: p.split()[-1].upper())
        self.sizes: list[int] = []
        self.keys: list[tuple] = []
        self.fail = fail
        self.lock = threading.Lock()

    def complete_many(self, prompts, *, stop=(), max_tokens=256, temperature=0.0):
        if self.fail:
            raise ModelError("backend down")
        with self.lock:
            self.sizes.append(len(prompts))
            self.keys.append((tuple(stop), max_tokens, temperature))
            return [self.complete(p, stop=stop, max_tokens=max_tokens, temperature=temperature) for p in prompts]


def test_concurrent_calls_are_served_in_shared_batches():
    inner = Recorder()
    results = {}
    barrier = threading.Barrier(8)
    with BatchingModel(inner, max_batch=64, wait=0.2) as model:

        def call(i):
            barrier.wait()
            results[i] = model.complete(f"say w{i}", n=2, stop=["\n"], temperature=0.7)

        threads = [threading.Thread(target=call, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert {i: r.texts for i, r in results.items()} == {i: [f"W{i}"] * 2 for i in range(8)}
    assert sum(inner.sizes) == 16 and len(inner.sizes) < 8  # 8 calls of 2 samples, fewer batches than calls
    assert set(inner.keys) == {(("\n",), 256, 0.7)}


def test_calls_with_different_settings_go_in_different_batches_and_max_batch_holds():
    inner = Recorder()
    with BatchingModel(inner, max_batch=3, wait=0.0) as model:
        assert model.complete("a b", n=3, max_tokens=5).texts == ["B"] * 3
        assert model.complete("c d", max_tokens=9).texts == ["D"]
    assert inner.keys == [((), 5, 0.0), ((), 9, 0.0)]
    assert max(inner.sizes) <= 3


def test_errors_reach_the_caller_and_unsupported_requests_are_refused():
    with BatchingModel(Recorder(fail=True), wait=0.0) as model:
        with pytest.raises(ModelError, match="backend down"):
            model.complete("x")
        with pytest.raises(ModelError, match="grammar"):
            model.complete("x", grammar='root ::= "a"')
        with pytest.raises(ModelError, match="logprobs"):
            model.complete("x", logprobs=True)
    with pytest.raises(ModelError, match="complete_many"):
        BatchingModel(ScriptedModel(["x"]))


def test_batch_sampling_runs_sc_on_every_question_in_worker_threads(tmp_path):
    data = tmp_path / "q.jsonl"
    data.write_text("".join(f'{{"question": "What is {i} plus 0?", "answer": "#### {i}"}}\n' for i in range(5)))
    task = get_task("gsm8k")

    class Solver(Recorder):
        def __init__(self):
            ScriptedModel.__init__(
                self, lambda p: f"Thought: easy.\nFinal Answer: {p.split('What is ')[-1].split()[0]}\n"
            )
            self.sizes, self.keys, self.fail, self.lock = [], [], False, threading.Lock()

    args = argparse.Namespace(samples=3, temperature=0.7, max_steps=4, workers=2, max_seconds=None, out=tmp_path)
    with BatchingModel(Solver(), wait=0.05) as model:
        paths = sample_shards(model, task.load(data), task, args)
    records = [r for p in paths for r in read_results(p)]
    assert len(paths) == 2 and sorted(r["index"] for r in records) == [0, 1, 2, 3, 4]
    assert all(r["correct"] and len(r["samples"]) == 3 for r in records)


def test_transformers_batch_completion_matches_one_at_a_time(tiny_model):
    pytest.importorskip("transformers")
    from agent.core.backends.transformers_backend import TransformersModel

    model = TransformersModel(str(tiny_model), device="cpu")
    prompts = ["Hello there", "A much longer prompt than the first one, padded on the left"]
    batched = model.complete_many(prompts, max_tokens=6)
    single = [model.complete(p, max_tokens=6) for p in prompts]
    assert [c.text for c in batched] == [c.text for c in single]
    assert [c.completion_tokens for c in batched] == [c.completion_tokens for c in single]
    assert [c.prompt_tokens for c in batched] == [model.count_tokens(p) for p in prompts]
