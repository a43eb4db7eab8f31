"""The HTTP backend against a tiny loopback server: retries, back-off, refusals, timeouts, concurrency."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from agent.core.backends.openai_http import OpenAIModel
from agent.core.model import ModelError

ANSWER = {
    "id": "cmpl-1",
    "object": "text_completion",
    "choices": [{"index": 0, "text": "Thought: easy\nFinal Answer: 4", "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 5, "completion_tokens": 7},
}


@dataclass
class Script:
    """What the server does with the request numbered ``i`` (from 0): returns (status, body)."""

    respond: Callable[[int], tuple[int, dict | str]]
    delay: float = 0.0  # seconds each request is held before the answer
    arrivals: list[float] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    bodies: list[bytes] = field(default_factory=list)
    in_flight: int = 0
    max_in_flight: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    release: threading.Event = field(default_factory=threading.Event)


def _handler(script: Script) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            with script.lock:
                script.bodies.append(body)
                i = len(script.arrivals)
                script.arrivals.append(time.monotonic())
                script.paths.append(self.path)
                script.in_flight += 1
                script.max_in_flight = max(script.max_in_flight, script.in_flight)
            try:
                script.release.wait(script.delay)
            finally:
                with script.lock:
                    script.in_flight -= 1  # before answering: the client cannot start its next request earlier
            status, body = script.respond(i)
            data = (body if isinstance(body, str) else json.dumps(body)).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except OSError:
                pass  # the client gave up (a timeout test)

        def log_message(self, *args: object) -> None:
            pass

    return Handler


@pytest.fixture
def serve() -> Iterator[Callable[[Script], str]]:
    """Start a loopback server for a script; returns its base URL. Stopped after the test."""
    servers: list[tuple[ThreadingHTTPServer, Script]] = []

    def start(script: Script) -> str:
        server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(script))
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        servers.append((server, script))
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for server, script in servers:
        script.release.set()
        server.shutdown()
        server.server_close()


def ok_after(failures: int, status: int = 500) -> Callable[[int], tuple[int, dict | str]]:
    return lambda i: (status, {"error": {"message": f"overloaded #{i}"}}) if i < failures else (200, ANSWER)


def test_two_server_errors_are_retried_with_growing_delays(serve):
    script = Script(ok_after(2))
    model = OpenAIModel(serve(script), retries=3, timeout=5)
    out = model.complete("Q: 2+2?", stop=["\nObservation:"])
    assert out.text == "Thought: easy\nFinal Answer: 4"
    assert (out.prompt_tokens, out.completion_tokens) == (5, 7)
    assert len(script.arrivals) == 3 and set(script.paths) == {"/v1/completions"}
    first, second = (b - a for a, b in zip(script.arrivals, script.arrivals[1:]))
    assert first >= 0.3  # a back-off, not a hot loop
    assert second >= 1.5 * first  # exponential: the second wait is longer


def test_too_many_requests_is_retried(serve):
    script = Script(ok_after(1, status=429))
    assert OpenAIModel(serve(script), retries=2, timeout=5).complete("Q").text.endswith("4")
    assert len(script.arrivals) == 2


def test_errors_that_do_not_pass_give_up_after_the_retries(serve):
    script = Script(ok_after(10**6, status=503))
    model = OpenAIModel(serve(script), retries=1, timeout=5)
    with pytest.raises(ModelError, match=r"2 attempts.*503"):
        model.complete("Q")
    assert len(script.arrivals) == 2


def test_a_bad_request_is_not_retried_and_shows_the_servers_message(serve):
    script = Script(lambda i: (400, {"error": {"message": "prompt is too long for the context window"}}))
    url = serve(script)
    with pytest.raises(ModelError, match="400.*prompt is too long for the context window") as err:
        OpenAIModel(url, retries=3, timeout=5).complete("Q")
    assert url in str(err.value)
    assert len(script.arrivals) == 1


def test_a_server_that_never_answers_times_out_fast(serve):
    script = Script(lambda i: (200, ANSWER), delay=30)
    model = OpenAIModel(serve(script), retries=0, timeout=0.5)
    start = time.monotonic()
    with pytest.raises(ModelError, match="no answer after 1 attempts"):
        model.complete("Q")
    assert time.monotonic() - start < 3.0
    assert len(script.arrivals) == 1


def test_a_timeout_ends_the_call_as_retries_share_its_deadline(serve):
    script = Script(lambda i: (200, ANSWER), delay=30)
    url = serve(script)
    start = time.monotonic()
    with pytest.raises(ModelError, match=r"within the 0.3 s deadline") as err:
        OpenAIModel(url, retries=3, timeout=0.3).complete("Q")
    assert time.monotonic() - start < 1.3
    assert url in str(err.value)
    assert len(script.arrivals) == 1  # the deadline is spent: no retry


def test_retries_stop_when_the_deadline_leaves_no_time_for_them(serve):
    script = Script(ok_after(10**6, status=503))
    start = time.monotonic()
    with pytest.raises(ModelError, match=r"no answer after 2 attempts within the 1.2 s deadline.*503"):
        OpenAIModel(serve(script), retries=10, timeout=1.2).complete("Q")
    assert time.monotonic() - start < 1.3  # back-offs of 0.5 s, then 1 s would pass the deadline: not taken
    assert len(script.arrivals) == 2


@pytest.mark.parametrize("body", [{"error": "model not loaded"}, {"choices": []}, "[1, 2]", {"choices": ["x"]}])
def test_an_answer_without_choices_is_a_model_error(serve, body):
    script = Script(lambda i: (200, body))
    with pytest.raises(ModelError, match="no choices"):
        OpenAIModel(serve(script), retries=0, timeout=5).complete("Q")


def test_token_counts_fall_back_to_an_estimate_on_an_odd_tokenize_answer(serve):
    script = Script(lambda i: (200, {"unexpected": True}))
    assert OpenAIModel(serve(script), retries=0, timeout=5).count_tokens("four words, sixteen chars"[:16]) == 4
    assert script.paths == ["/extras/tokenize"]


def test_a_refused_connection_names_the_url(free_port):
    url = f"http://127.0.0.1:{free_port}"
    with pytest.raises(ModelError, match=f"{url}/v1/completions: no answer after 2 attempts"):
        OpenAIModel(url, retries=1, timeout=2).complete("Q")


@pytest.mark.parametrize("limit", [2, 6])
def test_requests_in_flight_are_bounded_by_max_concurrent(serve, limit):
    script = Script(lambda i: (200, ANSWER), delay=0.3)
    model = OpenAIModel(serve(script), retries=0, timeout=10, max_concurrent=limit)
    results, errors, start = [], [], threading.Barrier(6)

    def call() -> None:
        start.wait()
        try:
            results.append(model.complete("Q").text)
        except ModelError as err:
            errors.append(err)

    threads = [threading.Thread(target=call) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=20)
    assert not errors and len(results) == 6
    assert len(script.arrivals) == 6
    if limit == 2:
        assert script.max_in_flight == 2  # used, never exceeded
    else:
        assert script.max_in_flight > 2  # the server does run requests side by side: the bound above is real


# ---- servers that hold a request: the deadline covers connecting and the whole read ----


@pytest.fixture
def raw_server() -> Iterator[Callable[[Callable[[socket.socket], None]], str]]:
    """A loopback TCP server running ``handle(conn)`` for each connection; returns its URL."""
    listeners: list[socket.socket] = []
    stop = threading.Event()

    def start(handle: Callable[[socket.socket], None]) -> str:
        listener = socket.create_server(("127.0.0.1", 0))
        listeners.append(listener)

        def accept() -> None:
            while not stop.is_set():
                try:
                    conn, _ = listener.accept()
                except OSError:
                    return
                threading.Thread(target=_quietly, args=(handle, conn), daemon=True).start()

        threading.Thread(target=accept, daemon=True).start()
        return f"http://127.0.0.1:{listener.getsockname()[1]}"

    yield start
    stop.set()
    for listener in listeners:
        listener.close()


def _quietly(handle: Callable[[socket.socket], None], conn: socket.socket) -> None:
    with conn:
        try:
            handle(conn)
        except OSError:
            pass  # the client hung up at its deadline


def _silent(conn: socket.socket) -> None:
    time.sleep(10)  # accepts, reads nothing, answers nothing


def _read_request(conn: socket.socket) -> None:
    """Read the whole request (closing with unread bytes would reset the connection)."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += conn.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(next(line.split(b":")[1] for line in head.lower().splitlines() if line.startswith(b"content-length")))
    while len(body) < length:
        body += conn.recv(65536)


