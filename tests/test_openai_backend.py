"""The OpenAI-compatible backend against a real llama_cpp.server on loopback."""

import time

import pytest

from agent.core.backends.openai_http import OpenAIModel
from agent.core.model import ModelError

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(smollm_gguf):
    pytest.importorskip("uvicorn", reason="llama-cpp-python[server] is not installed")
    from agent.core.backends.llama_server import LlamaServer

    with LlamaServer(smollm_gguf, n_ctx=2048) as served:
        yield served.url


def test_completion_with_stop_and_usage(server):
    m = OpenAIModel(server)
    out = m.complete("1, 2, 3, 4,", stop=["8"], max_tokens=24)
    assert out.text and "8" not in out.text
    assert out.prompt_tokens > 0 and out.completion_tokens > 0


def test_grammar_is_enforced_by_the_server(server):
    m = OpenAIModel(server)
    out = m.complete(
        "Is the sky green? Answer:", grammar='root ::= " yes" | " no"', max_tokens=8, n=2, temperature=0.8, seed=3
    )
    assert len(out.texts) == 2 and all(t in (" yes", " no") for t in out.texts)


def test_react_step_through_the_server(server):
    from agent.core.react import ReActAgent, ReActConfig
    from tools.base import load_tools

    agent = ReActAgent(OpenAIModel(server), load_tools("calculator"), ReActConfig(max_steps=2))
    traj = agent.run("What is 12 * 7?")
    assert 1 <= len(traj.steps) <= 2
    assert all(s.error is None or s.error.type not in ("parse", "unknown_tool") for s in traj.steps)


def test_dead_server_is_reported_clearly(free_port):
    m = OpenAIModel(f"http://127.0.0.1:{free_port}", retries=1, timeout=2)
    t = time.time()
    with pytest.raises(ModelError, match="is the server running"):
        m.complete("hi", max_tokens=2)
    assert time.time() - t < 10
