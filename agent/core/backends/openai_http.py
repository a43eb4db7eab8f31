"""OpenAI-compatible HTTP backend (llama.cpp's server, llama_cpp.server, vLLM, Ollama).

Uses the ``/v1/completions`` endpoint so the ReAct loop can continue a rendered prompt;
sends a GBNF ``grammar`` field, which llama.cpp servers enforce. Standard library only; every request
ends by its deadline (:mod:`agent.core.backends.http_post`).
"""

from __future__ import annotations

import http.client
import json
import logging
import threading
import time
from typing import Any

from agent.core.backends.http_post import post
from agent.core.chat_templates import CHATML
from agent.core.model import Completion, ModelError, cut_at_stop
from agent.core.text import dumps

log = logging.getLogger(__name__)

class OpenAIModel:
    """A model behind an OpenAI-compatible server.

    Args:
        url: the server's base URL, e.g. ``http://127.0.0.1:8080`` (``/v1`` is added if missing).
        model: the model name sent in requests (servers with one model ignore it).
        api_key: sent as a bearer token when given.
        chat_template: a Jinja2 template for :meth:`render` (the API does not expose the server's; ChatML by default).
        timeout: the deadline of one request in seconds, for connecting, the whole answer and any retries
            together: neither a silent server nor one that trickles bytes holds a call longer.
        retries: attempts after the first on connection errors and 5xx answers, with exponential back-off
            (0.5 s, 1 s, 2 s, ...), made only while the deadline leaves time for them.
        max_concurrent: requests in flight at once from this process.
    """

    supports_grammar = True
    concurrent = True  # calls may overlap: the server serves them (agent eval --parallel sends N items at once)

    def __init__(
        self,
        url: str,
        model: str = "default",
        api_key: str | None = None,
        chat_template: str = CHATML,
        timeout: float = 120.0,
        retries: int = 3,
        max_concurrent: int = 4,
    ):
        base = url.rstrip("/")
        self.base = base if base.endswith("/v1") else base + "/v1"
        self.name = f"{model}@{url}"
        self.model = model
        self.api_key = api_key
        self.timeout = timeout
        self.retries = retries
        self.max_concurrent = max_concurrent
        self._slots = threading.BoundedSemaphore(max_concurrent)
        import jinja2

        self._template = jinja2.Environment(undefined=jinja2.StrictUndefined).from_string(chat_template)

    def reserve(self, sequences: int) -> None:
        """Let ``sequences`` requests be in flight at once (``agent eval --parallel``)."""
        self.max_concurrent = max(sequences, self.max_concurrent)
        self._slots = threading.BoundedSemaphore(self.max_concurrent)

    def render(self, messages: list[dict[str, str]], add_generation_prompt: bool = True) -> str:
        return self._template.render(messages=messages, add_generation_prompt=add_generation_prompt)

    def count_tokens(self, text: str) -> int:
        try:
            out = self._post("/extras/tokenize", {"input": text}, base=self.base.removesuffix("/v1"))
            return len(out["tokens"])
        except (ModelError, KeyError, TypeError):
            return max(1, len(text) // 4)  # a server without a tokenize endpoint: a rough estimate

    def complete(
        self, prompt, *, stop=(), grammar=None, n=1, max_tokens=256, temperature=0.0, seed=None, logprobs=False
    ) -> Completion:
        body = {
            "model": self.model,
            "prompt": prompt,
            "max_tokens": max_tokens,
            "temperature": temperature,
            "n": n,
            "stop": list(stop)[:4] or None,
        }
        if grammar:
            body["grammar"] = grammar
        if seed is not None:
            body["seed"] = seed
        if logprobs:
            body["logprobs"] = 1
        t0 = time.perf_counter()
        out = self._post("/completions", body)
        choices = sorted(_choices(self.base, out), key=lambda c: c.get("index", 0))
        if len(choices) < n and n > 1:  # some servers ignore n: ask for the rest one by one
            for i in range(len(choices), n):
                extra = dict(body, n=1, seed=None if seed is None else seed + i)
                choices += _choices(self.base, self._post("/completions", extra))
        usage = out.get("usage") or {}
        texts = [cut_at_stop(c.get("text", ""), stop) for c in choices[:n]]
        lps = [list((c.get("logprobs") or {}).get("token_logprobs") or []) for c in choices[:n]] if logprobs else None
        return Completion(
            texts=texts,
            prompt_tokens=int(usage.get("prompt_tokens", 0)),
            completion_tokens=int(usage.get("completion_tokens", 0)),
            seconds=time.perf_counter() - t0,
            logprobs=lps,
            finish_reasons=[c.get("finish_reason") or "stop" for c in choices[:n]],
        )

    def _post(self, path: str, body: dict, base: str | None = None) -> Any:
        """POST ``body`` as JSON and parse the answer, retrying what may pass, all within one deadline.

        The deadline (``timeout`` seconds) starts once a concurrency slot is free and covers every attempt:
        connecting, waiting, reading the whole answer, and the back-offs between attempts. A retry is made
        only while the deadline leaves time for it, so retries never stretch a call past ``timeout``.

        Raises:
            ModelError: naming the URL; on giving up, also the deadline and the last failure.
        """
        url = (base or self.base) + path
        data = dumps({k: v for k, v in body.items() if v is not None}).encode("utf-8")
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        with self._slots:
            deadline = time.monotonic() + self.timeout
            return _parse_answer(url, self._attempts(url, data, headers, deadline))

    def _attempts(self, url: str, data: bytes, headers: dict[str, str], deadline: float) -> bytes:
        """The body of the first answer that is not a passing failure (refused, 5xx, 408, 429)."""
        delay, last, attempts = 0.5, "", 0
        while True:
            attempts += 1
            try:
                status, raw = post(url, data, headers, deadline)
            except TimeoutError as err:
                last = str(err)
                break
            except (OSError, http.client.HTTPException) as err:
                last = str(getattr(err, "reason", None) or err or type(err).__name__)
            else:
                if 200 <= status < 300:
                    return raw
                detail = raw[:300].decode(errors="replace")
                if status < 500 and status not in (408, 429):  # timeouts and rate limits pass
                    raise ModelError(f"{url}: server refused the request ({status}): {detail}")
                last = f"server error {status}: {detail}"
            if attempts > self.retries or time.monotonic() + delay >= deadline:
                break
            log.info("%s failed (%s); retrying in %.1fs", url, last, delay)
            time.sleep(delay)
            delay *= 2
        raise ModelError(
            f"{url}: no answer after {attempts} attempts within the {self.timeout:g} s deadline ({last}); "
            "is the server running?"
        )


def _parse_answer(url: str, raw: bytes) -> Any:
    """The JSON of an answer; anything else (bad bytes, bad JSON, JSON nested too deeply) is a ModelError."""
    try:
        return json.loads(raw)
    except RecursionError as err:
        raise ModelError(f"{url}: the server's answer is JSON nested too deeply to read ({len(raw)} bytes)") from err
    except ValueError as err:  # JSONDecodeError, UnicodeDecodeError
        raise ModelError(f"{url}: the server's answer is not JSON ({err}): {raw[:100]!r}") from err


def _choices(base: str, out: object) -> list[dict]:
    """The ``choices`` of a completion answer; a server error sent with status 200 raises ModelError."""
    choices = out.get("choices") if isinstance(out, dict) else None
    if not choices or not isinstance(choices, list) or not all(isinstance(c, dict) for c in choices):
        raise ModelError(f"{base}/completions: the server's answer has no choices: {json.dumps(out)[:300]}")
    return choices