def _trickle(conn: socket.socket) -> None:
    _read_request(conn)
    answer = json.dumps(ANSWER).encode()
    for byte in b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(answer) + answer:
        conn.sendall(bytes([byte]))  # every byte well within any socket timeout: only a deadline ends it
        time.sleep(0.2)


def _answer(body: bytes) -> Callable[[socket.socket], None]:
    def handle(conn: socket.socket) -> None:
        _read_request(conn)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body)

    return handle


@pytest.mark.parametrize("handle", [_silent, _trickle], ids=["silent", "trickling"])
def test_a_server_that_holds_the_request_ends_at_the_deadline(raw_server, handle):
    url = raw_server(handle)
    start = time.monotonic()
    with pytest.raises(ModelError) as err:
        OpenAIModel(url, retries=3, timeout=1.0).complete("Q")
    assert time.monotonic() - start < 2.0
    assert f"{url}/v1/completions" in str(err.value) and "1 s deadline" in str(err.value)


@pytest.mark.parametrize(
    "body,match",
    [
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        (b"<html>Bad gateway</html>", "not JSON"),
        (b'{"choices": "\xff\xfe"}', "not JSON"),
    ],
    ids=["deeply-nested", "html", "not-utf8"],
)
def test_a_malformed_answer_is_a_clear_model_error(raw_server, body, match):
    url = raw_server(_answer(body))
    with pytest.raises(ModelError, match=match) as err:
        OpenAIModel(url, retries=0, timeout=5).complete("Q")
    assert f"{url}/v1/completions" in str(err.value) and "\n" not in str(err.value)


def test_a_lone_surrogate_in_the_prompt_is_sent_as_its_escape(serve):
    script = Script(lambda i: (200, ANSWER))
    assert OpenAIModel(serve(script), retries=0, timeout=5).complete("Q: caf\udce9?").text.endswith("4")
    assert json.loads(script.bodies[0].decode("utf-8"))["prompt"] == "Q: caf\\udce9?"  # the surrogate's text kept


def test_eval_parallel_keeps_n_requests_in_flight_against_a_server_and_answers_as_one_at_a_time(serve, tmp_path):
    """agent eval --parallel 8 with an OpenAI-compatible backend: 8 items in flight at once, any strategy
    (sc here), and the answers of --parallel 1."""
    import re

    from agent.app.evaluate.runner import run_eval
    from agent.app.evaluate.tasks import get_task
    from agent.strategies.config import StrategyConfig

    def respond(i: int) -> tuple[int, dict]:
        body = json.loads(script.bodies[i])
        number = re.findall(r"item (\d+)", body["prompt"])[-1]  # each item answers its own number
        texts = [{"index": k, "text": f"Thought: easy\nFinal Answer: {number}", "finish_reason": "stop"}
                 for k in range(body.get("n") or 1)]
        return 200, {"choices": texts, "usage": {"prompt_tokens": 5, "completion_tokens": 7}}

    script = Script(respond, delay=0.3)
    url = serve(script)
    data = tmp_path / "q.jsonl"
    data.write_text("".join(json.dumps({"question": f"What is item {i}?", "answer": f"#### {i}"}) + "\n"
                            for i in range(16)))
    task = get_task("gsm8k")
    items = task.load(data)
    answers = {}
    for parallel in (8, 1):
        for strategy in (StrategyConfig("react"), StrategyConfig("sc", samples=2)):
            script.max_in_flight = 0
            t0 = time.monotonic()
            out = tmp_path / f"{strategy.strategy}-{parallel}.jsonl"
            summary = run_eval(task, items, OpenAIModel(url), strategy, out, tools=[], parallel=parallel)
            assert summary.correct == 16, strategy
            answers[strategy.strategy, parallel] = [json.loads(line)["answer"] for line in out.read_text().splitlines()]
            if parallel == 8:
                assert script.max_in_flight == 8 and time.monotonic() - t0 < 16 * 0.3 * 0.5  # overlapped
            else:
                assert script.max_in_flight == 1
    for strategy in ("react", "sc"):
        assert sorted(answers[strategy, 8], key=int) == answers[strategy, 1]
